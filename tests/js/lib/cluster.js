'use strict';
// Multi-node helpers on top of harness.js: a relay, nodes joined to it, a TCP proxy that can cut
// one node's link, and convergence checks. Everything started here is stopped by cleanup().
const net = require('node:net');
const path = require('node:path');
const h = require('./harness');

const relayBinary = path.join(h.buildDir, 'src/bin/gsio-relay');
const proxies = new Set();

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// How often test nodes announce their tip: short, so convergence is quick.
const ANNOUNCE_MS = 300;

// Starts gsio-relay; `port` 0 picks a free one (pass the old port to restart "the same" relay).
async function startRelay({ port = 0, args = [] } = {}) {
  const relay = await h.startProcess(relayBinary,
    ['--host', '127.0.0.1', '--port', String(port), ...args],
    { name: 'gsio-relay', readyPattern: /gsio-relay ready on ws:\/\/127\.0\.0\.1:(\d+)/ });
  relay.url = `ws://127.0.0.1:${relay.port}`;
  relay.wsUrl = relay.url;  // as relay_harness.js names it, so its raw peers can join this relay too
  relay.httpUrl = `http://127.0.0.1:${relay.port}`;
  return relay;
}

async function relayStats(relay) {
  return (await fetch(`${relay.httpUrl}/stats`)).json();
}

// A TCP forwarder in front of `target` (host:port). cut() drops every connection and refuses new
// ones until heal(): to the node behind it, the relay link simply breaks.
async function startProxy(targetPort) {
  const sockets = new Set();
  let open = true;
  const server = net.createServer((client) => {
    if (!open) return client.destroy();
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const done = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy = {
    port: server.address().port,
    url: `ws://127.0.0.1:${server.address().port}`,
    cut() { open = false; for (const s of sockets) s.destroy(); sockets.clear(); },
    heal() { open = true; },
    close() { proxy.cut(); server.close(); },
  };
  proxies.add(proxy);
  return proxy;
}

// A node joined to `relayUrl` (or peered with `peer`), announcing every ANNOUNCE_MS.
function startNetNode({ relayUrl, peer, dataDir, args = [] } = {}) {
  const extra = ['--announce-interval-ms', String(ANNOUNCE_MS), '--peer-expiry-ms', '5000'];
  if (relayUrl) extra.push('--relay', relayUrl);
  if (peer) extra.push('--peer', peer);
  return h.startNode({ dataDir, args: [...extra, ...args] });
}

async function nodeInfo(socket) {
  return h.emitAck(socket, 'node_info');
}

// Waits until every socket's node reports the same tip (and at least `minHeight` entries).
// With `acked`, also waits until every acknowledged id is on the common chain: a node may have
// committed adds whose acks were lost (kill -9), so the height can reach acked.size while a
// creator has yet to re-append an orphaned entry (on its next announce tick). At the deadline
// it returns anyway, so that assertAllPresentOnce names what is missing.
async function waitConverged(sockets, { timeout = 60000, minHeight = 0, acked = null } = {}) {
  const deadline = Date.now() + timeout;
  let infos = [];
  let reported = false;
  for (;;) {
    infos = await Promise.all(sockets.map(nodeInfo));
    const tips = new Set(infos.map((i) => i.tip_hash));
    if (tips.size === 1 && infos[0].height >= minHeight) {
      if (!acked || Date.now() > deadline) return infos;
      const ids = new Set((await h.getAll(sockets[0])).map((e) => e.id));
      const missing = [...acked.keys()].filter((id) => !ids.has(id)).length;
      if (missing === 0) return infos;
      if (!reported)
        console.log(`converged at height ${infos[0].height} with ${missing} acknowledged id(s) not yet on the chain`);
      reported = true;
    }
    if (Date.now() > deadline) {
      throw new Error(`no convergence after ${timeout} ms: ${JSON.stringify(infos.map((i) => [i.height, i.tip_hash.slice(0, 8), i.held]))}`);
    }
    await sleep(100);
  }
}

// Adds entries from `clients` concurrently until `perClient` each or stop() is called; every
// acknowledged id goes into `acked`. A client whose node dies stops quietly.
function writers(clients, { perClient = Infinity, acked = new Map(), tag = 'w' } = {}) {
  let stopped = false;
  const done = Promise.all(clients.map(async (s, c) => {
    for (let i = 0; i < perClient && !stopped; i++) {
      const data = { tag, client: c, i };
      const reply = await h.ackOrDisconnect(s, 'add_ledger_entry', data);
      if (reply === null) return;
      if (reply.error !== undefined) throw new Error(`add failed: ${reply.error}`);
      acked.set(reply.id, data);
    }
  }));
  return { acked, done, stop() { stopped = true; return done; } };
}

// Every acknowledged id is on the chain exactly once, with its data.
function assertAllPresentOnce(assert, chain, acked, label) {
  const counts = new Map();
  for (const e of chain) counts.set(e.id, (counts.get(e.id) || 0) + 1);
  const twice = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
  assert.deepEqual(twice, [], `${label}: ids on the chain more than once`);
  const byId = new Map(chain.map((e) => [e.id, e]));
  const missing = [...acked.keys()].filter((id) => !byId.has(id));
  assert.deepEqual(missing, [], `${label}: ${missing.length} of ${acked.size} acknowledged ids missing`);
  for (const [id, data] of acked) assert.deepEqual(byId.get(id).data, data, `${label}: data of ${id}`);
}

async function cleanup() {
  for (const p of proxies) p.close();
  proxies.clear();
  await h.cleanup();
}

module.exports = {
  ANNOUNCE_MS, relayBinary, sleep, startRelay, relayStats, startProxy, startNetNode, nodeInfo, waitConverged,
  writers, assertAllPresentOnce, cleanup,
};
