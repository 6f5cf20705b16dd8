// What every part of the widget shares.

export const TYPING_SEND_MS = 3000;
export const TYPING_SHOW_MS = 6000;

export function initials(name) {
  return String(name).trim().split(/\s+/).slice(0, 2).map((p) => [...p][0] || '').join('').toUpperCase();
}
