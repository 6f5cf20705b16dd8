// The agent console: sign in with a token, set availability, work assigned conversations.

import { isImage, upload } from '../core/attach.js';
import { Client, newId } from '../core/client.js';
import { Conversations } from '../core/convs.js';
import { clear, enterToSend, h, icon } from '../core/dom.js';
import { pickLang, translator } from '../core/i18n.js';
import { claims, expired } from '../core/jwt.js';
import { Announcer, MessageList } from '../core/messages.js';
import { voiceControls } from '../core/voicebar.js';
import { ReportsView } from './reports.js';

const TOKEN_KEY = 'fd:agent:token';
const STATUS_KEY = 'fd:agent:status';
const TYPING_SEND_MS = 3000;
const TYPING_SHOW_MS = 6000;
const LATE_REPLY_S = 120;

const t = translator(pickLang(new URLSearchParams(location.search).get('lang')));
document.documentElement.lang = t.lang;
document.title = t('consoleTitle');

class Console {
  constructor(root) {
    this.root = root;
    this.token = '';
    this.me = null;
    /** @type {Map<string, {conv:string, customer:object, summary:string, state:string, openedAt:number,
     *   ended:string, typingUntil:number, draft:string, unreadBase:number|null}>} */
    this.items = new Map();
    this.order = [];
    this.offers = new Map();
    this.accepted = new Set();
    this.current = '';
    this.presence = null;
    this.status = sessionStorage.getItem(STATUS_KEY) || 'away';
    this.lastTypingSent = 0;
    this.file = null;
    this.announcer = new Announcer();
  }

  // ---- sign in -----------------------------------------------------------------------------

  async boot() {
    const m = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
    const linked = m ? decodeURIComponent(m[1]) : '';
    if (m) history.replaceState(null, '', location.pathname + location.search);
    // A single sign-on session (HttpOnly cookie) comes first: its tokens live in memory only.
    const sso = await this.sessionToken();
    const stored = localStorage.getItem(TOKEN_KEY) || '';
    const current = sso || (this.validToken(stored) ? stored : '');
    if (linked && this.validToken(linked)) {
      // A link never silently replaces who is signed in: a different agent is asked about.
      if (current && !sameUser(current, linked) && !(await this.confirmSwitch(current, linked))) {
        this.signIn(current, !!sso);
      } else {
        localStorage.setItem(TOKEN_KEY, linked);
        this.signIn(linked, false);
      }
    } else if (current) {
      this.signIn(current, !!sso);
    } else {
      await this.showSignIn(stored || linked ? t('badToken') : '');
    }
    this.root.setAttribute('aria-busy', 'false');
  }

  /** confirmSwitch asks whether to sign in as the link's agent instead of the current one. */
  confirmSwitch(current, next) {
    const who = (tok) => { const c = claims(tok); return (c.name || c.sub) + (c.tenant ? ' (' + c.tenant + ')' : ''); };
    const vars = { current: who(current), next: who(next) };
    return new Promise((resolve) => {
      clear(this.root);
      const yes = h('button', { class: 'btn wide', type: 'button', id: 'switch-yes', onclick: () => resolve(true) }, t('switchYes', vars));
      const no = h('button', { class: 'btn primary wide', type: 'button', id: 'switch-no', onclick: () => resolve(false) }, t('switchNo', vars));
      this.root.append(h('main', { class: 'signin' }, h('div', { class: 'signin-card', role: 'alertdialog', 'aria-labelledby': 'switch-h' },
        h('h1', { id: 'switch-h' }, t('switchTitle')), h('p', null, t('switchText', vars)), no, yes)));
      no.focus();
    });
  }

  /** sessionToken exchanges the sign-on session cookie for a console token, or returns ''. */
  async sessionToken() {
    try {
      const res = await fetch('/v1/session', { method: 'POST', credentials: 'same-origin' });
      if (!res.ok) return '';
      const body = await res.json();
      return this.validToken(body.token) ? body.token : '';
    } catch {
      return '';
    }
  }

  /** tenant is the tenant this console page is for (?tenant=), from the URL or the last token. */
  tenant() {
    return new URLSearchParams(location.search).get('tenant') || this.me?.tenant || '';
  }

  validToken(tok) {
    const c = claims(tok);
    return !!c && !!c.sub && (c.role === 'agent' || c.role === 'supervisor') && !expired(tok, 0);
  }

