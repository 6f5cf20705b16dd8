// Conversations keeps a Timeline per conversation and the protocol logic around it: resume with
// `sync` after the last seq we are sure of, first page from `history`, older pages on demand, and
// (for the widget) a local cache so a reloaded page shows the conversation at once.
//
// "Sure of" matters: a conversation's seqs are stream sequences, so they have gaps and a gap says
// nothing. A tab is complete up to its timeline's highest seq only once the `synced` for its last
// `sync` has arrived (live messages after that come in order). So lastSeq is persisted only when
// no sync is in flight, and several tabs can share the cache: the union of their messages is
// complete up to the highest of their lastSeqs.

import { Timeline } from './timeline.js';
import { Type } from './protocol.js';

const CACHE_MAX = 200;
const PAGE = 30;

export class Conversations {
  /**
   * @param {{client:import('./client.js').Client, store?:import('./store.js').Store|null,
   *   onChange:(conv:string, what:string, detail?:object)=>void}} o
   */
  constructor(o) {
    this.o = o;
    /** @type {Map<string, {tl:Timeline, summary:object, syncing:boolean, more:boolean, loadingOlder:boolean,
     *   awaitingFirstPage:boolean, lastSeq:number, myRead:number, saveTimer:number}>} */
    this.map = new Map();
  }

  get(conv) {
    let c = this.map.get(conv);
    if (!c) {
      c = { tl: new Timeline(), summary: {}, syncing: false, more: true, loadingOlder: false,
        awaitingFirstPage: false, lastSeq: 0, myRead: 0, saveTimer: 0, loadedCache: false };
      this.map.set(conv, c);
      this.loadCache(conv, c);
    }
    return c;
  }

  has(conv) {
    return this.map.has(conv);
  }

  delete(conv) {
    this.map.delete(conv);
  }

  /** adopt moves the not-yet-created conversation ('') to its real id. */
  adopt(conv) {
    const c = this.map.get('');
    if (!c || this.map.has(conv)) return false;
    this.map.delete('');
    this.map.set(conv, c);
    this.loadCache(conv, c);
    return true;
  }

  loadCache(conv, c) {
    if (!conv || !this.o.store || c.loadedCache) return;
    c.loadedCache = true;
    const cached = this.o.store.get('c:' + conv);
    if (!cached) return;
    for (const m of cached.msgs || []) c.tl.add(m);
    c.lastSeq = Math.max(c.lastSeq, Number(cached.lastSeq) || 0);
    c.myRead = Math.max(c.myRead, Number(cached.myRead) || 0);
  }

  /** resume is called for each open conversation after every welcome. */
  resume(conv, summary) {
    const c = this.get(conv);
    if (summary) c.summary = { ...c.summary, ...summary };
    const client = this.o.client;
    if (c.tl.maxSeq > 0 || c.lastSeq > 0) {
      this.sync(conv, c, c.lastSeq || c.tl.maxSeq);
    } else if (Number(c.summary.last_seq) > 0) {
      // Nothing local: show the newest page, then replay anything newer than it from the stream
      // (the record may lag behind the stream by a moment).
      c.awaitingFirstPage = true;
      client.raw({ type: Type.History, conv, limit: PAGE });
    } else {
      this.sync(conv, c, 0);
    }
  }

  sync(conv, c, after) {
    c.syncing = true;
    this.o.client.raw({ type: Type.Sync, conv, after });
  }

  /** loadOlder asks for the page before the oldest message held. */
  loadOlder(conv) {
    const c = this.map.get(conv);
    if (!c || !c.more || c.loadingOlder || c.awaitingFirstPage || !c.tl.minSeq) return false;
    c.loadingOlder = true;
    this.o.client.raw({ type: Type.History, conv, before: c.tl.minSeq, limit: PAGE });
    this.o.onChange(conv, 'older');
    return true;
  }

