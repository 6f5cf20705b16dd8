// Transports carry JSON frames between a page and the gateway. Everything that knows about
// endpoints, subprotocols and the SSE fallback lives in this file, so aligning with the gateway
// touches nothing else.
//
// Both transports have the same shape: open(...) returns {kind, send(frame), close()} and reports
// through the handlers: onopen(), onframe(frame), onclose({code, reason, opened, status}).
// `opened` says whether the connection ever carried frames, which is how the client decides that
// WebSocket is blocked and the SSE fallback should be used.

import { tenantHeaders, withTenant } from './tenant.js';
import { Close, Partials, Subprotocol, Type } from './protocol.js';

const SUBPROTOCOL = Subprotocol.JSON;

/**
 * wsURL turns the gateway base (http or https) into the socket URL; page (optional) is the page
 * of the tenant's site a customer's widget is on, kept on their contact for agents.
 */
export function wsURL(base, token, page) {
  const u = new URL('/v1/ws', base);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.searchParams.set('token', token);
  // Streamed bot text as deltas (timeline.js assembles them) rather than the whole text each time.
  u.searchParams.set('partials', Partials.Delta);
  if (page) u.searchParams.set('page', page);
  return withTenant(u).toString();
}

/** openWebSocket opens GET /v1/ws with the JSON subprotocol. */
export function openWebSocket(base, token, h, page) {
  let ws;
  let opened = false;
  let done = false;
  const finish = (code, reason) => {
    if (done) return;
    done = true;
    h.onclose({ code, reason, opened });
  };
  try {
    ws = new WebSocket(wsURL(base, token, page), SUBPROTOCOL);
  } catch (err) {
    // A page policy or a missing WebSocket implementation: report as a failed open.
    queueMicrotask(() => finish(0, String(err)));
    return { kind: 'ws', send() { return false; }, close() {} };
  }
  ws.onopen = () => {
    opened = true;
    h.onopen();
  };
  ws.onmessage = (ev) => {
    if (typeof ev.data !== 'string') return;
    let f;
    try {
      f = JSON.parse(ev.data);
    } catch {
      return;
    }
    h.onframe(f);
  };
  ws.onclose = (ev) => finish(ev.code, ev.reason);
  ws.onerror = () => {}; // onclose follows with the code
  return {
    kind: 'ws',
    send(frame) {
      if (ws.readyState !== WebSocket.OPEN) return false;
      ws.send(JSON.stringify(frame));
      return true;
    },
    close(code = 1000) {
      try {
        ws.close(code);
      } catch {
        /* already closed */
      }
      finish(code, 'client');
    },
  };
}

/** parseEvent reads one server-sent event block: its event name and its (joined) data lines. */
export function parseEvent(block) {
  let event = 'message';
  const data = [];
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith('data:')) data.push(line.slice(line[5] === ' ' ? 6 : 5));
    else if (line.startsWith('event:')) event = line.slice(6).trim();
  }
  return { event, data: data.join('\n') };
}

/**
 * openSSE is the fallback when WebSocket cannot be opened (proxies that strip Upgrade, blocked
 * ports): server frames come from `GET /v1/sse` as an event stream (`data: <json>`), client frames
 * go as `POST /v1/sse?session=<id>` bodies. It reads the stream with fetch rather than EventSource so the
 * token goes in a header and an HTTP 401 is visible (EventSource hides status codes).
 */
export function openSSE(base, token, h, page) {
  const ctl = new AbortController();
  let opened = false;
  let done = false;
  let session = '';
  const finish = (code, reason, status) => {
    if (done) return;
    done = true;
    ctl.abort();
    h.onclose({ code, reason, opened, status });
  };
  const auth = { Authorization: 'Bearer ' + token, ...tenantHeaders() };
  (async () => {
    let res;
    try {
      const su = new URL('/v1/sse', base);
      su.searchParams.set('partials', Partials.Delta);
      if (page) su.searchParams.set('page', page);
      res = await fetch(su, {
        headers: { ...auth, Accept: 'text/event-stream' },
        signal: ctl.signal,
        cache: 'no-store',
      });
    } catch (err) {
      finish(0, String(err));
      return;
    }
    if (!res.ok || !res.body) {
      finish(res.status === 401 ? Close.TokenExpired : 0, 'http ' + res.status, res.status);
      return;
    }
    opened = true;
    h.onopen();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    try {
      for (;;) {
        const { value, done: end } = await reader.read();
        if (end) break;
        buf += value;
        let i;
        while ((i = buf.search(/\r?\n\r?\n/)) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(buf[i] === '\r' ? i + 4 : i + 2);
          const { event, data } = parseEvent(block);
          if (!data) continue;
          let f;
          try {
            f = JSON.parse(data);
          } catch {
            continue;
          }
          // The gateway ends a stream with `event: close` carrying a WebSocket close code, so
          // both transports share the client's close handling (1012 reconnect, 4001 token...).
          if (event === 'close') {
            finish(Number(f.code) || 1000, f.reason || '');
            return;
          }
          if (f.type === Type.Welcome && f.session) session = f.session;
          h.onframe(f);
        }
      }
      finish(1006, 'stream ended');
    } catch (err) {
      finish(1006, String(err));
    }
  })();
  return {
    kind: 'sse',
    send(frame) {
      if (done || !opened) return false;
      // Frames naming our session are answered on the stream (202); otherwise the answers come
      // back in the body as a JSON array.
      const u = new URL('/v1/sse', base);
      if (session) u.searchParams.set('session', session);
      fetch(u, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/json' },
        body: JSON.stringify(frame),
        keepalive: JSON.stringify(frame).length < 60000,
      }).then((r) => {
        if (r.status === 401) finish(Close.TokenExpired, 'unauthorized', 401);
        else if (r.status === 404 || r.status === 410) finish(1006, 'session gone', r.status);
        else if (!r.ok) h.onframe({ type: Type.Error, id: frame.id, code: 'internal', message: 'http ' + r.status });
        else if (r.status !== 202 && r.headers.get('Content-Type')?.includes('json')) {
          r.json().then((fs) => {
            for (const f of Array.isArray(fs) ? fs : [fs]) if (f && f.type && !done) h.onframe(f);
          }).catch(() => {});
        }
      }, () => finish(1006, 'post failed'));
      return true;
    },
    close() {
      finish(1000, 'client');
    },
  };
}
