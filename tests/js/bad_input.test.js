'use strict';
// Hostile and broken clients against a real gsio-node: each gets an error or a close, the node
// stays up, other clients carry on and memory stays bounded (P4).
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const WebSocket = require('ws');
const h = require('./lib/harness');

function rawSocket(node) {
  const ws = new WebSocket(`ws://127.0.0.1:${node.port}/socket.io/?EIO=4&transport=websocket`);
  ws.messages = [];
  ws.closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  ws.on('message', (m, isBinary) => ws.messages.push(isBinary ? m : m.toString()));
  ws.on('error', () => {});
  return h.withTimeout(new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  }), 5000, 'raw websocket open');
}

// A plain TCP connection to the node: what it sent so far (received()) and when it closed.
async function rawTcp(node) {
  const socket = net.connect(node.port, '127.0.0.1');
  let text = '';
  socket.on('data', (c) => { text += c.toString('latin1'); });
  socket.on('error', () => {});
  const closed = new Promise((resolve) => socket.on('close', resolve));
  await h.withTimeout(new Promise((resolve) => socket.once('connect', resolve)), 5000, 'connect');
  return { socket, closed, received: () => text };
}

async function joined(node) {
  const ws = await rawSocket(node);
  ws.send('40');
  await h.withTimeout(new Promise((resolve) => {
    const check = () => (ws.messages.some((m) => typeof m === 'string' && m.startsWith('40{')) ? resolve() : setTimeout(check, 10));
    check();
  }), 5000, 'namespace join');
  return ws;
}

async function handshake(node) {
  const res = await fetch(`${node.url}/socket.io/?EIO=4&transport=polling`);
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.equal(text[0], '0');
  return JSON.parse(text.slice(1)).sid;
}