  /** frame applies a server frame; returns true when it was about a conversation. */
  frame(f) {
    const conv = f.conv;
    switch (f.type) {
      case Type.Message: {
        if (!conv) return false;
        if (!this.map.has(conv)) this.adopt(conv);
        const c = this.get(conv);
        const e = c.tl.add(f);
        if (!e) return true;
        this.o.onChange(conv, Type.Message, e);
        if (!f.partial) this.save(conv, c);
        return true;
      }
      case Type.Synced: {
        const c = this.map.get(conv);
        if (!c) return true;
        c.syncing = false;
        if (f.recovered === false) {
          // The record could not be reached: ask again shortly.
          setTimeout(() => this.map.get(conv) === c && this.sync(conv, c, c.lastSeq || c.tl.maxSeq), 2000);
        } else {
          c.lastSeq = Math.max(c.lastSeq, c.tl.maxSeq);
          this.save(conv, c);
        }
        this.o.onChange(conv, Type.Synced);
        return true;
      }
      case Type.History: {
        const c = this.map.get(conv);
        if (!c) return true;
        for (const m of f.messages || []) c.tl.add({ ...m, conv });
        // An empty page ends the paging even if it says more: asking again would get it again.
        c.more = !!f.more && !!f.messages?.length;
        c.loadingOlder = false;
        if (c.awaitingFirstPage) {
          c.awaitingFirstPage = false;
          this.sync(conv, c, c.tl.maxSeq);
        }
        this.o.onChange(conv, Type.History);
        return true;
      }
      case Type.Read: {
        const c = this.map.get(conv);
        if (!c) return true;
        const seq = Number(f.seq) || 0;
        const me = this.o.client.welcome?.user;
        if (f.from?.id && f.from.id === me) {
          if (seq > c.myRead) {
            c.myRead = seq;
            this.o.onChange(conv, 'myread');
          }
        } else if (c.tl.setRead(f.from?.id || '?', seq)) {
          this.o.onChange(conv, Type.Read);
        }
        return true;
      }
      case Type.Ack: {
        if (!f.id) return false;
        if (conv && !this.map.has(conv)) this.adopt(conv);
        const c = conv && this.map.get(conv);
        if (c) {
          const e = c.tl.ack(f.id, Number(f.seq) || 0, f.ts);
          if (e) this.o.onChange(conv, Type.Ack, e);
        }
        return true;
      }
      default:
        return false;
    }
  }

  /** markRead sends a read receipt up to the newest message, once per new position. */
  markRead(conv) {
    const c = this.map.get(conv);
    if (!c || !conv) return;
    const seq = c.tl.maxSeq;
    if (seq > c.myRead && this.o.client.raw({ type: Type.Read, conv, seq })) {
      c.myRead = seq;
      this.save(conv, c);
      this.o.onChange(conv, 'myread');
    }
  }

  unread(conv) {
    const c = this.map.get(conv);
    if (!c) return 0;
    const me = this.o.client.welcome?.user;
    return c.tl.unreadAfter(c.myRead, me);
  }

  save(conv, c) {
    if (!this.o.store || !conv) return;
    clearTimeout(c.saveTimer);
    c.saveTimer = setTimeout(() => {
      if (!c.syncing) c.lastSeq = Math.max(c.lastSeq, c.tl.maxSeq);
      const key = 'c:' + conv;
      const cached = this.o.store.get(key) || {};
      const bySeq = new Map();
      for (const m of cached.msgs || []) if (m && m.seq) bySeq.set(m.seq, m);
      for (const m of c.tl.stored(CACHE_MAX)) bySeq.set(m.seq, m);
      const msgs = [...bySeq.values()].sort((a, b) => a.seq - b.seq).slice(-CACHE_MAX);
      const lastSeq = Math.max(Number(cached.lastSeq) || 0, c.lastSeq);
      const myRead = Math.max(Number(cached.myRead) || 0, c.myRead);
      if (!this.o.store.set(key, { lastSeq, myRead, msgs, at: Date.now() })) {
        // Quota: keep the resume point at least.
        this.o.store.set(key, { lastSeq: 0, myRead, msgs: [] });
      }
    }, 150);
  }
}