  async showSignIn(error) {
    this.stopTimers();
    this.client?.stop();
    this.client = null;
    let sso = null;
    const tenant = this.tenant();
    if (tenant) {
      try {
        const res = await fetch('/v1/sso/' + encodeURIComponent(tenant));
        if (res.ok) sso = await res.json();
      } catch { /* no sign-on offered */ }
    }
    clear(this.root);
    const ta = h('textarea', { id: 'token', class: 'token-input', rows: '5', spellcheck: 'false', autocomplete: 'off', required: true,
      placeholder: 'eyJhbGciOi…' });
    const err = h('p', { class: 'error', role: 'alert' }, error || '');
    const form = h('form', { class: 'signin-card', onsubmit: (ev) => {
      ev.preventDefault();
      const tok = ta.value.trim();
      if (!this.validToken(tok)) {
        err.textContent = t('badToken');
        ta.focus();
        return;
      }
      localStorage.setItem(TOKEN_KEY, tok);
      this.signIn(tok);
    } },
    h('div', { class: 'logo', 'aria-hidden': 'true' }, icon('chat', 26)),
    h('h1', null, t('consoleTitle')),
    sso?.enabled ? h('a', { class: 'btn primary wide sso', id: 'sso', href: sso.login }, t('signInWith', { name: sso.name })) : null,
    sso?.enabled ? h('p', { class: 'muted small or' }, t('orToken')) : null,
    h('p', { class: 'muted' }, t('signInHelp')),
    h('label', { for: 'token' }, t('token')), ta, err,
    h('button', { class: sso?.enabled ? 'btn wide' : 'btn primary wide', type: 'submit' }, t('signIn')));
    this.root.append(h('main', { class: 'signin' }, form));
    (form.querySelector('#sso') || ta).focus();
  }

  async signOut() {
    localStorage.removeItem(TOKEN_KEY);
    if (this.sso) {
      // Ends the sign-on session; the socket closes with the page's client.
      try {
        await fetch('/v1/session/logout', { method: 'POST', credentials: 'same-origin' });
      } catch { /* the cookie expires by itself */ }
      const tenant = this.tenant();
      this.sso = false;
      this.token = '';
      history.replaceState(null, '', location.pathname + (tenant ? '?tenant=' + encodeURIComponent(tenant) : ''));
      await this.showSignIn(t('signedOut'));
      return;
    }
    location.reload();
  }

  stopTimers() {
    clearInterval(this.tickTimer);
    clearTimeout(this.renewTimer);
    this.tickTimer = 0;
    this.renewTimer = 0;
  }

  /** renew fetches a fresh console token from the sign-on session shortly before this one expires. */
  scheduleRenew() {
    clearTimeout(this.renewTimer);
    const exp = (claims(this.token)?.exp || 0) * 1000;
    const inMs = Math.max(5000, exp - Date.now() - 60000);
    this.renewTimer = setTimeout(async () => {
      const tok = await this.sessionToken();
      if (!tok) {
        this.sso = false;
        await this.showSignIn(t('sessionEnded'));
        return;
      }
      this.token = tok;
      this.scheduleRenew();
    }, inMs);
  }

  signIn(tok, sso) {
    this.token = tok;
    this.sso = sso;
    this.me = claims(tok);
    this.build();
    if (sso) this.scheduleRenew();
    this.client = new Client({
      base: location.origin,
      transport: new URLSearchParams(location.search).get('transport') || '',
      getToken: async (fresh) => {
        if (this.sso && (fresh || !this.validToken(this.token))) {
          const next = await this.sessionToken();
          if (next) return (this.token = next);
          this.sso = false;
          this.showSignIn(t('sessionEnded'));
          throw new Error('session ended');
        }
        if (fresh || !this.validToken(this.token)) {
          localStorage.removeItem(TOKEN_KEY);
          this.showSignIn(t('badToken'));
          throw new Error('token expired');
        }
        return this.token;
      },
      onFrame: (f) => this.onFrame(f),
      onState: (s) => this.renderConn(s),
    });
    this.convs = new Conversations({
      client: this.client,
      store: null,
      onChange: (conv, what, e) => this.onConvChange(conv, what, e),
    });
    this.client.start();
    this.tickTimer = setInterval(() => this.tick(), 1000);
  }

  // ---- layout ------------------------------------------------------------------------------

