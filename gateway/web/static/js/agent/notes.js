// Private notes in the console: a panel under the conversation, in a colour of its own, with its
// own input, so a note is never typed into the customer's composer by mistake. Notes go out as
// note frames and come back as note frames (and a notes frame when a conversation is opened);
// the server never sends them to a customer.

import { newId } from '../core/client.js';
import { clear, enterToSend, h } from '../core/dom.js';
import { Type } from '../core/protocol.js';

export class NotesPanel {
  /** @param {{t: Function, send: (f: object) => void, me: () => object}} o */
  constructor(o) {
    this.t = o.t;
    this.sendFrame = o.send;
    this.me = o.me;
    /** @type {Map<string, Map<string, {key:string, from:object, text:string, ts:string, pending?:boolean, failed?:boolean}>>} */
    this.byConv = new Map();
    this.loaded = new Set();
    this.pending = new Map(); // note frame id -> conv
    this.loads = new Set(); // ids of the notes frames this panel asked (others are searches)
    this.conv = '';
    const t = this.t;
    this.countEl = h('span', { class: 'notes-count' });
    this.listEl = h('ol', { class: 'notes-list', 'aria-label': t('privateNotes'), 'aria-live': 'polite' });
    this.input = h('textarea', { class: 'note-input', rows: '1', 'aria-label': t('notePlaceholder'),
      placeholder: t('notePlaceholder'), maxlength: '4000' });
    enterToSend(this.input, () => this.submit(), true);
    this.form = h('form', { class: 'note-form', onsubmit: (ev) => { ev.preventDefault(); this.submit(); } },
      this.input, h('button', { class: 'btn note-add', type: 'submit' }, t('addNote')));
    this.el = h('section', { class: 'notes', 'aria-label': t('privateNotes') },
      h('header', { class: 'notes-head' }, h('strong', null, t('privateNotes')), this.countEl,
        h('span', { class: 'muted small' }, t('notesHint'))),
      this.listEl, this.form);
  }

  /** reset forgets what was loaded: after a reconnect every conversation asks again. */
  reset() {
    this.loaded.clear();
    if (this.conv) this.show(this.conv, this.form.hidden);
  }

  /** show displays conv's notes, asking the server for them the first time. */
  show(conv, readOnly) {
    this.conv = conv;
    this.form.hidden = !!readOnly;
    if (conv && !this.loaded.has(conv)) {
      this.loaded.add(conv);
      const id = newId('n');
      this.loads.add(id);
      this.sendFrame({ type: Type.Notes, id, conv });
    }
    this.render();
  }

  notes(conv) {
    let m = this.byConv.get(conv);
    if (!m) this.byConv.set(conv, (m = new Map()));
    return m;
  }

  /** frame takes the frames about notes; it returns false for every other frame. */
  frame(f) {
    switch (f.type) {
      case Type.Note:
        this.add(f);
        break;
      case Type.Notes:
        if (!this.loads.delete(f.id)) return false;
        for (const n of f.messages || []) this.add(n);
        break;
      case Type.Ack:
      case Type.Error: {
        const conv = this.pending.get(f.id);
        if (!conv) return false;
        this.pending.delete(f.id);
        const n = this.notes(conv).get(f.id);
        if (n && f.type === Type.Error) n.failed = true;
        if (n && f.type === Type.Ack) n.pending = false;
        break;
      }
      default:
        return false;
    }
    this.render();
    return true;
  }

  add(f) {
    const key = f.client_id || f.id;
    this.notes(f.conv).set(key, { key, from: f.from || {}, text: f.text || '', ts: f.ts || '' });
  }

  submit() {
    const text = this.input.value.trim();
    const conv = this.conv;
    if (!text || !conv) return;
    const id = newId('note');
    this.input.value = '';
    this.pending.set(id, conv);
    this.notes(conv).set(id, { key: id, from: this.me(), text, ts: new Date().toISOString(), pending: true });
    this.sendFrame({ type: Type.Note, id, conv, text });
    this.render();
  }

  render() {
    const list = [...this.notes(this.conv).values()].sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
    this.countEl.textContent = list.length ? String(list.length) : '';
    clear(this.listEl);
    if (!list.length) this.listEl.append(h('li', { class: 'muted small none' }, this.t('noNotes')));
    for (const n of list) {
      this.listEl.append(h('li', { class: 'note' + (n.pending ? ' pending' : '') + (n.failed ? ' failed' : '') },
        h('div', { class: 'note-meta small' }, h('strong', null, n.from?.name || n.from?.id || ''), ' · ', this.t.time(n.ts),
          n.failed ? ' · ' + this.t('noteFailed') : ''),
        h('p', { class: 'note-text' }, n.text)));
    }
  }
}
