// Service levels in the agent's conversation list. The dispatcher announces when a
// conversation is at risk of breaching a target of the tenant's policy, or breached it; the
// gateway turns the announcement into an `sla` frame for the agents and supervisors following
// the conversation. The frame carries everything (state, target, due time, agent, queue), so
// any view (this list, the supervisor's live view) can show it without asking again.

import { h } from '../core/dom.js';
import { SLA } from '../core/protocol.js';

/** applySLA records an sla frame on the conversation's list item; it returns whether it did. */
export function applySLA(items, f) {
  const it = items.get(f.conv);
  if (!it) return false;
  const prev = it.sla || {};
  // A breach stays a breach: a late at-risk of the other target does not soften it.
  if (prev.state === SLA.Breached && f.state !== SLA.Breached) return false;
  it.sla = { state: f.state, target: f.reason, due: Date.parse(f.due_at) || 0 };
  return true;
}

/** slaKey is the part of a row's cache key that the flag depends on. */
export const slaKey = (it) => (it.sla ? it.sla.state + ':' + it.sla.target : '');

/** slaBadge is the flag shown in a row, or null. */
export function slaBadge(it, t) {
  const s = it.sla;
  if (!s || it.ended) return null;
  const target = s.target === SLA.Resolution ? t('slaResolution') : t('slaFirstResponse');
  const text = s.state === SLA.Breached ? t('slaBreached', { target }) : t('slaAtRisk', { target });
  return h('span', { class: 'sla ' + (s.state === SLA.Breached ? 'breached' : 'at-risk'), dataset: { sla: s.state },
    title: s.due ? new Date(s.due).toLocaleTimeString() : '' }, text);
}
