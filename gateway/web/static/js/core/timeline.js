import { Kind, Role } from './protocol.js';
// Timeline holds one conversation's messages and decides, for every frame that arrives, whether
// it is new, replaces a bubble already shown, or is a duplicate. It is pure (no DOM, no I/O) so it
// can be tested on its own.
//
// Identity rules (PROTOCOL.md):
// - a stored message has a server id and a seq; seq is unique within the conversation;
// - a streamed bot reply arrives as partial frames with the final message's id, so a partial
//   replaces the bubble with the same id, and the final message replaces the last partial;
//   partials are numbered (part): a keyframe holds the whole text so far, a delta the text to
//   append to part - 1 (PROTOCOL.md, Streamed replies);
// - our own message is shown at once under its client id; the ack gives it a seq and the echoed
//   message frame (client_id = our id) replaces it.
// Every entry has a stable key `k` so a view can keep its element while the entry changes.

/**
 * @typedef {{k:string,id?:string,seq?:number,clientId?:string,from?:{id?:string,role?:string,name?:string},
 *   kind:string,text:string,attachment?:object,ts?:string,partial?:boolean,part?:number,pending?:boolean,
 *   failed?:boolean,rev:number,order:number}} Entry
 */

export class Timeline {
  constructor() {
    /** @type {Map<string, Entry>} */
    this.byKey = new Map();
    this.keyById = new Map();
    this.keyBySeq = new Map();
    this.keyByClient = new Map();
    this.order = 0;
    /** highest seq of a stored message held */
    this.maxSeq = 0;
    /** lowest seq held (for history paging), 0 when none */
    this.minSeq = 0;
    /** read positions of other participants: user id -> seq */
    this.reads = new Map();
  }

  /**
   * add applies a message frame (live, synced, history or cached).
   * @returns {Entry|null} the entry that changed, or null when the frame was a duplicate.
   */
  add(f) {
    const seq = typeof f.seq === 'number' ? f.seq : Number(f.seq || 0);
    const partial = !!f.partial;
    let k = (f.id && this.keyById.get(f.id)) || (seq > 0 && this.keyBySeq.get(seq)) ||
      (f.client_id && this.keyByClient.get(f.client_id)) || '';
    const old = k ? this.byKey.get(k) : null;
    const part = Number(f.part || 0);
    let text = f.text || '';
    if (partial && f.delta) {
      // A delta extends the partial text held for this id, and only the part just before it:
      // after a gap (a frame missed, a page opened mid-reply) it waits for the next keyframe.
      if (!old || !old.partial || !old.part || old.part !== part - 1) return null;
      text = old.text + f.delta;
    }
    if (old) {
      if (partial) {
        // A late partial after the final message, or a stale one, changes nothing: by part
        // when both are numbered, else (an older bridge) by length.
        if (!old.partial) return null;
        if (part && old.part ? part <= old.part : old.text && text.length < old.text.length) return null;
      } else if (!old.partial && old.id && old.seq) {
        return null; // the stored message is already shown (an ack alone leaves id unset)
      }
    } else {
      k = f.id ? 'm:' + f.id : 's:' + seq;
    }
    /** @type {Entry} */
    const e = {
      k,
      id: f.id || old?.id,
      seq: seq > 0 ? seq : undefined,
      clientId: f.client_id || old?.clientId,
      from: f.from || old?.from,
      kind: f.kind || 'text',
      text,
      attachment: f.attachment || undefined,
      replyTo: f.reply_to || old?.replyTo,
      ts: f.ts || old?.ts,
      partial,
      part: partial ? part : undefined,
      pending: false,
      failed: false,
      rev: (old?.rev || 0) + 1,
      order: old ? old.order : ++this.order,
    };
    this.index(e);
    return e;
  }

  /** addPending shows our own message before the server has it. */
  addPending({ clientId, kind = Kind.Text, text = '', attachment, from, localUrl }) {
    const k = 'c:' + clientId;
    const e = { k, clientId, kind, text, attachment, from, localUrl, ts: new Date().toISOString(),
      pending: true, partial: false, failed: false, rev: 1, order: ++this.order };
    this.index(e);
    return e;
  }