  build() {
    clear(this.root);
    const name = this.me?.name || this.me?.sub || '';
    this.statusBtn = h('button', { class: 'switch', type: 'button', role: 'switch', 'aria-checked': 'false',
      'aria-label': t('availability'), onclick: () => this.setStatus(this.status === 'available' ? 'away' : 'available') },
    h('span', { class: 'knob', 'aria-hidden': 'true' }), h('span', { class: 'switch-label' }));
    this.notifyBtn = h('button', { class: 'icon-btn', type: 'button', 'aria-label': t('notifications'), title: t('notifications'),
      onclick: () => this.askNotifications() }, icon('bell', 18));
    this.connEl = h('div', { class: 'conn', role: 'status' });
    this.queueEl = h('div', { class: 'overview', 'aria-live': 'polite' });
    this.offersEl = h('div', { class: 'offers', 'aria-live': 'assertive' });
    this.listEl = h('ul', { class: 'conv-list', 'aria-label': t('conversations') });
    const side = h('aside', { class: 'side' },
      h('div', { class: 'me' },
        h('div', { class: 'avatar' }, initials(name)),
        h('div', { class: 'me-text' }, h('strong', { class: 'me-name' }, name),
          h('span', { class: 'muted small' }, this.me?.tenant || ''),
          this.me?.skills?.length ? h('span', { class: 'muted small me-skills' }, this.me.skills.join(', ')) : null),
        this.notifyBtn,
        h('button', { class: 'icon-btn', type: 'button', 'aria-label': t('signOut'), title: t('signOut'), onclick: () => this.signOut() }, icon('logout', 18))),
      h('div', { class: 'status-row' }, this.statusBtn, this.connEl),
      this.me?.role === 'supervisor'
        ? h('button', { class: 'btn wide reports-btn', type: 'button', id: 'open-reports', onclick: () => this.openReports() }, t('reports'))
        : null,
      this.queueEl, this.offersEl,
      h('h2', { class: 'side-h' }, t('conversations')), this.listEl,
      h('p', { class: 'shortcuts muted small' }, t('shortcutList')));

    this.headName = h('h2', { class: 'conv-title' });
    this.headMeta = h('div', { class: 'conv-meta muted small' });
    this.suggestBtn = h('button', { class: 'btn', type: 'button', onclick: () => this.suggest(), title: 'Alt+S' }, icon('spark', 16), t('suggest'));
    this.transferBtn = h('button', { class: 'btn transfer', type: 'button', onclick: () => this.openTransfer(), title: 'Alt+T' }, icon('swap', 16), t('transfer'));
    this.closeBtn = h('button', { class: 'btn danger', type: 'button', onclick: () => this.closeConv(), title: 'Alt+X' }, t('closeConv'));
    this.head = h('header', { class: 'conv-head' },
      h('div', { class: 'conv-head-text' }, this.headName, this.headMeta),
      h('div', { class: 'conv-actions' }, this.suggestBtn, this.transferBtn, this.closeBtn));
    this.summaryEl = h('div', { class: 'summary', hidden: true });
    this.list = new MessageList({
      t, base: location.origin, token: () => this.token, me: () => this.client?.welcome?.user || this.me?.sub || '',
      mineRole: 'agent', onNearTop: () => this.current && this.convs.loadOlder(this.current),
      onRetry: (id) => this.retry(id),
    });
    this.typingEl = h('div', { class: 'typing muted small', hidden: true, 'aria-live': 'polite' });
    this.input = h('textarea', { class: 'composer-input', rows: '2', 'aria-label': t('placeholder'), placeholder: t('placeholder'), maxlength: '4000' });
    enterToSend(this.input, () => this.submit(), true);
    this.input.addEventListener('input', () => this.sendTyping());
    this.input.addEventListener('paste', (ev) => {
      const f = [...(ev.clipboardData?.files || [])][0];
      if (f) {
        ev.preventDefault();
        this.pickFile(f);
      }
    });
    this.fileInput = h('input', { type: 'file', class: 'hidden-file', tabindex: '-1', 'aria-hidden': 'true' });
    this.fileInput.addEventListener('change', () => this.pickFile(this.fileInput.files?.[0]));
    this.preview = h('div', { class: 'preview', hidden: true });
    this.voice = voiceControls({
      t, maxSeconds: () => this.client?.welcome?.max_audio_s,
      onFile: (file, ms) => { if (this.current) this.sendFile(this.current, file, ms); },
      onError: (text) => this.toast(text),
      onRecording: (on) => { this.composerRow.hidden = on; },
    });
    this.voice.button.classList.add('icon-btn');
    this.composerRow = h('div', { class: 'composer-row' },
      h('button', { class: 'icon-btn', type: 'button', 'aria-label': t('attach'), title: t('attach'), onclick: () => this.fileInput.click() }, icon('clip', 20)),
      this.voice.button,
      this.input,
      h('button', { class: 'btn primary send', type: 'submit', 'aria-label': t('send') }, icon('send', 18), h('span', null, t('send'))));
    this.composer = h('form', { class: 'composer', onsubmit: (ev) => { ev.preventDefault(); this.submit(); } },
      this.preview, this.composerRow, this.voice.bar,
      this.fileInput);
    this.endedEl = h('div', { class: 'ended', hidden: true });
    this.empty = h('div', { class: 'empty' }, icon('chat', 40), h('p', null, t('selectConversation')));
    this.pane = h('section', { class: 'pane', hidden: true, 'aria-label': t('messages') },
      this.head, this.summaryEl, this.list.el, this.typingEl, this.endedEl, this.composer);
    this.pane.addEventListener('dragover', (ev) => ev.preventDefault());
    this.pane.addEventListener('drop', (ev) => {
      ev.preventDefault();
      const f = ev.dataTransfer?.files?.[0];
      if (f) this.pickFile(f);
    });
    this.dialog = this.buildTransfer();
    this.toastEl = h('div', { class: 'toast', role: 'alert', hidden: true });
    this.reports = new ReportsView({ t, token: () => this.token, onClose: () => this.closeReports() });
    this.root.append(side, h('main', { class: 'main' }, this.empty, this.pane, this.reports.el), this.dialog, this.toastEl, this.announcer.el);
    document.addEventListener('keydown', (ev) => this.onKey(ev));
    addEventListener('focus', () => this.markRead());
    document.addEventListener('visibilitychange', () => this.markRead());
    this.renderStatus();
    this.renderNotify();
    this.renderOverview();
  }

