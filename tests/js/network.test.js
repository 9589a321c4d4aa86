'use strict';
// The node network: real gsio-relay and gsio-node processes on 127.0.0.1, real socket.io-client
// clients. Propagation, catch-up, convergence under concurrent writes, cut links, kill -9 of the
// relay and of a node, direct peering, and forged traffic (P1-P4 of DESIGN §8).
const { describe, it, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const WebSocket = require('ws');
const h = require('./lib/harness');
const c = require('./lib/cluster');
const forge = require('./lib/forge');

afterEach(c.cleanup);

async function cluster(n, relayArgs = []) {
  const relay = await c.startRelay({ args: relayArgs });
  const nodes = [];
  for (let i = 0; i < n; i++) nodes.push(await c.startNetNode({ relayUrl: relay.url }));
  const sockets = await Promise.all(nodes.map((node) => h.connect(node.url)));
  return { relay, nodes, sockets };
}

// Waits until each node's registry lists all the others.
async function waitLinked(sockets, others) {
  await h.waitUntil(async () => {
    const lists = await Promise.all(sockets.map((s) => h.emitAck(s, 'get_known_nodes')));
    return lists.every((l) => l.peers.filter((n) => !n.is_self).length >= others);
  }, 10000, 'nodes to see each other', 50);
}

// Forged traffic travels as envelope text.
const envelope = (...args) => JSON.stringify(forge.envelope(...args));
const { makeKey, signedEntry, announceProof } = forge;

describe('gsio-net network', () => {
  it('propagates an entry from node 1 to a client of node 3 through the relay within a second', async () => {
    const { sockets } = await cluster(3);
    await waitLinked(sockets, 2);
    const latencies = [];
    for (let i = 0; i < 20; i++) {
      const arrived = h.once(sockets[2], 'ledger_entry_added', 1000);
      const t0 = process.hrtime.bigint();
      const entry = await h.emitAck(sockets[0], 'add_ledger_entry', { hop: i });
      const [got] = await arrived;
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      assert.equal(got.id, entry.id);
      assert.equal(got.hash, entry.hash);
    }
    latencies.sort((a, b) => a - b);
    console.log(`add on node 1 -> ledger_entry_added on node 3: median ${latencies[10].toFixed(2)} ms, ` +
                `max ${latencies[19].toFixed(2)} ms (20 entries)`);
    assert.ok(latencies[19] < 1000);
    const lists = await h.emitAck(sockets[2], 'get_known_nodes');
    assert.equal(lists.peers.length, 3);
    assert.deepEqual([...lists.nodes].sort(), lists.peers.map((n) => n.node_id).sort(), 'nodes: the ids of the peers');
    assert.ok(lists.peers.filter((n) => !n.is_self).every((n) => n.link === 'relay'));
  });

  it('nodes prove their ids to the relay, so a relay with --require-proof carries their entries', async () => {
    const { relay, sockets } = await cluster(2, ['--require-proof']);
    await waitLinked(sockets, 1);
    const ids = await Promise.all(sockets.map(async (s) => (await h.emitAck(s, 'node_info')).node_id));
    const stats = await c.relayStats(relay);
    assert.deepEqual(stats.proven_nodes, [...ids].sort());
    assert.equal(stats.disconnects.unproven, 0);
    const arrived = h.once(sockets[1], 'ledger_entry_added', 5000);
    const entry = await h.emitAck(sockets[0], 'add_ledger_entry', { proven: true });
    assert.equal((await arrived)[0].id, entry.id);
  });

  it('a node that joins late fetches exactly what it lacks', async () => {
    const { relay, nodes, sockets } = await cluster(2);
    const first = c.writers(Array.from({ length: 8 }, () => sockets[0]), { perClient: 125 });
    await first.done;
    assert.equal(first.acked.size, 1000);
    await c.waitConverged(sockets, { minHeight: 1000 });

    // Small pages: several are checked and merged while the next ones are on their way.
    const late = await c.startNetNode({ relayUrl: relay.url, args: ['--sync-page-limit', '40'] });
    const lateSocket = await h.connect(late.url);
    const infos = await c.waitConverged([...sockets, lateSocket], { minHeight: 1000 });
    const sync = infos[2].sync;
    console.log(`late joiner: ${sync.entries_received_sync} entries by sync in ${sync.pulls} pull(s), ` +
                `${sync.pages_deferred} page request(s) deferred`);
    assert.equal(sync.entries_received_sync, 1000, 'the whole ledger, once, not once per peer');
    assert.equal(sync.pulls, 1, 'one pull whose pages followed each other without a stall');
    assert.equal(sync.entries_rejected, 0);
    assert.equal(sync.pages_in_process, 0);
    assert.equal(infos[2].entries, 1000);

    // A node that was down for 200 entries gets those 200 only.
    const dataDir = nodes[1].dataDir;
    sockets[1].disconnect();
    await nodes[1].stop('SIGTERM');
    const more = c.writers(Array.from({ length: 4 }, () => sockets[0]), { perClient: 50 });
    await more.done;
    const back = await c.startNetNode({ relayUrl: relay.url, dataDir });
    const backSocket = await h.connect(back.url);
    const after = await c.waitConverged([sockets[0], backSocket, lateSocket], { minHeight: 1200 });
    console.log(`restarted node: ${after[1].sync.entries_received_sync} entries by sync`);
    assert.equal(after[1].sync.entries_received_sync, 200, 'only the missing suffix');
  });

  it('concurrent writers on every node converge with every acknowledged id exactly once', async () => {
    const { sockets, nodes } = await cluster(3);
    await waitLinked(sockets, 2);
    const clients = [];
    for (const node of nodes) for (let i = 0; i < 5; i++) clients.push(await h.connect(node.url));
    const run = c.writers(clients, { perClient: 200 });
    await run.done;
    assert.equal(run.acked.size, 3000);
    const infos = await c.waitConverged(sockets, { minHeight: 3000 });
    console.log(`3 nodes x 5 writers x 200: height ${infos[0].height}, ${infos[0].entries} entries ` +
                `(forks ${infos[0].forks}), re-synced ${infos.map((i) => i.sync.entries_received_sync).join('/')}`);
    for (const [i, s] of sockets.entries()) c.assertAllPresentOnce(assert, await h.getAll(s), run.acked, `node ${i + 1}`);
  });

  it('a node whose relay link is cut keeps writing and converges after the link heals', async () => {
    const relay = await c.startRelay();
    const proxy = await c.startProxy(relay.port);
    const a = await c.startNetNode({ relayUrl: relay.url });
    const b = await c.startNetNode({ relayUrl: relay.url });
    const cut = await c.startNetNode({ relayUrl: proxy.url });
    const sockets = await Promise.all([a, b, cut].map((n) => h.connect(n.url)));
    await waitLinked(sockets, 2);

    const acked = new Map();
    const before = c.writers(sockets, { perClient: 20, acked });
    await before.done;
    // Listening from the cut on: entries of the other nodes that were already on their way can
    // still arrive at the cut node and switch it to their branch right after the cut, taking the
    // cut node's first entries of the isolated phase off its chain before the heal does the rest.
    const reorgs = [];
    sockets[2].on('ledger_reorg', (ev) => reorgs.push(ev));
    proxy.cut();
    // More writes on the connected side, so its branch is the heavier one.
    const during = c.writers([sockets[0], sockets[0], sockets[1], sockets[1], sockets[2]],
                             { perClient: 50, acked, tag: 'during' });
    await during.done;
    const isolated = await c.nodeInfo(sockets[2]);
    const others = await c.nodeInfo(sockets[0]);
    assert.notEqual(isolated.tip_hash, others.tip_hash, 'the cut node diverged while isolated');
    // The cut node's branch is the lighter one: healing switches its clients to the other branch,
    // and the node re-appends its own orphaned entries on top (same ids).
    proxy.heal();
    const infos = await c.waitConverged(sockets, { minHeight: acked.size });
    console.log(`after healing: height ${infos[0].height} for ${acked.size} acknowledged entries, ` +
                `${reorgs.length} ledger_reorg event(s) on the cut node`);
    assert.ok(reorgs.length >= 1, 'the cut node\'s clients saw the branch switch');
    // Every entry the cut node wrote while isolated left its canonical chain, at the switch (or
    // right after the cut, see above). (Other nodes' entries may leave it too: a fork between them
    // that was still open at the cut.)
    const cutNodeId = isolated.node_id;
    const removed = new Set(reorgs.flatMap((r) => r.removed));
    const writtenWhileCut = [...acked].filter(([, d]) => d.tag === 'during' && d.client === 4)
      .map(([id]) => id);
    assert.equal(writtenWhileCut.length, 50);
    for (const id of writtenWhileCut) {
      assert.ok(id.startsWith(cutNodeId));
      assert.ok(removed.has(id), `${id}, written on the cut node, was switched away from`);
    }
    assert.ok(reorgs[0].added.length > 0);
    assert.equal(typeof reorgs[0].fork_height, 'number');
    for (const [i, s] of sockets.entries()) c.assertAllPresentOnce(assert, await h.getAll(s), acked, `node ${i + 1}`);
    const chain = await h.getAll(sockets[0]);
    for (const id of removed) assert.ok(chain.some((e) => e.id === id), `re-appended ${id}`);
  });

  it('a switch to a long branch reaches clients as a partial ledger_reorg, and they stay connected', async () => {
    const relay = await c.startRelay();
    const proxy = await c.startProxy(relay.port);
    const a = await c.startNetNode({ relayUrl: relay.url });
    const cut = await c.startNetNode({ relayUrl: proxy.url });
    const [sa, sc] = await Promise.all([a, cut].map((n) => h.connect(n.url)));
    await waitLinked([sa, sc], 1);
    proxy.cut();
    // Each side writes a branch of over 1 MB; the other side's is one entry longer, so the cut
    // node switches only once it has all of it: one switch too big to push.
    const big = 'x'.repeat(60 * 1024);
    for (let i = 0; i < 20; i++) await h.emitAck(sc, 'add_ledger_entry', { isolated: i, big });
    for (let i = 0; i < 21; i++) await h.emitAck(sa, 'add_ledger_entry', { i, big });
    const reorgs = [];
    sc.on('ledger_reorg', (ev) => reorgs.push(ev));
    proxy.heal();
    await c.waitConverged([sa, sc], { minHeight: 41, timeout: 30000 });
    assert.ok(reorgs.length >= 1, 'the cut node switched branches');
    const [ev] = reorgs;
    assert.equal(ev.partial, true, `a ${JSON.stringify(ev).length}-byte event was pushed whole`);
    assert.deepEqual(ev.added, []);
    assert.deepEqual(ev.removed, []);
    assert.equal(ev.fork_height, 0);
    assert.ok(sc.connected, 'the client was not cut off');
    // What the event left out is there to fetch, and the isolated entries came back on top.
    const chain = await h.getAll(sc);
    assert.deepEqual(chain.slice(0, 21).map((e) => e.data.i), [...Array(21).keys()]);
    assert.deepEqual(chain.slice(21).map((e) => e.data.isolated), [...Array(20).keys()]);
  });

  it('survives kill -9 of the relay and of a node during writes', async () => {
    let relay = await c.startRelay();
    const relayPort = relay.port;
    const nodes = [];
    for (let i = 0; i < 3; i++) nodes.push(await c.startNetNode({ relayUrl: relay.url }));
    let sockets = await Promise.all(nodes.map((n) => h.connect(n.url)));
    await waitLinked(sockets, 2);
    const acked = new Map();

    // The relay dies while all three nodes write; it comes back on the same port.
    let run = c.writers(sockets, { acked, tag: 'relay-kill' });
    await c.sleep(300);
    await relay.stop('SIGKILL');
    await c.sleep(500);
    relay = await c.startRelay({ port: relayPort });
    await c.sleep(300);
    await run.stop();

    // Node 3 dies while all three write; it restarts from its data directory.
    run = c.writers(sockets, { acked, tag: 'node-kill' });
    await c.sleep(300);
    const dataDir = nodes[2].dataDir;
    await nodes[2].stop('SIGKILL');
    await c.sleep(300);
    nodes[2] = await c.startNetNode({ relayUrl: relay.url, dataDir });
    await run.stop();
    sockets = [sockets[0], sockets[1], await h.connect(nodes[2].url)];
    const more = c.writers(sockets, { perClient: 20, acked, tag: 'after' });
    await more.done;

    const infos = await c.waitConverged(sockets, { minHeight: acked.size, acked });
    console.log(`after relay and node kill -9: height ${infos[0].height}, ${acked.size} acknowledged`);
    for (const [i, s] of sockets.entries()) c.assertAllPresentOnce(assert, await h.getAll(s), acked, `node ${i + 1}`);
  });

  it('two nodes with one key (a restored backup) back off at the relay instead of flapping', async () => {
    const relay = await c.startRelay();
    const a = await c.startNetNode({ relayUrl: relay.url });
    const copy = h.tempDir();
    fs.copyFileSync(path.join(a.dataDir, 'node.key'), path.join(copy, 'node.key'));
    fs.chmodSync(path.join(copy, 'node.key'), 0o600);
    await c.startNetNode({ relayUrl: relay.url, dataDir: copy });
    const replaced = async () => (await (await fetch(`${relay.url.replace('ws:', 'http:')}/stats`)).json()).disconnects.replaced;
    await c.sleep(1000);
    const before = await replaced();
    await c.sleep(4000);
    const during = (await replaced()) - before;
    console.log(`one key on two nodes: ${during} replacements in 4 s`);
    // Each link that is closed right after it opens waits longer every time (up to 10 s); a
    // backoff reset on every connect made it about 5 replacements a second.
    assert.ok(during <= 8, `${during} replacements in 4 s`);
  });

  it('forgets a node that went silent', async () => {
    const { nodes, sockets } = await cluster(3);
    await waitLinked(sockets, 2);
    const goneId = (await c.nodeInfo(sockets[2])).node_id;
    sockets[2].disconnect();
    await nodes[2].stop('SIGKILL');
    // Test nodes expire peers after 5 s of silence (--peer-expiry-ms 5000), each on its own clock.
    for (const socket of sockets.slice(0, 2)) {
      const known = await h.waitUntil(async () => {
        const { peers: list } = await h.emitAck(socket, 'get_known_nodes');
        return list.some((n) => n.node_id === goneId) ? undefined : list;
      }, 15000, 'the silent node to expire', 200);
      assert.equal(known.length, 2, 'itself and the other live node');
    }
  });

  it('takes a direct /p2p socket\'s messages only once it proved a node id, and binds the socket to it', async () => {
    const node = await c.startNetNode();
    const client = await h.connect(node.url);
    const p2p = await h.connect(node.url, { nsp: '/p2p' });
    const challenge = await p2p.challenge;
    assert.match(challenge, /^[0-9a-f]{64}$/);
    const first = makeKey();
    const other = makeKey();
    const emit = (env) => p2p.timeout(5000).emitWithAck('p2p_message', JSON.parse(env));
    const hello = (key, proof) => envelope('NodeAnnounce', first.id,
                                           { node_id: first.id, protocol: 2, height: 0, tip_hash: '0'.repeat(64), relay_proof: proof });
    // Before a proof, nothing is taken: an entry, an announce without a proof, one signed by
    // another key, and one proving another socket's challenge.
    const early = signedEntry(first, { via: 'before the proof' }, '0'.repeat(64));
    for (const env of [envelope('EntryAnnounce', first.id, { entry: early }), hello(first, undefined),
                       hello(first, announceProof(other, challenge))]) {
      assert.match((await emit(env)).error, /has not proven a node id/);
    }
    // With the proof the socket is `first`'s; a claim to be `other` on it is refused.
    assert.deepEqual(await emit(hello(first, announceProof(first, challenge))), { accepted: true });
    const entry = signedEntry(other, { via: 'impostor' }, '0'.repeat(64));
    await emit(envelope('EntryAnnounce', other.id, { entry }));
    // The same entry sent as `first` (who relays it) is accepted: entries are checked on their own.
    await emit(envelope('EntryAnnounce', first.id, { entry }));
    const info = await h.waitUntil(async () => {
      const i = await c.nodeInfo(client);
      return i.height === 1 ? i : undefined;
    }, 5000, 'the relayed entry', 50);
    assert.equal(info.sync.spoofed, 1);
    assert.match((await h.emitAck(client, 'get_entry', early.id)).error, /get_entry/, 'the unproven entry was not taken');
    const { peers } = await h.emitAck(client, 'get_known_nodes');
    assert.ok(peers.some((n) => n.node_id === first.id && n.link === 'inbound'));
    assert.ok(!peers.some((n) => n.node_id === other.id));
  });

  it('closes a /p2p socket that keeps sending without proving a node id', async () => {
    const node = await c.startNetNode();
    const p2p = await h.connect(node.url, { nsp: '/p2p' });
    await p2p.challenge;
    const mallory = makeKey();
    const closed = new Promise((resolve) => p2p.once('disconnect', resolve));
    for (let i = 0; i < 4; i++) {
      p2p.emit('p2p_message', JSON.parse(envelope('NodeAnnounce', mallory.id, { node_id: mallory.id, protocol: 2, height: 0 })));
    }
    assert.equal(await h.withTimeout(closed, 5000, 'the node closing the socket'), 'io server disconnect');
  });

  it('two nodes peered directly with --peer and no relay converge', async () => {
    const a = await c.startNetNode();
    const b = await c.startNetNode({ peer: a.url });
    const sockets = await Promise.all([a, b].map((n) => h.connect(n.url)));
    await waitLinked(sockets, 1);
    const lists = await Promise.all(sockets.map((s) => h.emitAck(s, 'get_known_nodes')));
    assert.equal(lists[0].peers.find((n) => !n.is_self).link, 'inbound');
    assert.equal(lists[1].peers.find((n) => !n.is_self).link, 'direct');
    const clients = [];
    for (const node of [a, b]) for (let i = 0; i < 3; i++) clients.push(await h.connect(node.url));
    const run = c.writers(clients, { perClient: 100 });
    await run.done;
    await c.waitConverged(sockets, { minHeight: 600 });
    for (const [i, s] of sockets.entries()) c.assertAllPresentOnce(assert, await h.getAll(s), run.acked, `node ${i + 1}`);
  });

  it('passes on entries whose numbers need full precision: by announce, by sync and over --peer', async () => {
    // Read at rapidjson's default precision, 9.899999999999999 (3.3 * 3) becomes 9.9, and an
    // entry re-serialized from such a parse no longer matches its hash at the next node.
    const numbers = [3.3 * 3, 1.15 * 100, 29.849999999999998, 0.9452706955539223,
                     123456789012345680000, 5e-324, 1.7976931348623157e308, -0.1 - 0.2];
    const relay = await c.startRelay();
    const a = await c.startNetNode({ relayUrl: relay.url });
    const b = await c.startNetNode({ relayUrl: relay.url });
    const sockets = await Promise.all([a, b].map((n) => h.connect(n.url)));
    await waitLinked(sockets, 1);
    const acked = new Map();
    for (const [i, v] of numbers.entries()) {
      const arrived = h.once(sockets[1], 'ledger_entry_added', 5000);
      const entry = await h.emitAck(sockets[0], 'add_ledger_entry', { v, i });
      acked.set(entry.id, entry.data);
      const [got] = await arrived;
      assert.equal(got.hash, entry.hash, `entry ${i} (${v}) reached node 2 by announce`);
      assert.equal(got.data.v, v);
    }
    const late = await c.startNetNode({ relayUrl: relay.url });
    const peered = await c.startNetNode({ peer: a.url });
    const more = await Promise.all([late, peered].map((n) => h.connect(n.url)));
    const infos = await c.waitConverged([...sockets, ...more], { minHeight: numbers.length, timeout: 20000 });
    assert.equal(new Set(infos.map((i) => i.tip_hash)).size, 1, 'every node on one tip');
    assert.equal(infos[2].sync.entries_rejected, 0, 'the late node by sync refused nothing');
    assert.equal(infos[3].sync.entries_rejected, 0, 'the --peer node refused nothing');
    for (const [n, s] of more.entries()) {
      const all = await h.getAll(s);
      assert.deepEqual(all.map((e) => e.data.v), numbers, `node ${n + 3} holds every number exactly`);
      c.assertAllPresentOnce(assert, all, acked, `node ${n + 3}`);
    }
  });

  it('with --token, lets only nodes that present it join /p2p; --peer links present it', async () => {
    const token = 'network-secret-1';
    const a = await c.startNetNode({ args: ['--token', token] });
    for (const auth of [undefined, { token: 'wrong' }, { token: 7 }]) {
      await assert.rejects(h.connect(a.url, { nsp: '/p2p', auth }), /unauthorized/, JSON.stringify(auth));
    }
    const p2p = await h.connect(a.url, { nsp: '/p2p', auth: { token } });
    assert.ok(p2p.connected);
    p2p.disconnect();
    const client = await h.connect(a.url);  // the client API needs no token
    const b = await c.startNetNode({ peer: a.url, args: ['--token', token] });
    const sockets = [client, await h.connect(b.url)];
    await waitLinked(sockets, 1);
    await h.emitAck(sockets[1], 'add_ledger_entry', { via: 'b' });
    await c.waitConverged(sockets, { minHeight: 1 });
  });

  it('drops sync pages nobody asked for beyond the pages in process, and carries on', async () => {
    const { relay, sockets } = await cluster(2);
    await waitLinked(sockets, 1);
    const writes = c.writers(Array.from({ length: 4 }, () => sockets[0]), { perClient: 75 });
    await writes.done;
    const [, target] = await c.waitConverged(sockets, { minHeight: 300 });
    const entries = await h.getAll(sockets[1]);
    // Entries the target already took by sync while the writes propagated (an entry that came
    // before its parent is fetched by a pull) are not part of what is counted below.
    const before = (await c.nodeInfo(sockets[1])).sync;

    // 40 unrequested pages of valid entries (each one costs the target 300 signature checks).
    const mallory = makeKey();
    const ws = new WebSocket(relay.url);
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    ws.send(envelope('NodeAnnounce', mallory.id, { node_id: mallory.id, protocol: 2, height: 0, tip_hash: '0'.repeat(64), address: '' }));
    const page = { entries, next_cursor: 0, more: false, height: entries.length, tip_hash: target.tip_hash };
    for (let i = 0; i < 40; ++i) ws.send(envelope('LedgerSyncResponse', mallory.id, page, target.node_id));

    const sync = await h.waitUntil(async () => {
      const info = await c.nodeInfo(sockets[1]);
      const merged = info.sync.entries_received_sync - before.entries_received_sync;
      const dropped = info.sync.pages_dropped - before.pages_dropped;
      if (merged / entries.length + dropped >= 40 && info.sync.pages_in_process === 0)
        return { merged, dropped, rejected: info.sync.entries_rejected - before.entries_rejected };
      return undefined;
    }, 20000, 'every page to be merged or dropped', 50);
    console.log(`unrequested pages: ${sync.merged / entries.length} merged, ${sync.dropped} dropped`);
    assert.ok(sync.dropped > 0, 'some pages were dropped');
    assert.equal(sync.merged % entries.length, 0, 'pages are merged whole or not at all');
    assert.equal(sync.rejected, 0);

    // A page with more entries than the node asks for (500) is not an answer: dropped whole.
    const malformedBefore = (await c.nodeInfo(sockets[1])).sync.malformed;
    const oversized = { ...page, entries: [...entries, ...entries].slice(0, 501) };
    ws.send(envelope('LedgerSyncResponse', mallory.id, oversized, target.node_id));
    const afterOversized = await h.waitUntil(async () => {
      const info = await c.nodeInfo(sockets[1]);
      return info.sync.malformed > malformedBefore ? info.sync : undefined;
    }, 10000, 'the oversized page to be dropped', 50);
    assert.equal(afterOversized.entries_received_sync - before.entries_received_sync, sync.merged,
                 'nothing of the oversized page was taken');
    ws.close();

    // The target's chain is as it was, and the network still works.
    await h.emitAck(sockets[1], 'add_ledger_entry', { after: 'flood' });
    const infos = await c.waitConverged(sockets, { minHeight: 301 });
    assert.equal(infos[1].height, 301);
    c.assertAllPresentOnce(assert, await h.getAll(sockets[1]), writes.acked, 'target');
  });

  it('answers an EntryRequest for large entries in several responses of bounded size', async () => {
    const { relay, sockets } = await cluster(1);
    const big = 'x'.repeat(60 * 1024);
    for (let i = 0; i < 40; ++i) await h.emitAck(sockets[0], 'add_ledger_entry', { i, big });
    const entries = await h.getAll(sockets[0]);
    const target = await c.nodeInfo(sockets[0]);
    const mallory = makeKey();
    const ws = new WebSocket(relay.url);
    const responses = [];
    ws.on('message', (m) => {
      const text = m.toString();
      const message = JSON.parse(text);
      if (message.message_type === 'EntryResponse') responses.push({ bytes: text.length, count: message.payload.entries.length });
    });
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    ws.send(envelope('NodeAnnounce', mallory.id, { node_id: mallory.id, protocol: 2, height: 0, tip_hash: '0'.repeat(64), address: '' }));
    ws.send(envelope('EntryRequest', mallory.id, { hashes: entries.map((e) => e.hash) }, target.node_id));
    await h.waitUntil(() => responses.reduce((n, r) => n + r.count, 0) >= entries.length, 10000, 'every requested entry');
    assert.ok(responses.length >= 4, `${responses.length} responses`);
    for (const r of responses) assert.ok(r.bytes < 600 * 1024, `a response of ${r.bytes} bytes`);
    assert.equal(ws.readyState, WebSocket.OPEN);
    ws.close();
  });

  it('remembers a bounded number of nodes heard of, and only well-formed addresses and tips', async () => {
    const { relay, nodes, sockets } = await cluster(2);
    await waitLinked(sockets, 1);
    const target = nodes[1];
    const targetId = (await c.nodeInfo(sockets[1])).node_id;
    const mallory = makeKey();
    const ws = new WebSocket(relay.url);
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    ws.send(envelope('NodeAnnounce', mallory.id, { node_id: mallory.id, protocol: 2, height: 0, tip_hash: '0'.repeat(64),
                                                  address: 'x'.repeat(100000) }));
    const made = Array.from({ length: 3000 }, (_, i) => ({
      node_id: i.toString(16).padStart(64, '0'), address: `http://10.0.0.1:${i}`, height: i, tip_hash: 'f'.repeat(64),
    }));
    made[0].address = 'y'.repeat(10000);
    made[0].tip_hash = 'not a hash';
    // Protocol 2: `nodes` are the ids, `peers` the records.
    ws.send(envelope('NodeListResponse', mallory.id, { nodes: made.map((n) => n.node_id), peers: made }, targetId));
    const known = await h.waitUntil(async () => {
      const { peers: list } = await h.emitAck(sockets[1], 'get_known_nodes');
      // The registry hears of the listed nodes one message each: wait until it has taken in
      // at least as many as it may keep (a slow, sanitized build got there after the first).
      const heard = list.length >= 1000 && list.some((n) => n.node_id === made[0].node_id) &&
                    list.some((n) => n.node_id === mallory.id);
      return heard ? list : undefined;
    }, 10000, 'the made-up nodes to be heard of', 50);
    ws.close();
    await c.sleep(200);  // whatever of the 3,000 was still on its way
    const after = (await h.emitAck(sockets[1], 'get_known_nodes')).peers;
    assert.ok(after.length <= 1024 + 2, `${after.length} nodes known`);
    const first = known.find((n) => n.node_id === made[0].node_id);
    assert.equal(first.address, '');
    assert.equal(first.tip_hash, '');
    assert.equal(known.find((n) => n.node_id === mallory.id).address, '');
    const honestId = (await c.nodeInfo(sockets[0])).node_id;
    assert.ok(known.some((n) => n.node_id === honestId), 'the real peer stays');
    assert.equal(target.exited, null);
  });

  it('rejects forged traffic through the relay, logs and counts it, and honest nodes carry on', async () => {
    const { relay, nodes, sockets } = await cluster(2);
    await waitLinked(sockets, 1);
    await h.emitAck(sockets[0], 'add_ledger_entry', { honest: 0 });
    const [base] = await c.waitConverged(sockets, { minHeight: 1 });

    const mallory = makeKey();
    const ws = new WebSocket(relay.url);
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    const send = (type, payload, sender = mallory.id) => ws.send(envelope(type, sender, payload));
    send('NodeAnnounce', { node_id: mallory.id, protocol: 2, height: 0, tip_hash: '0'.repeat(64), address: '' });

    const badSignature = signedEntry(mallory, { forged: 'signature' }, base.tip_hash);
    badSignature.signatures[mallory.id] = '00'.repeat(64);
    const wrongHash = signedEntry(mallory, { forged: 'hash' }, base.tip_hash);
    wrongHash.hash = 'ab'.repeat(32);
    const tampered = signedEntry(mallory, { forged: 'data' }, base.tip_hash);
    tampered.data = { forged: 'DATA' };
    const victim = await h.emitAck(sockets[0], 'add_ledger_entry', { honest: 1 });
    const impersonated = { ...victim, data: { honest: 'rewritten' } };
    for (const entry of [badSignature, wrongHash, tampered, impersonated]) {
      send('EntryAnnounce', { entry, height: 99, tip_hash: entry.hash });
    }
    // Spoofing another node's id is refused by the relay itself.
    send('EntryAnnounce', { entry: signedEntry(mallory, { spoofed: true }, base.tip_hash) }, base.node_id);

    await h.waitUntil(async () => {
      const infos = await Promise.all(sockets.map(c.nodeInfo));
      return infos.every((i) => i.sync.entries_rejected >= 4);
    }, 10000, 'forged entries to be counted as rejected', 50);
    const stats = await c.relayStats(relay);
    assert.ok(stats.drops.spoofed >= 1, `relay drops: ${JSON.stringify(stats.drops)}`);
    ws.close();

    // Nothing forged got in, the honest entries did, and the honest network still works.
    await h.emitAck(sockets[1], 'add_ledger_entry', { honest: 2 });
    const infos = await c.waitConverged(sockets, { minHeight: 3 });
    for (const s of sockets) {
      const chain = await h.getAll(s);
      assert.equal(chain.length, 3);
      assert.ok(chain.every((e) => e.creator_node_id !== mallory.id));
      assert.deepEqual(chain.find((e) => e.id === victim.id).data, { honest: 1 });
    }
    assert.deepEqual(await h.emitAck(sockets[1], 'verify_ledger'), { valid: true });
    assert.match(nodes[1].log, /rejected an entry from a peer: .*(signature|SHA-256)/);
    console.log(`rejected per node: ${infos.map((i) => i.sync.entries_rejected).join('/')}`);
  });

  it('does not sync with a node announcing protocol 1: logs it once per node, counts it, carries on', async () => {
    const { relay, nodes, sockets } = await cluster(2);
    await waitLinked(sockets, 1);
    const first = await h.emitAck(sockets[0], 'add_ledger_entry', { before: 'old node' });
    await c.waitConverged(sockets, { minHeight: 1 });

    // A node of protocol 1: its NodeAnnounce has no "protocol", its ids count milliseconds.
    const old = makeKey();
    const ws = new WebSocket(relay.url);
    const received = [];
    ws.on('message', (data) => received.push(JSON.parse(data.toString())));
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    const send = (type, payload, recipient = '') => ws.send(envelope(type, old.id, payload, recipient));
    const announceV1 = { node_id: old.id, address: '', height: 7, tip_hash: 'ab'.repeat(32), entries: 7 };
    for (let i = 0; i < 3; i++) {
      send('NodeAnnounce', announceV1);
      await c.sleep(100);
    }
    const ms = Date.now();
    const v1entry = { id: `${old.id}-${ms}`, timestamp: new Date(ms).toISOString(), data: { from: 'protocol 1' },
                      previous_hash: first.hash, creator_node_id: old.id };
    v1entry.hash = forge.entryHash(v1entry);
    v1entry.signatures = { [old.id]: require('node:crypto').sign(null, Buffer.from(v1entry.hash, 'hex'), old.privateKey).toString('hex') };
    send('EntryAnnounce', { entry: v1entry, height: 8, tip_hash: v1entry.hash });
    send('LedgerSyncRequest', { locator: [first.hash], limit: 100 }, (await c.nodeInfo(sockets[0])).node_id);
    send('NodeListRequest', {});

    const metric = async (node, name) => {
      const text = await (await fetch(`${node.url}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(name));
      return line ? Number(line.split(' ').pop()) : NaN;
    };
    const dropped = 'gsio_p2p_messages_dropped_total{reason="other_protocol"}';
    await h.waitUntil(async () => {
      const counts = await Promise.all(nodes.map((n) => metric(n, dropped)));
      return counts.every((n) => n >= 5);
    }, 10000, 'both nodes to drop the protocol 1 node\'s messages', 50);
    for (const node of nodes) {
      assert.equal(await metric(node, 'gsio_p2p_other_protocol_nodes'), 1);
      const warnings = node.log.split('\n').filter((l) => l.includes(`node ${old.id.slice(0, 12)} announces protocol 1;`));
      assert.equal(warnings.length, 1, `logged once per node:\n${node.log}`);
    }
    await c.sleep(500);  // time for an answer that must not come
    const answers = received.filter((m) => m.recipient_id === old.id);
    assert.deepEqual(answers.map((m) => m.message_type), [], 'nothing is answered to a protocol 1 node');
    for (const s of sockets) {
      const known = await h.emitAck(s, 'get_known_nodes');
      assert.ok(!known.nodes.includes(old.id), 'a protocol 1 node is not a peer');
      assert.ok((await h.getAll(s)).every((e) => e.creator_node_id !== old.id), 'its entry is not taken');
      assert.deepEqual(await h.emitAck(s, 'verify_ledger'), { valid: true });
    }

    // The two protocol 2 nodes carry on together.
    await h.emitAck(sockets[1], 'add_ledger_entry', { after: 'old node' });
    await c.waitConverged(sockets, { minHeight: 2 });

    // Upgraded, the same key is a peer again.
    send('NodeAnnounce', { ...announceV1, protocol: 2, height: 0, tip_hash: '0'.repeat(64), entries: 0 });
    await h.waitUntil(async () => {
      const gauges = await Promise.all(nodes.map((n) => metric(n, 'gsio_p2p_other_protocol_nodes')));
      return gauges.every((g) => g === 0);
    }, 10000, 'the upgraded node to be taken back', 50);
    assert.match(nodes[0].log, new RegExp(`node ${old.id.slice(0, 12)} now speaks protocol 2`));
    ws.close();
  });
});

describe('several relays (--relay URL,URL and --relay-links)', () => {
  // The url label of each open relay link, from the node's /metrics.
  const openRelayLinks = async (node) => {
    const text = await (await fetch(`${node.url}/metrics`)).text();
    return [...text.matchAll(/^gsio_relay_link_open\{url="([^"]+)"\} (\d+)$/gm)]
      .filter((m) => Number(m[2]) > 0).map((m) => m[1]).sort();
  };
  const linksOf = async (socket) => (await c.nodeInfo(socket)).sync.links;

  it('moves a link to the next relay of its list when its relay dies, and the network carries on', async () => {
    const first = await c.startRelay();
    const second = await c.startRelay();
    const nodes = [];
    for (let i = 0; i < 2; i++) nodes.push(await c.startNetNode({ relayUrl: `${first.url},${second.url}` }));
    const sockets = await Promise.all(nodes.map((node) => h.connect(node.url)));
    await waitLinked(sockets, 1);
    // /metrics shows what the actors reported at most a second ago.
    await h.waitUntil(async () => {
      const open = await Promise.all(nodes.map(openRelayLinks));
      return open.every((urls) => urls.length === 1 && urls[0] === first.url);
    }, 5000, 'the first url of the list to be dialed first', 50);
    assert.deepEqual(await linksOf(sockets[0]), [{ kind: 'relay', where: first.url }]);

    await first.stop('SIGKILL');
    await h.waitUntil(async () => {
      const open = await Promise.all(nodes.map(openRelayLinks));
      return open.every((urls) => urls.length === 1 && urls[0] === second.url);
    }, 10000, 'both links to move to the second relay', 50);
    const entry = await h.emitAck(sockets[0], 'add_ledger_entry', { after: 'failover' });
    const infos = await c.waitConverged(sockets, { minHeight: 1, timeout: 10000 });
    assert.equal(infos[1].tip_hash, entry.hash);
    assert.deepEqual(await linksOf(sockets[1]), [{ kind: 'relay', where: second.url }]);
    assert.match(nodes[0].log, new RegExp(`relay link to ${first.url} lost`));
    assert.match(nodes[0].log, new RegExp(`relay link to ${second.url} is up`));
    assert.equal((await c.relayStats(second)).nodes.length, 2);
  });

  it('with --relay-links 2 keeps one link on each relay, so nodes on either relay converge through it', async () => {
    const a = await c.startRelay();
    const b = await c.startRelay();
    const bridge = await c.startNetNode({ relayUrl: `${a.url},${b.url}`, args: ['--relay-links', '2'] });
    const onA = await c.startNetNode({ relayUrl: a.url });
    const onB = await c.startNetNode({ relayUrl: b.url });
    const nodes = [bridge, onA, onB];
    const sockets = await Promise.all(nodes.map((node) => h.connect(node.url)));
    await h.waitUntil(async () => (await openRelayLinks(bridge)).length === 2, 10000, 'two relay links', 50);
    assert.deepEqual(await openRelayLinks(bridge), [a.url, b.url].sort());
    assert.deepEqual((await linksOf(sockets[0])).map((l) => l.where).sort(), [a.url, b.url].sort());

    await h.emitAck(sockets[1], 'add_ledger_entry', { from: 'relay a' });
    await c.waitConverged(sockets, { minHeight: 1, timeout: 20000 });
    await h.emitAck(sockets[2], 'add_ledger_entry', { from: 'relay b' });
    const infos = await c.waitConverged(sockets, { minHeight: 2, timeout: 20000 });
    assert.ok(infos.every((i) => i.height === 2));
    // The two relays never saw each other's nodes: the bridge node is what joined them.
    assert.ok(!(await c.relayStats(a)).nodes.includes((await c.nodeInfo(sockets[2])).node_id));
  });

  it('refuses --relay-links outside 1 to the number of relays, and a relay listed twice', async () => {
    for (const [relays, links] of [['ws://127.0.0.1:1,ws://127.0.0.1:2', '3'], ['ws://127.0.0.1:1', '0'], ['', '2']]) {
      const run = await h.runNodeToExit(['--port', '0', '--data-dir', h.tempDir(), '--relay', relays, '--relay-links', links]);
      assert.equal(run.code, 2, run.output);
      assert.match(run.output, /--relay-links must be 1 to the number of --relay urls/);
    }
    const twice = await h.runNodeToExit(['--port', '0', '--data-dir', h.tempDir(), '--relay', 'ws://127.0.0.1:1,ws://127.0.0.1:1']);
    assert.equal(twice.code, 2, twice.output);
    assert.match(twice.output, /--relay names a relay twice/);
  });
});
