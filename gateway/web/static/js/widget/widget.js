// The customer widget. mount() is called by the loader (/widget.js) with the embed settings; it
// draws a launcher and a chat panel inside a shadow root, so the host page's CSS cannot reach it.
// The Widget's methods live in parts by what they do: layout.js, compose.js, render.js (shared.js
// holds what they share); this file holds its state, the token and the server's frames.

import { Client } from '../core/client.js';
import { Conversations } from '../core/convs.js';
import { clear } from '../core/dom.js';
import { pickLang, translator } from '../core/i18n.js';
import { expired } from '../core/jwt.js';
import { Store } from '../core/store.js';
import { setTenant } from '../core/tenant.js';
import { composePart } from './compose.js';
import { layoutPart } from './layout.js';
import { prechatPart } from './prechat.js';
import { renderPart } from './render.js';
import { TYPING_SHOW_MS } from './shared.js';
import { Code, Role, State, Type } from '../core/protocol.js';

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
      // The page of the tenant's site the widget is on, for the customer's contact (the gateway
      // drops query and fragment too; they are not sent at all).
      page: location.origin + location.pathname,
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

  onFrame(f) {
    if (f.type === Type.Welcome) return this.onWelcome(f);
    if (this.rating.frame(f)) return; // rating.js
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
    this.prechatWelcome(f); // prechat.js
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
    if (s === State.Bot && this.awaitingBot) this.botReady();
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
}

Object.assign(Widget.prototype, layoutPart, composePart, renderPart, prechatPart);

