// Tiny DOM helpers. User data only ever reaches the page through textContent and attribute
// setters of known-safe attributes; nothing here parses HTML (the pages also enforce Trusted
// Types, so an innerHTML assignment would throw).

/**
 * h creates an element: h('button', {class: 'x', onclick: fn, 'aria-label': '...'}, ...children).
 * String children become text nodes.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) setAttrs(el, attrs);
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

const SVG = 'http://www.w3.org/2000/svg';

/** Icon paths (24x24, stroke icons). */
export const ICONS = {
  chat: 'M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z',
  close: 'M6 6l12 12M18 6L6 18',
  send: 'M4 12l16-8-6 16-2.5-6.5L4 12z',
  clip: 'M21 11.5l-8.6 8.6a5 5 0 0 1-7.1-7.1l8.6-8.6a3.3 3.3 0 0 1 4.7 4.7l-8.6 8.6a1.7 1.7 0 0 1-2.4-2.4L15.5 7.5',
  user: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM4 21a8 8 0 0 1 16 0',
  file: 'M14 3H6v18h12V7l-4-4zM14 3v4h4',
  check: 'M5 12.5l4.5 4.5L19 7.5',
  spark: 'M12 3l1.8 5.2L19 10l-5.2 1.8L12 17l-1.8-5.2L5 10l5.2-1.8L12 3z',
  bell: 'M6 16V11a6 6 0 1 1 12 0v5l2 2H4l2-2zM10 21h4',
  swap: 'M4 8h13l-3-3M20 16H7l3 3',
  down: 'M6 9l6 6 6-6',
  logout: 'M15 4h4v16h-4M10 8l-4 4 4 4M6 12h10',
  mic: 'M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3zM5 11a7 7 0 0 0 14 0M12 18v3',
  audio: 'M9 18V6l10-2v12M9 18a3 3 0 1 1-6 0 3 3 0 0 1 6 0zM19 16a3 3 0 1 1-6 0 3 3 0 0 1 6 0z',
  pdf: 'M14 3H6v18h12V7l-4-4zM14 3v4h4M8 13h8M8 17h5',
};

/** icon returns an inline SVG icon (decorative: hidden from screen readers). */
export function icon(name, size = 20) {
  const s = document.createElementNS(SVG, 'svg');
  s.setAttribute('viewBox', '0 0 24 24');
  s.setAttribute('width', size);
  s.setAttribute('height', size);
  s.setAttribute('aria-hidden', 'true');
  s.setAttribute('focusable', 'false');
  s.setAttribute('class', 'icon');
  const p = document.createElementNS(SVG, 'path');
  p.setAttribute('d', ICONS[name] || '');
  s.append(p);
  return s;
}

/**
 * enterToSend makes Enter (without Shift) in a textarea call send, and swallows the line break
 * some input paths still insert after a prevented Enter keydown (synthetic key events, IMEs).
 */
export function enterToSend(ta, send, alsoCtrl = false) {
  let sentAt = 0;
  ta.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.isComposing && (!ev.shiftKey || (alsoCtrl && (ev.ctrlKey || ev.metaKey)))) {
      ev.preventDefault();
      sentAt = performance.now();
      send();
    }
  });
  ta.addEventListener('beforeinput', (ev) => {
    if ((ev.inputType === 'insertLineBreak' || ev.inputType === 'insertParagraph' ||
      (ev.inputType === 'insertText' && /^[\r\n]+$/.test(ev.data || ''))) && performance.now() - sentAt < 500) {
      ev.preventDefault();
    }
  });
}

/** clear removes every child of el. */
export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
}

/** formatSize renders a byte count. */
export function formatSize(n) {
  if (!(n > 0)) return '';
  if (n < 1024) return n + ' B';
  if (n < 1024 * 1024) return (n / 1024).toFixed(n < 10240 ? 1 : 0) + ' KB';
  return (n / 1024 / 1024).toFixed(1) + ' MB';
}

/** readableColor returns a text colour (white or near-black) with contrast on bg. */
export function readableColor(bg) {
  const m = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(bg || '');
  if (!m) return '#fff';
  let hex = m[1];
  if (hex.length === 3) hex = [...hex].map((c) => c + c).join('');
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
    .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  const lum = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return lum > 0.45 ? '#111827' : '#ffffff';
}
