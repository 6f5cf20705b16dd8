// The customer widget. mount() is called by the loader (/widget.js) with the embed settings; it
// draws a launcher and a chat panel inside a shadow root, so the host page's CSS cannot reach it.

import { upload, isImage } from '../core/attach.js';
import { Client, newId } from '../core/client.js';
import { Conversations } from '../core/convs.js';
import { clear, enterToSend, h, icon, readableColor } from '../core/dom.js';
import { pickLang, translator } from '../core/i18n.js';
import { expired } from '../core/jwt.js';
import { Announcer, MessageList } from '../core/messages.js';
import { Store } from '../core/store.js';
import { setTenant } from '../core/tenant.js';
import { voiceControls } from '../core/voicebar.js';
import { Code, Kind, Role, State, Type } from '../core/protocol.js';

const TYPING_SEND_MS = 3000;
const TYPING_SHOW_MS = 6000;

/**
 * mount starts the widget.
 * @param {{gateway:string, tenant:string, color?:string, greeting?:string, lang?:string, token?:string,
 *   tokenFn?:Function, staticBase:string, open?:boolean, transport?:string, position?:string}} cfg
 */
export function mount(cfg) {
  const w = new Widget(cfg);
  w.start();
  return w.api();
}

class Widget {
  constructor(cfg) {
    this.cfg = cfg;
    setTenant(cfg.tenant);
    this.t = translator(pickLang(cfg.lang));
    this.store = new Store('fd:' + cfg.tenant + ':');
    this.token = '';
    this.conv = '';
    this.state = '';
    this.queue = null;
    this.agent = null;
    /** notice: why nobody is coming (closed, no agents, a long wait) and what the customer did
     * about it; kept while the conversation waits, also across reloads */
    this.notice = null;
    this.typing = null;
    this.leaveMode = false;
    this.leaveConv = '';
    this.file = null;
    this.isOpen = false;
    this.lastTypingSent = 0;
    this.connState = 'connecting';
    /** conversations the customer has moved on from: late frames about them are ignored */
    this.left = new Set();

    this.client = new Client({
      base: cfg.gateway,
      transport: cfg.transport,
      getToken: (fresh) => this.getToken(fresh),
      onFrame: (f) => this.onFrame(f),
      onState: (s) => {
        this.connState = s;
        this.renderBanner();
      },
    });
    this.convs = new Conversations({
      client: this.client,
      store: null, // set once the user is known (the cache is per visitor)
      onChange: (conv, what, e) => this.onConvChange(conv, what, e),
    });
    this.build();
  }

  api() {
    return {
      open: () => this.setOpen(true),
      close: () => this.setOpen(false),
      toggle: () => this.setOpen(!this.isOpen),
      transport: () => this.client.kind,
      conversation: () => this.conv,
    };
  }

  // ---- token -------------------------------------------------------------------------------

