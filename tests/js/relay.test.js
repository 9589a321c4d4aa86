'use strict';
// gsio-relay against raw WebSocket clients playing nodes (DESIGN.md §6): routing, sender checks,
// bounded queues and frames, the network token, the HTTP endpoints and shutdown.
//
// "Never delivered" is asserted with a barrier instead of a sleep: the relay routes one
// connection's messages in order and each connection's outbound queue is FIFO, so once a later
// marker message has arrived, an earlier message that was wrongly routed would have arrived first.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const {
  startRelay, connectPeer, announcedPeer, envelope, getJson, stats, health, rssKiB, waitUntil,
  cleanup, rawPeer, clientFrame,
} = require('./lib/relay_harness');

test.after(cleanup);

test.describe('routing', () => {
  let relay;
  // Two I/O threads, so routing between connections on different threads is exercised.
  test.before(async () => { relay = await startRelay({ args: ['--io-threads', '2'] }); });
  test.after(async () => assert.equal((await relay.stop()).code, 0, 'clean exit'));

  test('a broadcast reaches every other announced peer but not the sender', async () => {
    const a = await announcedPeer(relay, 'bcast-a');
    const b = await announcedPeer(relay, 'bcast-b');
    const c = await announcedPeer(relay, 'bcast-c');
    // Earlier announces are forwarded like any broadcast.
    await a.waitFor((m) => m.message_type === 'NodeAnnounce' && m.sender_id === 'bcast-c');

    const sent = await a.send(envelope('EntryAnnounce', 'bcast-a', '', { entry: { id: 'e1' } }));
    const atB = await b.waitFor((m) => m.message_id === sent.message_id);
    await c.waitFor((m) => m.message_id === sent.message_id);
    assert.deepEqual(atB, sent, 'the frame is forwarded unchanged');

    const marker = await b.send(envelope('NodeListRequest', 'bcast-b', 'bcast-a'));
    await a.waitFor((m) => m.message_id === marker.message_id);
    assert.equal(a.hasSeen(sent.message_id), false, 'the sender must not get its own broadcast');
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  test('a directed message reaches only its recipient', async () => {
    const a = await announcedPeer(relay, 'direct-a');
    const b = await announcedPeer(relay, 'direct-b');
    const c = await announcedPeer(relay, 'direct-c');
    const before = await stats(relay);

    const sent = await a.send(envelope('EntryRequest', 'direct-a', 'direct-b', { entry_id: 'x' }));
    await b.waitFor((m) => m.message_id === sent.message_id);
    const marker = await a.send(envelope('EntryAnnounce', 'direct-a'));
    await c.waitFor((m) => m.message_id === marker.message_id);
    assert.equal(c.hasSeen(sent.message_id), false);
    assert.equal(a.hasSeen(sent.message_id), false);

    // Unknown recipients and the sender itself are dropped and counted.
    const lost = await a.send(envelope('EntryRequest', 'direct-a', 'nobody-here'));
    const self = await a.send(envelope('EntryRequest', 'direct-a', 'direct-a'));
    const marker2 = await a.send(envelope('EntryAnnounce', 'direct-a'));
    await b.waitFor((m) => m.message_id === marker2.message_id);
    await c.waitFor((m) => m.message_id === marker2.message_id);
    for (const p of [a, b, c]) {
      assert.equal(p.hasSeen(lost.message_id), false);
      assert.equal(p.hasSeen(self.message_id), false);
    }
    const after = await stats(relay);
    assert.equal(after.drops.unknown_recipient - before.drops.unknown_recipient, 1);
    assert.equal(after.drops.self_addressed - before.drops.self_addressed, 1);
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  test('a spoofed sender_id is dropped, counted and logged; others are unaffected', async () => {
    const a = await announcedPeer(relay, 'spoof-a');
    const b = await announcedPeer(relay, 'spoof-b');
    const c = await announcedPeer(relay, 'spoof-c');
    const before = await stats(relay);

    const forgedBroadcast = await b.send(envelope('EntryAnnounce', 'spoof-a'));
    const forgedDirect = await b.send(envelope('EntryResponse', 'spoof-c', 'spoof-a'));
    const honest = await b.send(envelope('EntryAnnounce', 'spoof-b'));
    await a.waitFor((m) => m.message_id === honest.message_id);
    await c.waitFor((m) => m.message_id === honest.message_id);
    for (const p of [a, c]) {
      assert.equal(p.hasSeen(forgedBroadcast.message_id), false);
      assert.equal(p.hasSeen(forgedDirect.message_id), false);
    }
    const after = await stats(relay);
    assert.equal(after.drops.spoofed - before.drops.spoofed, 2);
    assert.ok(after.nodes.includes('spoof-a') && after.nodes.includes('spoof-b'));
    // The warning names the connection's address and the forged id.
    await waitUntil(() => /warn.*127\.0\.0\.1:\d+ \(node spoof-b\).*sender_id spoof-a/.test(relay.log),
                    5000, 'spoof warning in the relay log');

    // The real owner of the id still talks normally.
    const fromA = await a.send(envelope('EntryAnnounce', 'spoof-a'));
    await b.waitFor((m) => m.message_id === fromA.message_id);
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  test('messages before NodeAnnounce are dropped and counted', async () => {
    const a = await announcedPeer(relay, 'early-a');
    const newcomer = await connectPeer(relay);
    const before = await stats(relay);

    const early = await newcomer.send(envelope('EntryAnnounce', 'early-n'));
    const earlyDirect = await newcomer.send(envelope('EntryRequest', 'early-n', 'early-a'));
    await newcomer.announce('early-n');
    const announce = await a.waitFor((m) => m.message_type === 'NodeAnnounce' && m.sender_id === 'early-n');
    assert.ok(announce);
    const late = await newcomer.send(envelope('EntryAnnounce', 'early-n'));
    await a.waitFor((m) => m.message_id === late.message_id);
    assert.equal(a.hasSeen(early.message_id), false);
    assert.equal(a.hasSeen(earlyDirect.message_id), false);
    const after = await stats(relay);
    assert.equal(after.drops.unannounced - before.drops.unannounced, 2);
    await Promise.all([a.close(), newcomer.close()]);
  });

  test('malformed messages are dropped and counted; the connection stays usable', async () => {
    const a = await announcedPeer(relay, 'bad-a');
    const b = await announcedPeer(relay, 'bad-b');
    const before = await stats(relay);

    const garbage = [
      'not json at all',
      '{"message_type":"NodeAnnounce"',
      '[]',
      '42',
      JSON.stringify({ ...envelope('EntryAnnounce', 'bad-a'), message_type: 'NoSuchType' }),
      JSON.stringify({ ...envelope('EntryAnnounce', 'bad-a'), payload: 'not an object' }),
      JSON.stringify({ ...envelope('EntryAnnounce', 'bad-a'), sender_id: '' }),
      JSON.stringify({ ...envelope('EntryAnnounce', 'bad-a'), message_id: 7 }),
      JSON.stringify({ ...envelope('EntryAnnounce', 'bad-a'), sender_id: 'x'.repeat(300) }),
      // Nested deeper than any message needs: a recursive parse of it would exhaust the stack.
      '['.repeat(300000) + ']'.repeat(300000),
      JSON.stringify({ ...envelope('EntryAnnounce', 'bad-a'), payload: { deep: nested(161) } }),
    ];
    for (const text of garbage) await a.send(text);
    const fine = await a.send(envelope('EntryAnnounce', 'bad-a', '', { ok: true }));
    const got = await b.waitFor((m) => m.message_id === fine.message_id);
    assert.deepEqual(got.payload, { ok: true });
    assert.equal(b.messages.filter((m) => m.raw !== undefined).length, 0, 'no garbage forwarded');
    const after = await stats(relay);
    assert.equal(after.drops.malformed - before.drops.malformed, garbage.length);
    assert.ok(after.nodes.includes('bad-a'), 'the sender is still connected');
    await Promise.all([a.close(), b.close()]);
  });

  test('a binary frame closes that connection only', async () => {
    const a = await announcedPeer(relay, 'bin-a');
    const b = await announcedPeer(relay, 'bin-b');
    const before = await stats(relay);
    a.ws.send(Buffer.from(JSON.stringify(envelope('EntryAnnounce', 'bin-a'))), { binary: true });
    const closed = await a.closed;
    assert.equal(closed.code, 1003);
    const after = await waitUntil(async () => {
      const s = await stats(relay);
      return s.disconnects.protocol > before.disconnects.protocol && s;
    }, 5000, 'protocol disconnect counted');
    assert.equal(after.nodes.includes('bin-a'), false);
    assert.ok(after.nodes.includes('bin-b'));
    await b.close();
  });

  test('a second connection announcing the same id replaces the first', async () => {
    const other = await announcedPeer(relay, 'dup-other');
    const first = await announcedPeer(relay, 'dup-node');
    const before = await stats(relay);
    const second = await connectPeer(relay);
    await second.announce('dup-node');

    const closed = await first.closed;
    assert.equal(closed.code, 1008);
    const after = await waitUntil(async () => {
      const s = await stats(relay);
      return s.disconnects.replaced > before.disconnects.replaced && s;
    }, 5000, 'replaced disconnect counted');
    assert.equal(after.nodes.filter((id) => id === 'dup-node').length, 1);
    assert.equal(after.connections, before.connections, 'one connection replaced by another');

    const directed = await other.send(envelope('EntryRequest', 'dup-other', 'dup-node'));
    await second.waitFor((m) => m.message_id === directed.message_id);
    assert.equal(first.hasSeen(directed.message_id), false);
    // The replacing connection speaks for the id.
    const fromSecond = await second.send(envelope('EntryAnnounce', 'dup-node'));
    await other.waitFor((m) => m.message_id === fromSecond.message_id);
    await Promise.all([other.close(), second.close()]);
  });

  test('/health, /stats and unknown paths answer JSON', async () => {
    const a = await announcedPeer(relay, 'http-a');
    const h = await getJson(relay, '/health');
    assert.equal(h.status, 200);
    assert.match(h.contentType, /application\/json/);
    assert.deepEqual(Object.keys(h.body).sort(), ['connections', 'nodes', 'status', 'uptime_ms']);
    assert.equal(h.body.status, 'ok');
    assert.ok(Number.isInteger(h.body.connections) && h.body.connections >= 1);
    assert.ok(Number.isInteger(h.body.nodes) && h.body.nodes >= 1);
    assert.ok(Number.isInteger(h.body.uptime_ms) && h.body.uptime_ms >= 0);

    const s = await getJson(relay, '/stats');
    assert.equal(s.status, 200);
    for (const key of ['connections', 'messages_in', 'messages_out', 'bytes_in', 'bytes_out'])
      assert.ok(Number.isInteger(s.body[key]), key);
    assert.ok(Array.isArray(s.body.nodes) && s.body.nodes.includes('http-a'));
    assert.ok(s.body.messages_in > 0 && s.body.bytes_in > 0 && s.body.messages_out > 0);
    for (const cause of ['malformed', 'unannounced', 'spoofed', 'unknown_recipient'])
      assert.ok(Number.isInteger(s.body.drops[cause]), `drops.${cause}`);
    for (const cause of ['oversized', 'protocol', 'replaced', 'slow_reader', 'peer_closed'])
      assert.ok(Number.isInteger(s.body.disconnects[cause]), `disconnects.${cause}`);

    const missing = await getJson(relay, '/nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error, 'not_found');
    const root = await getJson(relay, '/');
    assert.equal(root.status, 404);
    const post = await fetch(relay.httpUrl + '/stats', { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    await a.close();
    await waitUntil(async () => (await health(relay)).nodes === h.body.nodes - 1, 5000, 'node gone');
  });
});

// An array nested `depth` levels deep, built without recursion.
function nested(depth) {
  let value = 0;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

test.describe('bad input', () => {
  let relay;
  test.before(async () => { relay = await startRelay(); });
  test.after(async () => assert.equal((await relay.stop()).code, 0, 'clean exit'));

  // Writes raw bytes, half-closes, and resolves with everything the relay answered.
  function rawExchange(payload) {
    return new Promise((resolve) => {
      let answer = '';
      const socket = net.connect(relay.port, '127.0.0.1', () => socket.end(payload));
      socket.on('data', (chunk) => { answer += chunk; });
      socket.on('error', () => {});  // a reset after an oversized request is fine
      socket.on('close', () => resolve(answer));
    });
  }

  test('garbage, oversized and broken upgrade requests are refused; the relay stays healthy',
       async () => {
    const before = await stats(relay);
    assert.match(await rawExchange('\x00\x01\x02 garbage\r\n\r\n'), /^HTTP\/1\.1 400 /);
    await rawExchange('GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ' + 'a'.repeat(64 * 1024) + '\r\n\r\n');
    const noKey = await rawExchange('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n' +
                                    'Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n');
    assert.match(noKey, /^HTTP\/1\.1 400 /);
    const after = await waitUntil(async () => {
      const s = await stats(relay);
      return s.disconnects.handshake_failed > before.disconnects.handshake_failed && s;
    }, 5000, 'handshake failure counted');
    assert.equal(after.connections, 0, 'no slot is leaked');
    // Pipelined keep-alive requests are each answered.
    const two = await rawExchange('GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(two, /^HTTP\/1\.1 200 [\s\S]*HTTP\/1\.1 404 /);
    assert.equal((await health(relay)).status, 'ok');
  });
});

test.describe('WebSocket framing (RFC 6455)', () => {
  let relay;
  test.before(async () => { relay = await startRelay(); });
  test.after(async () => assert.equal((await relay.stop()).code, 0, 'clean exit'));

  test('a frame sent with the upgrade request counts; fragments are forwarded as one message; ' +
       'pings between fragments are answered', async () => {
    const listener = await announcedPeer(relay, 'frag-listener');
    const announce = JSON.stringify(envelope('NodeAnnounce', 'frag-raw', '', { tip_height: 0 }));
    const raw = await rawPeer(relay, { pipelined: clientFrame(0x81, announce) });
    await waitUntil(async () => (await stats(relay)).nodes.includes('frag-raw'), 5000,
                    'the pipelined announce registered the peer');

    const message = envelope('EntryAnnounce', 'frag-raw', '', { note: 'caf\u00e9 \u2615 in pieces' });
    const text = Buffer.from(JSON.stringify(message));
    // Cut inside the two-byte "é" and the three-byte "☕": UTF-8 is checked on the whole message.
    const cut1 = text.indexOf(Buffer.from('\u00e9')) + 1;
    const cut2 = text.indexOf(Buffer.from('\u2615')) + 2;
    raw.write(clientFrame(0x01, text.subarray(0, cut1)));
    raw.write(clientFrame(0x89, 'still there?'));
    raw.write(clientFrame(0x00, text.subarray(cut1, cut2)));
    raw.write(clientFrame(0x80, text.subarray(cut2)));

    const pong = await raw.waitFrame((f) => f.opcode === 0xA, 5000, 'pong');
    assert.equal(pong.payload.toString(), 'still there?');
    const got = await listener.waitFor((m) => m.message_id === message.message_id);
    assert.deepEqual(got, message);

    // And the raw peer receives the relay's frames: unmasked, final text frames.
    const back = await listener.send(envelope('EntryAnnounce', 'frag-listener', 'frag-raw'));
    const frame = await raw.waitFrame((f) => f.opcode === 1 &&
                                             f.payload.toString().includes(back.message_id));
    assert.equal(frame.fin, true);
    assert.deepEqual(JSON.parse(frame.payload.toString()), back);

    raw.write(clientFrame(0x88, Buffer.from([0x03, 0xe8])));
    assert.equal(await raw.closeCode(), 1000, 'the close is echoed');
    await raw.ended;
    await listener.close();
  });

  test('protocol violations close with the code RFC 6455 names, and are counted', async () => {
    const before = await stats(relay);
    const cases = [
      ['an unmasked frame', clientFrame(0x81, '{}', { mask: false }), 1002],
      ['a text message that is not UTF-8', clientFrame(0x81, Buffer.from([0x7b, 0xc3, 0x28, 0x7d])), 1007],
      ['reserved bits without an extension', clientFrame(0xc1, '{}'), 1002],
      ['an unknown opcode', clientFrame(0x83, '{}'), 1002],
      ['a continuation with nothing to continue', clientFrame(0x80, '{}'), 1002],
      ['a fragmented ping', clientFrame(0x09, 'p'), 1002],
    ];
    for (const [what, bytes, code] of cases) {
      const raw = await rawPeer(relay);
      raw.write(bytes);
      assert.equal(await raw.closeCode(), code, what);
      await withTimeoutEnd(raw, what);
    }
    const after = await waitUntil(async () => {
      const s = await stats(relay);
      return s.disconnects.protocol - before.disconnects.protocol === cases.length && s;
    }, 5000, 'every violation counted as a protocol disconnect');
    assert.equal(after.connections, before.connections);
  });

  test('a peer that answers no ping is pinged, then closed as timed out; one that answers stays',
       async () => {
    const quick = await startRelay({ args: ['--idle-timeout-ms', '600'] });
    const silent = await rawPeer(quick);
    const lively = await connectPeer(quick);  // the ws library answers pings by itself
    await lively.announce('lively');
    await silent.waitFrame((f) => f.opcode === 9, 3000, 'a keep-alive ping');
    await withTimeoutEnd(silent, 'the silent peer is closed');
    const s = await waitUntil(async () => {
      const st = await stats(quick);
      return st.disconnects.timeout === 1 && st;
    }, 3000, 'timeout counted');
    assert.deepEqual(s.nodes, ['lively']);
    await new Promise((resolve) => setTimeout(resolve, 1500));  // 2.5 idle timeouts
    assert.deepEqual((await stats(quick)).nodes, ['lively'], 'a peer answering pings stays');
    await lively.close();
    assert.equal((await quick.stop()).code, 0);
  });

  test('a peer that trickles a frame a byte at a time is closed as timed out', async () => {
    const quick = await startRelay({ args: ['--idle-timeout-ms', '600'] });
    const trickler = await rawPeer(quick);
    // The header of a 64 KiB text frame, then one byte of it every 100 ms: bytes keep coming,
    // the frame never completes.
    const frame = clientFrame(0x81, 'x'.repeat(65536));
    trickler.write(frame.subarray(0, 20));
    let sent = 20;
    const timer = setInterval(() => { if (sent < frame.length) trickler.socket.write(frame.subarray(sent, ++sent)); }, 100);
    try {
      await withTimeoutEnd(trickler, 'the trickling peer is closed');
    } finally {
      clearInterval(timer);
    }
    await waitUntil(async () => (await stats(quick)).disconnects.timeout === 1, 3000, 'timeout counted');
    assert.equal((await quick.stop()).code, 0);
  });

  test('a peer that sends the first fragment of a message and then only pings is closed as timed out', async () => {
    const quick = await startRelay({ args: ['--idle-timeout-ms', '600'] });
    const stalled = await rawPeer(quick);
    stalled.write(clientFrame(0x01, 'x'.repeat(60000)));  // FIN clear: more is to follow
    const timer = setInterval(() => stalled.socket.write(clientFrame(0x89, 'alive?')), 100);
    try {
      await withTimeoutEnd(stalled, 'the peer holding a fragment is closed');
    } finally {
      clearInterval(timer);
    }
    await waitUntil(async () => (await stats(quick)).disconnects.timeout === 1, 3000, 'timeout counted');
    assert.equal((await quick.stop()).code, 0);
  });

  test('pings from a peer that reads nothing do not pile up pongs', async (t) => {
    const quiet = await startRelay();
    const raw = await rawPeer(quiet);
    raw.socket.pause();  // read nothing: every pong the relay writes stays in the socket buffers
    const before = rssKiB(quiet.pid);
    const batch = Buffer.concat(Array(1000).fill(clientFrame(0x89, 'p'.repeat(125))));
    for (let i = 0; i < 300; i++) {  // 300,000 pings: ~38 MB of pongs if each were kept
      if (!raw.socket.write(batch)) await new Promise((resolve) => raw.socket.once('drain', resolve));
    }
    // An announce after the pings: once it is registered, every ping before it was read.
    raw.write(clientFrame(0x81, JSON.stringify(envelope('NodeAnnounce', 'pinger', '', {}))));
    await waitUntil(async () => (await stats(quiet)).nodes.includes('pinger'), 20000,
                    'the relay read every ping');
    const grownKiB = rssKiB(quiet.pid) - before;
    t.diagnostic(`relay RSS grew by ${grownKiB} KiB over 300,000 unread pings`);
    if (!process.env.GSIO_SANITIZED) assert.ok(grownKiB < 16 * 1024, `RSS grew by ${grownKiB} KiB`);
    raw.socket.resume();
    const pong = await raw.waitFrame((f) => f.opcode === 0xA, 5000, 'a pong');
    assert.equal(pong.payload.toString(), 'p'.repeat(125));
    raw.socket.destroy();
    assert.equal((await quiet.stop()).code, 0);
  });

  test('--idle-timeout-ms out of range is refused at start', async () => {
    await assert.rejects(startRelay({ args: ['--idle-timeout-ms', '5'] }),
                         /idle-timeout-ms must be 100 to 3600000/);
  });
});

async function withTimeoutEnd(raw, what) {
  await Promise.race([raw.ended, new Promise((_, reject) =>
    setTimeout(() => reject(new Error(`${what}: the relay did not close the socket`)), 5000))]);
}

test.describe('limits', () => {
  test('a frame above --max-frame-bytes closes that connection', async () => {
    const relay = await startRelay({ args: ['--max-frame-bytes', '65536'] });
    const a = await announcedPeer(relay, 'big-a');
    const b = await announcedPeer(relay, 'big-b');
    const fits = await a.send(envelope('EntryAnnounce', 'big-a', '', { pad: 'x'.repeat(60000) }));
    await b.waitFor((m) => m.message_id === fits.message_id);

    const huge = envelope('EntryAnnounce', 'big-a', '', { pad: 'x'.repeat(100000) });
    a.ws.send(JSON.stringify(huge));
    const closed = await a.closed;
    assert.equal(closed.code, 1009);
    const after = await waitUntil(async () => {
      const s = await stats(relay);
      return s.disconnects.oversized === 1 && s;
    }, 5000, 'oversized disconnect counted');
    assert.deepEqual(after.nodes, ['big-b']);
    assert.equal(b.hasSeen(huge.message_id), false);
    await b.close();
    assert.equal((await relay.stop()).code, 0);
  });

  test('a peer that never reads is disconnected; memory stays bounded; others keep receiving',
       async (t) => {
    const queueLimit = 1024 * 1024;
    const relay = await startRelay({ args: ['--max-queue-bytes', String(queueLimit)] });
    const sender = await announcedPeer(relay, 'flood-sender');
    const fast = await announcedPeer(relay, 'flood-fast');
    const slow = await announcedPeer(relay, 'flood-slow');
    slow.ws._socket.pause();  // the kernel buffers fill, then the relay's queue for it grows

    const pad = 'y'.repeat(64 * 1024);
    const maxMessages = 1200;  // ~75 MiB: far beyond what socket buffers can hide
    let sent = 0;
    let maxRssKiB = rssKiB(relay.pid);
    const received = () => fast.messages.filter((m) => m.message_type === 'EntryAnnounce').length;
    let disconnected = false;
    while (sent < maxMessages && !disconnected) {
      // Stay a few frames ahead of the reading peer, so only the paused one can fall behind.
      await waitUntil(() => sent - received() < 8, 10000, 'fast peer keeps up');
      await sender.send(envelope('EntryAnnounce', 'flood-sender', '', { seq: sent, pad }));
      sent += 1;
      if (sent % 16 === 0) {
        maxRssKiB = Math.max(maxRssKiB, rssKiB(relay.pid));
        disconnected = (await stats(relay)).disconnects.slow_reader === 1;
      }
    }
    const after = await waitUntil(async () => {
      const s = await stats(relay);
      return s.disconnects.slow_reader === 1 && s;
    }, 10000, 'slow reader disconnected');
    maxRssKiB = Math.max(maxRssKiB, rssKiB(relay.pid));
    t.diagnostic(`slow reader cut after ${sent} frames of 64 KiB; relay RSS peak ${maxRssKiB} KiB`);
    assert.ok(maxRssKiB < 200 * 1024, `relay RSS peaked at ${maxRssKiB} KiB`);
    assert.deepEqual(after.nodes.sort(), ['flood-fast', 'flood-sender']);

    // The reading peer got every frame, in order, and keeps receiving after the disconnect.
    await waitUntil(() => received() === sent, 10000, 'fast peer received everything');
    const seqs = fast.messages.filter((m) => m.message_type === 'EntryAnnounce').map((m) => m.payload.seq);
    assert.deepEqual(seqs, [...Array(sent).keys()]);
    const last = await sender.send(envelope('EntryAnnounce', 'flood-sender', '', { seq: 'last' }));
    await fast.waitFor((m) => m.message_id === last.message_id);

    // Once it reads again, the slow peer finds its connection gone.
    slow.ws._socket.resume();
    const closed = await slow.closed;
    assert.notEqual(closed.code, 1000);
    assert.ok(slow.messages.length < sent, 'the slow peer did not get everything');
    await Promise.all([sender.close(), fast.close()]);
    assert.equal((await relay.stop()).code, 0);
  });

  test('once half of --max-connections are held by plain HTTP, monitoring requests are not kept alive', async () => {
    const small = await startRelay({ args: ['--max-connections', '6'] });
    const exchange = () => new Promise((resolve, reject) => {
      const socket = net.connect(small.port, '127.0.0.1');
      let reply = '';
      socket.on('data', (c) => { reply += c; });
      socket.on('error', reject);
      socket.once('connect', () => socket.write('GET /health HTTP/1.1\r\nHost: relay\r\n\r\n'));
      const timer = setTimeout(() => resolve({ socket, reply, closed: false }), 1000);
      socket.on('close', () => { clearTimeout(timer); resolve({ socket, reply, closed: true }); });
    });
    const first = await exchange();  // 1 of 6 (itself): kept alive
    assert.match(first.reply, /^HTTP\/1\.1 200/);
    assert.equal(first.closed, false);
    const second = await exchange();  // 2 of 6: still below half
    assert.equal(second.closed, false);
    const third = await exchange();  // 3 of 6: closed after its answer
    assert.match(third.reply, /^HTTP\/1\.1 200/);
    assert.match(third.reply, /\r\nConnection: close\r\n/i);
    assert.equal(third.closed, true);
    first.socket.destroy();
    second.socket.destroy();
    assert.equal((await small.stop()).code, 0);
  });

  test('connections beyond --max-connections get HTTP 503', async () => {
    const relay = await startRelay({ args: ['--max-connections', '2'] });
    const a = await connectPeer(relay);
    const b = await connectPeer(relay);
    await assert.rejects(connectPeer(relay), (err) => {
      assert.equal(err.statusCode, 503);
      assert.equal(JSON.parse(err.body).error, 'over_capacity');
      return true;
    });
    await a.close();
    await waitUntil(async () => (await health(relay)).connections === 1, 5000, 'slot freed');
    const c = await connectPeer(relay);
    await Promise.all([b.close(), c.close()]);
    assert.equal((await stats(relay)).rejected.over_capacity, 1);
    assert.equal((await relay.stop()).code, 0);
  });
});

test.describe('network token', () => {
  let relay;
  test.before(async () => { relay = await startRelay({ args: ['--token', 's3cret/+='] }); });
  test.after(async () => assert.equal((await relay.stop()).code, 0, 'clean exit'));

  test('a missing or wrong token gets 401 with a JSON body', async () => {
    for (const options of [{}, { urlPath: '/?token=wrong' }, { headers: { Authorization: 'Bearer wrong' } },
                           { urlPath: '/?token=s3cret' }]) {
      await assert.rejects(connectPeer(relay, options), (err) => {
        assert.equal(err.statusCode, 401);
        assert.equal(JSON.parse(err.body).error, 'unauthorized');
        return true;
      });
    }
    assert.equal((await stats(relay)).rejected.unauthorized, 4);
    assert.equal((await health(relay)).connections, 0);
  });

  test('the right token connects, as a query parameter or a bearer header', async () => {
    const viaQuery = await connectPeer(relay, { urlPath: '/?token=' + encodeURIComponent('s3cret/+=') });
    const viaHeader = await connectPeer(relay, { headers: { Authorization: 'Bearer s3cret/+=' } });
    await viaQuery.announce('tok-a');
    await viaHeader.announce('tok-b');
    await viaQuery.waitFor((m) => m.message_type === 'NodeAnnounce' && m.sender_id === 'tok-b');
    await Promise.all([viaQuery.close(), viaHeader.close()]);
  });

  test('/health stays open without the token', async () => {
    assert.equal((await getJson(relay, '/health')).status, 200);
  });
});

test('a web page cannot join: an upgrade with an Origin header gets 403, with or without a token', async () => {
  const open = await startRelay();
  const guarded = await startRelay({ args: ['--token', 'tk'] });
  const attempts = [
    [open, { headers: { Origin: 'http://evil.example' } }],
    [open, { headers: { Origin: 'null' } }],
    [guarded, { urlPath: '/?token=tk', headers: { Origin: 'http://127.0.0.1:8080' } }],
  ];
  for (const [relay, options] of attempts) {
    await assert.rejects(connectPeer(relay, options), (err) => {
      assert.equal(err.statusCode, 403);
      assert.equal(JSON.parse(err.body).error, 'browser');
      return true;
    });
  }
  assert.equal((await stats(open)).rejected.browser, 2);
  assert.equal((await stats(guarded)).rejected.browser, 1);
  assert.equal((await health(open)).connections, 0);
  const node = await announcedPeer(open, 'no-origin');  // nodes send no Origin
  await node.close();
  await Promise.all([open.stop(), guarded.stop()]);
});

// A node key made with node:crypto, independently of the project's own Ed25519 code.
function nodeKey() {
  const { publicKey, privateKey } = require('node:crypto').generateKeyPairSync('ed25519');
  const id = Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url').toString('hex');
  // net/announce_proof.hpp: the signature of SHA-256("gsio-relay-announce\n" challenge "\n" id).
  const prove = (challenge) => {
    const digest = require('node:crypto').createHash('sha256')
      .update(`gsio-relay-announce\n${challenge}\n${id}`).digest();
    return require('node:crypto').sign(null, digest, privateKey).toString('hex');
  };
  return { id, prove };
}

test('/stats and /metrics answer only known host names (DNS rebinding); /health any', async () => {
  const http = require('node:http');
  const get = (relay, path, host) => new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: relay.port, path, headers: { Host: host } }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject);
  });
  const relay = await startRelay();
  const named = await startRelay({ args: ['--allowed-hosts', 'relay.example'] });
  for (const path of ['/stats', '/metrics']) {
    const refused = await get(relay, path, `evil.example:${relay.port}`);
    assert.equal(refused.status, 403, path);
    assert.equal(JSON.parse(refused.body).error, 'host_not_allowed');
    assert.equal((await get(relay, path, `127.0.0.1:${relay.port}`)).status, 200, path);
    assert.equal((await get(relay, path, `${require('node:os').hostname()}:${relay.port}`)).status, 200, path);
    assert.equal((await get(named, path, 'relay.example')).status, 200, path);
    assert.equal((await get(named, path, 'evil.example')).status, 403, path);
  }
  assert.equal((await get(relay, '/health', 'evil.example')).status, 200, '/health shows only counts');
  await Promise.all([relay.stop(), named.stop()]);
});

test.describe('announce proofs', () => {
  test('a connection that proved its id cannot be displaced by one that did not', async () => {
    const relay = await startRelay();
    const key = nodeKey();
    const owner = await connectPeer(relay);
    assert.match(owner.challenge, /^[0-9a-f]{64}$/, 'the 101 carries a challenge');
    await owner.announce(key.id, { relay_proof: key.prove(owner.challenge) });
    await waitUntil(async () => (await stats(relay)).proven_nodes.includes(key.id), 5000, 'proven');

    // Without a proof, and with the owner's proof replayed (it was broadcast to every peer):
    // both announces are dropped, their connections stay unannounced and the owner keeps the id.
    const bystander = await announcedPeer(relay, 'bystander');
    const unproven = await connectPeer(relay);
    await unproven.announce(key.id);
    const replayed = await connectPeer(relay);
    assert.notEqual(replayed.challenge, owner.challenge, 'a fresh challenge per connection');
    await replayed.announce(key.id, { relay_proof: key.prove(owner.challenge) });
    await waitUntil(async () => (await stats(relay)).drops.unproven === 2, 5000, 'both dropped');
    const directed = envelope('EntryRequest', 'bystander', key.id, { ids: ['x'] });
    await bystander.send(directed);
    await owner.waitFor((m) => m.message_id === directed.message_id, 5000, 'directed message');
    const spoofedBroadcast = envelope('EntryAnnounce', key.id, '', {});
    await unproven.send(spoofedBroadcast);  // still unannounced: dropped
    await waitUntil(async () => (await stats(relay)).drops.unannounced === 1, 5000, 'unannounced');
    assert.ok(!bystander.hasSeen(spoofedBroadcast.message_id));
    assert.ok(!unproven.hasSeen(directed.message_id) && !replayed.hasSeen(directed.message_id));

    // A few dropped announces are tolerated (a heartbeat may overtake a node's hello); the fourth
    // closes the connection, so that a node that never proves hears why.
    // Sent in one burst: the ones after the fourth are only counted, never logged.
    await Promise.all(Array.from({ length: 8 }, () => replayed.announce(key.id, { relay_proof: key.prove(owner.challenge) })));
    assert.equal((await replayed.closed).code, 1008);
    assert.equal((await stats(relay)).disconnects.unproven, 1);
    assert.equal(relay.log.match(/dropped \(node id held by a connection that proved it\); closing/g).length, 1);

    // The key's holder on a new connection takes over, as a reconnecting node must.
    const again = await connectPeer(relay);
    await again.announce(key.id, { relay_proof: key.prove(again.challenge) });
    assert.equal((await owner.closed).code, 1008);
    assert.equal((await stats(relay)).disconnects.replaced, 1);
    // An unproven id is still accepted where nobody proved it (plain peers, the bench's).
    const plain = await announcedPeer(relay, 'plain-peer');
    await Promise.all([plain.close(), again.close(), bystander.close()]);
    await relay.stop();
  });

  test('with --require-proof only proven announces join', async () => {
    const relay = await startRelay({ args: ['--require-proof'] });
    const key = nodeKey();
    const plain = await connectPeer(relay);
    await plain.announce(nodeKey().id);
    const node = await connectPeer(relay);
    await node.announce(key.id, { relay_proof: nodeKey().prove(node.challenge) });  // another key's
    await node.announce(key.id);  // a heartbeat that overtook the hello
    await waitUntil(async () => (await stats(relay)).drops.unproven === 3, 5000, 'dropped');
    assert.deepEqual((await stats(relay)).nodes, []);
    // The hello with the proof, on the same connection, joins.
    await node.announce(key.id, { relay_proof: key.prove(node.challenge) });
    await waitUntil(async () => (await stats(relay)).proven_nodes.includes(key.id), 5000, 'joined');
    assert.deepEqual((await stats(relay)).nodes, [key.id]);
    await Promise.all([plain.close(), node.close()]);
    await relay.stop();
  });

  test('a key of small order proves no id, whatever the challenge (the one signature rule)', async () => {
    // Rows of the shared edge vectors whose "signature" (R = identity, S = 0) satisfies a lax
    // verifier's equation for every message when the key has small order: before protocol 2 the
    // relay checked proofs with such a verifier, and these ids joined a --require-proof relay.
    const rows = fs.readFileSync(path.join(__dirname, '../vectors/ed25519-edge.tsv'), 'utf8')
      .split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split('\t'))
      .filter(([, , , signature]) => signature === `01${'0'.repeat(126)}`);
    assert.ok(rows.length >= 7, `${rows.length} message-independent rows`);
    const relay = await startRelay({ args: ['--require-proof'] });
    for (const [i, [name, publicKey, , signature]] of rows.entries()) {
      const peer = await connectPeer(relay);
      await peer.announce(publicKey, { relay_proof: signature });
      await waitUntil(async () => (await stats(relay)).drops.unproven === i + 1, 5000, `${name} dropped`);
      await peer.close();
    }
    const after = await stats(relay);
    assert.deepEqual(after.nodes, []);
    assert.deepEqual(after.proven_nodes, []);
    await relay.stop();
  });

  test('a connection that announced without proof becomes proven by a later proof', async () => {
    const relay = await startRelay();
    const key = nodeKey();
    const node = await connectPeer(relay);
    await node.announce(key.id);
    await waitUntil(async () => (await stats(relay)).nodes.includes(key.id), 5000, 'joined');
    assert.deepEqual((await stats(relay)).proven_nodes, []);
    await node.announce(key.id, { relay_proof: key.prove(node.challenge) });
    await waitUntil(async () => (await stats(relay)).proven_nodes.includes(key.id), 5000, 'proven');
    const impostor = await connectPeer(relay);
    await impostor.announce(key.id);
    await waitUntil(async () => (await stats(relay)).drops.unproven === 1, 5000, 'dropped');
    // Invalid proofs cost a verification each: an announced connection gets 8, the 9th closes it.
    const plain = await announcedPeer(relay, nodeKey().id);
    for (let i = 0; i < 9; i++) await plain.announce(plain.id, { relay_proof: 'ab'.repeat(64) });
    assert.equal((await plain.closed).code, 1008);
    assert.equal((await stats(relay)).disconnects.unproven, 1);
    await Promise.all([node.close(), impostor.close()]);
    await relay.stop();
  });
});

test('SIGTERM closes connections with 1001 and exits 0', async () => {
  const relay = await startRelay();
  const a = await announcedPeer(relay, 'term-a');
  const b = await connectPeer(relay);
  relay.proc.kill('SIGTERM');
  const [ca, cb] = await Promise.all([a.closed, b.closed]);
  assert.equal(ca.code, 1001);
  assert.equal(cb.code, 1001);
  const exit = await relay.waitExit();
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.match(relay.log, /gsio-relay stopped/);
});

test.describe('metrics', () => {
  test('GET /metrics is Prometheus text whose counters follow the traffic', async () => {
    const relay = await startRelay();
    const scrape = async () => {
      const res = await fetch(`${relay.httpUrl}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
      return res.text();
    };
    const value = (text, sample) => {
      const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
      assert.ok(line, `${sample} is exposed`);
      return Number(line.split(' ')[1]);
    };
    const before = await scrape();
    assert.equal(value(before, 'gsio_relay_connections'), 0);
    for (const line of before.split('\n').filter((l) => l && !l.startsWith('#'))) {
      const name = line.split(/[{ ]/)[0];
      assert.match(before, new RegExp(`# TYPE ${name} (counter|gauge)`), `${name} has a TYPE line`);
    }

    const a = await announcedPeer(relay, 'metrics-a');
    const b = await announcedPeer(relay, 'metrics-b');
    const sent = await a.send(envelope('EntryAnnounce', 'metrics-a', '', { entry: { id: 'm1' } }));
    await b.waitFor((m) => m.message_id === sent.message_id);
    await a.send(envelope('EntryAnnounce', 'someone-else', '', {}));  // spoofed: dropped
    await waitUntil(async () => value(await scrape(), 'gsio_relay_dropped_total{cause="spoofed"}') === 1,
                    5000, 'the spoofed drop to be counted');
    const after = await scrape();
    assert.equal(value(after, 'gsio_relay_connections'), 2);
    assert.equal(value(after, 'gsio_relay_nodes'), 2);
    assert.ok(value(after, 'gsio_relay_messages_received_total') >= 3);
    assert.ok(value(after, 'gsio_relay_messages_forwarded_total') >= 2);
    assert.ok(value(after, 'gsio_relay_forwarded_bytes_total') > 0);

    const promtool = '/usr/bin/promtool';
    if (require('node:fs').existsSync(promtool)) {
      const check = require('node:child_process').spawnSync(promtool, ['check', 'metrics'], { input: after });
      assert.equal(check.status, 0, `promtool check metrics:\n${check.stdout}${check.stderr}`);
    } else {
      assert.ok(!process.env.CI, 'promtool (Debian package prometheus) is required in CI');
      test.diagnostic('promtool not installed: format check skipped');
    }
    await Promise.all([a.close(), b.close()]);
    assert.equal((await relay.stop()).code, 0);
  });
});