describe('gsio-node under bad input', () => {
  let node;
  let bystander;
  before(async () => {
    node = await h.startNode({ args: ['--max-buffered-bytes', String(1 << 20)] });
    bystander = await h.connect(node.url);
  });
  after(h.cleanup);

  async function assertHealthy() {
    assert.equal(node.exited, null, 'node is still running');
    assert.equal((await h.health(node)).status, 'ok');
    assert.deepEqual(await h.emitAck(bystander, 'message-with-ack', 'ok'), 'ok');
  }

  it('closes a WebSocket that sends malformed Engine.IO or Socket.IO packets', async () => {
    for (const garbage of ['9nonsense', '', '4', '42["add_ledger_entry", {broken', '4{"not":"an array"}', '47', '42[1,2]', '43["no ack id"]']) {
      const ws = await joined(node);
      ws.send(garbage);
      const code = await h.withTimeout(ws.closed, 5000, `close after ${JSON.stringify(garbage)}`);
      assert.ok(code >= 1000, `closed with code ${code}`);
    }
    await assertHealthy();
  });

  it('refuses numbers written with hundreds of digits or beyond the double range, and stays up', async () => {
    // rapidjson's exact number parser reads outside a table for a fraction of 350 and more zero
    // digits, and shifts by negative amounts for the last one (found by tests/fuzz); no encoder
    // writes a double with more than 25 characters.
    for (const [number, error] of [['0.' + '0'.repeat(400), /more than 100 characters/],
                                   ['-0.' + '0'.repeat(100000), /more than 100 characters/],
                                   ['1' + '0'.repeat(120), /more than 100 characters/],
                                   ['111100000001485694610386531119E305', /not valid JSON/]]) {
      const ws = await joined(node);
      ws.send(`421["add_ledger_entry",{"x":${number}}]`);
      await h.withTimeout(new Promise((resolve) => {
        const check = () => (ws.messages.some((m) => typeof m === 'string' && m.startsWith('431[')) ? resolve() : setTimeout(check, 10));
        check();
      }), 5000, `the answer to a number of ${number.length} characters`);
      const reply = JSON.parse(ws.messages.find((m) => typeof m === 'string' && m.startsWith('431[')).slice(3))[0];
      assert.match(reply.error, error);
      ws.close();
    }
    await assertHealthy();
  });

  it('quotes a lone surrogate from the client back as valid UTF-8 in its errors', async () => {
    // "\udd2e" decodes to bytes that are not UTF-8; an error quoting them raw made the node send
    // a text frame every WebSocket client must refuse (1007).
    const ws = await joined(node);
    let invalid = null;
    ws.on('error', (err) => { invalid = err; });
    ws.send('421["get_entry","x\\udd2ey"]');
    ws.send('422["no_such_\\udd2e_event"]');
    await h.withTimeout(new Promise((resolve) => {
      const check = () => (ws.messages.some((m) => typeof m === 'string' && m.startsWith('432[')) || invalid ? resolve() : setTimeout(check, 10));
      check();
    }), 5000, 'both answers');
    assert.equal(invalid, null, `the node sent what the client refused: ${invalid}`);
    const answer = (id) => JSON.parse(ws.messages.find((m) => typeof m === 'string' && m.startsWith(`43${id}[`)).slice(3))[0];
    assert.match(answer(1).error, /x\uFFFD+y/);
    assert.match(answer(2).error, /no_such_\uFFFD+_event/);
    assert.equal(ws.readyState, WebSocket.OPEN);
    ws.close();
    await assertHealthy();
  });

  it('answers wrong argument types with an error and keeps the socket', async () => {
    const s = await h.connect(node.url);
    for (const [event, args, pattern] of [
      ['get_ledger', [{ from: -1 }], /non-negative integer/],
      ['get_ledger', [{ from: 'a' }], /non-negative integer/],
      ['get_ledger', [{ bogus: 1 }], /unknown option/],
      ['get_entry', [42], /entry id/],
      ['add_ledger_entry', [], /needs the entry data/],
      ['add_ledger_entry', [{ big: 'x'.repeat(70 * 1024) }], /limit/],
    ]) {
      const reply = await h.emitAck(s, event, ...args);
      assert.match(reply.error, pattern, `${event} ${JSON.stringify(args).slice(0, 60)}`);
    }
    assert.ok(s.connected);
    await assertHealthy();
  });

  it('refuses data nested deeper than 128 levels, and closes a socket that nests beyond any message', async () => {
    const nested = (depth) => {
      let value = 0;
      for (let i = 0; i < depth; i++) value = [value];
      return value;
    };
    const s = await h.connect(node.url);
    const fits = await h.emitAck(s, 'add_ledger_entry', nested(128));
    assert.equal(fits.error, undefined, JSON.stringify(fits).slice(0, 200));
    assert.equal(JSON.stringify(fits.data).length, 2 * 128 + 1);
    const deep = await h.emitAck(s, 'add_ledger_entry', nested(140));
    assert.match(deep.error, /more than 128 levels deep/);
    assert.ok(s.connected);

    // A packet nested 300,000 levels deep (600 kB, under the payload limit) is malformed.
    const ws = await joined(node);
    ws.send('42["add_ledger_entry",' + '['.repeat(300000) + ']'.repeat(300000) + ']');
    const code = await h.withTimeout(ws.closed, 5000, 'close after a deeply nested packet');
    assert.ok(code >= 1000, `closed with code ${code}`);
    await assertHealthy();
  });

  it('rejects an unknown sid, a bad protocol version and a 10 MB polling POST', async () => {
    let res = await fetch(`${node.url}/socket.io/?EIO=4&transport=polling&sid=doesnotexist`);
    assert.equal(res.status, 400);
    assert.equal((await res.json()).code, 1);
    res = await fetch(`${node.url}/socket.io/?EIO=3&transport=polling`);
    assert.equal(res.status, 400);
    res = await fetch(`${node.url}/socket.io/?EIO=4&transport=carrier-pigeon`);
    assert.equal(res.status, 400);

    const sid = await handshake(node);
    const big = '4' + 'x'.repeat(10 * 1024 * 1024);
    res = await fetch(`${node.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body: big })
      .catch((err) => ({ status: 'closed', err }));
    assert.ok(res.status === 413 || res.status === 'closed', `status ${res.status}`);
    // The session is gone afterwards.
    res = await fetch(`${node.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`);
    assert.equal(res.status, 400);
    await assertHealthy();
  });

  it('answers no pipelined request over the size limit while a poll is held on the connection', async () => {
    const sid = await handshake(node);
    const { socket, closed, received } = await rawTcp(node);
    // The poll is held (nothing to send yet); the POST behind it is over --max-payload.
    socket.write(`GET /socket.io/?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: 127.0.0.1:${node.port}\r\n\r\n`);
    socket.write(`POST /socket.io/?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: 127.0.0.1:${node.port}\r\n` +
      `Content-Type: text/plain\r\nContent-Length: 20000000\r\n\r\n4${'x'.repeat(65536)}`);
    await h.withTimeout(closed, 10000, 'the node closes the connection');
    // Responses go out in request order: a 413 here would have answered the GET.
    assert.ok(!/^HTTP\/1\.1 413/.test(received()), `the held poll was answered with: ${received().slice(0, 40)}`);
    const res = await fetch(`${node.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`);
    assert.equal(res.status, 400, 'the session is closed');
    await assertHealthy();
  });

  it('answers 400 to a chunked body whose chunk-size line never ends, before it fills memory', async () => {
    const { socket, closed, received } = await rawTcp(node);
    const rssBefore = h.rssKiB(node.proc.pid);
    socket.write(`POST /anything HTTP/1.1\r\nHost: 127.0.0.1:${node.port}\r\nTransfer-Encoding: chunked\r\n\r\n1;`);
    // A chunk extension without end: Beast's header limit does not cover it. Written a piece at
    // a time until the answer comes, so that the node's close does not reset the connection
    // before the answer is read.
    const filler = 'a'.repeat(64 * 1024);
    for (let i = 0; i < 128 && !received() && !socket.destroyed; i++) {
      socket.write(filler);
      await new Promise((r) => setTimeout(r, 20));
    }
    await h.withTimeout(closed, 10000, 'the node closes the connection (request timeout is 30 s)');
    assert.match(received(), /^HTTP\/1\.1 400/, `answered with: ${received().slice(0, 40)}`);
    const grown = h.rssKiB(node.proc.pid) - rssBefore;
    assert.ok(grown < 4 * 1024, `the node grew by ${grown} KiB`);
    await assertHealthy();
  });

  it('delivers a commit larger than --max-buffered-bytes to every client that keeps up', async () => {
    // The node's limit is 1 MiB; 64 adds of 24 KiB sent at once are committed in a batch or two
    // of more than that. The writer's acks and pushes together (3 MB) stay below four times the
    // limit, at which even a reader that keeps up would be dropped.
    const writer = await h.connect(node.url);
    const readers = [await h.connect(node.url), await h.connect(node.url, { transport: 'polling' })];
    const seen = readers.map(() => new Set());
    readers.forEach((r, i) => r.on('ledger_entry_added', (e) => seen[i].add(e.id)));
    const disconnects = [];
    for (const s of [writer, ...readers]) s.on('disconnect', (why) => disconnects.push(why));
    const big = 'b'.repeat(24 * 1024);
    const acks = await Promise.all(Array.from({ length: 64 }, (_, i) => h.emitAck(writer, 'add_ledger_entry', { i, big })));
    assert.ok(acks.every((a) => a.id && !a.error), 'every add acknowledged');
    await h.waitUntil(() => seen.every((s) => acks.every((a) => s.has(a.id))), 10000, 'every reader gets every entry');
    assert.deepEqual(disconnects, []);
    for (const s of [writer, ...readers]) s.disconnect();
    await assertHealthy();
  });

  it('closes a WebSocket that sends a 10 MB frame', async () => {
    const ws = await joined(node);
    ws.send('42["message","' + 'y'.repeat(10 * 1024 * 1024) + '"]');
    const code = await h.withTimeout(ws.closed, 10000, 'close after a 10 MB frame');
    assert.ok(code >= 1000);
    await assertHealthy();
  });

  it('answers only the latest of many unread WebSocket pings, with memory bounded', async (t) => {
    const ws = await joined(node);
    ws._socket.pause();  // read nothing: every pong the node writes stays in the socket buffers
    const rssBefore = h.rssKiB(node.proc.pid);
    const payload = Buffer.alloc(125, 'p');
    for (let i = 0; i < 300000; i++) ws.ping(payload);  // ~38 MB of pongs if each were kept
    // An add after the pings: once the bystander is told of it, every ping before it was read.
    const marker = `after-pings-${process.pid}`;
    const told = new Promise((resolve) => {
      const onEntry = (e) => {
        if (e.data && e.data.marker === marker) {
          bystander.off('ledger_entry_added', onEntry);
          resolve();
        }
      };
      bystander.on('ledger_entry_added', onEntry);
    });
    ws.send(`42["add_ledger_entry",{"marker":"${marker}"}]`);
    await h.withTimeout(told, 30000, 'the node read every ping');
    const grownKiB = h.rssKiB(node.proc.pid) - rssBefore;
    t.diagnostic(`node RSS grew by ${grownKiB} KiB over 300,000 unread pings`);
    if (!process.env.GSIO_SANITIZED) assert.ok(grownKiB < 16 * 1024, `RSS grew by ${grownKiB} KiB`);
    await assertHealthy();
    const pong = new Promise((resolve) => ws.once('pong', resolve));
    ws._socket.resume();
    assert.equal((await h.withTimeout(pong, 5000, 'a pong')).length, 125);
    ws.terminate();
  });

  it('disconnects a client that never reads, with memory bounded', async () => {
    const s = await h.connect(node.url);
    const from = (await h.emitAck(s, 'node_info')).height;  // earlier tests' entries are larger
    const filler = 'z'.repeat(4000);
    for (let i = 0; i < 100; i++) await h.emitAck(s, 'add_ledger_entry', { filler, i });
    const rssBefore = h.rssKiB(node.proc.pid);

    const ws = await joined(node);
    ws._socket.pause();  // never read again: the kernel buffers fill, then the node's queue
    for (let i = 0; i < 200; i++) ws.send(`42["get_ledger",{"from":${from},"limit":100}]`);
    // Each answer is ~450 KB, 90 MB in all; the node must give up on this reader long before:
    // at four times --max-buffered-bytes at once, or once it has been above it for 5 s.
    await new Promise((r) => setTimeout(r, 6000));
    const rssDuring = h.rssKiB(node.proc.pid);
    await assertHealthy();
    ws._socket.resume();
    let received = 0;
    ws.on('message', (m) => { received += m.length; });
    await h.withTimeout(ws.closed, 20000, 'server closes the slow reader');
    assert.ok(received < 60 * 1024 * 1024, `received ${received} bytes before the close`);
    if (process.env.GSIO_SANITIZED) {
      // ASan keeps freed memory in quarantine and pads every allocation, so RSS says little
      // there; the bounded queue is still shown by the close and the byte count above.
      console.log(`sanitized build: RSS grew by ${rssDuring - rssBefore} KiB (not asserted)`);
    } else {
      assert.ok(rssDuring - rssBefore < 64 * 1024, `RSS grew by ${rssDuring - rssBefore} KiB`);
    }
    await assertHealthy();
  });

  it('answers at most 16 requests of one client at a time and refuses the rest with a reason', async () => {
    const ws = await joined(node);
    const count = 100;
    for (let i = 0; i < count; i++) ws.send(`42${i}["verify_ledger"]`);
    const acks = () => ws.messages.filter((m) => typeof m === 'string' && /^43\d/.test(m));
    await h.withTimeout(new Promise((resolve) => {
      const check = () => (acks().length === count ? resolve() : setTimeout(check, 10));
      check();
    }), 20000, 'every request answered');
    const answers = acks().map((m) => JSON.parse(m.replace(/^43\d+/, ''))[0]);
    const verified = answers.filter((a) => a.valid === true).length;
    const refused = answers.filter((a) => /too many requests in flight \(limit 16\)/.test(a.error || ''));
    assert.equal(verified + refused.length, count, JSON.stringify(answers.find((a) => !a.valid && !a.error)));
    assert.ok(verified >= 16, `${verified} verified`);
    assert.ok(refused.length >= 1, 'some requests were refused');
    ws.close();
    await assertHealthy();
  });

  it('holds at most --max-connections idle HTTP connections and closes the rest unread', async () => {
    const capped = await h.startNode({ args: ['--max-connections', '4'] });
    const open = (port) => new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.closedByPeer = new Promise((r) => socket.on('close', r));
      socket.on('error', () => {});
      socket.once('connect', () => resolve(socket));
      socket.once('error', reject);
    });
    const idle = [];
    for (let i = 0; i < 4; i++) idle.push(await open(capped.port));  // say nothing
    const extra = await open(capped.port);
    await h.withTimeout(extra.closedByPeer, 5000, 'the fifth connection is closed');
    const stillOpen = await Promise.race([
      Promise.any(idle.map((s) => s.closedByPeer.then(() => false))),
      new Promise((r) => setTimeout(() => r(true), 300)),
    ]);
    assert.ok(stillOpen, 'the four idle connections stay open');
    for (const s of idle) s.destroy();
    await Promise.all(idle.map((s) => s.closedByPeer));
    // Once they are gone, the node answers again; its metrics count the refusal.
    const metrics = await h.waitUntil(async () => {
      const res = await fetch(`${capped.url}/metrics`).catch(() => null);
      return res && res.ok ? res.text() : undefined;
    }, 5000, 'metrics after the idle connections closed', 50);
    assert.match(metrics, /^gsio_connections_refused_total [1-9]/m);
    assert.equal(capped.exited, null, 'node is still running');
  });

  it('refuses data that cannot be stored and read back the same: lone surrogates, repeated names', async () => {
    const dataDir = h.tempDir();
    let target = await h.startNode({ dataDir });
    const ws = await joined(target);
    // Sent as raw packets: a JS object cannot hold a repeated name, and socket.io-client would
    // re-encode the string.
    ws.send('420["add_ledger_entry",{"x":"\\udc00"}]');
    ws.send('421["add_ledger_entry",{"a":1,"a":2,"b":0,"c":0,"d":0,"e":0,"f":0,"g":0,"h":0,"i":0,"j":0,"k":0,"l":0,"m":0,"n":0,"o":0,"p":0}]');
    ws.send('422["add_ledger_entry",{"ok":"\\ud83d\\ude00"}]');
    const acks = () => ws.messages.filter((m) => typeof m === 'string' && /^43[012]\[/.test(m));
    await h.waitUntil(() => acks().length >= 3, 5000, 'three answers', 10);
    const answer = (id) => JSON.parse(acks().find((m) => m.startsWith(`43${id}[`)).slice(3))[0];
    assert.match(answer(0).error, /not valid Unicode text/);
    assert.match(answer(1).error, /duplicate member name "a"/);
    assert.equal(answer(2).data.ok, '\u{1F600}');
    ws.close();
    // What was stored reads back: the node starts again on it.
    assert.equal((await target.stop('SIGTERM')).code, 0);
    target = await h.startNode({ dataDir });
    assert.equal((await h.health(target)).height, 1);
  });

  it('serves the web UI directory and no file outside it, however the path is spelled', async () => {
    const webDir = h.tempDir();
    fs.writeFileSync(path.join(webDir, 'index.html'), '<title>ui</title>');
    fs.writeFileSync(path.join(webDir, 'app.js'), 'ui code');
    const uiNode = await h.startNode({ args: ['--web-dir', webDir] });
    // The request target is sent exactly as written (fetch would normalize some of these).
    const get = (target) => new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: uiNode.port, path: target }, (res) => {
        let body = '';
        res.on('data', (c) => { body += c; });
        res.on('end', () => resolve({ status: res.statusCode, body }));
      }).on('error', reject);
    });
    assert.equal((await get('/app.js')).body, 'ui code');
    assert.equal((await get('/')).body, '<title>ui</title>');
    const key = path.join(uiNode.dataDir, 'node.key');  // the node's private key
    assert.ok(fs.existsSync(key), `${key} exists`);
    const secret = fs.readFileSync(key, 'utf8').trim();
    for (const target of [`/${key}`, `/%2F${key.slice(1)}`, `/app.js/../../${path.basename(uiNode.dataDir)}/node.key`,
      `/..${key}`, `/%2e%2e${key}`, '//etc/hostname', '/%2Fetc%2Fhostname']) {
      const res = await get(target);
      assert.notEqual(res.status, 200, `${target} answered 200`);
      assert.ok(!res.body.includes(secret), `${target} gave away the key`);
    }
    assert.equal(uiNode.exited, null, 'node is still running');
  });
});
