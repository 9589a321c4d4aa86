// The TypeScript client against real gsio-node and gsio-relay processes on 127.0.0.1 (the
// binaries of $GSIO_BUILD_DIR): every method, acks, push events, reconnection across a node
// restart, a reorg followed by LiveLedger, verifyChain on a real chain, and the relay helper.
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { createRequire } from 'node:module';
import WebSocket from 'ws';
import {
  GsioClient, GsioRequestError, LiveLedger, RelayConnection, createEntry, decodeEnvelope, encodeEnvelope,
  EnvelopeError, makeEnvelope, nodeIdFromSeed, PROTOCOL_VERSION, verifyChain, verifyEntry,
} from '../dist/index.js';

const require = createRequire(import.meta.url);
const h = require('../../../tests/js/lib/harness.js');
const c = require('../../../tests/js/lib/cluster.js');

const clients = new Set();
async function open(url, options = {}) {
  const client = await GsioClient.connect(url, options);
  clients.add(client);
  return client;
}
function closeAll() {
  for (const cl of clients) cl.close();
  clients.clear();
}

// Resolves with the first value `subscribe` hands its listener that `match` accepts.
function next(subscribe, match = () => true, ms = 10000, what = 'event') {
  return h.withTimeout(new Promise((resolve) => {
    const off = subscribe((value) => {
      if (match(value)) {
        off();
        resolve(value);
      }
    });
  }), ms, what);
}

const flipHex = (hex, at = 7) => hex.slice(0, at) + (hex[at] === '0' ? '1' : '0') + hex.slice(at + 1);

