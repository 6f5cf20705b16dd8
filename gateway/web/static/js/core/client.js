// Client keeps one live connection to the gateway for a page: it reconnects with jittered
// exponential backoff, falls back to SSE when WebSocket cannot be opened, keeps the connection
// alive with pings, and re-sends every `send` that was not acked before a reconnect with the same
// id (the gateway stores it once and acks it again with the same seq).

import { openSSE, openWebSocket } from './transport.js';
import { Close, Code, Type } from './protocol.js';

const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 30000;
const PING_MS = 25000;
const STALE_MS = 65000;
const WS_FAILURES_BEFORE_SSE = 2;
const SSE_STICKY_MS = 10 * 60 * 1000;

/** backoff returns the delay before attempt n (0-based): full jitter, capped. */
export function backoff(n, rnd = Math.random) {
  const ceil = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(n, 16));
  return Math.round(ceil / 2 + rnd() * (ceil / 2));
}

/** newId makes a client frame id: unique across tabs and reloads. */
export function newId(prefix = 'c') {
  const b = new Uint8Array(10);
  crypto.getRandomValues(b);
  return prefix + '_' + [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

export class Client {
  /**
   * @param {{base:string, getToken:(fresh:boolean)=>Promise<string>, onFrame:(f:object)=>void,
   *   onState:(s:string, info?:object)=>void, transport?:string, storageKey?:string,
   *   page?:string}} o (page: the site page a customer is on, for their contact)
   */
  constructor(o) {
    this.o = o;
    this.conn = null;
    this.state = 'idle';
    this.attempt = 0;
    this.wsFailures = 0;
    this.timer = 0;
    this.pingTimer = 0;
    this.lastFrameAt = 0;
    this.stopped = true;
    this.freshToken = false;
    /** @type {Map<string, {frame:object, resolve:Function, reject:Function}>} */
    this.outbox = new Map();
    this.transport = o.transport || this.stickyTransport() || 'ws';
    this.onOnline = () => this.state !== 'open' && this.reconnectNow();
    this.onOffline = () => this.setState('offline');
    this.onVisible = () => {
      if (document.visibilityState === 'visible' && this.state === 'open' &&
        Date.now() - this.lastFrameAt > PING_MS) this.raw({ type: Type.Ping });
    };
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    addEventListener('online', this.onOnline);
    addEventListener('offline', this.onOffline);
    document.addEventListener('visibilitychange', this.onVisible);
    this.connect();
  }

  stop() {
    this.stopped = true;
    removeEventListener('online', this.onOnline);
    removeEventListener('offline', this.onOffline);
    document.removeEventListener('visibilitychange', this.onVisible);
    clearTimeout(this.timer);
    clearInterval(this.pingTimer);
    this.conn?.close(1000);
    this.conn = null;
    this.setState('idle');
  }

  /** reconnectNow drops any wait and connects (after the network comes back, or a user click). */
  reconnectNow() {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.attempt = 0;
    if (this.conn) this.conn.close(1000);
    this.connect();
  }

  get kind() {
    return this.conn?.kind || this.transport;
  }

  setState(s, info) {
    this.state = s;
    this.o.onState(s, info);
  }

  async connect() {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.setState(this.attempt ? 'reconnecting' : 'connecting');
    let token;
    try {
      token = await this.o.getToken(this.freshToken);
      this.freshToken = false;
    } catch (err) {
      this.setState('auth', { error: String(err?.message || err) });
      this.schedule();
      return;
    }
    if (this.stopped) return;
    const useSSE = this.transport === 'sse' || typeof WebSocket === 'undefined';
    const open = useSSE ? openSSE : openWebSocket;
    const conn = open(this.o.base, token, {
      onopen: () => {
        if (conn !== this.conn) return;
        this.lastFrameAt = Date.now();
        if (conn.kind === 'ws') this.wsFailures = 0;
      },
      onframe: (f) => {
        if (conn !== this.conn) return;
        this.lastFrameAt = Date.now();
        this.handle(f);
      },
      onclose: (ev) => {
        if (conn !== this.conn) return;
        this.conn = null;
        clearInterval(this.pingTimer);
        this.closed(conn.kind, ev);
      },
    }, this.o.page);
    this.conn = conn;
  }

  closed(kind, ev) {
    for (const p of this.outbox.values()) p.sent = false;
    if (this.stopped) return;
    if (!ev.opened && kind === 'ws') {
      this.wsFailures++;
      if (this.wsFailures >= WS_FAILURES_BEFORE_SSE) {
        // WebSocket never opened twice in a row: likely blocked on this network. Use SSE for a
        // while (remembered across reloads of this tab), and try WebSocket again later.
        this.transport = 'sse';
        try {
          sessionStorage.setItem('fd:transport', JSON.stringify({ t: 'sse', until: Date.now() + SSE_STICKY_MS }));
        } catch { /* storage disabled */ }
        this.attempt = 0;
        this.connect();
        return;
      }
    }
    switch (ev.code) {
      case Close.TokenExpired:
        this.freshToken = true;
        break;
      case Close.SessionReplaced: // another session replaced this one: do not fight it
        this.setState('replaced');
        return;
      case Close.TooManyConnections: // the user's newer sessions filled the limit: reconnecting would close one of them
        this.setState('crowded');
        return;
      case Close.PolicyViolation: // reconnecting would repeat it
        this.setState('refused', { reason: ev.reason });
        return;
      default:
        if (ev.status === 401 || ev.status === 403) this.freshToken = true;
    }
    this.schedule();
  }

  schedule() {
    if (this.stopped) return;
    const d = backoff(this.attempt++);
    this.setState(navigator.onLine === false ? 'offline' : 'reconnecting', { in: d });
    this.timer = setTimeout(() => this.connect(), d);
  }

  stickyTransport() {
    try {
      const v = JSON.parse(sessionStorage.getItem('fd:transport') || 'null');
      if (v && v.until > Date.now()) return v.t;
    } catch { /* storage disabled */ }
    return '';
  }

  handle(f) {
    switch (f.type) {
      case Type.Welcome:
        this.attempt = 0;
        this.welcome = f;
        this.setState('open', { transport: this.conn?.kind, session: f.session });
        clearInterval(this.pingTimer);
        this.pingTimer = setInterval(() => this.keepalive(), PING_MS);
        this.o.onFrame(f);
        // Re-send what was never acked, in the order it was written, with the same ids.
        for (const p of this.outbox.values()) {
          this.conn?.send(p.frame);
          p.sent = true;
        }
        return;
      case Type.Ack: {
        const p = this.outbox.get(f.id);
        if (p) {
          this.outbox.delete(f.id);
          p.resolve(f);
        }
        break;
      }
      case Type.Error: {
        const p = f.id && this.outbox.get(f.id);
        if (p) {
          if (f.code === Code.RateLimited) {
            setTimeout(() => this.outbox.has(f.id) && this.conn?.send(p.frame), 1500);
          } else {
            this.outbox.delete(f.id);
            p.reject(Object.assign(new Error(f.message || f.code), { code: f.code }));
          }
        }
        break;
      }
    }
    this.o.onFrame(f);
  }

  keepalive() {
    if (!this.conn) return;
    if (Date.now() - this.lastFrameAt > STALE_MS) {
      // Nothing came back for two pings: the path is dead even if the socket looks open.
      this.conn.close(4000);
      return;
    }
    this.raw({ type: Type.Ping });
  }

  /** raw sends a frame now if connected; it is dropped otherwise (typing, read, ping...). */
  raw(frame) {
    return this.state === 'open' && !!this.conn && this.conn.send(frame);
  }

  /**
   * send posts a message: kept in the outbox until acked, re-sent after reconnects.
   * @returns {Promise<object>} the ack frame.
   */
  send(frame) {
    if (!frame.id) frame.id = newId();
    return new Promise((resolve, reject) => {
      const p = { frame, resolve, reject, sent: false };
      this.outbox.set(frame.id, p);
      if (this.raw(frame)) p.sent = true;
    });
  }
}
