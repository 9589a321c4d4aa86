'use strict';
// Starts real gsio-relay processes on 127.0.0.1 and connects raw `ws` clients to them as nodes.
// Everything started here is stopped by cleanup().
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const WebSocket = require('ws');

const buildDir = process.env.GSIO_BUILD_DIR || path.resolve(__dirname, '../../../build');
const relayBinary = path.join(buildDir, 'src/bin/gsio-relay');

const started = new Set();
const peers = new Set();

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Polls `check` (sync or async) until it returns a truthy value, which is returned.
async function waitUntil(check, ms = 5000, what = 'condition') {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

// Resolves once the relay logs its ready line; rejects if it exits first.
function startRelay({ args = [], readyTimeout = 15000 } = {}) {
  const proc = spawn(relayBinary, ['--host', '127.0.0.1', '--port', '0', ...args],
                     { stdio: ['ignore', 'pipe', 'pipe'] });
  const relay = { proc, pid: proc.pid, log: '', port: 0, wsUrl: '', httpUrl: '', exited: null };
  started.add(relay);
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
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
  const peer = { ws, messages: [], waiters: new Set(), id: null };
  peers.add(peer);
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
  peer.announce = (id) => {
    peer.id = id;
    return peer.send(envelope('NodeAnnounce', id, '', { tip_height: 0 }));
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

module.exports = {
  buildDir, relayBinary, startRelay, connectPeer, announcedPeer, envelope, getJson, stats, health,
  rssKiB, waitUntil, withTimeout, sleep, cleanup,
};