  buildTransfer() {
    const agent = h('input', { type: 'text', id: 'to-agent', name: 'target', autocomplete: 'off', placeholder: 'agent id' });
    const queue = h('input', { type: 'text', id: 'to-queue', name: 'target-q', autocomplete: 'off', placeholder: 'default' });
    const kindAgent = h('input', { type: 'radio', name: 'kind', id: 'kind-agent', value: 'agent', checked: true });
    const kindQueue = h('input', { type: 'radio', name: 'kind', id: 'kind-queue', value: 'queue' });
    const form = h('form', { method: 'dialog', class: 'dialog-body' },
      h('h2', null, t('transferTo')),
      h('div', { class: 'field' }, kindAgent, h('label', { for: 'kind-agent' }, t('toAgent')), agent),
      h('div', { class: 'field' }, kindQueue, h('label', { for: 'kind-queue' }, t('toQueue')), queue),
      h('div', { class: 'dialog-actions' },
        h('button', { class: 'btn', type: 'button', onclick: () => dlg.close() }, t('cancel')),
        h('button', { class: 'btn primary', type: 'submit', value: 'ok' }, t('confirm'))));
    agent.addEventListener('focus', () => { kindAgent.checked = true; });
    queue.addEventListener('focus', () => { kindQueue.checked = true; });
    const dlg = h('dialog', { class: 'dialog', 'aria-label': t('transferTo') }, form);
    form.addEventListener('submit', () => {
      const conv = this.current;
      if (!conv) return;
      const f = { type: 'transfer', id: newId('t'), conv };
      if (kindAgent.checked && agent.value.trim()) f.to_agent = agent.value.trim();
      else f.to_queue = queue.value.trim() || 'default';
      this.client.raw(f);
    });
    this.transferInputs = { agent, queue };
    return dlg;
  }

  // ---- frames ------------------------------------------------------------------------------

  onFrame(f) {
    if (f.type === 'welcome') return this.onWelcome(f);
    if (this.convs.frame(f)) {
      if (f.type === 'message' && !f.partial) this.onMessage(f);
      return;
    }
    switch (f.type) {
      case 'presence':
        this.presence = { agents: f.agents_available ?? 0, queue: f.queue_length ?? 0 };
        this.renderOverview();
        break;
      case 'assigned':
        this.onAssigned(f);
        break;
      case 'offer':
        this.onOffer(f);
        break;
      case 'state': {
        const it = this.items.get(f.conv);
        if (!it) break;
        it.state = f.state;
        const stillMine = f.state === 'assigned' && f.reason !== 'transfer' && f.reason !== 'transferred';
        if (!stillMine) {
          it.ended = f.state === 'closed' ? t('closedBy') : t('transferred');
          this.offers.delete(f.conv);
        }
        this.renderList();
        if (f.conv === this.current) this.renderPane();
        break;
      }
      case 'typing': {
        const it = this.items.get(f.conv);
        if (!it || f.from?.id === this.client.welcome?.user) break;
        it.typingUntil = Date.now() + TYPING_SHOW_MS;
        it.typingName = f.from?.name || t('customer');
        if (f.conv === this.current) this.renderTyping();
        break;
      }
      case 'suggestion': {
        const it = this.items.get(f.conv);
        if (!it) break;
        it.suggesting = false;
        if (f.conv === this.current) {
          this.input.value = f.text || '';
          this.input.focus();
          this.renderPane();
        } else {
          it.draft = f.text || '';
        }
        break;
      }
      case 'notice':
        // offer_timeout, away_missed_offers, transfer_refused, agent_away: the agent's own request did not go
        // through. The server's sentence is English and the most specific; other languages
        // get their own words for the reason where there are some.
        if (f.conv) this.accepted.delete(f.conv);
        if (f.conv && this.offers.delete(f.conv)) this.renderOffers();
        {
          const key = 'notice_' + f.reason;
          const local = f.reason && t.lang !== 'en' && t(key) !== key ? t(key) : '';
          if (local || f.message) this.toast(local || f.message);
        }
        break;
      case 'error':
        if (f.message || f.code) this.toast(f.message || f.code);
        break;
    }
  }