describe('GsioClient against one gsio-node', () => {
  let node;
  let nodeId;
  before(async () => {
    node = await h.startNode({ args: ['--max-data-bytes', '2048'] });
    nodeId = (await h.health(node)).node_id;
  });
  after(async () => {
    closeAll();
    await h.cleanup();
  });

  it('connects, reports its transport, and gets the auth payload echoed', async () => {
    const auth = { member: 'ts-client', n: 3 };
    const client = await open(node.url, { auth, transports: ['websocket'] });
    assert.equal(client.connected, true);
    assert.deepEqual(client.status, { state: 'connected', transport: 'websocket', attempt: 0, sessions: 1, lastError: null });
    if (client.authReply === undefined) await next((cb) => client.onAuth(cb));
    assert.deepEqual(client.authReply, auth);

    // The default is polling first, then the upgrade, which shows up as a state change.
    const upgrading = new GsioClient(node.url);
    clients.add(upgrading);
    const states = [];
    upgrading.onState((s) => states.push(s));
    // (The upgrade can also finish before the Socket.IO CONNECT reply, then the first state says websocket.)
    await h.withTimeout((async () => { while (upgrading.status.transport !== 'websocket') await c.sleep(10); })(),
                        10000, 'upgrade to websocket');
    assert.equal(states[0].state, 'connected');
    assert.equal(states.at(-1).transport, 'websocket');
    assert.equal(upgrading.socket.io.engine.transport.name, 'websocket');
    // The auth echo is an event after CONNECT: it may still be on its way when the upgrade is done.
    if (upgrading.authReply === undefined) await next((cb) => upgrading.onAuth(cb));
    assert.deepEqual(upgrading.authReply, {});
  });

  it('rejects connect() when nothing listens', async () => {
    // A port that was free a moment ago: bind, note it, release.
    const probe = net.createServer();
    await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address();
    await new Promise((resolve) => probe.close(resolve));
    await assert.rejects(GsioClient.connect(`http://127.0.0.1:${port}`, { connectTimeoutMs: 3000 }), /cannot connect/);
  });

  it('addEntry resolves with the stored entry on the ack; every client gets onEntry', async () => {
    const a = await open(node.url);
    const b = await open(node.url, { transports: ['polling'] });
    const data = { note: 'hello from the TS client', nickname: 'ada', n: [1, 0.5, true, null] };
    const onA = next((cb) => a.onEntry(cb), (e) => e.data.note === data.note);
    const onB = next((cb) => b.onEntry(cb), (e) => e.data.note === data.note);
    const entry = await a.addEntry(data);
    assert.deepEqual(entry.data, data);
    assert.equal(entry.creator_node_id, nodeId);
    assert.match(entry.id, new RegExp(`^${nodeId}-\\d+$`));
    assert.equal(verifyEntry(entry), null, 'the acked entry verifies on its own');
    assert.deepEqual(await onA, entry);
    assert.deepEqual(await onB, entry);
    assert.deepEqual(await b.getEntry(entry.id), entry);
  });

  it('turns refusals into GsioRequestError and keeps the connection', async () => {
    const a = await open(node.url);
    const err = await a.addEntry({ big: 'x'.repeat(4096) }).catch((e) => e);
    assert.ok(err instanceof GsioRequestError, String(err));
    assert.equal(err.event, 'add_ledger_entry');
    assert.match(err.reason, /^add_ledger_entry: .*limit is 2048/);
    await assert.rejects(a.getEntry('no-such-id'), GsioRequestError);
    assert.equal(a.connected, true);
    assert.ok((await a.nodeInfo()).height >= 1, 'still answering');
  });

  it('getFullLedger asks again with as many entries as the node says fit in one answer', async () => {
    const small = await h.startNode({ args: ['--max-page-bytes', '65536'] });
    const a = await open(small.url);
    for (let i = 0; i < 40; i++) await a.addEntry({ i, filler: 'f'.repeat(4000) });  // ~4.6 KB each
    const err = await a.getLedger({ from: 0, limit: 40 }).catch((e) => e);
    assert.ok(err instanceof GsioRequestError && err.fits >= 1 && err.fits < 40, String(err));
    const all = await a.getFullLedger();
    assert.deepEqual(all.map((e) => e.data.i), [...Array(40).keys()]);
    assert.equal((await verifyChain(all)).valid, true);
  });

  it('pages getLedger, fetches the full chain, and verifies it; tampered copies fail', async () => {
    const a = await open(node.url);
    for (let i = 0; i < 6; i++) await a.addEntry({ note: `page ${i}`, i });
    const info = await a.nodeInfo();
    assert.equal(info.node_id, nodeId);
    assert.equal(info.protocol, PROTOCOL_VERSION);
    const all = await a.getFullLedger({ pageSize: 4 });
    for (const e of all) assert.match(e.timestamp, /\.\d{6}Z$/, 'protocol 2: microsecond timestamps');
    assert.equal(all.length, info.height);
    assert.equal(all[all.length - 1].hash, info.tip_hash);
    assert.deepEqual(await a.getLedger({ from: 2, limit: 3 }), all.slice(2, 5));
    assert.deepEqual(await a.getLedger(), all);
    assert.deepEqual(await a.getLedger({ from: all.length }), []);
    assert.deepEqual(await a.verifyOnNode(), { valid: true });

    const ok = await verifyChain(all);
    assert.deepEqual(ok, { valid: true, verified: all.length, tipHash: info.tip_hash });

    const target = 3;
    const tamper = {
      data: (e) => { e.data.note = e.data.note.replace('page', 'pagE'); },
      hash: (e) => { e.hash = flipHex(e.hash); },
      previous_hash: (e) => { e.previous_hash = flipHex(e.previous_hash); },
      signature: (e) => { e.signatures[nodeId] = flipHex(e.signatures[nodeId], 100); },
    };
    for (const [field, change] of Object.entries(tamper)) {
      const copy = structuredClone(all);
      change(copy[target]);
      const res = await verifyChain(copy);
      assert.equal(res.valid, false, `a changed byte in ${field} is caught`);
      assert.equal(res.problem.index, target, field);
      assert.equal(res.problem.id, all[target].id, field);
      assert.equal(res.problem.reason, field === 'signature' ? 'bad_signature' : 'bad_hash', field);
    }
    // A correctly hashed and signed entry on the wrong link: only the link check catches it.
    const relinked = structuredClone(all);
    relinked.splice(target, 1);
    assert.equal((await verifyChain(relinked)).problem.reason, 'bad_link');
  });

  it('findEntries searches the node by nickname and author, newest first, going on from next', async () => {
    const a = await open(node.url);
    const nick = `grace-${Date.now()}`;
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await a.addEntry({ type: 'note', nickname: nick, text: `entry ${i}` }));
    const found = await a.findEntries({ nickname: nick.toUpperCase(), author: nodeId });
    assert.deepEqual(found.entries, [...made].reverse());
    assert.equal(found.next, null);
    for (const [i, e] of found.entries.entries()) assert.equal(verifyEntry(e), null, `match ${i} verifies on its own`);
    const first = await a.findEntries({ nickname: nick, limit: 1 });
    assert.deepEqual(first.entries, [made[2]]);
    const rest = await a.findEntries({ nickname: nick, before: first.next });
    assert.deepEqual(rest.entries, [made[1], made[0]]);
    const err = await a.findEntries({ author: 'nope' }).catch((e) => e);
    assert.ok(err instanceof GsioRequestError && /^find_entries: .*node id/.test(err.reason), String(err));
  });

  it('getKnownNodes lists the node itself, from the peers of known_nodes', async () => {
    const a = await open(node.url);
    const nodes = await a.getKnownNodes();
    const self = nodes.find((n) => n.is_self);
    assert.ok(self, JSON.stringify(nodes));
    assert.equal(self.node_id, nodeId);
    assert.equal(self.link, 'self');
    assert.equal(typeof self.last_seen, 'number');
    // Protocol 2: `nodes` are the ids, `peers` the records.
    const known = await a.knownNodes();
    assert.ok(known.nodes.every((id) => typeof id === 'string'), JSON.stringify(known.nodes));
    assert.ok(known.nodes.includes(nodeId));
    assert.deepEqual([...known.nodes].sort(), known.peers.map((p) => p.node_id).sort());
  });

  it('LiveLedger mirrors the chain and follows new entries, verified', async () => {
    const a = await open(node.url);
    const live = new LiveLedger(a);
    await live.start();
    assert.equal((await h.withTimeout(live.settled(), 10000, 'initial verification')).state, 'verified');
    assert.equal(live.verification.verified, live.entries.length);
    const before = live.entries.length;
    const appended = next((cb) => live.onChange(cb), (ch) => ch.kind === 'append');
    const e = await a.addEntry({ note: 'live' });
    assert.deepEqual((await appended).entries, [e]);
    assert.equal(live.entries.length, before + 1);
    const v = await h.withTimeout(live.settled(), 5000, 'verification of the new entry');
    assert.equal(v.state, 'verified');
    assert.equal(v.verified, before + 1);
    assert.equal(v.complete, true);
    assert.equal(v.fromGenesis, before + 1);
    assert.equal(v.checkedThisVisit, before + 1, 'each entry verified once');
    live.stop();
  });
});

