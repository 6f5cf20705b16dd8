// Search: past conversations by text (English and Chinese) and filters (label, agent, state,
// dates); an agent finds the conversations they took part in, a supervisor the tenant's.
// A hit opens its conversation read-only in place, from the record (the history frame).

import { newId } from '../core/client.js';
import { clear, h, icon } from '../core/dom.js';
import { MessageList } from '../core/messages.js';
import { Role, State, Type } from '../core/protocol.js';
import { Timeline } from '../core/timeline.js';
import { t } from './shared.js';

/** marked renders a snippet whose matches are between « and » with <mark>, as text nodes only. */
export function marked(snippet) {
  const out = [];
  for (const [i, part] of String(snippet || '').split(/[«»]/).entries()) {
    if (part) out.push(i % 2 ? h('mark', null, part) : part);
  }
  return out;
}

export const searchPart = {
  buildSearch() {
    const q = h('input', { type: 'search', id: 'search-q', 'aria-label': t('search'), placeholder: t('searchPlaceholder'), maxlength: '256' });
    const label = h('select', { id: 'search-label', 'aria-label': t('filterByLabel') });
    const state = h('select', { id: 'search-state', 'aria-label': t('state') }, h('option', { value: '' }, t('anyState')),
      ...[State.Bot, State.Queued, State.Assigned, State.Closed].map((s) => h('option', { value: s }, t('state_' + s))));
    const agent = h('input', { type: 'text', id: 'search-agent', 'aria-label': t('agentId'), placeholder: t('agentId') });
    const from = h('input', { type: 'date', id: 'search-from', 'aria-label': t('from') });
    const to = h('input', { type: 'date', id: 'search-to', 'aria-label': t('to') });
    this.searchForm = { q, label, state, agent, from, to };
    this.searchResults = h('ul', { class: 'search-results', 'aria-live': 'polite' });
    this.readonly = new MessageList({ t, base: location.origin, token: () => this.token, me: () => '', mineRole: Role.Agent, label: t('readOnly') });
    this.readonlyTitle = h('h3', { class: 'readonly-title' });
    this.readonlyEl = h('section', { class: 'readonly', hidden: true, 'aria-label': t('readOnly') },
      h('div', { class: 'readonly-head' },
        h('button', { class: 'btn', type: 'button', id: 'readonly-back', onclick: () => this.closeReadOnly() }, '← ' + t('back')),
        this.readonlyTitle, h('span', { class: 'pill' }, t('readOnly'))),
      this.readonly.el);
    const form = h('form', { class: 'search-form', role: 'search' }, q, label, state, agent, from, to,
      h('button', { class: 'btn primary', type: 'submit', id: 'search-go' }, t('search')));
    form.addEventListener('submit', (ev) => { ev.preventDefault(); this.runSearch(); });
    this.searchDialog = h('dialog', { class: 'dialog search-dialog', 'aria-label': t('search') },
      h('div', { class: 'dialog-body' },
        h('div', { class: 'search-top' }, h('h2', null, t('search')),
          h('button', { class: 'icon-btn', type: 'button', 'aria-label': t('cancel'), onclick: () => this.searchDialog.close() }, icon('close', 18))),
        form, this.searchResults, this.readonlyEl));
    this.root.append(this.searchDialog);
    this.listEl.parentElement.append(h('button', { class: 'btn wide', type: 'button', id: 'open-search', title: 'Alt+F',
      onclick: () => this.openSearch() }, t('search')));
    document.addEventListener('keydown', (ev) => {
      if (ev.altKey && !ev.ctrlKey && !ev.metaKey && (ev.key === 'f' || ev.code === 'KeyF')) {
        ev.preventDefault();
        this.openSearch();
      }
    });
  },

  /** fillSearchLabels offers the tenant's labels (known after welcome) in the filter. */
  fillSearchLabels() {
    const { label } = this.searchForm;
    const keep = label.value;
    clear(label);
    label.append(h('option', { value: '' }, t('allLabels')), ...this.labelDefs.map((l) => h('option', { value: l.name }, l.title || l.name)));
    label.value = keep;
  },

  openSearch() {
    this.fillSearchLabels();
    this.closeReadOnly();
    if (!this.searchDialog.open) this.searchDialog.showModal();
    this.searchForm.q.focus();
  },

  runSearch() {
    const f = this.searchForm;
    const search = { query: f.q.value.trim(), label: f.label.value, state: f.state.value, agent: f.agent.value.trim(),
      from: f.from.value, to: f.to.value };
    if (!Object.values(search).some(Boolean)) return;
    this.searchId = newId('q');
    this.closeReadOnly();
    clear(this.searchResults);
    this.searchResults.append(h('li', { class: 'muted small' }, t('searching')));
    this.client.raw({ type: Type.Search, id: this.searchId, search });
  },

  onSearch(f) {
    if (f.id !== this.searchId) return;
    clear(this.searchResults);
    const hits = f.hits || [];
    if (!hits.length) this.searchResults.append(h('li', { class: 'muted small none' }, t('noResults')));
    for (const r of hits) {
      this.searchResults.append(h('li', null, h('button', { type: 'button', class: 'hit', onclick: () => this.openReadOnly(r.conv, r.customer) },
        h('div', { class: 'hit-top' }, h('strong', null, r.customer || r.conv),
          h('span', { class: 'muted small' }, [t('state_' + r.state), r.agent, r.opened_at ? new Date(r.opened_at).toLocaleDateString(t.lang === 'zh' ? 'zh-CN' : undefined) : '']
            .filter(Boolean).join(' · ')),
          ...(r.labels || []).map((l) => this.labelChip(l))),
        h('div', { class: 'snippet' }, ...marked(r.snippet)))));
    }
  },

  /** openReadOnly shows a past conversation from the record, without a composer. */
  openReadOnly(conv, title) {
    this.readonlyId = newId('ro');
    this.readonlyTl = new Timeline();
    this.readonly.reset?.();
    this.readonlyTitle.textContent = title || conv;
    this.readonlyEl.hidden = false;
    this.readonlyEl.dataset.conv = conv;
    this.searchResults.hidden = true;
    this.fillSearchLabels();
    if (!this.searchDialog.open) this.searchDialog.showModal();
    this.client.raw({ type: Type.History, id: this.readonlyId, conv, limit: 200 });
  },

  closeReadOnly() {
    this.readonlyId = '';
    if (this.readonlyEl) this.readonlyEl.hidden = true;
    if (this.searchResults) this.searchResults.hidden = false;
  },

  /** onReadOnlyHistory takes the history page a read-only view asked for; false for others. */
  onReadOnlyHistory(f) {
    if (!f.id || f.id !== this.readonlyId) return false;
    for (const m of f.messages || []) this.readonlyTl.add({ ...m, conv: f.conv });
    this.readonly.render(this.readonlyTl);
    this.readonly.scrollToEnd();
    return true;
  },

  /** onReadOnlyError: the record refused the page (an agent's conversation of someone else's). */
  onReadOnlyError(f) {
    if (!f.id || f.id !== this.readonlyId) return false;
    this.readonlyId = '';
    this.toast(f.code === 'forbidden' ? t('notYours') : f.message || f.code);
    this.closeReadOnly();
    return true;
  },
};