  async getToken(fresh) {
    const cfg = this.cfg;
    if (cfg.tokenFn) {
      const v = await cfg.tokenFn(fresh);
      if (v) return (this.token = String(v));
    }
    if (cfg.token && !fresh) return (this.token = cfg.token);
    const stored = this.store.get('token', '');
    let tok = fresh ? '' : stored;
    if (tok && expired(tok)) tok = '';
    if (!tok) {
      // Showing the previous token keeps the same visitor: a renewal is not a new person.
      const res = await fetch(new URL('/v1/visitors', cfg.gateway), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ tenant: cfg.tenant, previous: stored || undefined }),
      });
      if (!res.ok) throw new Error('visitor token: HTTP ' + res.status);
      const body = await res.json();
      tok = body.token;
      this.store.set('token', tok);
    }
    return (this.token = tok);
  }

  // ---- DOM ---------------------------------------------------------------------------------

  build() {
    const t = this.t;
    const accent = this.cfg.color || '#4f46e5';
    this.host = h('div', { id: 'frontdesk-widget', 'data-frontdesk': '' });
    this.host.style.setProperty('--fd-accent', accent);
    this.host.style.setProperty('--fd-on-accent', readableColor(accent));
    if (this.cfg.position === 'left') this.host.classList.add('fd-left');
    const root = this.host.attachShadow({ mode: 'open' });
    this.root = root;
    const css = h('link', { rel: 'stylesheet', href: this.cfg.staticBase + '/css/widget.css' });
    const wrap = h('div', { class: 'fd-root', lang: t.lang, hidden: true });
    css.addEventListener('load', () => { wrap.hidden = false; });
    css.addEventListener('error', () => { wrap.hidden = false; });

    this.badge = h('span', { class: 'fd-badge', hidden: true, 'aria-hidden': 'true' });
    this.launcher = h('button', { class: 'fd-launcher', type: 'button', 'aria-label': t('open'),
      'aria-expanded': 'false', 'aria-controls': 'fd-panel', onclick: () => this.setOpen(!this.isOpen) },
    icon('chat', 28), this.badge);

    this.subtitle = h('div', { class: 'fd-subtitle' }, t('subtitleBot'));
    this.avatar = h('div', { class: 'fd-avatar', 'aria-hidden': 'true' }, icon('chat', 20));
    const header = h('header', { class: 'fd-header' },
      this.avatar,
      h('div', { class: 'fd-titles' }, h('h2', { class: 'fd-title', id: 'fd-title' }, t('title')), this.subtitle),
      h('button', { class: 'fd-icon-btn', type: 'button', 'aria-label': t('minimize'), onclick: () => this.setOpen(false) }, icon('close', 20)));

    this.banner = h('div', { class: 'fd-banner', hidden: true, role: 'status' });
    this.list = new MessageList({
      t, base: this.cfg.gateway, token: () => this.token, me: () => this.client.welcome?.user || '',
      mineRole: Role.Customer, label: t('messages'),
      onNearTop: () => this.conv && this.convs.loadOlder(this.conv),
      onRetry: (id) => this.retry(id),
    });
    this.greeting = this.cfg.greeting
      ? h('div', { class: 'fd-msg fd-theirs fd-role-bot fd-greeting' }, h('div', { class: 'fd-bubble' }, h('p', { class: 'fd-text' }, this.cfg.greeting)))
      : null;
    if (this.greeting) this.list.items.before(this.greeting);
    this.typingEl = h('div', { class: 'fd-typing', hidden: true, 'aria-live': 'polite' },
      h('span', { class: 'fd-dots', 'aria-hidden': 'true' }, h('i'), h('i'), h('i')), h('span', { class: 'fd-typing-text' }));

    this.humanBtn = h('button', { class: 'fd-chip', type: 'button', hidden: true, onclick: () => this.handoff() }, icon('user', 16), t('human'));
    this.actions = h('div', { class: 'fd-actions' }, this.humanBtn);

    this.preview = h('div', { class: 'fd-preview', hidden: true });
    this.fileInput = h('input', { type: 'file', class: 'fd-file-input', tabindex: '-1', 'aria-hidden': 'true',
      accept: 'image/*,application/pdf,text/plain,.doc,.docx,.xls,.xlsx,.csv,.zip' });
    this.fileInput.addEventListener('change', () => this.pickFile(this.fileInput.files?.[0]));
    this.input = h('textarea', { class: 'fd-input', rows: '1', maxlength: '4000' });
    this.setPlaceholder('placeholder');
    enterToSend(this.input, () => this.submit());
    this.input.addEventListener('input', () => {
      this.autosize();
      this.sendTyping();
    });
    this.input.addEventListener('paste', (ev) => {
      const f = [...(ev.clipboardData?.files || [])][0];
      if (f) {
        ev.preventDefault();
        this.pickFile(f);
      }
    });
    this.sendBtn = h('button', { class: 'fd-send', type: 'submit', 'aria-label': t('send') }, icon('send', 20));
    // Uploads belong to a conversation, so attaching waits for the first message.
    const attachBtn = h('button', { class: 'fd-icon-btn fd-attach', type: 'button', 'aria-label': t('attach'), title: t('attach'),
      disabled: true, onclick: () => this.fileInput.click() }, icon('clip', 20));
    this.attachBtn = attachBtn;
    this.voice = voiceControls({
      t, maxSeconds: () => this.client?.welcome?.max_audio_s,
      onFile: (file, ms) => this.sendFile(file, ms),
      onError: (text) => this.flash(text),
      onRecording: (on) => { form.hidden = on; },
    });
    this.voice.button.disabled = true;
    const form = h('form', { class: 'fd-composer', onsubmit: (ev) => { ev.preventDefault(); this.submit(); } },
      attachBtn, this.voice.button, this.input, this.sendBtn, this.fileInput);
    this.composer = form;
    this.closedBox = h('div', { class: 'fd-closed', hidden: true },
      h('p', null, t('closed')),
      h('button', { class: 'fd-primary', type: 'button', onclick: () => this.newConversation() }, t('newConversation')));

    this.announcer = new Announcer();
    this.panel = h('section', { class: 'fd-panel', id: 'fd-panel', role: 'dialog', 'aria-labelledby': 'fd-title', hidden: true },
      header, this.banner, this.list.el, this.typingEl, this.actions, this.preview, this.closedBox, form, this.voice.bar,
      h('div', { class: 'fd-footer' }, t('poweredBy')));
    // Escape closes from anywhere in the widget (the launcher too) and leaves the focus on the
    // launcher, where the keyboard user opened it.
    wrap.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && this.isOpen && !ev.isComposing) {
        this.setOpen(false);
        this.launcher.focus();
      }
    });
    wrap.append(this.panel, this.launcher, this.announcer.el);
    root.append(css, wrap);
    this.panel.addEventListener('dragover', (ev) => ev.preventDefault());
    this.panel.addEventListener('drop', (ev) => {
      ev.preventDefault();
      const f = ev.dataTransfer?.files?.[0];
      if (f) this.pickFile(f);
    });
  }

  start() {
    (document.body || document.documentElement).append(this.host);
    if (this.cfg.open || this.store.get('open', false)) this.setOpen(true);
    addEventListener('focus', () => this.markRead());
    document.addEventListener('visibilitychange', () => this.markRead());
    this.client.start();
    setInterval(() => this.tick(), 1000);
  }

  setOpen(open) {
    this.isOpen = open;
    this.panel.hidden = !open;
    this.launcher.setAttribute('aria-expanded', String(open));
    this.launcher.setAttribute('aria-label', open ? this.t('close') : this.t('open'));
    this.launcher.classList.toggle('fd-open', open);
    this.store.set('open', open);
    if (open) {
      this.list.scrollToEnd();
      this.input.focus({ preventScroll: true });
      this.markRead();
    }
    this.renderBadge();
  }

  /** setPlaceholder shows what the composer is for, to the eye and to screen readers alike. */
  setPlaceholder(key) {
    const text = this.t(key);
    this.input.placeholder = text;
    this.input.setAttribute('aria-label', text);
  }

  autosize() {
    this.input.style.height = 'auto';
    this.input.style.height = Math.min(this.input.scrollHeight, 140) + 'px';
  }

  // ---- frames ------------------------------------------------------------------------------

  onFrame(f) {
    if (f.type === Type.Welcome) return this.onWelcome(f);
    if (f.conv && this.left.has(f.conv)) return;
    if (this.convs.frame(f)) {
      if (f.conv && !this.conv && f.type !== Type.Read) this.setConv(f.conv);
      return;
    }
    if (f.conv && this.conv && f.conv !== this.conv && f.type !== Type.Notice) return;
    switch (f.type) {
      case Type.Queued:
        if (f.conv && !this.conv) this.setConv(f.conv);
        this.queue = { position: f.position || 0, eta: f.eta_s, at: Date.now() };
        this.setState(State.Queued);
        break;
      case Type.Assigned:
        this.agent = f.agent || null;
        this.queue = null;
        this.setState(State.Assigned);
        if (this.agent?.name) this.announcer.say(this.t('assigned', { name: this.agent.name }));
        break;
      case Type.State:
        if (f.conv && !this.conv) this.setConv(f.conv);
        if (f.state !== State.Queued) this.queue = null;
        if (f.state === State.Bot) this.agent = null;
        this.setState(f.state);
        break;
      case Type.Typing:
        if (f.from?.id === this.client.welcome?.user) break;
        this.typing = { name: f.from?.name || (f.from?.role === Role.Bot ? this.t('bot') : this.t('agent')), until: Date.now() + TYPING_SHOW_MS };
        this.renderTyping();
        break;
      case Type.Notice:
        this.notice = { conv: f.conv || this.conv, reason: f.reason || '', message: f.message || '', actions: f.actions || [],
          answered: false, left: false };
        this.saveNotice();
        this.renderBanner();
        break;
      case Type.Error:
        if (f.code === Code.UnknownConversation && this.conv && !f.id) this.setState(State.Closed);
        break;
    }
  }

  onWelcome(f) {
    const user = f.user;
    if (this.user !== user) {
      // A different visitor (new token): start from a clean slate for this identity.
      this.user = user;
      this.convs.o.store = new Store('fd:' + this.cfg.tenant + ':' + user + ':');
      this.convs.map.clear();
      this.list.reset();
    }
    const us = this.convs.o.store;
    const open = f.conversations || [];
    const remembered = us.get('current', '');
    let cur = open.find((c) => c.conv === remembered) || open[0];
    if (!cur && remembered && !this.conv) {
      // Our conversation is no longer open: it was closed while we were away. Show it, closed.
      this.setConv(remembered);
      this.setState(State.Closed);
    }
    for (const c of this.convs.map.values()) c.tl.dropPartials();
    for (const c of open) this.convs.resume(c.conv, c);
    if (cur) {
      this.setConv(cur.conv);
      if (cur.agent?.name) this.agent = cur.agent;
      this.setState(cur.state || 'bot');
      const saved = us.get('notice');
      if (saved?.conv === this.conv && this.state === State.Queued) this.notice = saved;
    }
    this.render();
  }

  setConv(conv) {
    if (!conv || this.conv === conv) return;
    if (this.conv && this.conv !== conv) {
      this.convs.delete(this.conv);
      this.list.reset();
    }
    if (!this.convs.adopt(conv)) this.convs.get(conv);
    this.conv = conv;
    this.convs.o.store?.set('current', conv);
    this.render();
  }

  setState(s) {
    this.state = s || this.state;
    if (this.state !== State.Bot) this.convs.map.get(this.conv)?.tl.dropPartials();
    if (s === State.Closed) {
      this.queue = null;
      this.typing = null;
    }
    if (this.state !== State.Queued && this.notice) {
      // An agent came, or the customer went back to the assistant: nothing to wait for.
      this.notice = null;
      this.leaveMode = false;
      this.leaveConv = '';
      this.saveNotice();
    }
    this.render();
  }

  saveNotice() {
    const us = this.convs.o.store;
    if (!us) return;
    if (this.notice) us.set('notice', this.notice);
    else us.del('notice');
  }

  onConvChange(conv, what, e) {
    if (conv !== this.conv && conv !== '') return;
    if (what === Type.Message && e && !e.partial && e.from?.id !== this.client.welcome?.user && e.from?.role !== Role.Customer) {
      this.typing = null;
      this.renderTyping();
      this.announcer.say((e.from?.name || (e.from?.role === Role.Bot ? this.t('bot') : this.t('agent'))) + ': ' + (e.text || this.t('image')));
    }
    if (what === Type.Message && e?.partial) {
      this.typing = null;
      this.renderTyping();
    }
    this.renderMessages();
    if (what === Type.Message || what === Type.Synced || what === Type.History) this.markRead();
    if (what === Type.Message || what === 'myread' || what === Type.Synced) this.renderBadge();
  }

  // ---- actions -----------------------------------------------------------------------------

  async submit() {
    const text = this.input.value.trim();
    const file = this.file;
    if (!text && !file) return;
    if (this.leaveMode && text && !file && this.leaveConv) {
      // The dispatcher stores the left message in the conversation, which stays queued for
      // the agents; it comes back as a message like any other. Until then the composer is
      // empty, and the banner says it was left once the gateway has it.
      const conv = this.leaveConv;
      this.input.value = '';
      this.autosize();
      this.leaveMode = false;
      this.leaveConv = '';
      this.render();
      this.command({ type: Type.LeaveMessage, conv, text }).then((ok) => {
        if (!ok) {
          // Not lost: the text is back in the composer, to leave again while still waiting.
          if (!this.input.value) this.input.value = text;
          if (this.state === State.Queued) {
            this.leaveMode = true;
            this.leaveConv = conv;
          }
          this.render();
          return;
        }
        if (this.notice?.conv === conv) {
          this.notice.left = true;
          this.saveNotice();
        } else {
          this.flash(this.t('messageLeft'));
        }
        this.renderBanner();
      });
      return;
    }
    if (this.state === State.Closed) this.newConversation(true);
    this.input.value = '';
    this.autosize();
    this.clearFile();
    const me = { id: this.client.welcome?.user, role: Role.Customer };
    const key = this.conv || '';
    const c = this.convs.get(key);
    if (file) await this.sendFile(file, 0);
    if (text) {
      const clientId = newId();
      c.tl.addPending({ clientId, text, from: me });
      this.renderMessages(true);
      this.post({ id: clientId, type: Type.Send, kind: Kind.Text, text }, key);
    }
  }

  /** sendFile uploads file and sends it: a voice message (durationMs > 0 or audio), an image or a file. */
  async sendFile(file, durationMs) {
    if (this.state === State.Closed) this.newConversation(true);
    const me = { id: this.client.welcome?.user, role: Role.Customer };
    const key = this.conv || '';
    const c = this.convs.get(key);
    const clientId = newId();
    const kind = /^audio\//.test(file.type) ? 'audio' : isImage(file) ? 'image' : 'file';
    const meta = { name: file.name, type: file.type, size: file.size, duration_ms: durationMs || undefined };
    c.tl.addPending({ clientId, kind, text: '', attachment: meta, from: me, localUrl: URL.createObjectURL(file) });
    this.renderMessages(true);
    try {
      const att = await upload(this.cfg.gateway, this.token || await this.getToken(false), file, this.conv);
      this.post({ id: clientId, type: Type.Send, kind, attachment: { id: att.id, url: att.url, type: att.type, size: att.size, name: att.name,
        duration_ms: durationMs || undefined } }, key);
    } catch (err) {
      c.tl.fail(clientId);
      this.renderMessages();
      const reason = err.status === 413 ? this.t('tooLarge') : err.status === 415 ? this.t('badType') : String(err.status || err.message);
      this.flash(this.t('uploadFailed', { reason }));
    }
  }

  post(frame, key) {
    if (this.conv) frame.conv = this.conv;
    this.pendingFrames = this.pendingFrames || new Map();
    this.pendingFrames.set(frame.id, frame);
    this.client.send(frame).then((ack) => {
      this.pendingFrames.delete(frame.id);
      if (ack.conv && !this.conv) this.setConv(ack.conv);
    }, (err) => {
      const c = this.convs.map.get(this.conv) || this.convs.map.get(key);
      c?.tl.fail(frame.id);
      this.renderMessages();
      if (err.code === Code.UnknownConversation || err.code === Code.Forbidden) this.setState(State.Closed);
    });
  }

  retry(clientId) {
    const frame = this.pendingFrames?.get(clientId);
    const c = this.convs.map.get(this.conv) || this.convs.map.get('');
    const e = c && [...c.tl.byKey.values()].find((x) => x.clientId === clientId);
    if (!frame || !e) return;
    c.tl.remove(e.k);
    c.tl.addPending({ ...e, clientId });
    this.renderMessages();
    this.post(frame, this.conv || '');
  }

  handoff() {
    const f = { type: Type.Handoff, id: newId('h') };
    if (this.conv) f.conv = this.conv;
    this.client.raw(f);
    this.humanBtn.disabled = true;
    setTimeout(() => { this.humanBtn.disabled = false; }, 3000);
  }

  newConversation(keepInput) {
    if (this.conv) {
      this.left.add(this.conv);
      this.convs.delete(this.conv);
    }
    this.conv = '';
    this.convs.o.store?.del('current');
    this.state = 'bot';
    this.agent = null;
    this.queue = null;
    this.notice = null;
    this.saveNotice();
    this.leaveMode = false;
    this.leaveConv = '';
    this.list.reset();
    this.render();
    if (!keepInput) this.input.focus();
  }

  noticeAction(a) {
    const n = this.notice;
    const conv = n?.conv || this.conv;
    if (a === 'human') this.handoff();
    if (a === 'leave_message' && conv) {
      // What the customer types next is the message they leave (leave_message with its text).
      this.leaveMode = true;
      this.leaveConv = conv;
      this.setPlaceholder('placeholderLeave');
      this.input.focus();
    }
    if (a === 'bot') {
      this.leaveMode = false;
      this.leaveConv = '';
      this.setPlaceholder('placeholder');
      if (conv) this.command({ type: Type.ToBot, conv });
    }
    // The reason stays in view while the customer waits; the choice is made.
    if (n) {
      n.answered = true;
      this.saveNotice();
    }
    this.renderBanner();
  }

  /**
   * command sends a command frame (kept until acked, re-sent after a reconnect). It resolves
   * to whether the gateway took it; failures are shown here.
   */
  command(frame) {
    frame.id = newId('c');
    return this.client.send(frame).then(() => true, (err) => {
      if (err.code === Code.UnknownConversation || err.code === Code.Forbidden) this.setState(State.Closed);
      else this.flash(this.t('commandFailed'));
      return false;
    });
  }

  sendTyping() {
    const now = Date.now();
    if (!this.conv || now - this.lastTypingSent < TYPING_SEND_MS || !this.input.value) return;
    this.lastTypingSent = now;
    this.client.raw({ type: Type.Typing, conv: this.conv });
  }

  markRead() {
    if (!this.isOpen || !this.conv || document.visibilityState !== 'visible') return;
    this.convs.markRead(this.conv);
    this.renderBadge();
  }

  pickFile(f) {
    if (!f) return;
    this.file = f;
    clear(this.preview);
    const remove = h('button', { class: 'fd-icon-btn fd-remove', type: 'button', 'aria-label': this.t('removeAttachment'), onclick: () => this.clearFile() }, icon('close', 16));
    if (isImage(f)) {
      const url = URL.createObjectURL(f);
      this.previewUrl = url;
      this.preview.append(h('img', { src: url, alt: f.name }));
    } else {
      this.preview.append(icon('file', 22));
    }
    this.preview.append(h('span', { class: 'fd-preview-name' }, f.name), remove);
    this.preview.hidden = false;
    this.input.focus();
  }

  clearFile() {
    this.file = null;
    this.fileInput.value = '';
    this.preview.hidden = true;
    clear(this.preview);
  }

  flash(text) {
    this.flashText = text;
    this.renderBanner();
    clearTimeout(this.flashTimer);
    this.flashTimer = setTimeout(() => {
      this.flashText = '';
      this.renderBanner();
    }, 6000);
  }

  tick() {
    if (this.typing && this.typing.until < Date.now()) {
      this.typing = null;
      this.renderTyping();
    }
  }

  // ---- rendering ---------------------------------------------------------------------------

  render() {
    const t = this.t;
    const s = this.state;
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
    this.attachBtn.disabled = !this.conv || s === State.Closed;
    this.voice.button.disabled = !this.conv || s === State.Closed;
    this.composer.hidden = s === State.Closed;
    this.setPlaceholder(this.leaveMode ? 'placeholderLeave' : 'placeholder');
    this.renderBanner();
    this.renderMessages();
    this.renderTyping();
  }

  renderMessages(scroll) {
    const c = this.convs.map.get(this.conv) || this.convs.map.get('');
    if (!c) {
      this.list.reset();
      return;
    }
    this.list.loadingOlder(c.loadingOlder);
    this.list.render(c.tl);
    if (scroll) this.list.scrollToEnd();
  }

  renderTyping() {
    const on = !!this.typing && this.state !== State.Closed;
    this.typingEl.hidden = !on;
    if (on) this.typingEl.lastChild.textContent = this.t('typing', { name: this.typing.name });
  }

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
  }

  renderBadge() {
    const n = this.conv ? this.convs.unread(this.conv) : 0;
    const show = !this.isOpen && n > 0;
    this.badge.hidden = !show;
    this.badge.textContent = n > 9 ? '9+' : String(n);
    this.launcher.setAttribute('aria-label', (this.isOpen ? this.t('close') : this.t('open')) + (show ? ' (' + n + ')' : ''));
  }
}

function initials(name) {
  return String(name).trim().split(/\s+/).slice(0, 2).map((p) => [...p][0] || '').join('').toUpperCase();
}
