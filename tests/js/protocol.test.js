'use strict';
// Engine.IO v4 / Socket.IO v5 conformance of src/net, against tests/protocol-test-server (built
// from src/net alone). The raw checks follow the official engine.io-protocol and
// socket.io-protocol test suites (pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1000000);
// the last group runs the unmodified socket.io-client over every transport.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const WebSocket = require('ws');
const { io } = require('socket.io-client');
const { waitUntil } = require('./lib/harness');

const buildDir = process.env.GSIO_BUILD_DIR || path.resolve(__dirname, '../../build');
const serverBinary = path.join(buildDir, 'tests/protocol-test-server');

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const MAX_PAYLOAD = 1000000;

let server;
let base;
let wsBase;
const serverLog = () => server.log;

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port: p } = probe.address();
      probe.close(() => resolve(p));
    });
  });
}

// Starts a protocol-test-server on a free port; resolves with { proc, port, log } once it listens.
async function startServer(extraArgs = []) {
  const port = await freePort();
  const proc = spawn(serverBinary, ['--port', String(port), ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  const started = { proc, port, log: '' };
  await withTimeout(new Promise((resolve, reject) => {
    proc.stdout.on('data', (chunk) => {
      started.log += chunk.toString();
      if (started.log.includes(`listening on ${port}`)) resolve();
    });
    proc.stderr.on('data', (chunk) => { started.log += chunk.toString(); });
    proc.on('close', (code) => reject(new Error(`protocol-test-server exited with ${code}:\n${started.log}`)));
  }), 10000, 'protocol-test-server start');
  return started;
}

function stopServer(s) {
  if (s && s.proc.exitCode === null) s.proc.kill('SIGKILL');
}

// The helpers below talk to `server`; a group that needs a differently configured one swaps it in.
function useServer(s) {
  server = s;
  base = `http://127.0.0.1:${s.port}`;
  wsBase = `ws://127.0.0.1:${s.port}`;
}

let conformanceServer;

before(async () => {
  conformanceServer = await startServer();
  useServer(conformanceServer);
});

after(() => stopServer(conformanceServer));

// ---- helpers ------------------------------------------------------------------------------------

const eioUrl = (query) => `${base}/engine.io/?${query}`;
const sioUrl = (query) => `${base}/socket.io/?${query}`;

async function openPolling(endpoint = 'engine.io') {
  const res = await fetch(`${base}/${endpoint}/?EIO=4&transport=polling`);
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.equal(text[0], '0');
  return JSON.parse(text.substring(1)).sid;
}

function poll(endpoint, sid, extra = '') {
  return fetch(`${base}/${endpoint}/?EIO=4&transport=polling&sid=${sid}${extra}`);
}

function push(endpoint, sid, body) {
  return fetch(`${base}/${endpoint}/?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body });
}

// A raw WebSocket with a message queue. With autoPong, server pings are answered and hidden.
function openWs(endpoint, query, { autoPong = false } = {}) {
  const ws = new WebSocket(`${wsBase}/${endpoint}/?${query}`);
  const queue = [];
  const waiters = [];
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => {
    const message = isBinary ? Buffer.from(data) : data.toString();
    if (autoPong && message === '2') {
      ws.send('3');
      return;
    }
    if (waiters.length) waiters.shift()(message);
    else queue.push(message);
  });
  ws.opened = new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('close', () => reject(new Error('closed before open')));
  });
  ws.opened.catch(() => {});
  ws.closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
  ws.next = (ms = 3000) => withTimeout(new Promise((resolve) => {
    if (queue.length) resolve(queue.shift());
    else waiters.push(resolve);
  }), ms, 'websocket message');
  // Next message that is not a ping.
  ws.nextData = async (ms = 3000) => {
    for (;;) {
      const m = await ws.next(ms);
      if (m !== '2') return m;
    }
  };
  ws.waitClose = (ms = 3000) => withTimeout(ws.closed, ms, 'websocket close');
  return ws;
}

async function sioWebSocket(nsp = '', auth = '') {
  const ws = openWs('socket.io', 'EIO=4&transport=websocket', { autoPong: true });
  const open = await ws.next();
  assert.equal(open[0], '0');
  ws.send(`40${nsp}${auth}`);
  const connect = await ws.next();
  assert.ok(connect.startsWith(`40${nsp}`), connect);
  const auth2 = await ws.next();
  assert.ok(auth2.startsWith(`42${nsp}["auth",`), auth2);
  return ws;
}

function closeWs(ws) {
  if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.terminate();
}

// ---- Engine.IO ----------------------------------------------------------------------------------

describe('Engine.IO handshake', () => {
  it('opens a polling session with the configured handshake fields', async () => {
    const res = await fetch(eioUrl('EIO=4&transport=polling'));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    const text = await res.text();
    assert.equal(text[0], '0');
    const open = JSON.parse(text.substring(1));
    assert.deepEqual(Object.keys(open).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
    assert.equal(typeof open.sid, 'string');
    assert.deepEqual(open.upgrades, ['websocket']);
    assert.equal(open.pingInterval, PING_INTERVAL);
    assert.equal(open.pingTimeout, PING_TIMEOUT);
    assert.equal(open.maxPayload, MAX_PAYLOAD);
  });

  it('opens a WebSocket-only session without upgrades', async () => {
    const ws = openWs('engine.io', 'EIO=4&transport=websocket');
    const data = await ws.next();
    assert.equal(data[0], '0');
    const open = JSON.parse(data.substring(1));
    assert.deepEqual(Object.keys(open).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
    assert.deepEqual(open.upgrades, []);
    assert.equal(open.pingInterval, PING_INTERVAL);
    assert.equal(open.pingTimeout, PING_TIMEOUT);
    assert.equal(open.maxPayload, MAX_PAYLOAD);
    closeWs(ws);
  });

  it('rejects a missing or invalid EIO version with code 5', async () => {
    for (const query of ['transport=polling', 'EIO=abc&transport=polling', 'EIO=3&transport=polling']) {
      const res = await fetch(eioUrl(query));
      assert.equal(res.status, 400, query);
      assert.deepEqual(await res.json(), { code: 5, message: 'Unsupported protocol version' });
    }
  });

  it('rejects a missing or unknown transport with code 0', async () => {
    for (const query of ['EIO=4', 'EIO=4&transport=abc']) {
      const res = await fetch(eioUrl(query));
      assert.equal(res.status, 400, query);
      assert.deepEqual(await res.json(), { code: 0, message: 'Transport unknown' });
    }
  });

  it('rejects a handshake with a method other than GET with code 2', async () => {
    for (const method of ['POST', 'PUT']) {
      const res = await fetch(eioUrl('EIO=4&transport=polling'), { method, body: '' });
      assert.equal(res.status, 400, method);
      assert.deepEqual(await res.json(), { code: 2, message: 'Bad handshake method' });
    }
  });

  it('closes WebSocket handshakes with bad parameters', async () => {
    for (const query of ['transport=websocket', 'EIO=abc&transport=websocket', 'EIO=4', 'EIO=4&transport=abc']) {
      const ws = openWs('engine.io', query);
      await ws.waitClose();
    }
  });

  it('answers an unknown sid with 400 and code 1', async () => {
    const res = await poll('engine.io', 'does-not-exist');
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { code: 1, message: 'Session ID unknown' });
    const res2 = await push('engine.io', 'does-not-exist', '4x');
    assert.equal(res2.status, 400);
    assert.deepEqual(await res2.json(), { code: 1, message: 'Session ID unknown' });
  });

  it('answers a CORS preflight with 204', async () => {
    const res = await fetch(eioUrl('EIO=4&transport=polling'), {
      method: 'OPTIONS',
      headers: { Origin: 'http://example.com', 'Access-Control-Request-Method': 'POST',
                 'Access-Control-Request-Headers': 'content-type' },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.match(res.headers.get('access-control-allow-methods'), /POST/);
    assert.match(res.headers.get('access-control-allow-headers'), /content-type/i);
  });

  it('sends other paths to the HTTP handler', async () => {
    const res = await fetch(`${base}/elsewhere`);
    assert.equal(res.status, 404);
  });
});

describe('Engine.IO long-polling', () => {
  it('echoes a single text packet', async () => {
    const sid = await openPolling();
    const pushed = await push('engine.io', sid, '4hello');
    assert.equal(pushed.status, 200);
    assert.equal(await pushed.text(), 'ok');
    const polled = await poll('engine.io', sid);
    assert.equal(polled.status, 200);
    assert.equal(await polled.text(), '4hello');
  });

  it('handles payloads of several packets separated by \\x1e', async () => {
    const sid = await openPolling();
    assert.equal(await (await push('engine.io', sid, '4test1\x1e4test2\x1e4test3')).text(), 'ok');
    assert.equal(await (await poll('engine.io', sid)).text(), '4test1\x1e4test2\x1e4test3');
  });

  it('carries binary messages as b + base64', async () => {
    const sid = await openPolling();
    assert.equal(await (await push('engine.io', sid, '4hello\x1ebAQIDBA==')).text(), 'ok');
    assert.equal(await (await poll('engine.io', sid)).text(), '4hello\x1ebAQIDBA==');
  });

  it('holds a poll until there is data', async () => {
    const sid = await openPolling();
    const started = Date.now();
    const pending = poll('engine.io', sid);
    await sleep(50);
    await push('engine.io', sid, '4late');
    const res = await pending;
    assert.equal(await res.text(), '4late');
    assert.ok(Date.now() - started < PING_INTERVAL, 'answered by the message, not by the ping');
  });

  it('closes the session upon an invalid packet', async () => {
    const sid = await openPolling();
    const res = await push('engine.io', sid, 'abc');
    assert.equal(res.status, 400);
    assert.equal((await poll('engine.io', sid)).status, 400);
  });

  it('closes the session upon concurrent polls', async () => {
    const sid = await openPolling();
    const [first, second] = await Promise.all([
      poll('engine.io', sid),
      sleep(20).then(() => poll('engine.io', sid, '&t=burst')),
    ]);
    assert.equal(first.status, 200);
    assert.equal(await first.text(), '1');
    assert.equal(second.status, 400);
    assert.equal((await poll('engine.io', sid)).status, 400);
  });

  it('closes the session when a held poll is cancelled', async () => {
    const sid = await openPolling();
    const controller = new AbortController();
    const cancelled = fetch(`${base}/engine.io/?EIO=4&transport=polling&sid=${sid}`, { signal: controller.signal })
      .catch(() => {});
    await sleep(20);
    controller.abort();
    await cancelled;
    await sleep(20);
    assert.equal((await poll('engine.io', sid)).status, 400);
  });

  it('closes the session when a POST exceeds maxPayload (413)', async () => {
    const sid = await openPolling();
    const res = await push('engine.io', sid, '4' + 'x'.repeat(MAX_PAYLOAD));
    assert.equal(res.status, 413);
    await sleep(20);
    assert.equal((await poll('engine.io', sid)).status, 400);
  });

  it('accepts a POST of exactly maxPayload bytes', async () => {
    const sid = await openPolling();
    const body = '4' + 'y'.repeat(MAX_PAYLOAD - 1);
    const res = await push('engine.io', sid, body);
    assert.equal(res.status, 200);
    assert.equal(await (await poll('engine.io', sid)).text(), body);
  });

  it('forcefully closes the session on a close packet', async () => {
    const sid = await openPolling();
    const pending = poll('engine.io', sid);
    await sleep(20);
    const pushed = await push('engine.io', sid, '1');
    assert.equal(pushed.status, 200);
    const res = await pending;
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '6');
    assert.equal((await poll('engine.io', sid)).status, 400);
  });
});

describe('Engine.IO heartbeat', () => {
  it('pings a polling client every pingInterval and accepts pongs', async () => {
    const sid = await openPolling();
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      const res = await poll('engine.io', sid);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), '2');
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= PING_INTERVAL - 100 && elapsed < PING_INTERVAL + 300, `ping after ${elapsed} ms`);
      assert.equal((await push('engine.io', sid, '3')).status, 200);
    }
  });

  it('closes a polling session that does not answer the ping', async () => {
    const sid = await openPolling();
    await sleep(PING_INTERVAL + PING_TIMEOUT + 50);
    assert.equal((await poll('engine.io', sid)).status, 400);
  });

  it('pings a WebSocket client and accepts pongs', async () => {
    const ws = openWs('engine.io', 'EIO=4&transport=websocket');
    await ws.next(); // handshake
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      assert.equal(await ws.next(), '2');
      assert.ok(Date.now() - started < PING_INTERVAL + 300);
      ws.send('3');
    }
    closeWs(ws);
  });

  it('closes a WebSocket that does not answer the ping', async () => {
    const ws = openWs('engine.io', 'EIO=4&transport=websocket');
    const started = Date.now();
    await ws.waitClose(3000);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= PING_INTERVAL + PING_TIMEOUT - 50, `closed after ${elapsed} ms`);
  });
});

describe('Engine.IO WebSocket', () => {
  it('echoes text and binary messages', async () => {
    const ws = openWs('engine.io', 'EIO=4&transport=websocket', { autoPong: true });
    await ws.next(); // handshake
    ws.send('4hello');
    assert.equal(await ws.next(), '4hello');
    ws.send(Uint8Array.from([1, 2, 3, 4]));
    const echoed = await ws.next();
    assert.ok(Buffer.isBuffer(echoed));
    assert.deepEqual([...echoed], [1, 2, 3, 4]);
    closeWs(ws);
  });

  it('closes upon an invalid packet', async () => {
    const ws = openWs('engine.io', 'EIO=4&transport=websocket');
    await ws.next();
    ws.send('abc');
    await ws.waitClose();
  });

  it('closes upon a close packet', async () => {
    const ws = openWs('engine.io', 'EIO=4&transport=websocket');
    await ws.next();
    ws.send('1');
    await ws.waitClose();
  });

  it('closes a frame larger than maxPayload', async () => {
    const ws = openWs('engine.io', 'EIO=4&transport=websocket', { autoPong: true });
    await ws.next();
    ws.send('4' + 'z'.repeat(MAX_PAYLOAD + 10));
    await ws.waitClose();
  });
});

describe('WebSocket framing (RFC 6455)', () => {
  const { rawPeer, clientFrame } = require('./lib/relay_harness');
  const sioPath = '/socket.io/?EIO=4&transport=websocket';
  const text = (frame) => frame.payload.toString();

  it('takes frames sent along with the upgrade request', async () => {
    const peer = await rawPeer({ port: server.port }, { urlPath: sioPath, pipelined: clientFrame(0x81, '40') });
    const open = await peer.waitFrame((f) => text(f).startsWith('0{'));
    assert.equal(open.opcode, 1);
    await peer.waitFrame((f) => text(f).startsWith('40{"sid":'), 2000, 'namespace joined');
    peer.socket.destroy();
  });

  it('reassembles fragmented messages and answers pings between fragments', async () => {
    const peer = await rawPeer({ port: server.port }, { urlPath: sioPath });
    await peer.waitFrame((f) => text(f).startsWith('0{'));
    peer.write(clientFrame(0x81, '40'));
    await peer.waitFrame((f) => text(f).startsWith('40{'));
    const message = Buffer.from('42["message","caf\u00e9 in three pieces"]');
    const cut = message.indexOf(Buffer.from('\u00e9')) + 1;  // inside the two-byte "é"
    peer.write(clientFrame(0x01, message.subarray(0, cut)));
    peer.write(clientFrame(0x89, 'ping data'));
    peer.write(clientFrame(0x00, message.subarray(cut, cut + 5)));
    peer.write(clientFrame(0x80, message.subarray(cut + 5)));
    const pong = await peer.waitFrame((f) => f.opcode === 0xA);
    assert.equal(text(pong), 'ping data');
    const back = await peer.waitFrame((f) => text(f).startsWith('42["message-back"'));
    assert.equal(text(back), '42["message-back","caf\u00e9 in three pieces"]');
    peer.write(clientFrame(0x88, Buffer.from([0x03, 0xe8])));
    assert.equal(await peer.closeCode(), 1000);
    await peer.ended;
  });

  it('closes on protocol violations with the code RFC 6455 names', async () => {
    for (const [what, bytes, code] of [
      ['an unmasked frame', clientFrame(0x81, '40', { mask: false }), 1002],
      ['text that is not UTF-8', clientFrame(0x81, Buffer.from([0x34, 0x32, 0xff])), 1007],
      ['a fragmented ping', clientFrame(0x09, 'x'), 1002],
      ['a message above maxPayload in fragments',
       Buffer.concat([clientFrame(0x01, 'x'.repeat(MAX_PAYLOAD - 10)), clientFrame(0x80, 'y'.repeat(20))]),
       1009],
    ]) {
      const peer = await rawPeer({ port: server.port }, { urlPath: sioPath });
      await peer.waitFrame((f) => text(f).startsWith('0{'));
      peer.write(bytes);
      assert.equal(await peer.closeCode(), code, what);
      await withTimeout(peer.ended, 5000, `${what}: the server closes the socket`);
    }
  });
});

describe('Engine.IO upgrade', () => {
  it('upgrades from polling: 2probe → 3probe, held poll → 6, then 5', async () => {
    const sid = await openPolling();
    const held = poll('engine.io', sid);
    await sleep(20);
    const ws = openWs('engine.io', `EIO=4&transport=websocket&sid=${sid}`, { autoPong: true });
    await ws.opened;
    ws.send('2probe');
    assert.equal(await ws.next(), '3probe');
    const res = await held;
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '6');
    ws.send('5');
    ws.send('4hello');
    assert.equal(await ws.next(), '4hello');
    closeWs(ws);
  });

  it('answers a poll after the probe with a noop', async () => {
    const sid = await openPolling();
    const ws = openWs('engine.io', `EIO=4&transport=websocket&sid=${sid}`, { autoPong: true });
    await ws.opened;
    ws.send('2probe');
    assert.equal(await ws.next(), '3probe');
    const res = await poll('engine.io', sid);
    assert.equal(await res.text(), '6');
    ws.send('5');
    ws.send('4after');
    assert.equal(await ws.next(), '4after');
    closeWs(ws);
  });

  it('delivers messages queued during the upgrade over the WebSocket', async () => {
    const sid = await openPolling();
    const ws = openWs('engine.io', `EIO=4&transport=websocket&sid=${sid}`, { autoPong: true });
    await ws.opened;
    ws.send('2probe');
    assert.equal(await ws.next(), '3probe');
    await push('engine.io', sid, '4queued');  // echo is queued for the polling transport
    ws.send('5');
    assert.equal(await ws.next(), '4queued');
    closeWs(ws);
  });

  it('rejects polling requests with the sid after the upgrade', async () => {
    const sid = await openPolling();
    const ws = openWs('engine.io', `EIO=4&transport=websocket&sid=${sid}`, { autoPong: true });
    await ws.opened;
    ws.send('2probe');
    assert.equal(await ws.next(), '3probe');
    ws.send('5');
    await sleep(20);
    const res = await poll('engine.io', sid);
    assert.equal(res.status, 400);
    assert.equal((await res.json()).code, 3);
    ws.send('4hello');
    assert.equal(await ws.next(), '4hello');
    closeWs(ws);
  });

  // As the reference server (engine.io 6, socket.io 4.8) does: the second WebSocket's handshake
  // completes, then the server closes it with a close frame without a status (1005 here); the
  // session and its first WebSocket carry on.
  it('opens, then closes, a second WebSocket with the sid after the upgrade', async () => {
    const sid = await openPolling();
    const ws = openWs('engine.io', `EIO=4&transport=websocket&sid=${sid}`, { autoPong: true });
    await ws.opened;
    ws.send('2probe');
    ws.send('5');
    assert.equal(await ws.next(), '3probe');
    const ws2 = openWs('engine.io', `EIO=4&transport=websocket&sid=${sid}`);
    await withTimeout(ws2.opened, 3000, 'the second WebSocket opens');
    assert.equal(await ws2.waitClose(), 1005);
    ws.send('4still');
    assert.equal(await ws.next(), '4still');
    closeWs(ws);
  });

  it('opens, then closes, a second WebSocket with the sid while an upgrade is under way', async () => {
    const sid = await openPolling();
    const ws = openWs('engine.io', `EIO=4&transport=websocket&sid=${sid}`, { autoPong: true });
    await ws.opened;
    ws.send('2probe');
    assert.equal(await ws.next(), '3probe');
    const ws2 = openWs('engine.io', `EIO=4&transport=websocket&sid=${sid}`);
    await withTimeout(ws2.opened, 3000, 'the second WebSocket opens');
    assert.equal(await ws2.waitClose(), 1005);
    ws.send('5');  // the first upgrade completes as if nothing happened
    ws.send('4still');
    assert.equal(await ws.next(), '4still');
    closeWs(ws);
  });

  it('rejects an upgrade for an unknown sid', async () => {
    const ws = openWs('engine.io', 'EIO=4&transport=websocket&sid=unknown');
    await ws.waitClose();
  });
});

// ---- Socket.IO ----------------------------------------------------------------------------------

describe('Socket.IO connect', () => {
  it('connects to the main namespace and emits auth {}', async () => {
    const ws = openWs('socket.io', 'EIO=4&transport=websocket', { autoPong: true });
    await ws.next();
    ws.send('40');
    const data = await ws.next();
    assert.equal(data.substring(0, 2), '40');
    const handshake = JSON.parse(data.substring(2));
    assert.deepEqual(Object.keys(handshake), ['sid']);
    assert.equal(typeof handshake.sid, 'string');
    assert.equal(await ws.next(), '42["auth",{}]');
    closeWs(ws);
  });

  it('passes the CONNECT payload to auth', async () => {
    const ws = openWs('socket.io', 'EIO=4&transport=websocket', { autoPong: true });
    await ws.next();
    ws.send('40{"token":"123"}');
    assert.equal((await ws.next()).substring(0, 2), '40');
    assert.equal(await ws.next(), '42["auth",{"token":"123"}]');
    closeWs(ws);
  });

  it('connects to a custom namespace, with and without payload', async () => {
    const ws = openWs('socket.io', 'EIO=4&transport=websocket', { autoPong: true });
    await ws.next();
    ws.send('40/custom,');
    const data = await ws.next();
    assert.equal(data.substring(0, 10), '40/custom,');
    assert.deepEqual(Object.keys(JSON.parse(data.substring(10))), ['sid']);
    assert.equal(await ws.next(), '42/custom,["auth",{}]');
    closeWs(ws);

    const ws2 = openWs('socket.io', 'EIO=4&transport=websocket', { autoPong: true });
    await ws2.next();
    ws2.send('40/custom,{"token":"abc"}');
    assert.equal((await ws2.next()).substring(0, 10), '40/custom,');
    assert.equal(await ws2.next(), '42/custom,["auth",{"token":"abc"}]');
    closeWs(ws2);
  });

  it('refuses an unknown namespace with CONNECT_ERROR', async () => {
    const ws = openWs('socket.io', 'EIO=4&transport=websocket', { autoPong: true });
    await ws.next();
    ws.send('40/random');
    assert.equal(await ws.next(), '44/random,{"message":"Invalid namespace"}');
    closeWs(ws);
  });

  it('closes the connection upon an invalid handshake', async () => {
    const ws = openWs('socket.io', 'EIO=4&transport=websocket', { autoPong: true });
    await ws.next();
    ws.send('4abc');
    await ws.waitClose();
  });

  it('closes an Engine.IO connection that never joins a namespace (connect timeout)', async () => {
    const ws = openWs('socket.io', 'EIO=4&transport=websocket', { autoPong: true });
    await ws.next();
    const started = Date.now();
    await ws.waitClose(3000);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 800, `closed after ${elapsed} ms`);
  });

  it('connects over long-polling', async () => {
    const sid = await openPolling('socket.io');
    assert.equal(await (await push('socket.io', sid, '40{"via":"polling"}')).text(), 'ok');
    let received = '';
    while (!received.includes('42["auth"')) {
      const res = await poll('socket.io', sid);
      assert.equal(res.status, 200);
      const text = await res.text();
      if (text === '2') {
        await push('socket.io', sid, '3');
        continue;
      }
      received += (received ? '\x1e' : '') + text;
    }
    const records = received.split('\x1e');
    assert.ok(records[0].startsWith('40{"sid":'), records[0]);
    assert.equal(records[1], '42["auth",{"via":"polling"}]');
  });
});

describe('Socket.IO disconnect', () => {
  it('keeps the connection after a DISCONNECT from the main namespace', async () => {
    const ws = openWs('socket.io', 'EIO=4&transport=websocket');
    await ws.next();
    ws.send('40');
    await ws.next();
    await ws.next();
    ws.send('41');
    assert.equal(await ws.next(), '2');  // the Engine.IO connection is still alive
    closeWs(ws);
  });

  it('leaves a custom namespace and keeps the main one', async () => {
    const ws = await sioWebSocket();
    ws.send('40/custom');
    await ws.nextData();
    await ws.nextData();
    ws.send('41/custom');
    ws.send('42["message","message to main namespace",1,2]');
    assert.equal(await ws.nextData(), '42["message-back","message to main namespace",1,2]');
    closeWs(ws);
  });
});

describe('Socket.IO messages', () => {
  it('echoes a plain-text event as message-back', async () => {
    const ws = await sioWebSocket();
    ws.send('42["message",1,"2",{"3":[true]}]');
    assert.equal(await ws.nextData(), '42["message-back",1,"2",{"3":[true]}]');
    closeWs(ws);
  });

  it('echoes an event with binary attachments', async () => {
    const ws = await sioWebSocket();
    ws.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
    ws.send(Uint8Array.from([1, 2, 3]));
    ws.send(Uint8Array.from([4, 5, 6]));
    assert.equal(await ws.nextData(), '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
    assert.deepEqual([...(await ws.nextData())], [1, 2, 3]);
    assert.deepEqual([...(await ws.nextData())], [4, 5, 6]);
    closeWs(ws);
  });

  it('acknowledges message-with-ack with the same arguments', async () => {
    const ws = await sioWebSocket();
    ws.send('42456["message-with-ack",1,"2",{"3":[false]}]');
    assert.equal(await ws.nextData(), '43456[1,"2",{"3":[false]}]');
    closeWs(ws);
  });

  it('acknowledges with binary attachments', async () => {
    const ws = await sioWebSocket();
    ws.send('452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
    ws.send(Uint8Array.from([1, 2, 3]));
    ws.send(Uint8Array.from([4, 5, 6]));
    assert.equal(await ws.nextData(), '462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
    assert.deepEqual([...(await ws.nextData())], [1, 2, 3]);
    assert.deepEqual([...(await ws.nextData())], [4, 5, 6]);
    closeWs(ws);
  });

  it('emits with an ack request and relays the client ack', async () => {
    const ws = await sioWebSocket();
    ws.send('42["emit-with-ack",1,"2",{"3":[true]}]');
    assert.equal(await ws.nextData(), '421["emit-with-ack",1,"2",{"3":[true]}]');
    ws.send('431[1,"2",{"3":[true]}]');
    assert.equal(await ws.nextData(), '42["emit-with-ack",1,"2",{"3":[true]}]');
    closeWs(ws);
  });

  it('emits with a binary ack request and relays the binary ack', async () => {
    const ws = await sioWebSocket();
    const DATA = '{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},"test"';
    ws.send(`452-["emit-with-ack",${DATA}]`);
    ws.send(Uint8Array.from([1, 2, 3]));
    ws.send(Uint8Array.from([4, 5, 6]));
    assert.equal(await ws.nextData(), `452-1["emit-with-ack",${DATA}]`);
    assert.deepEqual([...(await ws.nextData())], [1, 2, 3]);
    assert.deepEqual([...(await ws.nextData())], [4, 5, 6]);
    ws.send(`462-1[${DATA}]`);
    ws.send(Uint8Array.from([1, 2, 3]));
    ws.send(Uint8Array.from([4, 5, 6]));
    assert.equal(await ws.nextData(), `452-["emit-with-ack",${DATA}]`);
    assert.deepEqual([...(await ws.nextData())], [1, 2, 3]);
    assert.deepEqual([...(await ws.nextData())], [4, 5, 6]);
    closeWs(ws);
  });

  it('works on a custom namespace', async () => {
    const ws = await sioWebSocket('/custom,');
    ws.send('42/custom,["message",{"a":1}]');
    assert.equal(await ws.nextData(), '42/custom,["message-back",{"a":1}]');
    closeWs(ws);
  });

  for (const [what, packet] of [
    ['unknown packet type', '4abc'],
    ['invalid payload format', '42{}'],
    ['invalid ack id', '42abc["message-with-ack",1,"2",{"3":[false]}]'],
    ['reserved event name', '42["disconnect"]'],
    ['unexpected binary frame', null],
    ['placeholder beyond the attachments', '451-["message",{"_placeholder":true,"num":1}]'],
  ]) {
    it(`closes the connection upon invalid format (${what})`, async () => {
      const ws = await sioWebSocket();
      if (packet === null) ws.send(Uint8Array.from([9, 9]));
      else ws.send(packet);
      await ws.waitClose();
    });
  }
});

describe('Socket.IO slow readers', () => {
  // The server lets a connection's backlog stay above max_buffered_bytes (4 MiB by default) for
  // 5 s at most, and never lets it pass four times that.
  // Its own server with a 30 s ping timeout: these tests are about the backlog limit, and on a slow
  // (sanitizer) build a 200 ms heartbeat can end the session before the backlog overflows.
  let slowReaderServer;
  before(async () => {
    slowReaderServer = await startServer(['--ping-timeout', '30000']);
    useServer(slowReaderServer);
  });
  after(() => {
    stopServer(slowReaderServer);
    useServer(conformanceServer);
  });
  const countOverflows = () => (serverLog().match(/: buffer overflow/g) || []).length;

  it('drops a WebSocket client that never reads', async () => {
    const before = countOverflows();
    const ws = await sioWebSocket();
    ws._socket.pause();  // stop reading: the echoes pile up on the server
    // Binary attachments are echoed without parsing big JSON, so the queue outgrows the kernel
    // socket buffers well before the (unanswerable) heartbeat would end the connection.
    const attachment = Buffer.alloc(900000, 7);
    for (let i = 0; i < 30; i++) {
      ws.send('451-["message",{"_placeholder":true,"num":0}]');
      ws.send(attachment);
    }
    await waitUntil(() => countOverflows() > before, 10000, 'buffer overflow disconnect');
    ws._socket.resume();
    await ws.waitClose();
  });

  it('drops a polling client that never polls', async () => {
    const before = countOverflows();
    const sid = await openPolling('socket.io');
    await push('socket.io', sid, '40');
    // Each POST also carries a pong, so the heartbeat cannot end the session first.
    const payload = `3\x1e42["message","${'p'.repeat(900000)}"]`;
    for (let i = 0; i < 30; i++) {  // 27 MB: past four times the limit
      const res = await push('socket.io', sid, payload);
      if (res.status !== 200) break;
    }
    await waitUntil(() => countOverflows() > before, 10000, 'buffer overflow disconnect');
    assert.equal((await poll('socket.io', sid)).status, 400);
  });
});

describe('Garbage input', () => {
  // Deterministic pseudo-random bytes, biased towards protocol characters.
  let seed = 12345;
  const rand = (n) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const alphabet = '0123456789-/,[]{}":_bnptrue\x1e';
  const garbage = () => {
    const len = rand(40);
    let out = rand(2) ? '4' : '';
    for (let i = 0; i < len; i++) out += rand(4) ? alphabet[rand(alphabet.length)] : String.fromCharCode(rand(256));
    return out;
  };

  it('survives random packets over WebSocket and polling and keeps serving', async () => {
    for (let round = 0; round < 40; round++) {
      const ws = openWs('socket.io', 'EIO=4&transport=websocket', { autoPong: true });
      await ws.next();
      if (rand(2)) ws.send('40');
      for (let i = 0; i < 5; i++) {
        if (rand(5) === 0) ws.send(Buffer.from(garbage(), 'latin1'));
        else ws.send(garbage());
      }
      await sleep(5);
      closeWs(ws);

      const sid = await openPolling(rand(2) ? 'socket.io' : 'engine.io');
      const endpoint = rand(2) ? 'socket.io' : 'engine.io';
      const res = await push(endpoint, sid, Array.from({ length: 1 + rand(3) }, garbage).join('\x1e'));
      assert.ok([200, 400].includes(res.status), `status ${res.status}`);
      await res.arrayBuffer();
    }
    // Malformed HTTP on a raw TCP connection.
    await new Promise((resolve) => {
      const sock = net.connect(server.port, '127.0.0.1', () => {
        sock.write('GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n');
      });
      sock.on('data', () => {});
      sock.on('error', resolve);
      sock.on('close', resolve);
    });
    // Still healthy.
    const ws = await sioWebSocket();
    ws.send('42["message","alive"]');
    assert.equal(await ws.nextData(), '42["message-back","alive"]');
    closeWs(ws);
  });
});

// ---- socket.io-client -----------------------------------------------------------------------------

function clientTest(name, options) {
  describe(`socket.io-client over ${name}`, () => {
    let socket;
    after(() => socket && socket.disconnect());

    it('connects with auth, emits, acks and receives binary', async () => {
      socket = io(base, { ...options, auth: { token: 'xyz' }, reconnection: false, forceNew: true });
      const auth = await withTimeout(new Promise((resolve, reject) => {
        socket.once('auth', resolve);
        socket.once('connect_error', reject);
      }), 5000, 'auth event');
      assert.deepEqual(auth, { token: 'xyz' });
      assert.ok(socket.connected);

      const back = new Promise((resolve) => socket.once('message-back', (...args) => resolve(args)));
      socket.emit('message', 1, '2', { 3: [true] });
      assert.deepEqual(await withTimeout(back, 3000, 'message-back'), [1, '2', { 3: [true] }]);

      const acked = await withTimeout(socket.emitWithAck('message-with-ack', 'a', { b: 2 }), 3000, 'ack');
      assert.equal(acked, 'a');

      const binaryBack = new Promise((resolve) => socket.once('message-back', (...args) => resolve(args)));
      socket.emit('message', Buffer.from([1, 2, 3]), { nested: Buffer.from([4, 5]) });
      const [bin, nested] = await withTimeout(binaryBack, 3000, 'binary message-back');
      assert.deepEqual([...bin], [1, 2, 3]);
      assert.deepEqual([...nested.nested], [4, 5]);

      // Server-initiated ack: the client answers, the server emits the answer back.
      const relayed = new Promise((resolve) => {
        let first = true;
        const listener = (...args) => {
          if (first) {
            first = false;
            const ack = args.pop();
            assert.equal(typeof ack, 'function');
            ack('reply', 7);
          } else {
            socket.off('emit-with-ack', listener);
            resolve(args);
          }
        };
        socket.on('emit-with-ack', listener);
      });
      socket.emit('emit-with-ack', 'question');
      assert.deepEqual(await withTimeout(relayed, 3000, 'relayed ack'), ['reply', 7]);

      // Survives several heartbeats (pingInterval 300 ms).
      await sleep(1000);
      assert.ok(socket.connected);
      const later = await withTimeout(socket.emitWithAck('message-with-ack', 'still'), 3000, 'ack after heartbeats');
      assert.equal(later, 'still');
      return socket;
    });

    it('reaches a custom namespace and is refused an unknown one', async () => {
      const custom = io(`${base}/custom`, { ...options, reconnection: false, forceNew: true });
      try {
        const auth = await withTimeout(new Promise((resolve, reject) => {
          custom.once('auth', resolve);
          custom.once('connect_error', reject);
        }), 5000, 'custom auth');
        assert.deepEqual(auth, {});
      } finally {
        custom.disconnect();
      }
      const unknown = io(`${base}/nope`, { ...options, reconnection: false, forceNew: true });
      try {
        const err = await withTimeout(new Promise((resolve) => unknown.once('connect_error', resolve)),
                                      5000, 'connect_error');
        assert.equal(err.message, 'Invalid namespace');
      } finally {
        unknown.disconnect();
      }
    });
  });
}

clientTest('websocket only', { transports: ['websocket'] });
clientTest('polling only', { transports: ['polling'] });

describe('socket.io-client polling → websocket upgrade', () => {
  it('upgrades and keeps working', async () => {
    const socket = io(base, { reconnection: false, forceNew: true });
    try {
      await withTimeout(new Promise((resolve, reject) => {
        socket.once('auth', resolve);
        socket.once('connect_error', reject);
      }), 5000, 'auth');
      const engine = socket.io.engine;
      if (engine.transport.name !== 'websocket') {
        await withTimeout(new Promise((resolve) => engine.once('upgrade', resolve)), 5000, 'upgrade');
      }
      assert.equal(engine.transport.name, 'websocket');
      const back = new Promise((resolve) => socket.once('message-back', (...args) => resolve(args)));
      socket.emit('message', 'after upgrade', Buffer.from([7]));
      const [text, bin] = await withTimeout(back, 3000, 'message-back');
      assert.equal(text, 'after upgrade');
      assert.deepEqual([...bin], [7]);
      assert.equal(await withTimeout(socket.emitWithAck('message-with-ack', 42), 3000, 'ack'), 42);
    } finally {
      socket.disconnect();
    }
  });
});
