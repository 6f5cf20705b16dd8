// What an agent does: choose a conversation, write, send files and voice messages, transfer, close, answer offers, notifications, shortcuts.
// Methods of the Console (console.js), kept here by what they do.

import { isImage, upload } from '../core/attach.js';
import { newId } from '../core/client.js';
import { clear, h, icon } from '../core/dom.js';
import { Kind, Status, Type } from '../core/protocol.js';
import { STATUS_KEY, TYPING_SEND_MS, t } from './shared.js';

export const composePart = {
  select(conv) {
    if (!conv || !this.items.has(conv)) return;
    const prev = this.items.get(this.current);
    if (prev) prev.draft = this.input.value;
    this.voice?.cancel();
    if (this.reports) this.reports.el.hidden = true;
    if (this.boardView) this.boardView.el.hidden = true;
    this.current = conv;
    this.list.reset();
    const it = this.items.get(conv);
    this.input.value = it.draft || '';
    this.clearFile();
    this.renderList();
    this.renderPane();
    this.list.scrollToEnd();
    this.markRead();
  },

  move(delta) {
    if (!this.order.length) return;
    const i = this.order.indexOf(this.current);
    const n = (i + delta + this.order.length) % this.order.length;
    this.select(this.order[n]);
    this.listEl.querySelector('[aria-current="true"]')?.focus();
  },

  setStatus(s) {
    this.status = s;
    sessionStorage.setItem(STATUS_KEY, s);
    this.client?.raw({ type: Type.Status, status: s });
    this.renderStatus();
  },

  async submit() {
    const conv = this.current;
    const it = this.items.get(conv);
    if (!conv || !it || it.ended) return;
    const text = this.input.value.trim();
    const file = this.file;
    if (!text && !file) return;
    this.input.value = '';
    it.draft = '';
    this.clearFile();
    const c = this.convs.get(conv);
    const me = { id: this.client.welcome?.user || this.me?.sub, role: this.me?.role || 'agent', name: this.me?.name };
    if (file) await this.sendFile(conv, file, 0);
    if (text) {
      const clientId = newId();
      c.tl.addPending({ clientId, text, from: me });
      this.renderMessages(true);
      this.post(conv, { id: clientId, type: Type.Send, conv, kind: Kind.Text, text });
    }
  },

  /** sendFile uploads file to conv and sends it: a voice message, an image or a file. */
  async sendFile(conv, file, durationMs) {
    const c = this.convs.get(conv);
    const me = { id: this.client.welcome?.user || this.me?.sub, role: this.me?.role || 'agent', name: this.me?.name };
    const clientId = newId();
    const kind = /^audio\//.test(file.type) ? 'audio' : isImage(file) ? 'image' : 'file';
    c.tl.addPending({ clientId, kind, attachment: { name: file.name, type: file.type, size: file.size, duration_ms: durationMs || undefined },
      from: me, localUrl: URL.createObjectURL(file) });
    this.renderMessages(true);
    try {
      const a = await upload(location.origin, this.token, file, conv);
      this.post(conv, { id: clientId, type: Type.Send, conv, kind, attachment: { id: a.id, url: a.url, type: a.type, size: a.size, name: a.name,
        duration_ms: durationMs || undefined } });
    } catch (err) {
      c.tl.fail(clientId);
      this.renderMessages();
      this.toast(t('uploadFailed', { reason: err.status === 413 ? t('tooLarge') : err.status === 415 ? t('badType') : String(err.status || err.message) }));
    }
  },

  post(conv, frame) {
    this.sent = this.sent || new Map();
    this.sent.set(frame.id, frame);
    this.client.send(frame).then(() => this.sent.delete(frame.id), (err) => {
      this.convs.map.get(conv)?.tl.fail(frame.id);
      this.renderMessages();
      this.toast(err.message);
    });
  },

  retry(clientId) {
    const frame = this.sent?.get(clientId);
    const c = frame && this.convs.map.get(frame.conv);
    const e = c && [...c.tl.byKey.values()].find((x) => x.clientId === clientId);
    if (!e) return;
    c.tl.remove(e.k);
    c.tl.addPending({ ...e, clientId });
    this.renderMessages();
    this.post(frame.conv, frame);
  },

  suggest() {
    const it = this.items.get(this.current);
    if (!it || it.ended) return;
    it.suggesting = true;
    this.client.raw({ type: Type.Assist, id: newId('a'), conv: this.current });
    this.renderPane();
    setTimeout(() => {
      if (it.suggesting) {
        it.suggesting = false;
        this.renderPane();
      }
    }, 20000);
  },

  openTransfer(conv) {
    // From the supervisor's board any conversation; otherwise the open one, not ended.
    this.transferConv = conv || '';
    if (!conv && (!this.current || this.items.get(this.current)?.ended)) return;
    // Each transfer starts blank: the last one was for another conversation.
    this.transferInputs.agent.value = '';
    this.transferInputs.queue.value = '';
    this.picker.render(); // transfer.js: agents and queues with their load, live
    this.followRoster(true);
    this.dialog.showModal();
    // The first agent who can take it; with none, the id field (queues are a Tab away).
    (this.picker.el.querySelector('.pick-agent:not([disabled])') || this.transferInputs.agent).focus();
  },

  /**
   * followRoster asks the gateway for the roster while the picker shows (the latest at once, then
   * every change) and to stop when it closes: the roster lists every agent, so it is not pushed
   * to consoles that do not show it.
   */
  followRoster(on) {
    this.rosterFollowed = on;
    this.client.raw(on ? { type: Type.Roster, id: newId('r') } : { type: Type.Roster, id: newId('r'), remove: true });
  },

  closeConv() {
    const conv = this.current;
    const it = this.items.get(conv);
    if (!it) return;
    if (it.ended) {
      this.dismiss(conv);
      return;
    }
    // Two clicks rather than window.confirm: no blocking modal, and the second click is where
    // the first one was.
    if (this.confirmClose !== conv) {
      this.confirmClose = conv;
      this.closeBtn.textContent = t('closeConfirm');
      this.closeBtn.classList.add('confirming');
      clearTimeout(this.confirmTimer);
      this.confirmTimer = setTimeout(() => {
        this.confirmClose = '';
        this.closeBtn.classList.remove('confirming');
        this.renderPane();
      }, 4000);
      return;
    }
    this.confirmClose = '';
    this.closeBtn.classList.remove('confirming');
    this.client.raw({ type: Type.Close, id: newId('x'), conv });
  },

  dismiss(conv) {
    this.items.delete(conv);
    this.order = this.order.filter((c) => c !== conv);
    this.convs.delete(conv);
    if (this.current === conv) {
      this.current = '';
      this.list.reset();
      if (this.order.length) this.select(this.order[0]);
    }
    this.renderList();
    this.renderPane();
  },

  answerOffer(conv, accept) {
    if (accept) this.accepted.add(conv);
    this.client.raw({ type: accept ? 'accept' : 'decline', id: newId('o'), conv });
    this.offers.delete(conv);
    this.renderOffers();
  },

  /** acceptOldestOffer accepts the offer that will run out first. */
  acceptOldestOffer() {
    let first = null;
    for (const o of this.offers.values()) if (!first || o.until < first.until) first = o;
    if (first) this.answerOffer(first.conv, true);
  },

  focusComposer() {
    const it = this.items.get(this.current);
    if (it && !it.ended) this.input.focus();
  },

  sendTyping() {
    const now = Date.now();
    if (!this.current || now - this.lastTypingSent < TYPING_SEND_MS || !this.input.value) return;
    this.lastTypingSent = now;
    this.client.raw({ type: Type.Typing, conv: this.current });
  },

  markRead() {
    if (!this.current || document.visibilityState !== 'visible' || !document.hasFocus()) return;
    this.convs.markRead(this.current);
    this.renderList();
  },

  pickFile(f) {
    if (!f || !this.current) return;
    this.file = f;
    clear(this.preview);
    if (isImage(f)) this.preview.append(h('img', { src: URL.createObjectURL(f), alt: f.name }));
    else this.preview.append(icon('file', 22));
    this.preview.append(h('span', { class: 'preview-name' }, f.name),
      h('button', { class: 'icon-btn', type: 'button', 'aria-label': t('removeAttachment'), onclick: () => this.clearFile() }, icon('close', 16)));
    this.preview.hidden = false;
    this.input.focus();
  },

  clearFile() {
    this.file = null;
    if (this.fileInput) this.fileInput.value = '';
    if (this.preview) {
      this.preview.hidden = true;
      clear(this.preview);
    }
  },

  async askNotifications() {
    if (!('Notification' in window)) return;
    if (Notification.permission === 'default') await Notification.requestPermission();
    this.renderNotify();
  },

  /**
   * notify shows a desktop notification when the agent is not looking at the console (another
   * tab or window in front); clicking it brings the console back on that conversation. Quiet
   * ones (new messages) only when the console is hidden altogether.
   */
  notify(conv, title, body, quiet) {
    if (!('Notification' in window) || Notification.permission !== 'granted') return;
    if (quiet ? !document.hidden : !document.hidden && document.hasFocus()) return;
    try {
      // One notification per conversation: a newer one replaces it rather than piling up.
      const n = new Notification(title, { body: String(body).slice(0, 140), tag: 'fd-' + conv, silent: !!quiet });
      n.addEventListener('click', () => {
        focus();
        n.close();
        if (this.items.has(conv)) this.select(conv);
      });
    } catch { /* some platforms only allow notifications from a service worker */ }
  },

  onKey(ev) {
    if (!this.client) return;
    // Alt alone: Ctrl+Alt is AltGr on Windows, which types letters (ś, ć, ź) in some layouts.
    // The letter typed names the shortcut (AZERTY keyboards move A), else the key's position
    // (on a Mac, Option+S types "ß").
    const alt = ev.altKey && !ev.ctrlKey && !ev.metaKey && !ev.isComposing;
    const k = /^[a-z]$/i.test(ev.key) ? 'Key' + ev.key.toUpperCase() : ev.code;
    const act = alt && !this.dialog.open && {
      ArrowDown: () => this.move(1),
      ArrowUp: () => this.move(-1),
      KeyA: () => this.acceptOldestOffer(),
      KeyC: () => this.focusComposer(),
      KeyS: () => this.suggest(),
      KeyT: () => this.openTransfer(),
      KeyX: () => this.closeConv(),
    }[k];
    if (act) {
      ev.preventDefault();
      act();
    } else if (ev.key === 'Escape') {
      if (this.dialog.open) return; // the dialog closes itself
      if (this.file) this.clearFile();
      else if (document.activeElement === this.input && this.input.value) this.input.value = '';
      else this.input.blur();
    }
  },

  toast(text) {
    this.toastEl.textContent = text;
    this.toastEl.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => { this.toastEl.hidden = true; }, 5000);
  },

  tick() {
    this.boardView?.tick();
    this.renderList();
    if (this.offers.size) this.renderOffers();
    const it = this.items.get(this.current);
    if (it && it.typingUntil && it.typingUntil < Date.now()) {
      it.typingUntil = 0;
      this.renderTyping();
    }
  },
};
