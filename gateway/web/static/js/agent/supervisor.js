// The supervisor's live view: the conversations waiting (how long, in which queue, at which
// priority) and in progress (with whom, for how long), and the agents with their status and
// load, from the board frames the dispatcher publishes on change: live, never polled. Any
// conversation opens read-only in the console, can be joined, or transferred with the picker.

import { newId } from '../core/client.js';
import { clear, h } from '../core/dom.js';
import { Scale, State, Status, Type } from '../core/protocol.js';
import { slaBadge } from './sla.js';

const since = (ts) => (ts ? Date.parse(ts) : NaN);

export class BoardView {
  /** @param {{t: Function, onOpen: (row: object, join: boolean) => void, onTransfer: (conv: string) => void, onClose: () => void}} o */
  constructor(o) {
    this.t = o.t;
    this.o = o;
    this.board = null;
    const t = this.t;
    this.body = h('div', { class: 'board-body', 'aria-live': 'polite' });
    // Staff's search of private notes across the tenant (notes frame with text).
    this.query = h('input', { type: 'search', class: 'board-search-input', 'aria-label': t('searchNotes'), placeholder: t('searchNotes') });
    this.hits = h('ul', { class: 'board-hits', 'aria-live': 'polite' });
    const search = h('form', { class: 'board-search', onsubmit: (ev) => { ev.preventDefault(); if (this.query.value.trim()) o.onSearch(this.query.value.trim()); } },
      this.query, h('button', { class: 'btn', type: 'submit' }, t('search')));
    this.el = h('section', { class: 'board', 'aria-label': t('board'), hidden: true },
      h('header', { class: 'reports-head' }, h('h2', null, t('board')),
        h('button', { class: 'btn', type: 'button', onclick: o.onClose }, t('boardClose'))), search, this.hits, this.body);
  }

  /** update takes a board frame's picture; an open view redraws. */
  update(board) {
    this.board = board || null;
    if (!this.el.hidden) this.render();
  }

  show() {
    this.el.hidden = false;
    this.render();
  }

  /** results shows the answer to a notes search: the notes found, each opening its conversation. */
  results(f) {
    const t = this.t;
    clear(this.hits);
    const found = f.messages || [];
    if (!found.length) this.hits.append(h('li', { class: 'muted small' }, t('boardNone')));
    for (const n of found) {
      this.hits.append(h('li', { class: 'board-hit' },
        h('span', { class: 'muted small' }, (n.from?.name || n.from?.id || '') + ' · ' + t.time(n.ts) + ' · '),
        h('span', { class: 'board-hit-text' }, n.text || ''), ' ',
        h('button', { class: 'btn board-open', type: 'button', onclick: () => this.o.onOpen(this.row(n.conv), false) }, t('boardOpen'))));
    }
  }

  /** row is the board's row of conv, or what a search hit knows of it. */
  row(conv) {
    return (this.board?.conversations || []).find((c) => c.conv === conv) || { conv, customer_id: '', state: '' };
  }

  /** tick redraws the waits of an open view (called every second). */
  tick() {
    if (!this.el.hidden && this.board) this.render();
  }