  onWelcome(f) {
    if (this.status === 'available') this.client.raw({ type: 'status', status: 'available' });
    const open = new Set();
    for (const s of f.conversations || []) {
      open.add(s.conv);
      this.upsertItem(s.conv, { customer: s.customer, state: s.state, openedAt: Date.parse(s.opened_at) || Date.now(),
        unreadBase: typeof s.unread === 'number' || typeof s.unread === 'string' ? Number(s.unread) : null });
      this.convs.resume(s.conv, s);
    }
    for (const [conv, it] of this.items) {
      if (!open.has(conv) && !it.ended) it.ended = t('closedBy');
    }
    if (!this.current && this.order.length) this.select(this.order[0]);
    this.renderList();
    this.renderPane();
  }

  upsertItem(conv, patch) {
    let it = this.items.get(conv);
    if (!it) {
      it = { conv, customer: {}, summary: '', state: 'assigned', openedAt: Date.now(), ended: '', typingUntil: 0, draft: '', unreadBase: null };
      this.items.set(conv, it);
      this.order.push(conv);
    }
    for (const [k, v] of Object.entries(patch)) if (v != null && v !== '') it[k] = v;
    return it;
  }

  onAssigned(f) {
    const mine = !f.agent?.id || f.agent.id === this.client.welcome?.user;
    this.offers.delete(f.conv);
    this.renderOffers();
    if (!mine) return;
    const isNew = !this.items.has(f.conv) || this.items.get(f.conv).ended;
    const it = this.upsertItem(f.conv, { customer: f.customer, summary: f.summary, state: 'assigned' });
    if (isNew) {
      it.ended = '';
      it.openedAt = Date.now();
      this.convs.delete(f.conv);
      this.convs.resume(f.conv, { last_seq: 0 });
      const name = displayName(f.customer);
      this.notify(f.conv, t('newAssignment', { name }), f.summary || '');
      this.announcer.say(t('newAssignment', { name }));
      // An offer the agent just accepted is what they want to see; otherwise the open
      // conversation stays open (the agent may be typing in it).
      if (!this.current || this.accepted.delete(f.conv)) this.select(f.conv);
    }
    this.renderList();
    if (f.conv === this.current) this.renderPane();
  }

  onOffer(f) {
    const until = Date.now() + (Number(f.eta_s) || 20) * 1000;
    this.offers.set(f.conv, { conv: f.conv, customer: f.customer || {}, until, summary: f.summary || '' });
    this.notify(f.conv, t('offer', { name: f.customer?.name || t('customer') }), f.summary || '');
    this.renderOffers();
  }

  onMessage(f) {
    const it = this.items.get(f.conv);
    if (!it) return;
    const mine = f.from?.id === this.client.welcome?.user;
    if (!mine && f.from?.role === 'customer') {
      it.typingUntil = 0;
      if (f.conv !== this.current || document.hidden) {
        this.notify(f.conv, t('newMessage', { name: f.from?.name || t('customer') }), f.text || '', true);
      }
      if (f.conv === this.current) this.announcer.say((f.from?.name || t('customer')) + ': ' + (f.text || t('image')));
    }
  }

  onConvChange(conv, what) {
    const it = this.items.get(conv);
    if (!it) return;
    if (what === 'history' && it.unreadBase != null) this.applyUnreadBase(conv, it);
    if (conv === this.current) {
      this.renderMessages();
      if (what === 'message' || what === 'synced' || what === 'history') this.markRead();
      if (what === 'message') this.renderTyping();
    }
    this.renderList();
  }

