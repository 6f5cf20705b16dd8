// The agent console: sign in, set availability, work assigned conversations, and for
// supervisors the Reports view. The Console's methods live in parts by what they do: signin.js,
// layout.js, render.js, compose.js (shared.js holds what they share); this file holds its state
// and routes the server's frames.

import { Announcer } from '../core/messages.js';
import { Role, State, Status, Type } from '../core/protocol.js';
import { composePart } from './compose.js';
import { ratedText } from './ratings.js';
import { layoutPart } from './layout.js';
import { renderPart } from './render.js';
import { STATUS_KEY, TYPING_SHOW_MS, displayName, t } from './shared.js';
import { signinPart } from './signin.js';
import { workspacePart } from './workspace.js';
import { boardPart } from './supervisor.js';
import { applySLA } from './sla.js';

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

  onFrame(f) {
    if (f.type === Type.Welcome) return this.onWelcome(f);
    if (this.workspaceFrame(f)) return; // workspace.js
    if (this.notes?.frame(f)) return; // notes.js
    if (this.convs.frame(f)) {
      if (f.type === Type.Message && !f.partial) this.onMessage(f);
      return;
    }
    switch (f.type) {
      case Type.Presence:
        this.presence = { agents: f.agents_available ?? 0, queue: f.queue_length ?? 0 };
        this.renderOverview();
        break;
      case Type.Assigned:
        this.onAssigned(f);
        break;
      case Type.Offer:
        this.onOffer(f);
        break;
      case Type.State: {
        const it = this.items.get(f.conv);
        if (!it) break;
        it.state = f.state;
        const stillMine = f.state === State.Assigned && f.reason !== 'transfer' && f.reason !== 'transferred';
        if (!stillMine) {
          it.ended = f.state === State.Closed ? t('closedBy') : t('transferred');
          this.offers.delete(f.conv);
        }
        this.renderList();
        if (f.conv === this.current) this.renderPane();
        break;
      }
      case Type.Typing: {
        const it = this.items.get(f.conv);
        if (!it || f.from?.id === this.client.welcome?.user) break;
        it.typingUntil = Date.now() + TYPING_SHOW_MS;
        it.typingName = f.from?.name || t('customer');
        if (f.conv === this.current) this.renderTyping();
        break;
      }
      case Type.Suggestion: {
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
      case Type.Notice:
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
      case Type.Error:
        if (f.message || f.code) this.toast(f.message || f.code);
        break;
      case Type.Board:
        this.boardView?.update(f.board); // supervisor.js
        break;
      case Type.Notes:
        this.boardView?.results(f); // a search (the notes panel took its own loads)
        break;
      case Type.Roster:
        this.picker?.update(f.board); // transfer.js
        break;
      case Type.Rated: {
        const it = this.upsertItem(f.conv, { customer: f.customer, rating: f.rating });
        if (!it.ended) it.ended = t('closedBy');
        const text = ratedText(t, f, displayName(f.customer));
        this.toast(text);
        this.announcer.say(text);
        this.renderList();
        if (f.conv === this.current) this.renderPane();
        break;
      }
      case Type.SLA: // service levels (sla.js)
        if (applySLA(this.items, f)) this.renderList();
        break;
    }
  }

  onWelcome(f) {
    this.notes?.reset();
    if (this.status === Status.Available) this.client.raw({ type: Type.Status, status: Status.Available });
    if (this.rosterFollowed) this.followRoster(true); // a new session follows nothing yet (compose.js)
    const open = new Set();
    for (const s of f.conversations || []) {
      open.add(s.conv);
      this.upsertItem(s.conv, { customer: s.customer, state: s.state, labels: s.labels || [], openedAt: Date.parse(s.opened_at) || Date.now(),
        unreadBase: typeof s.unread === 'number' || typeof s.unread === 'string' ? Number(s.unread) : null });
      this.convs.resume(s.conv, s);
    }
    for (const [conv, it] of this.items) {
      if (!open.has(conv) && !it.ended) it.ended = t('closedBy');
    }
    this.workspaceWelcome(f); // workspace.js
    if (!this.current && this.order.length) this.select(this.order[0]);
    this.renderList();
    this.renderPane();
  }

  upsertItem(conv, patch) {
    let it = this.items.get(conv);
    if (!it) {
      it = { conv, customer: {}, summary: '', state: State.Assigned, openedAt: Date.now(), ended: '', typingUntil: 0, draft: '', unreadBase: null };
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
    const it = this.upsertItem(f.conv, { customer: f.customer, summary: f.summary, state: State.Assigned });
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
    if (!mine && f.from?.role === Role.Customer) {
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
    if (what === Type.History && it.unreadBase != null) this.applyUnreadBase(conv, it);
    if (conv === this.current) {
      this.renderMessages();
      if (what === Type.Message || what === Type.Synced || what === Type.History) this.markRead();
      if (what === Type.Message) this.renderTyping();
    }
    this.renderList();
  }

  /** applyUnreadBase turns the welcome's unread count into a read position once messages are in. */
  applyUnreadBase(conv, it) {
    const c = this.convs.map.get(conv);
    const me = this.client.welcome?.user;
    const others = c.tl.list().filter((e) => e.seq && e.from?.id !== me && e.from?.role === Role.Customer).reverse();
    const n = it.unreadBase;
    it.unreadBase = null;
    if (n <= 0) c.myRead = Math.max(c.myRead, c.tl.maxSeq);
    else if (n <= others.length) c.myRead = Math.max(c.myRead, others[n - 1].seq - 1);
  }
}

Object.assign(Console.prototype, signinPart, layoutPart, renderPart, composePart, workspacePart, boardPart);

new Console(document.getElementById('app')).boot();
// A link with #token= opened while the console is already loaded goes through boot again,
// which asks before switching to another agent.
addEventListener('hashchange', () => {
  if (/(?:^|[#&])token=/.test(location.hash)) location.reload();
});
