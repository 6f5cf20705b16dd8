// The transfer picker: the agents and queues of the tenant with their load, from the roster the
// dispatcher keeps live (roster frames), to choose from rather than type an id. Agents who
// cannot take a conversation now (away, offline, full) are listed but disabled, with why.

import { clear, h } from '../core/dom.js';
import { Status } from '../core/protocol.js';

export class TransferPicker {
  /** @param {{t: Function, me: () => string, onPick: (kind: 'agent'|'queue', id: string) => void}} o */
  constructor(o) {
    this.t = o.t;
    this.me = o.me;
    this.onPick = o.onPick;
    this.board = null;
    this.el = h('div', { class: 'picker' });
  }

  /** update keeps the latest roster and redraws an open picker. */
  update(board) {
    this.board = board || null;
    if (this.el.isConnected) this.render();
  }

  render() {
    const t = this.t;
    clear(this.el);
    const agents = (this.board?.agents || []).filter((a) => a.id !== this.me());
    const queues = this.board?.queues || [];
    const agentList = h('ul', { class: 'pick-list', 'aria-label': t('pickAgent') });
    for (const a of agents) {
      const load = t('pickLoad', { load: a.load || 0, cap: a.capacity || 0 });
      const status = a.status === Status.Offline ? t('statusOffline') : a.status === Status.Away ? t('away') : t('available');
      agentList.append(h('li', null, h('button', { type: 'button', class: 'pick pick-agent', disabled: !a.routable,
        dataset: { id: a.id }, 'aria-label': (a.name || a.id) + ', ' + status + ', ' + load,
        onclick: () => this.onPick('agent', a.id) },
      h('span', { class: 'dot ' + (a.routable ? 'on' : 'off'), 'aria-hidden': 'true' }),
      h('strong', null, a.name || a.id), h('span', { class: 'muted small' }, status + ' · ' + load))));
    }
    if (!agents.some((a) => a.routable)) agentList.append(h('li', { class: 'muted small' }, t('pickNone')));
    const queueList = h('ul', { class: 'pick-list', 'aria-label': t('pickQueue') });
    for (const q of queues) {
      queueList.append(h('li', null, h('button', { type: 'button', class: 'pick pick-queue', dataset: { id: q.name },
        onclick: () => this.onPick('queue', q.name) },
      h('strong', null, q.name), h('span', { class: 'muted small' }, t('pickWaiting', { n: q.waiting || 0 })))));
    }
    this.el.append(h('h3', { class: 'side-h' }, t('pickAgent')), agentList, h('h3', { class: 'side-h' }, t('pickQueue')), queueList);
  }
}
