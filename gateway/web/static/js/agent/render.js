// Rendering the console's state: connection, availability, overview, offers, the conversation list and pane, and the Reports view's place.
// Methods of the Console (console.js), kept here by what they do.

import { clear, h } from '../core/dom.js';
import { Kind, Role, Status } from '../core/protocol.js';
import { ratedText } from './ratings.js';
import { LATE_REPLY_S, displayName, initials, t } from './shared.js';
import { slaBadge, slaKey } from './sla.js';

export const renderPart = {
  renderConn(s) {
    if (!this.connEl) return;
    const label = s === 'open' ? (this.client?.kind === 'sse' ? 'SSE' : '') : s === 'offline' ? t('offline') : s === 'replaced' || s === 'crowded' ? t(s) : s === 'connecting' || s === 'reconnecting' ? t('reconnecting') : '';
    this.connEl.textContent = label;
    this.connEl.className = 'conn ' + (s === 'open' ? 'ok' : 'bad');
  },

  renderStatus() {
    const on = this.status === Status.Available;
    this.statusBtn.setAttribute('aria-checked', String(on));
    this.statusBtn.classList.toggle('on', on);
    this.statusBtn.lastChild.textContent = on ? t('available') : t('away');
  },

  renderNotify() {
    const p = 'Notification' in window ? Notification.permission : 'denied';
    this.notifyBtn.hidden = p === 'denied';
    this.notifyBtn.classList.toggle('on', p === 'granted');
    this.notifyBtn.setAttribute('aria-label', p === 'granted' ? t('notificationsOn') : t('notifications'));
    this.notifyBtn.title = this.notifyBtn.getAttribute('aria-label');
  },

  renderOverview() {
    clear(this.queueEl);
    const p = this.presence;
    this.queueEl.append(
      h('div', { class: 'stat' + (p && p.queue > 0 ? ' hot' : '') }, h('b', null, p ? String(p.queue) : '–'), h('span', null, t('queue'))),
      h('div', { class: 'stat' }, h('b', null, p ? String(p.agents) : '–'), h('span', null, t('agentsOnline'))));
  },

  renderOffers() {
    // Cards are kept and only their countdown changes: the tick redraws every second, and a
    // card rebuilt under the agent's pointer would swallow the click on Accept.
    const now = Date.now();
    this.offerEls = this.offerEls || new Map();
    for (const [conv, o] of this.offers) {
      const left = Math.ceil((o.until - now) / 1000);
      if (left <= 0) {
        this.offers.delete(conv);
        continue;
      }
      let card = this.offerEls.get(conv);
      if (!card) {
        const countdown = h('span', { class: 'countdown' });
        card = h('div', { class: 'offer' },
          h('div', { class: 'offer-text' }, h('strong', null, t('offer', { name: o.customer.name || t('customer') })),
            o.summary ? h('span', { class: 'small' }, o.summary) : null),
          h('div', { class: 'offer-actions' }, countdown,
            h('button', { class: 'btn', type: 'button', onclick: () => this.answerOffer(conv, false) }, t('decline')),
            h('button', { class: 'btn primary', type: 'button', title: 'Alt+A', onclick: () => this.answerOffer(conv, true) }, t('accept'))));
        card.countdown = countdown;
        this.offerEls.set(conv, card);
        this.offersEl.append(card);
      }
      card.countdown.textContent = left + 's';
      card.countdown.setAttribute('aria-label', left + ' s');
    }
    for (const [conv, card] of this.offerEls) {
      if (!this.offers.has(conv)) {
        card.remove();
        this.offerEls.delete(conv);
      }
    }
  },

  renderList() {
    if (!this.listEl) return;
    const ul = this.listEl;
    const now = Date.now();
    const me = this.client?.welcome?.user;
    if (!this.order.length) {
      if (!ul.querySelector('.none')) {
        clear(ul);
        ul.append(h('li', { class: 'none muted small' }, t('noConversations')));
      }
      return;
    }
    const nodes = [];
    for (const conv of this.order) {
      const it = this.items.get(conv);
      if (this.labelHidden(it)) continue; // labels.js
      const c = this.convs.map.get(conv);
      const list = c ? c.tl.list() : [];
      const last = [...list].reverse().find((e) => !e.partial) || list[list.length - 1];
      const unread = conv === this.current && document.hasFocus() ? 0 : this.convs.unread(conv);
      const name = displayName(it.customer);
      let wait = 0;
      if (last && last.from?.role === Role.Customer && last.ts) wait = (now - Date.parse(last.ts)) / 1000;
      else if (!last) wait = (now - it.openedAt) / 1000;
      const late = !it.ended && wait > LATE_REPLY_S;
      const preview = last ? (last.text || (last.kind === Kind.Image ? '📷 ' + t('image') : last.kind === Kind.Audio ? '🎤 ' + t('voiceMessage') : '📎 ' + (last.attachment?.name || ''))) : it.summary || '';
      const key = [conv, name, preview, unread, Math.floor(wait / 10), it.ended, conv === this.current, late, last?.from?.id === me, slaKey(it)].join('|');
      let li = this.rowCache?.get(conv);
      if (!li || li.dataset.key !== key) {
        const btn = h('button', { type: 'button', class: 'conv', 'aria-current': conv === this.current ? 'true' : 'false',
          onclick: () => this.select(conv) },
        h('div', { class: 'avatar sm' }, initials(name)),
        h('div', { class: 'conv-text' },
          h('div', { class: 'conv-top' }, h('strong', null, name), slaBadge(it, t),
            it.ended ? h('span', { class: 'pill' }, it.ended)
              : wait > 0 ? h('span', { class: 'wait' + (late ? ' late' : '') }, t.duration(wait)) : null),
          h('div', { class: 'conv-bottom' }, h('span', { class: 'preview-text' }, preview),
            unread > 0 ? h('span', { class: 'unread', 'aria-label': t('unread', { n: unread }) }, String(unread)) : null)));
        li = h('li', { class: it.ended ? 'ended' : '' }, btn);
        li.dataset.key = key;
        this.rowCache = this.rowCache || new Map();
        this.rowCache.set(conv, li);
      }
      nodes.push(li);
    }
    const focused = ul.contains(document.activeElement) ? document.activeElement.closest('li') : null;
    if (nodes.length !== ul.children.length || nodes.some((n, i) => ul.children[i] !== n)) {
      clear(ul);
      ul.append(...nodes);
      if (focused && !focused.isConnected) ul.querySelector('[aria-current="true"]')?.focus();
    }
  },

  openReports() {
    this.empty.hidden = true;
    this.pane.hidden = true;
    if (this.boardView) this.boardView.el.hidden = true;
    this.reports.show();
  },

  closeReports() {
    this.reports.el.hidden = true;
    this.renderPane();
  },

  renderPane() {
    const it = this.items.get(this.current);
    if (this.reports && !this.reports.el.hidden) return; // the Reports view holds the main area
    if (this.boardView && !this.boardView.el.hidden) return; // so does the live view (supervisor.js)
    this.empty.hidden = !!it;
    this.pane.hidden = !it;
    if (!it) return;
    const name = displayName(it.customer);
    this.headName.textContent = name;
    const meta = [it.customer?.id && it.customer.id !== name ? it.customer.id : '', t('openedAgo', { t: t.duration((Date.now() - it.openedAt) / 1000) }),
      it.rating ? ratedText(t, it, name) : ''];
    this.headMeta.textContent = meta.filter(Boolean).join(' · ');
    this.summaryEl.hidden = !it.summary;
    clear(this.summaryEl);
    // The summary is the model's words, not the customer's: labelled as such.
    if (it.summary) this.summaryEl.append(h('strong', null, t('botSummary') + ': '), it.summary);
    this.suggestBtn.disabled = !!it.ended || !!it.suggesting;
    this.suggestBtn.lastChild.textContent = it.suggesting ? t('suggesting') : t('suggest');
    this.transferBtn.disabled = !!it.ended;
    if (this.confirmClose !== this.current) this.closeBtn.textContent = it.ended ? '✓' : t('closeConv');
    this.closeBtn.setAttribute('aria-label', it.ended ? 'Dismiss' : t('closeConv'));
    this.composer.hidden = !!it.ended || !!it.readOnly;
    this.endedEl.hidden = !it.ended && !it.readOnly;
    this.endedEl.textContent = it.ended || (it.readOnly ? t('watching') : '');
    this.notes.show(this.current, !!it.ended);
    this.renderMessages();
    this.renderTyping();
    this.renderWorkspace(); // workspace.js
  },

  renderMessages(scroll) {
    const c = this.convs.map.get(this.current);
    if (!c) return;
    this.list.loadingOlder(c.loadingOlder);
    this.list.render(c.tl);
    if (scroll) this.list.scrollToEnd();
  },

  renderTyping() {
    const it = this.items.get(this.current);
    const on = !!it && it.typingUntil > Date.now();
    this.typingEl.hidden = !on;
    if (on) this.typingEl.textContent = t('typing', { name: it.typingName || t('customer') });
  },
};
