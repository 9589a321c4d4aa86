'use strict';
// Starts real gsio-relay processes on 127.0.0.1 and connects raw `ws` clients to them as nodes.
// Everything started here is stopped by cleanup().
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const WebSocket = require('ws');
const { withTimeout, waitUntil } = require('./harness');

const buildDir = process.env.GSIO_BUILD_DIR || path.resolve(__dirname, '../../../build');
const relayBinary = path.join(buildDir, 'src/bin/gsio-relay');

const started = new Set();
const peers = new Set();

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Resolves once the relay logs its ready line; rejects if it exits first.
function startRelay({ args = [], readyTimeout = 15000 } = {}) {
  const proc = spawn(relayBinary, ['--host', '127.0.0.1', '--port', '0', ...args],
                     { stdio: ['ignore', 'pipe', 'pipe'] });
  const relay = { proc, pid: proc.pid, log: '', port: 0, wsUrl: '', httpUrl: '', exited: null };
  started.add(relay);
  const exited = new Promise((resolve) => {
    proc.on('close', (code, signal) => {
      relay.exited = { code, signal };
      started.delete(relay);
      resolve(relay.exited);
    });
  });
  relay.waitExit = (ms = 15000) => withTimeout(exited, ms, 'gsio-relay exit');
  const ready = new Promise((resolve, reject) => {
    const onData = (chunk) => {
      relay.log += chunk.toString();
      const m = /gsio-relay ready on ws:\/\/([^:\s]+):(\d+)/.exec(relay.log);
      if (m && !relay.port) {
        relay.port = Number(m[2]);
        relay.wsUrl = `ws://127.0.0.1:${relay.port}`;
        relay.httpUrl = `http://127.0.0.1:${relay.port}`;
        resolve(relay);
      }
    };
    proc.stderr.on('data', onData);
    proc.stdout.on('data', onData);
    exited.then(({ code, signal }) =>
      reject(new Error(`gsio-relay exited (code ${code}, signal ${signal}) before it was ready:\n${relay.log}`)));
  });
  relay.stop = async (signal = 'SIGTERM') => {
    if (relay.exited) return relay.exited;
    proc.kill(signal);
    return relay.waitExit();
  };
  return withTimeout(ready, readyTimeout, 'gsio-relay start');
}

async function getJson(relay, urlPath) {
  const res = await fetch(relay.httpUrl + urlPath);
  return { status: res.status, contentType: res.headers.get('content-type'), body: await res.json() };
}

const stats = async (relay) => (await getJson(relay, '/stats')).body;
const health = async (relay) => (await getJson(relay, '/health')).body;

function rssKiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
}

function envelope(type, senderId, recipientId = '', payload = {}) {
  return {
    message_type: type,
    message_id: crypto.randomBytes(16).toString('hex'),
    sender_id: senderId,
    recipient_id: recipientId,
    payload,
  };
}

// A raw WebSocket client playing a node. Every text frame it receives is parsed and kept in
// `messages` (frames that are not JSON are kept as {raw}).
function connectPeer(relay, { urlPath = '/', headers = {}, timeout = 5000 } = {}) {
  const ws = new WebSocket(relay.wsUrl + urlPath, { headers, perMessageDeflate: false });
  const peer = { ws, messages: [], waiters: new Set(), id: null, challenge: null };
  peers.add(peer);
  ws.once('upgrade', (res) => { peer.challenge = res.headers['x-gsio-challenge'] ?? null; });
  peer.closed = new Promise((resolve) => {
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  ws.on('error', () => {});  // the close event reports what matters
  ws.on('message', (data, isBinary) => {
    let message;
    try { message = JSON.parse(data.toString()); } catch { message = { raw: data.toString(), isBinary }; }
    peer.messages.push(message);
    for (const waiter of peer.waiters) waiter();
  });
  // Resolves with the first received message matching `predicate`.
  peer.waitFor = (predicate, ms = 5000, what = 'message') => {
    const found = peer.messages.find(predicate);
    if (found) return Promise.resolve(found);
    let waiter;
    return withTimeout(new Promise((resolve) => {
      waiter = () => {
        const match = peer.messages.find(predicate);
        if (match) resolve(match);
      };
      peer.waiters.add(waiter);
    }), ms, what).finally(() => peer.waiters.delete(waiter));
  };
  peer.hasSeen = (messageId) => peer.messages.some((m) => m.message_id === messageId);
  peer.send = (message) => {
    const text = typeof message === 'string' ? message : JSON.stringify(message);
    return new Promise((resolve, reject) => ws.send(text, (err) => (err ? reject(err) : resolve(message))));
  };
  peer.announce = (id, extra = {}) => {
    peer.id = id;
    return peer.send(envelope('NodeAnnounce', id, '', { tip_height: 0, ...extra }));
  };
  peer.close = () => { if (ws.readyState === WebSocket.OPEN) ws.close(1000); return peer.closed; };
  return withTimeout(new Promise((resolve, reject) => {
    ws.once('open', () => resolve(peer));
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => {
        const err = new Error(`upgrade refused with HTTP ${res.statusCode}`);
        err.statusCode = res.statusCode;
        err.body = body;
        reject(err);
      });
    });
    ws.once('error', reject);
  }), timeout, `connect ${relay.wsUrl}${urlPath}`);
}