describe('GsioClient across a node restart', () => {
  after(async () => {
    closeAll();
    await h.cleanup();
  });

  it('reconnects to the same port and data dir; a request sent while down is acked after', async () => {
    const dataDir = h.tempDir();
    let node = await h.startNode({ dataDir });
    const port = node.port;
    const client = await open(node.url, { reconnectDelayMs: 100, reconnectDelayMaxMs: 500, requestTimeoutMs: 20000 });
    const live = new LiveLedger(client);
    await live.start();
    const first = await client.addEntry({ note: 'before the restart' });
    const states = [];
    client.onState((s) => states.push(s.state));

    const down = next((cb) => client.onState(cb), (s) => s.state === 'reconnecting', 10000, 'reconnecting');
    await node.stop('SIGTERM');
    await down;
    assert.equal(client.connected, false);
    // Sent while the node is down: socket.io-client buffers it until the reconnect.
    const pending = client.addEntry({ note: 'while the node was down' });
    await next((cb) => client.onState(cb), (s) => s.state === 'reconnecting' && s.attempt >= 1, 10000, 'a retry');

    const reloaded = next((cb) => live.onChange(cb), (ch) => ch.kind === 'reset', 20000, 'LiveLedger reload');
    const back = next((cb) => client.onState(cb), (s) => s.state === 'connected', 20000, 'reconnected');
    node = await h.startNode({ dataDir, args: ['--port', String(port)] });
    const status = await back;
    assert.equal(status.sessions, 2);
    assert.ok(states.includes('reconnecting'), states.join(','));
    const second = await pending;
    assert.deepEqual(second.data, { note: 'while the node was down' });
    assert.equal(second.previous_hash, first.hash, 'the restarted node kept the chain');
    await reloaded;
    const chain = await client.getFullLedger();
    assert.deepEqual(chain.map((e) => e.id), [first.id, second.id]);
    assert.ok((await verifyChain(chain)).valid);
    await h.withTimeout((async () => { while (live.entries.length < 2) await c.sleep(20); })(), 5000, 'mirror');
    assert.deepEqual(live.entries.map((e) => e.id), [first.id, second.id]);
    live.stop();
  });
});