  /** applyUnreadBase turns the welcome's unread count into a read position once messages are in. */
  applyUnreadBase(conv, it) {
    const c = this.convs.map.get(conv);
    const me = this.client.welcome?.user;
    const others = c.tl.list().filter((e) => e.seq && e.from?.id !== me && e.from?.role === 'customer').reverse();
    const n = it.unreadBase;
    it.unreadBase = null;
    if (n <= 0) c.myRead = Math.max(c.myRead, c.tl.maxSeq);
    else if (n <= others.length) c.myRead = Math.max(c.myRead, others[n - 1].seq - 1);
  }

  // ---- actions -----------------------------------------------------------------------------

  select(conv) {
    if (!conv || !this.items.has(conv)) return;
    const prev = this.items.get(this.current);
    if (prev) prev.draft = this.input.value;
    this.voice?.cancel();
    if (this.reports) this.reports.el.hidden = true;
    this.current = conv;
    this.list.reset();
    const it = this.items.get(conv);
    this.input.value = it.draft || '';
    this.clearFile();
    this.renderList();
    this.renderPane();
    this.list.scrollToEnd();
    this.markRead();
  }

  move(delta) {
    if (!this.order.length) return;
    const i = this.order.indexOf(this.current);
    const n = (i + delta + this.order.length) % this.order.length;
    this.select(this.order[n]);
    this.listEl.querySelector('[aria-current="true"]')?.focus();
  }