// Connects a peer, announces `id` and waits until the relay has registered it (the relay reports
// the id in /stats), so later messages from others are sure to be routed to it.
async function announcedPeer(relay, id, options) {
  const peer = await connectPeer(relay, options);
  await peer.announce(id);
  await waitUntil(async () => (await stats(relay)).nodes.includes(id), 5000, `node ${id} registered`);
  return peer;
}

async function cleanup() {
  for (const peer of peers) {
    if (peer.ws._socket) peer.ws._socket.resume();
    peer.ws.terminate();
  }
  peers.clear();
  await Promise.all([...started].map((r) => r.stop('SIGKILL').catch(() => {})));
}


// A WebSocket client on a bare TCP socket, for what a WebSocket library will not send: unmasked
// or malformed frames, fragments, a first frame sent together with the upgrade request, and a
// client that never answers pings (`relay` may be any server: only its port is used). `frames` collects the server's frames as {opcode, fin, payload}.
function rawPeer(relay, { pipelined = Buffer.alloc(0), timeout = 5000, urlPath = '/' } = {}) {
  const socket = net.connect(relay.port, '127.0.0.1');
  peers.add({ ws: { terminate: () => socket.destroy() } });
  const peer = { socket, frames: [], waiters: new Set() };
  let buffer = Buffer.alloc(0);
  let upgraded = false;
  peer.ended = new Promise((resolve) => socket.on('close', resolve));
  socket.on('error', () => {});
  const opened = new Promise((resolve, reject) => {
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!upgraded) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffer.subarray(0, end).toString();
        buffer = buffer.subarray(end + 4);
        if (!head.startsWith('HTTP/1.1 101')) return reject(new Error(`upgrade refused: ${head}`));
        upgraded = true;
        resolve(peer);
      }
      while (buffer.length >= 2) {
        let length = buffer[1] & 0x7f;
        let offset = 2;
        if (length === 126) { if (buffer.length < 4) return; length = buffer.readUInt16BE(2); offset = 4; }
        else if (length === 127) { if (buffer.length < 10) return; length = Number(buffer.readBigUInt64BE(2)); offset = 10; }
        if (buffer.length < offset + length) return;
        peer.frames.push({ opcode: buffer[0] & 0x0f, fin: (buffer[0] & 0x80) !== 0,
                           payload: buffer.subarray(offset, offset + length) });
        buffer = buffer.subarray(offset + length);
        for (const waiter of peer.waiters) waiter();
      }
    });
  });
  const key = crypto.randomBytes(16).toString('base64');
  socket.write(Buffer.concat([Buffer.from(
    `GET ${urlPath} HTTP/1.1\r\nHost: 127.0.0.1:${relay.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`), pipelined]));
  peer.waitFrame = (predicate, ms = 5000, what = 'frame') => withTimeout(new Promise((resolve) => {
    const check = () => {
      const found = peer.frames.find(predicate);
      if (found) { peer.waiters.delete(check); resolve(found); }
    };
    peer.waiters.add(check);
    check();
  }), ms, what);
  // The close code of the server's close frame (null when it sent none).
  peer.closeCode = async (ms = 5000) => {
    const frame = await peer.waitFrame((f) => f.opcode === 8, ms, 'close frame');
    return frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : null;
  };
  peer.write = (bytes) => socket.write(bytes);
  return withTimeout(opened, timeout, 'raw WebSocket upgrade');
}

// One client frame: masked unless `mask` is false. `first` is the first header byte (FIN, RSV,
// opcode), e.g. 0x81 for a final text frame.
function clientFrame(first, payload, { mask = true } = {}) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const length = data.length;
  const header = length < 126 ? Buffer.from([first, length])
    : length < 65536 ? Buffer.from([first, 126, length >> 8, length & 0xff])
      : (() => { const h = Buffer.alloc(10); h[0] = first; h[1] = 127; h.writeBigUInt64BE(BigInt(length), 2); return h; })();
  if (!mask) return Buffer.concat([header, data]);
  header[1] |= 0x80;
  const key = crypto.randomBytes(4);
  const masked = Buffer.alloc(length);
  for (let i = 0; i < length; i++) masked[i] = data[i] ^ key[i % 4];
  return Buffer.concat([header, key, masked]);
}

module.exports = {
  buildDir, relayBinary, startRelay, connectPeer, announcedPeer, envelope, getJson, stats, health,
  rssKiB, waitUntil, withTimeout, sleep, cleanup, rawPeer, clientFrame,
};