describe('GsioClient on a network', () => {
  afterEach(async () => {
    closeAll();
    await c.cleanup();
  });

  // Until every node lists every other one as linked (not only heard of).
  async function linked(cls) {
    await h.withTimeout((async () => {
      for (;;) {
        const lists = await Promise.all(cls.map((cl) => cl.getKnownNodes()));
        if (lists.every((l) => l.filter((n) => !n.is_self && !n.link.startsWith('via')).length >= cls.length - 1)) return;
        await c.sleep(50);
      }
    })(), 15000, 'nodes linked');
  }

  it('reports a reorg with onReorg, and LiveLedger ends on the converged, verified chain', async () => {
    const relay = await c.startRelay();
    const proxy = await c.startProxy(relay.port);
    const nodeA = await c.startNetNode({ relayUrl: relay.url });
    const nodeB = await c.startNetNode({ relayUrl: proxy.url });
    const a = await open(nodeA.url);
    const b = await open(nodeB.url);
    await linked([a, b]);
    const shared = await a.addEntry({ note: 'shared' });
    await next((cb) => b.onEntry(cb), (e) => e.id === shared.id, 10000, 'shared entry on B');

    const live = new LiveLedger(b);
    await live.start();
    const reorgs = [];
    b.onReorg((r) => reorgs.push(r));
    const liveReorgs = [];
    live.onChange((ch) => ch.kind === 'reorg' && liveReorgs.push(ch));

    proxy.cut();
    // A's branch gets two entries, B's one: healing makes B switch, then re-append its entry.
    const a1 = await a.addEntry({ note: 'A during the cut', i: 1 });
    const a2 = await a.addEntry({ note: 'A during the cut', i: 2 });
    const lonely = await b.addEntry({ note: 'B during the cut' });
    assert.equal(lonely.previous_hash, shared.hash);
    const reorged = next((cb) => b.onReorg(cb), () => true, 20000, 'ledger_reorg on B');
    proxy.heal();
    // A's entries may reach B one at a time, so later steps can vary (a tie between two single
    // entries goes to the smaller hash), but the first switch always drops B's lonely entry.
    const reorg = await reorged;
    assert.equal(reorg.fork_height, 1);
    assert.deepEqual(reorg.removed, [lonely.id]);
    assert.equal(reorg.added[0].id, a1.id);

    await c.waitConverged([a.socket, b.socket], { minHeight: 4 });
    const chain = await b.getFullLedger();
    assert.equal(chain[0].id, shared.id);
    assert.deepEqual(chain.map((e) => e.id).sort(), [shared.id, a1.id, a2.id, lonely.id].sort());
    const reappended = chain.find((e) => e.id === lonely.id);
    assert.notEqual(reappended.hash, lonely.hash, 'B re-appended its entry on the new branch, signed again');
    assert.deepEqual(reappended.data, lonely.data);
    assert.ok((await verifyChain(chain)).valid);
    assert.equal(liveReorgs.length, reorgs.length);
    assert.deepEqual(liveReorgs[0].removed.map((e) => e.id), [lonely.id]);
    await h.withTimeout((async () => {
      while (live.tipHash !== chain[3].hash) await c.sleep(20);
    })(), 5000, 'mirror to catch up');
    assert.deepEqual(live.entries, chain);
    assert.equal((await live.settled()).state, 'verified');
    assert.equal(live.verification.verified, 4);
    live.stop();
  });

  it('RelayConnection speaks the envelope protocol with a token-protected relay that requires proofs', async () => {
    const token = crypto.randomBytes(8).toString('hex');
    const relay = await c.startRelay({ args: ['--token', token, '--require-proof'] });
    const node = await c.startNetNode({ relayUrl: relay.url, args: ['--token', token] });
    const client = await open(node.url);
    const realId = (await client.nodeInfo()).node_id;

    const seed = crypto.randomBytes(32).toString('hex');
    const me = nodeIdFromSeed(seed);
    await assert.rejects(RelayConnection.connect(relay.url, { nodeId: me, token: 'wrong', WebSocket }));
    await assert.rejects(RelayConnection.connect(relay.url, { nodeId: me, WebSocket }));

    await assert.rejects(RelayConnection.connect(relay.url, { nodeId: me, seed: crypto.randomBytes(32).toString('hex'), token, WebSocket }),
                         /seed must be the 64-hex Ed25519 seed of nodeId/);
    const viaHeader = await RelayConnection.connect(relay.url, { nodeId: me, seed, token, tokenIn: 'header', WebSocket });
    assert.equal(viaHeader.proving, true);
    viaHeader.announce();
    const announce = await viaHeader.waitFor((m) => m.message_type === 'NodeAnnounce' && m.sender_id === realId);
    assert.equal(announce.payload.node_id, realId);
    assert.equal(announce.payload.protocol, PROTOCOL_VERSION);
    assert.equal(typeof announce.payload.height, 'number');

    // A directed answer to our broadcast request names us as recipient.
    const request = viaHeader.send('NodeListRequest', {});
    const reply = await viaHeader.waitFor((m) => m.message_type === 'NodeListResponse');
    assert.equal(reply.recipient_id, me);
    assert.notEqual(reply.message_id, request.message_id);
    assert.ok(Array.isArray(reply.payload.nodes) && reply.payload.nodes.every((id) => typeof id === 'string'));
    assert.ok(Array.isArray(reply.payload.peers));

    // An entry we create and sign here is validated by the node and reaches its clients.
    const info = await client.nodeInfo();
    const entry = createEntry({ seed, data: { note: 'from a relay peer' }, previousHash: info.tip_hash });
    const arrived = next((cb) => client.onEntry(cb), (e) => e.id === entry.id, 10000, 'announced entry on the node');
    viaHeader.send('EntryAnnounce', { entry, height: info.height + 1, tip_hash: entry.hash });
    assert.deepEqual(await arrived, entry);

    // The same id over ?token= replaces the first connection (the relay closes the older one).
    const closed = new Promise((resolve) => viaHeader.onClose(resolve));
    const viaQuery = await RelayConnection.connect(relay.url, { nodeId: me, seed, token, WebSocket });
    viaQuery.announce();
    await h.withTimeout(closed, 10000, 'the older connection to be replaced');
    await viaQuery.waitFor((m) => m.message_type === 'NodeAnnounce' && m.sender_id === realId);
    const stats = await (await fetch(`${relay.url.replace('ws:', 'http:')}/stats`)).json();
    assert.deepEqual(stats.proven_nodes, [me, realId].sort(), 'both the gsio-node and this connection proved their ids');
    viaQuery.close();
  });

  it('encodes and decodes envelopes, refusing malformed ones', () => {
    const env = makeEnvelope('EntryRequest', 'ab'.repeat(32), { hashes: ['00'.repeat(32)] });
    assert.match(env.message_id, /^[0-9a-f]{32}$/);
    assert.deepEqual(decodeEnvelope(encodeEnvelope(env)), env);
    for (const bad of ['[]', '{', '{"message_type":"X"}', JSON.stringify({ ...env, message_id: '' }),
      JSON.stringify({ ...env, message_id: 'x'.repeat(257) }), JSON.stringify({ ...env, payload: [] }),
      JSON.stringify({ ...env, recipient_id: null })]) {
      assert.throws(() => decodeEnvelope(bad), EnvelopeError, bad);
    }
    assert.throws(() => encodeEnvelope({ ...env, sender_id: 7 }), EnvelopeError);
  });
});

