// What every part of the console shares: its strings, storage keys, timings and naming helpers.

import { pickLang, translator } from '../core/i18n.js';
import { claims } from '../core/jwt.js';

export const TOKEN_KEY = 'fd:agent:token';
export const STATUS_KEY = 'fd:agent:status';
export const TYPING_SEND_MS = 3000;
export const TYPING_SHOW_MS = 6000;
export const LATE_REPLY_S = 120;

export const t = translator(pickLang(new URLSearchParams(location.search).get('lang')));

/** displayName names a customer: their name, or "Visitor" and a short id for anonymous ones. */
export function displayName(p) {
  if (p?.name) return p.name;
  const id = p?.id || '';
  if (id.startsWith('v_')) return t('visitor') + ' ' + id.slice(2, 6);
  return id || t('customer');
}

export function sameUser(a, b) {
  const x = claims(a);
  const y = claims(b);
  return !!x && !!y && x.sub === y.sub && x.tenant === y.tenant;
}

export function initials(name) {
  return String(name || '?').trim().split(/\s+/).slice(0, 2).map((p) => [...p][0] || '').join('').toUpperCase() || '?';
}