  render() {
    const t = this.t;
    const b = this.board || {};
    const now = Date.now();
    const convs = b.conversations || [];
    const name = (r) => r.customer_name || r.customer_id || t('customer');
    const ago = (ts) => (Number.isNaN(since(ts)) ? '' : t.duration((now - since(ts)) / 1000));
    const row = (r) => {
      const queued = r.state === State.Queued;
      return h('tr', { class: 'board-row', dataset: { conv: r.conv } },
        h('td', null, h('strong', null, name(r)), ' ', boardSLA(r, t)),
        h('td', null, r.queue || ''),
        h('td', null, queued ? (r.priority ? t('boardPriority', { n: r.priority }) : '') : (r.agent_name || r.agent_id || '')),
        h('td', { class: 'board-wait' }, queued ? t('boardWait', { t: ago(r.since) }) : ago(r.since)),
        h('td', { class: 'board-last muted small' }, r.last_customer_at ? t('boardSince', { t: ago(r.last_customer_at) }) : ''),
        h('td', { class: 'board-actions' },
          h('button', { class: 'btn board-open', type: 'button', onclick: () => this.o.onOpen(r, false) }, t('boardOpen')),
          h('button', { class: 'btn board-join', type: 'button', onclick: () => this.o.onOpen(r, true) }, t('boardJoin')),
          queued ? null : h('button', { class: 'btn board-transfer', type: 'button', onclick: () => this.o.onTransfer(r.conv) }, t('boardTransfer'))));
    };
    const table = (title, rows, cls) => h('div', { class: 'board-part ' + cls },
      h('h3', null, title + ' (' + rows.length + ')'),
      rows.length ? h('table', { class: 'board-table' }, h('tbody', null, rows.map(row))) : h('p', { class: 'muted small' }, t('boardNone')));
    const agents = h('ul', { class: 'board-agents' }, (b.agents || []).map((a) => h('li', { class: 'board-agent', dataset: { id: a.id } },
      h('span', { class: 'dot ' + (a.status === Status.Available ? 'on' : 'off'), 'aria-hidden': 'true' }),
      h('strong', null, a.name || a.id), ' ',
      h('span', { class: 'muted small' }, (a.status === Status.Offline ? t('statusOffline') : a.status === Status.Away ? t('away') : t('available')) +
        ' · ' + t('boardLoad', { load: a.load || 0, cap: a.capacity || 0 })),
      a.csat_count ? h('span', { class: 'board-agent-csat muted small' }, ' · ' + csatText(t, b.csat?.scale, a.csat_count, a.csat_sum)) : null)));
    const queues = h('ul', { class: 'board-queues' }, (b.queues || []).map((q) => h('li', null, h('strong', null, q.name), ' ',
      h('span', { class: 'muted small' }, t('pickWaiting', { n: q.waiting || 0 })))));
    const c = b.csat || {};
    clear(this.body);
    this.body.append(
      h('p', { class: 'board-csat' }, h('strong', null, t('boardCsat')), ' ',
        h('span', { class: 'board-csat-value' }, c.count ? csatText(t, c.scale, c.count, c.sum) : t('boardCsatNone'))),
      table(t('boardWaiting'), convs.filter((c) => c.state === State.Queued), 'board-waiting'),
      table(t('boardAssigned'), convs.filter((c) => c.state === State.Assigned), 'board-assigned'),
      h('div', { class: 'board-part' }, h('h3', null, t('boardAgents')), agents),
      h('div', { class: 'board-part' }, h('h3', null, t('boardQueues')), queues));
  }
}

/** boardSLA is a row's service-level flag (the list's badge, from the board's fields), or null. */
function boardSLA(r, t) {
  if (!r.sla_state) return null;
  return slaBadge({ sla: { state: r.sla_state, target: r.sla_target, due: Date.parse(r.sla_due) || 0 } }, t);
}

/** csatText is n ratings summing to sum: the average on the five-star scale, the share of thumbs up. */
function csatText(t, scale, n, sum) {
  if (scale === Scale.Thumbs) return t('boardCsatThumbs', { pct: Math.round(((sum - n) / n) * 100), n });
  return t('boardCsatFive', { avg: (sum / n).toFixed(1), n });
}

/** boardPart are the Console's methods of the live view (console.js mixes them in). */
export const boardPart = {
  openBoard() {
    this.empty.hidden = true;
    this.pane.hidden = true;
    if (this.reports) this.reports.el.hidden = true;
    this.boardView.show();
  },

  searchNotes(text) {
    this.client?.raw({ type: Type.Notes, id: newId('ns'), text });
  },

  closeBoard() {
    this.boardView.el.hidden = true;
    this.renderPane();
  },

  /** openFromBoard opens a conversation of the board in the console: read-only, or joined. */
  openFromBoard(r, join) {
    const known = this.items.has(r.conv) && !this.items.get(r.conv).ended;
    const it = this.upsertItem(r.conv, { customer: { id: r.customer_id, name: r.customer_name }, state: r.state });
    it.readOnly = !join;
    if (!known) {
      it.ended = '';
      it.openedAt = Date.parse(r.since) || Date.now();
      this.convs.delete(r.conv);
      this.convs.resume(r.conv, { last_seq: 0 });
    }
    this.boardView.el.hidden = true;
    this.select(r.conv);
  },
};