  /** ack records the seq the server gave our message; the echoed message frame completes it. */
  ack(clientId, seq, ts) {
    const k = this.keyByClient.get(clientId);
    const e = k && this.byKey.get(k);
    if (!e) return null;
    if (seq > 0 && this.keyBySeq.has(seq) && this.keyBySeq.get(seq) !== k) {
      // The echo already arrived under its own key (another tab sent it): drop our copy.
      this.remove(k);
      return null;
    }
    if (!e.pending) return null;
    const n = { ...e, seq: seq || e.seq, ts: ts || e.ts, pending: false, rev: e.rev + 1 };
    this.index(n);
    return n;
  }

  /** fail marks a pending message as refused by the server. */
  fail(clientId) {
    const k = this.keyByClient.get(clientId);
    const e = k && this.byKey.get(k);
    if (!e) return null;
    const n = { ...e, failed: true, pending: false, rev: e.rev + 1 };
    this.index(n);
    return n;
  }

  /**
   * dropPartials removes streamed bubbles that will never be completed: partials are live-only
   * (never replayed by sync), and the bridge drops a reply whose conversation left the bot.
   * @returns {boolean} whether anything was removed.
   */
  dropPartials() {
    let any = false;
    for (const e of [...this.byKey.values()]) {
      if (e.partial) {
        this.remove(e.k);
        any = true;
      }
    }
    return any;
  }

  remove(k) {
    const e = this.byKey.get(k);
    if (!e) return;
    this.byKey.delete(k);
    if (e.id && this.keyById.get(e.id) === k) this.keyById.delete(e.id);
    if (e.seq && this.keyBySeq.get(e.seq) === k) this.keyBySeq.delete(e.seq);
    if (e.clientId && this.keyByClient.get(e.clientId) === k) this.keyByClient.delete(e.clientId);
  }

  index(e) {
    this.byKey.set(e.k, e);
    if (e.id) this.keyById.set(e.id, e.k);
    if (e.seq) {
      this.keyBySeq.set(e.seq, e.k);
      if (!e.pending) {
        if (e.seq > this.maxSeq) this.maxSeq = e.seq;
        if (!this.minSeq || e.seq < this.minSeq) this.minSeq = e.seq;
      }
    }
    if (e.clientId) this.keyByClient.set(e.clientId, e.k);
  }

  /** list returns the entries in display order: stored messages by seq, then the rest as they came. */
  list() {
    return [...this.byKey.values()].sort((a, b) => {
      if (a.seq && b.seq) return a.seq - b.seq;
      if (a.seq) return -1;
      if (b.seq) return 1;
      return a.order - b.order;
    });
  }

  /** stored returns the stored messages (for the local cache), newest `max` of them. */
  stored(max = 200) {
    const out = this.list().filter((e) => e.seq && !e.pending && !e.partial && e.id);
    return out.slice(Math.max(0, out.length - max)).map((e) => ({
      id: e.id, seq: e.seq, client_id: e.clientId, from: e.from, kind: e.kind, text: e.text,
      attachment: e.attachment, ts: e.ts,
    }));
  }

  /** setRead records another participant's read position; returns true when it moved. */
  setRead(user, seq) {
    if ((this.reads.get(user) || 0) >= seq) return false;
    this.reads.set(user, seq);
    return true;
  }

  /** readUpTo is the highest seq read by anyone but `me`. */
  readUpTo(me) {
    let max = 0;
    for (const [u, s] of this.reads) if (u !== me && s > max) max = s;
    return max;
  }

  /** unreadAfter counts stored messages from others after seq. */
  unreadAfter(seq, me) {
    let n = 0;
    for (const e of this.byKey.values()) {
      if (e.seq && e.seq > seq && !e.pending && e.from?.id !== me && e.from?.role !== Role.System) n++;
    }
    return n;
  }

  get size() {
    return this.byKey.size;
  }
}