  setStatus(s) {
    this.status = s;
    sessionStorage.setItem(STATUS_KEY, s);
    this.client?.raw({ type: 'status', status: s });
    this.renderStatus();
  }

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
      this.post(conv, { id: clientId, type: 'send', conv, kind: 'text', text });
    }
  }

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
      this.post(conv, { id: clientId, type: 'send', conv, kind, attachment: { id: a.id, url: a.url, type: a.type, size: a.size, name: a.name,
        duration_ms: durationMs || undefined } });
    } catch (err) {
      c.tl.fail(clientId);
      this.renderMessages();
      this.toast(t('uploadFailed', { reason: err.status === 413 ? t('tooLarge') : err.status === 415 ? t('badType') : String(err.status || err.message) }));
    }
  }

  post(conv, frame) {
    this.sent = this.sent || new Map();
    this.sent.set(frame.id, frame);
    this.client.send(frame).then(() => this.sent.delete(frame.id), (err) => {
      this.convs.map.get(conv)?.tl.fail(frame.id);
      this.renderMessages();
      this.toast(err.message);
    });
  }

  retry(clientId) {
    const frame = this.sent?.get(clientId);
    const c = frame && this.convs.map.get(frame.conv);
    const e = c && [...c.tl.byKey.values()].find((x) => x.clientId === clientId);
    if (!e) return;
    c.tl.remove(e.k);
    c.tl.addPending({ ...e, clientId });
    this.renderMessages();
    this.post(frame.conv, frame);
  }

  suggest() {
    const it = this.items.get(this.current);
    if (!it || it.ended) return;
    it.suggesting = true;
    this.client.raw({ type: 'assist', id: newId('a'), conv: this.current });
    this.renderPane();
    setTimeout(() => {
      if (it.suggesting) {
        it.suggesting = false;
        this.renderPane();
      }
    }, 20000);
  }

  openTransfer() {
    if (!this.current || this.items.get(this.current)?.ended) return;
    // Each transfer starts blank: the last one was for another conversation.
    this.transferInputs.agent.value = '';
    this.transferInputs.queue.value = '';
    this.dialog.showModal();
    this.transferInputs.agent.focus();
  }

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
    this.client.raw({ type: 'close', id: newId('x'), conv });
  }

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
  }

  answerOffer(conv, accept) {
    if (accept) this.accepted.add(conv);
    this.client.raw({ type: accept ? 'accept' : 'decline', id: newId('o'), conv });
    this.offers.delete(conv);
    this.renderOffers();
  }

  /** acceptOldestOffer accepts the offer that will run out first. */
  acceptOldestOffer() {
    let first = null;
    for (const o of this.offers.values()) if (!first || o.until < first.until) first = o;
    if (first) this.answerOffer(first.conv, true);
  }

  focusComposer() {
    const it = this.items.get(this.current);
    if (it && !it.ended) this.input.focus();
  }

  sendTyping() {
    const now = Date.now();
    if (!this.current || now - this.lastTypingSent < TYPING_SEND_MS || !this.input.value) return;
    this.lastTypingSent = now;
    this.client.raw({ type: 'typing', conv: this.current });
  }

  markRead() {
    if (!this.current || document.visibilityState !== 'visible' || !document.hasFocus()) return;
    this.convs.markRead(this.current);
    this.renderList();
  }

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
  }

  clearFile() {
    this.file = null;
    if (this.fileInput) this.fileInput.value = '';
    if (this.preview) {
      this.preview.hidden = true;
      clear(this.preview);
    }
  }

  async askNotifications() {
    if (!('Notification' in window)) return;
    if (Notification.permission === 'default') await Notification.requestPermission();
    this.renderNotify();
  }

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
  }

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
  }

  toast(text) {
    this.toastEl.textContent = text;
    this.toastEl.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => { this.toastEl.hidden = true; }, 5000);
  }

  tick() {
    this.renderList();
    if (this.offers.size) this.renderOffers();
    const it = this.items.get(this.current);
    if (it && it.typingUntil && it.typingUntil < Date.now()) {
      it.typingUntil = 0;
      this.renderTyping();
    }
  }

  // ---- rendering ---------------------------------------------------------------------------

  renderConn(s) {
    if (!this.connEl) return;
    const label = s === 'open' ? (this.client?.kind === 'sse' ? 'SSE' : '') : s === 'offline' ? t('offline') : s === 'replaced' || s === 'crowded' ? t(s) : s === 'connecting' || s === 'reconnecting' ? t('reconnecting') : '';
    this.connEl.textContent = label;
    this.connEl.className = 'conn ' + (s === 'open' ? 'ok' : 'bad');
  }

  renderStatus() {
    const on = this.status === 'available';
    this.statusBtn.setAttribute('aria-checked', String(on));
    this.statusBtn.classList.toggle('on', on);
    this.statusBtn.lastChild.textContent = on ? t('available') : t('away');
  }

  renderNotify() {
    const p = 'Notification' in window ? Notification.permission : 'denied';
    this.notifyBtn.hidden = p === 'denied';
    this.notifyBtn.classList.toggle('on', p === 'granted');
    this.notifyBtn.setAttribute('aria-label', p === 'granted' ? t('notificationsOn') : t('notifications'));
    this.notifyBtn.title = this.notifyBtn.getAttribute('aria-label');
  }

  renderOverview() {
    clear(this.queueEl);
    const p = this.presence;
    this.queueEl.append(
      h('div', { class: 'stat' + (p && p.queue > 0 ? ' hot' : '') }, h('b', null, p ? String(p.queue) : '–'), h('span', null, t('queue'))),
      h('div', { class: 'stat' }, h('b', null, p ? String(p.agents) : '–'), h('span', null, t('agentsOnline'))));
  }

  renderOffers() {
    clear(this.offersEl);
    const now = Date.now();
    for (const [conv, o] of this.offers) {
      const left = Math.ceil((o.until - now) / 1000);
      if (left <= 0) {
        this.offers.delete(conv);
        continue;
      }
      this.offersEl.append(h('div', { class: 'offer' },
        h('div', { class: 'offer-text' }, h('strong', null, t('offer', { name: o.customer.name || t('customer') })),
          o.summary ? h('span', { class: 'small' }, o.summary) : null),
        h('div', { class: 'offer-actions' },
          h('span', { class: 'countdown', 'aria-label': left + ' s' }, left + 's'),
          h('button', { class: 'btn', type: 'button', onclick: () => this.answerOffer(conv, false) }, t('decline')),
          h('button', { class: 'btn primary', type: 'button', title: 'Alt+A', onclick: () => this.answerOffer(conv, true) }, t('accept')))));
    }
  }

  renderList() {
    if (!this.listEl) return;
    const ul = this.listEl;
    const now = Date.now();
    const me = this.client?.welcome?.user;
    if (!this.order.length) {
      if (!ul.querySelector('.none')) {
        clear(ul);
        ul.append(h('li', { class: 'none muted small' }, t('noConversations')));
      }
      return;
    }
    const nodes = [];
    for (const conv of this.order) {
      const it = this.items.get(conv);
      const c = this.convs.map.get(conv);
      const list = c ? c.tl.list() : [];
      const last = [...list].reverse().find((e) => !e.partial) || list[list.length - 1];
      const unread = conv === this.current && document.hasFocus() ? 0 : this.convs.unread(conv);
      const name = displayName(it.customer);
      let wait = 0;
      if (last && last.from?.role === 'customer' && last.ts) wait = (now - Date.parse(last.ts)) / 1000;
      else if (!last) wait = (now - it.openedAt) / 1000;
      const late = !it.ended && wait > LATE_REPLY_S;
      const preview = last ? (last.text || (last.kind === 'image' ? '📷 ' + t('image') : last.kind === 'audio' ? '🎤 ' + t('voiceMessage') : '📎 ' + (last.attachment?.name || ''))) : it.summary || '';
      const key = [conv, name, preview, unread, Math.floor(wait / 10), it.ended, conv === this.current, late, last?.from?.id === me].join('|');
      let li = this.rowCache?.get(conv);
      if (!li || li.dataset.key !== key) {
        const btn = h('button', { type: 'button', class: 'conv', 'aria-current': conv === this.current ? 'true' : 'false',
          onclick: () => this.select(conv) },
        h('div', { class: 'avatar sm' }, initials(name)),
        h('div', { class: 'conv-text' },
          h('div', { class: 'conv-top' }, h('strong', null, name),
            it.ended ? h('span', { class: 'pill' }, it.ended)
              : wait > 0 ? h('span', { class: 'wait' + (late ? ' late' : '') }, t.duration(wait)) : null),
          h('div', { class: 'conv-bottom' }, h('span', { class: 'preview-text' }, preview),
            unread > 0 ? h('span', { class: 'unread', 'aria-label': t('unread', { n: unread }) }, String(unread)) : null)));
        li = h('li', { class: it.ended ? 'ended' : '' }, btn);
        li.dataset.key = key;
        this.rowCache = this.rowCache || new Map();
        this.rowCache.set(conv, li);
      }
      nodes.push(li);
    }
    const focused = ul.contains(document.activeElement) ? document.activeElement.closest('li') : null;
    if (nodes.length !== ul.children.length || nodes.some((n, i) => ul.children[i] !== n)) {
      clear(ul);
      ul.append(...nodes);
      if (focused && !focused.isConnected) ul.querySelector('[aria-current="true"]')?.focus();
    }
  }

  openReports() {
    this.empty.hidden = true;
    this.pane.hidden = true;
    this.reports.show();
  }

  closeReports() {
    this.reports.el.hidden = true;
    this.renderPane();
  }

  renderPane() {
    const it = this.items.get(this.current);
    if (this.reports && !this.reports.el.hidden) return; // the Reports view holds the main area
    this.empty.hidden = !!it;
    this.pane.hidden = !it;
    if (!it) return;
    const name = displayName(it.customer);
    this.headName.textContent = name;
    const meta = [it.customer?.id && it.customer.id !== name ? it.customer.id : '', t('openedAgo', { t: t.duration((Date.now() - it.openedAt) / 1000) })];
    this.headMeta.textContent = meta.filter(Boolean).join(' · ');
    this.summaryEl.hidden = !it.summary;
    clear(this.summaryEl);
    // The summary is the model's words, not the customer's: labelled as such.
    if (it.summary) this.summaryEl.append(h('strong', null, t('botSummary') + ': '), it.summary);
    this.suggestBtn.disabled = !!it.ended || !!it.suggesting;
    this.suggestBtn.lastChild.textContent = it.suggesting ? t('suggesting') : t('suggest');
    this.transferBtn.disabled = !!it.ended;
    if (this.confirmClose !== this.current) this.closeBtn.textContent = it.ended ? '✓' : t('closeConv');
    this.closeBtn.setAttribute('aria-label', it.ended ? 'Dismiss' : t('closeConv'));
    this.composer.hidden = !!it.ended;
    this.endedEl.hidden = !it.ended;
    this.endedEl.textContent = it.ended || '';
    this.renderMessages();
    this.renderTyping();
  }

  renderMessages(scroll) {
    const c = this.convs.map.get(this.current);
    if (!c) return;
    this.list.loadingOlder(c.loadingOlder);
    this.list.render(c.tl);
    if (scroll) this.list.scrollToEnd();
  }

  renderTyping() {
    const it = this.items.get(this.current);
    const on = !!it && it.typingUntil > Date.now();
    this.typingEl.hidden = !on;
    if (on) this.typingEl.textContent = t('typing', { name: it.typingName || t('customer') });
  }
}

/** displayName names a customer: their name, or "Visitor" and a short id for anonymous ones. */
function displayName(p) {
  if (p?.name) return p.name;
  const id = p?.id || '';
  if (id.startsWith('v_')) return t('visitor') + ' ' + id.slice(2, 6);
  return id || t('customer');
}

function sameUser(a, b) {
  const x = claims(a);
  const y = claims(b);
  return !!x && !!y && x.sub === y.sub && x.tenant === y.tenant;
}

function initials(name) {
  return String(name || '?').trim().split(/\s+/).slice(0, 2).map((p) => [...p][0] || '').join('').toUpperCase() || '?';
}

new Console(document.getElementById('app')).boot();
// A link with #token= opened while the console is already loaded goes through boot again,
// which asks before switching to another agent.
addEventListener('hashchange', () => {
  if (/(?:^|[#&])token=/.test(location.hash)) location.reload();
});