describe('GsioClient on a private network', () => {
  after(async () => {
    closeAll();
    await h.cleanup();
  });

  it('authenticates with a key, posts as its author, and verifies the chain with its author blocks', async () => {
    const authorSeed = crypto.randomBytes(32).toString('hex');
    const author = nodeIdFromSeed(authorSeed);
    const dir = h.tempDir();
    fs.mkdirSync(`${dir}/data`, { mode: 0o700 });
    const made = await h.gsio(['key', 'create', `${dir}/data/node.key`]);
    assert.equal(made.code, 0, made.stderr);
    const created = await h.gsio(['network', 'create', 'ts', '--dir', `${dir}/net`,
                                  '--members', `${made.stdout.trim()}:node,${author}:author:ada`]);
    assert.equal(created.code, 0, created.stderr);
    const node = await h.startNode({ dataDir: `${dir}/data`, args: ['--network', `${dir}/net/network.json`] });
    const client = await open(node.url, { transports: ['websocket'] });
    await assert.rejects(client.getLedger(), (err) => err instanceof GsioRequestError && /is for its members/.test(err.reason));
    assert.deepEqual(await client.authenticate(authorSeed), { key: author, role: 'author' });
    assert.equal(client.challenge.network_name, 'ts');
    const entry = await client.addAuthoredEntry({ msg: 'from the TS client' });
    assert.equal(entry.data.author.key, author);
    const chain = await client.getLedger();
    const verified = await verifyChain(chain);
    assert.equal(verified.valid, true, JSON.stringify(verified.problem));
    assert.equal(chain.length, 2);
    // A stranger's key is refused.
    const other = await open(node.url, { transports: ['websocket'] });
    await assert.rejects(other.authenticate(crypto.randomBytes(32).toString('hex')),
                         (err) => err instanceof GsioRequestError && /is not a member/.test(err.reason));
    // authenticate() called before the challenge came sends one proof, not two: the node checks
    // one at a time and would refuse a second sent while the first is checked.
    const early = new GsioClient(node.url, { transports: ['websocket'] });
    clients.add(early);
    assert.deepEqual(await early.authenticate(authorSeed), { key: author, role: 'author' });
    assert.equal((await early.getLedger()).length, 2);
  });

  it('RelayConnection takes part in a private network only through a relay that serves it', async () => {
    const peerSeed = crypto.randomBytes(32).toString('hex');
    const peer = nodeIdFromSeed(peerSeed);
    const dir = h.tempDir();
    fs.mkdirSync(`${dir}/data`, { mode: 0o700 });
    const made = await h.gsio(['key', 'create', `${dir}/data/node.key`]);
    assert.equal(made.code, 0, made.stderr);
    const nodeKey = made.stdout.trim();
    const created = await h.gsio(['network', 'create', 'ts-relay', '--dir', `${dir}/net`,
                                  '--members', `${nodeKey}:node,${peer}:node`]);
    assert.equal(created.code, 0, created.stderr);
    const file = `${dir}/net/network.json`;
    const networkId = JSON.parse(fs.readFileSync(file, 'utf8')).hash;
    const relay = await c.startRelay({ args: ['--network', file] });
    await h.startNode({ dataDir: `${dir}/data`, args: ['--network', file, '--relay', relay.url, '--announce-interval-ms', '200'] });

    // A relay that serves no private network is refused before anything is sent.
    const open = await c.startRelay();
    await assert.rejects(RelayConnection.connect(open.url, { nodeId: peer, seed: peerSeed, network: { id: networkId }, WebSocket }),
                         /does not serve private network [0-9a-f]{64} \(it serves no private network\)/);
    await assert.rejects(RelayConnection.connect(relay.url, { nodeId: peer, network: { id: networkId }, WebSocket }),
                         /needs .* a seed/);

    // Through the network's relay, the peer (admitted by the charter: no membership to show) is
    // let in and hears the node, every message tagged with the network.
    const conn = await RelayConnection.connect(relay.url, { nodeId: peer, seed: peerSeed, network: { id: networkId }, WebSocket });
    try {
      const heard = conn.waitFor((env) => env.message_type === 'NodeAnnounce' && env.sender_id === nodeKey, 10000);
      const sent = conn.announce();
      assert.equal(sent.network_id, networkId);
      const announce = await heard;
      assert.equal(announce.network_id, networkId);
      assert.equal(announce.payload.node_id, nodeKey);
    } finally {
      conn.close();
    }
  });

  it('after a reconnect, holds requests until the new challenge is answered with the key', async () => {
    const authorSeed = crypto.randomBytes(32).toString('hex');
    const dir = h.tempDir();
    fs.mkdirSync(`${dir}/data`, { mode: 0o700 });
    const made = await h.gsio(['key', 'create', `${dir}/data/node.key`]);
    assert.equal(made.code, 0, made.stderr);
    const created = await h.gsio(['network', 'create', 'ts', '--dir', `${dir}/net`,
                                  '--members', `${made.stdout.trim()}:node,${nodeIdFromSeed(authorSeed)}:author`]);
    assert.equal(created.code, 0, created.stderr);
    const args = ['--network', `${dir}/net/network.json`];
    let node = await h.startNode({ dataDir: `${dir}/data`, args });
    const client = await open(node.url, { transports: ['websocket'], reconnectDelayMs: 100, reconnectDelayMaxMs: 500,
                                          requestTimeoutMs: 20000 });
    await client.authenticate(authorSeed);
    const live = new LiveLedger(client);
    const errors = [];
    live.onError((err) => errors.push(err.message));
    await live.start();
    const down = next((cb) => client.onState(cb), (s) => s.state === 'reconnecting', 10000, 'reconnecting');
    await node.stop('SIGTERM');
    await down;
    // Asked while the node is down: it must not reach the new connection before the proof does,
    // and neither must LiveLedger's reload on the reconnect; the node would refuse both.
    const pending = client.getLedger();
    const reloaded = next((cb) => live.onChange(cb), (ch) => ch.kind === 'reset', 20000, 'LiveLedger reload');
    node = await h.startNode({ dataDir: `${dir}/data`, args: [...args, '--port', String(node.port)] });
    assert.equal((await pending).length, 1, 'the charter');
    await reloaded;
    assert.deepEqual(errors, []);
    assert.equal((await client.addAuthoredEntry({ msg: 'after the reconnect' })).previous_hash, live.entries[0].hash);
    live.stop();
  });
});
