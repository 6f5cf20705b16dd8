// Unit checks of the pure widget/console modules, run in Chromium by TestModules. Resolves to
// a list of failures (empty when all pass).
(async () => {
  const { Timeline } = await import('/static/js/core/timeline.js');
  const { backoff, newId } = await import('/static/js/core/client.js');
  const { parseEvent, wsURL } = await import('/static/js/core/transport.js');
  const { claims, expired } = await import('/static/js/core/jwt.js');
  const { readableColor, h } = await import('/static/js/core/dom.js');
  const { translator } = await import('/static/js/core/i18n.js');
  const fails = [];
  const eq = (name, got, want) => {
    const g = JSON.stringify(got), w = JSON.stringify(want);
    if (g !== w) fails.push(`${name}: got ${g}, want ${w}`);
  };
  const texts = (tl) => tl.list().map((e) => e.text);
  const msg = (seq, id, text, extra = {}) => ({ type: 'message', conv: 'c1', seq, id, text, from: { id: 'u2', role: 'agent' }, ...extra });

  { // duplicates by id and by seq are dropped; order is by seq whatever the arrival order
    const tl = new Timeline();
    tl.add(msg(5, 'm5', 'five'));
    tl.add(msg(3, 'm3', 'three'));
    eq('dup id', tl.add(msg(5, 'm5', 'five')), null);
    eq('dup seq', tl.add(msg(3, 'mX', 'three again')), null);
    tl.add(msg(9, 'm9', 'nine'));
    eq('order', texts(tl), ['three', 'five', 'nine']);
    eq('max/min', [tl.maxSeq, tl.minSeq], [9, 3]);
  }
  { // streamed bot reply: partials replace each other, the final replaces them, late partials ignored
    const tl = new Timeline();
    const bot = { id: 'bot', role: 'bot' };
    tl.add({ id: 'r1', text: 'Hel', partial: true, from: bot });
    tl.add({ id: 'r1', text: 'Hello th', partial: true, from: bot });
    eq('stale partial', tl.add({ id: 'r1', text: 'Hel', partial: true, from: bot }), null);
    eq('one bubble while streaming', texts(tl), ['Hello th']);
    const fin = tl.add({ id: 'r1', seq: 12, text: 'Hello there', from: bot });
    eq('final keeps the key', fin.k, 'm:r1');
    eq('late partial', tl.add({ id: 'r1', text: 'Hello th', partial: true, from: bot }), null);
    eq('final', texts(tl), ['Hello there']);
    eq('final not partial', tl.list()[0].partial, false);
  }
  { // streamed as a keyframe and deltas: assembled in part order; a delta after a gap waits for the next keyframe
    const tl = new Timeline();
    const bot = { id: 'bot', role: 'bot' };
    const p = (part, extra) => ({ id: 'r2', partial: true, part, from: bot, ...extra });
    eq('delta before any keyframe', tl.add(p(2, { delta: 'lo' })), null);
    tl.add(p(1, { text: 'Hel' }));
    tl.add(p(2, { delta: 'lo' }));
    eq('repeated delta', tl.add(p(2, { delta: 'lo' })), null);
    tl.add(p(3, { delta: ' th' }));
    eq('assembled', texts(tl), ['Hello th']);
    eq('delta after a gap', tl.add(p(5, { delta: 'ere' })), null);
    eq('unchanged by the gap', texts(tl), ['Hello th']);
    tl.add(p(6, { text: 'Hello there, ' }));
    tl.add(p(7, { delta: '张三' }));
    eq('keyframe resyncs', texts(tl), ['Hello there, 张三']);
    eq('stale keyframe', tl.add(p(4, { text: 'Hello' })), null);
    tl.add({ id: 'r2', seq: 13, text: 'Hello there, 张三!', from: bot });
    eq('late delta after the final', tl.add(p(8, { delta: '?' })), null);
    eq('final text', texts(tl), ['Hello there, 张三!']);
  }
  { // own message: pending, then ack, then echo; one bubble throughout
    const tl = new Timeline();
    const p = tl.addPending({ clientId: 'c_1', text: 'hi', from: { id: 'me', role: 'customer' } });
    tl.add(msg(4, 'm4', 'earlier'));
    eq('pending last', texts(tl), ['earlier', 'hi']);
    const a = tl.ack('c_1', 7, 't');
    eq('acked same key', a.k, p.k);
    eq('acked seq', a.seq, 7);
    const e = tl.add({ ...msg(7, 'm7', 'hi'), client_id: 'c_1', from: { id: 'me', role: 'customer' } });
    eq('echo replaces', e && e.k, p.k);
    eq('echo id', tl.list()[1].id, 'm7');
    eq('no duplicate after echo', texts(tl), ['earlier', 'hi']);
    eq('echo again ignored', tl.add({ ...msg(7, 'm7', 'hi'), client_id: 'c_1' }), null);
    eq('cached', tl.stored().map((m) => m.id), ['m4', 'm7']);
  }
  { // echo before ack (another tab's frame order): the ack changes nothing
    const tl = new Timeline();
    tl.addPending({ clientId: 'c_2', text: 'yo' });
    tl.add({ ...msg(8, 'm8', 'yo'), client_id: 'c_2' });
    eq('late ack', tl.ack('c_2', 8), null);
    eq('one', texts(tl), ['yo']);
  }
  { // read receipts and unread counts
    const tl = new Timeline();
    tl.add(msg(1, 'a', 'x', { from: { id: 'me' } }));
    tl.add(msg(2, 'b', 'y'));
    tl.add(msg(3, 'c', 'z'));
    eq('unread after 1', tl.unreadAfter(1, 'me'), 2);
    eq('setRead', tl.setRead('u2', 2), true);
    eq('setRead older', tl.setRead('u2', 1), false);
    eq('readUpTo', tl.readUpTo('me'), 2);
  }
  { // backoff grows, is jittered and capped
    const lo = [0, 1, 2, 3, 10, 30].map((n) => backoff(n, () => 0));
    const hi = [0, 1, 2, 3, 10, 30].map((n) => backoff(n, () => 1));
    eq('backoff low', lo, [250, 500, 1000, 2000, 15000, 15000]);
    eq('backoff high', hi, [500, 1000, 2000, 4000, 30000, 30000]);
    eq('ids unique', newId() !== newId(), true);
  }
  eq('sse event', parseEvent('event: close\ndata: {"code":1012}'), { event: 'close', data: '{"code":1012}' });
  eq('sse data', parseEvent('data: {"a":1}\r\ndata: x'), { event: 'message', data: '{"a":1}\nx' });
  eq('ws url', wsURL('https://gw.example.com', 'a b'), 'wss://gw.example.com/v1/ws?token=a+b&partials=delta');
  const b64 = (o) => btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify(o)))).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  const tok = 'x.' + b64({ sub: 'a1', name: 'Zoë 张', exp: Math.floor(Date.now() / 1000) + 3600 }) + '.y';
  eq('claims', claims(tok).name, 'Zoë 张');
  eq('not expired', expired(tok), false);
  eq('garbage', claims('nope'), null);
  eq('contrast dark bg', readableColor('#4f46e5'), '#ffffff');
  eq('contrast light bg', readableColor('#fde68a'), '#111827');
  const el = h('p', null, '<img src=x onerror=alert(1)>');
  eq('h makes text', [el.childElementCount, el.textContent], [0, '<img src=x onerror=alert(1)>']);
  const zh = translator('zh');
  eq('zh', zh('queued', { position: 3 }), '您当前排在第 3 位');
  eq('duration', translator('en').duration(150), '3 min');
  return fails;
})()
