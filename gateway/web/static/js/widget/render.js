// Rendering the widget's state: the panel, the messages, typing, the banner and the launcher's badge.
// Methods of the Widget (widget.js), kept here by what they do.

import { clear, h, icon } from '../core/dom.js';
import { State } from '../core/protocol.js';
import { initials } from './shared.js';
import { showTranscript } from './transcript.js';

export const renderPart = {
  render() {
    const t = this.t;
    const s = this.state;
    showTranscript(this);
    let sub = t('subtitleBot');
    if (s === State.Queued) sub = t('subtitleQueued');
    if (s === State.Assigned && this.agent?.name) sub = t('subtitleAssigned', { name: this.agent.name });
    if (s === State.Closed) sub = t('subtitleClosed');
    this.subtitle.textContent = sub;
    clear(this.avatar);
    if (s === State.Assigned && this.agent?.name) this.avatar.append(initials(this.agent.name));
    else this.avatar.append(icon('chat', 20));
    this.humanBtn.hidden = !(s === State.Bot || s === '');
    this.closedBox.hidden = s !== State.Closed;
    this.rating.show(this.conv, s === State.Closed, this.client.welcome?.csat_scale);
    this.attachBtn.disabled = !this.conv || s === State.Closed;
    this.voice.button.disabled = !this.conv || s === State.Closed;
    this.composer.hidden = s === State.Closed;
    this.renderPrechat(); // prechat.js
    this.setPlaceholder(this.leaveMode ? 'placeholderLeave' : 'placeholder');
    this.renderBanner();
    this.renderMessages();
    this.renderTyping();
  },

  renderMessages(scroll) {
    const c = this.convs.map.get(this.conv) || this.convs.map.get('');
    if (!c) {
      this.list.reset();
      return;
    }
    this.list.loadingOlder(c.loadingOlder);
    this.list.render(c.tl);
    if (scroll) this.list.scrollToEnd();
  },

  renderTyping() {
    const on = !!this.typing && this.state !== State.Closed;
    this.typingEl.hidden = !on;
    if (on) this.typingEl.lastChild.textContent = this.t('typing', { name: this.typing.name });
  },

  renderBanner() {
    const t = this.t;
    const b = this.banner;
    const cs = this.connState;
    // The banner is a live region: rebuilt with the same words, it would be read out again.
    const n = this.notice && (!this.conv || this.notice.conv === this.conv) ? this.notice : null;
    const sig = JSON.stringify([this.flashText, cs, !!this.client.welcome, this.state, this.state === State.Queued && this.queue
      ? [this.queue.position, this.queue.eta] : null, n]);
    if (sig === this.bannerSig) return;
    this.bannerSig = sig;
    clear(b);
    b.className = 'fd-banner';
    let show = true;
    if (this.flashText) {
      b.classList.add('fd-warn');
      b.append(this.flashText);
    } else if (cs === 'offline') {
      b.classList.add('fd-warn');
      b.append(t('offline'));
    } else if (cs === 'replaced' || cs === 'crowded') {
      b.classList.add('fd-warn');
      b.append(t(cs), ' ', h('button', { class: 'fd-link', type: 'button', onclick: () => this.client.reconnectNow() }, t('useHere')));
    } else if (cs === 'refused' || cs === 'auth') {
      b.classList.add('fd-warn');
      b.append(cs === 'auth' ? t('authFailed') : t('refused'));
    } else if (cs === 'reconnecting' || (cs === 'connecting' && this.client.welcome)) {
      b.classList.add('fd-muted');
      b.append(h('span', { class: 'fd-spinner', 'aria-hidden': 'true' }), t('reconnecting'));
    } else if (n || (this.state === State.Queued && this.queue)) {
      // The queue position and a notice (no agents, closed, long wait) can both apply.
      if (this.state === State.Queued && this.queue) {
        const q = this.queue;
        b.classList.add('fd-queue');
        const pos = q.position <= 1 ? t('queuedNext') : t('queued', { position: q.position });
        const line = h('p', { class: 'fd-queue-line' }, h('strong', null, pos));
        if (q.eta > 0) line.append(' · ' + t('eta', { eta: t.duration(q.eta) }));
        b.append(line);
      }
      if (n) {
        b.classList.add('fd-notice');
        // The server's sentence is English and the most specific; other languages get their
        // own words for the reason where there are some.
        const key = 'notice_' + n.reason;
        const local = n.reason && t.lang !== 'en' && t(key) !== key ? t(key) : '';
        b.append(h('p', null, local || n.message || t(key)));
        if (n.left) {
          b.append(h('p', { class: 'fd-message-left' }, t('messageLeft')));
        } else if (!n.answered && n.actions.length) {
          const acts = h('div', { class: 'fd-notice-actions' });
          for (const a of n.actions) {
            const label = a === 'leave_message' ? t('leaveMessage') : a === 'bot' ? t('backToBot') : a === 'human' ? t('human') : a;
            acts.append(h('button', { class: 'fd-chip', type: 'button', onclick: () => this.noticeAction(a) }, label));
          }
          b.append(acts);
        }
      }
    } else {
      show = false;
    }
    b.hidden = !show;
  },

  renderBadge() {
    const n = this.conv ? this.convs.unread(this.conv) : 0;
    const show = !this.isOpen && n > 0;
    this.badge.hidden = !show;
    this.badge.textContent = n > 9 ? '9+' : String(n);
    this.launcher.setAttribute('aria-label', (this.isOpen ? this.t('close') : this.t('open')) + (show ? ' (' + n + ')' : ''));
  },
};
