'use strict';
// Private networks (DESIGN §10) with real gsio, gsio-node and gsio-relay processes: `gsio key` and
// `gsio network create`, a node started with --network (its start-up, /health, the writes it
// takes and refuses, a data directory of another network), admin statements through a node,
// and two networks sharing one relay without seeing each other's traffic.
const { describe, it, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./lib/harness');
const c = require('./lib/cluster');
const m = require('./lib/members');
const forge = require('./lib/forge');

afterEach(c.cleanup);

const HEX64 = /^[0-9a-f]{64}$/;

const { gsio } = h;

// A node data directory whose key is made beforehand, so that a charter can admit it.
async function nodeDir() {
  const dir = h.tempDir('gsio-member-');
  const made = await gsio(['key', 'create', path.join(dir, 'node.key')]);
  assert.equal(made.code, 0, made.stderr);
  return { dir, key: made.stdout.trim() };
}

// A network whose charter admits `members` ([{key, role, nick}]); returns its files and id.
async function createNetwork(name, members, extra = []) {
  const dir = path.join(h.tempDir('gsio-net-'), 'net');
  const list = members.map((m) => `${m.key}:${m.role}${m.nick ? ':' + m.nick : ''}`).join(',');
  const made = await gsio(['network', 'create', name, '--dir', dir, ...(list ? ['--members', list] : []), ...extra]);
  assert.equal(made.code, 0, made.stderr);
  const id = /id:\s+([0-9a-f]{64})/.exec(made.stdout)[1];
  return { dir, id, file: path.join(dir, 'network.json'), adminKey: path.join(dir, 'admin.key'), output: made.stdout };
}

// A socket on `node` that proved the network's admin key: admins read (and carry statements).
async function adminSocket(node, net) {
  const { socket, answer } = await m.connectAs(node, m.keyFromFile(net.adminKey));
  assert.equal(answer.role, 'admin', JSON.stringify(answer));
  return socket;
}

// A socket of `key` (an author) on `node`, and a function posting `data` signed by that author.
async function authorOn(node, net, key) {
  const { socket, answer } = await m.connectAs(node, key);
  assert.equal(answer.role, 'author', JSON.stringify(answer));
  return { socket, post: (data) => h.emitAck(socket, 'add_ledger_entry', m.authored(key, net.id, data)) };
}

async function metric(node, name, labels) {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('private networks', () => {
  it('gsio key and gsio network create write private files and never overwrite them', async () => {
    const { dir, key } = await nodeDir();
    assert.match(key, HEX64);
    assert.equal(fs.statSync(path.join(dir, 'node.key')).mode & 0o777, 0o600);
    const shown = await gsio(['key', 'show', path.join(dir, 'node.key')]);
    assert.equal(shown.stdout.trim(), key);
    const again = await gsio(['key', 'create', path.join(dir, 'node.key')]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already exists/);
    assert.equal((await gsio(['key', 'show', path.join(dir, 'node.key')])).stdout.trim(), key, 'the key is unchanged');

    const net = await createNetwork('friends', [{ key, role: 'node', nick: 'first' }], ['--read', 'anyone']);
    assert.equal(fs.statSync(net.dir).mode & 0o777, 0o700);
    assert.equal(fs.statSync(net.adminKey).mode & 0o777, 0o600);
    const charter = JSON.parse(fs.readFileSync(net.file, 'utf8'));
    assert.equal(charter.hash, net.id);
    assert.equal(charter.previous_hash, '0'.repeat(64));
    assert.equal(charter.data.gsio, 'charter');
    assert.equal(charter.data.read, 'anyone');
    assert.deepEqual(charter.data.members, [{ key, nick: 'first', role: 'node' }]);
    const show = await gsio(['network', 'show', net.file]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, new RegExp(`node\\s+${key}\\s+first`));

    const twice = await gsio(['network', 'create', 'other', '--dir', net.dir]);
    assert.equal(twice.code, 2);
    assert.match(twice.stderr, /already holds a network/);
    const badMember = await gsio(['network', 'create', 'x', '--dir', path.join(h.tempDir(), 'n'), '--members', `${key}:admin`]);
    assert.equal(badMember.code, 2);
    assert.match(badMember.stderr, /role node, author or reader/);
    // A charter changed after signing is refused by `network show` and by the node alike.
    charter.data.read = 'members';
    fs.writeFileSync(net.file, JSON.stringify(charter));
    assert.equal((await gsio(['network', 'show', net.file])).code, 2);
    const refused = await h.runNodeToExit(['--port', '0', '--data-dir', h.tempDir(), '--network', net.file]);
    assert.equal(refused.code, 2);
    assert.match(refused.output, /--network .*(hash|signature)/);
  });

  it('a member node takes writes; a node that is not a member refuses them and counts why', async () => {
    const member = await nodeDir();
    const outsider = await nodeDir();
    const ada = m.randomKey();
    const net = await createNetwork('friends', [{ key: member.key, role: 'node' }, { key: ada.id, role: 'author' }]);
    const a = await h.startNode({ dataDir: member.dir, args: ['--network', net.file] });
    const b = await h.startNode({ dataDir: outsider.dir, args: ['--network', net.file] });
    assert.match(a.log, /private network "friends" \(id [0-9a-f]{64}\): 3 members/);
    assert.doesNotMatch(a.log, /not a member/);
    assert.match(b.log, /this node is not a member node of the network/);
    const health = await h.health(a);
    assert.deepEqual(health.network, { id: net.id, name: 'friends' });
    assert.equal(health.open, false);
    assert.equal(health.height, 1, 'the chain starts with the charter');

    const sa = await authorOn(a, net, ada);
    const sb = await authorOn(b, net, ada);
    const ok = await sa.post({ msg: 'from a member' });
    assert.equal(ok.previous_hash, net.id);
    assert.equal(ok.data.author.key, ada.id);
    const refusal = await sb.post({ msg: 'through an outsider' });
    assert.match(refusal.error, /not a member node of network "friends"/);
    assert.equal((await h.health(b)).height, 1);
    // /metrics is scraped from the actors every second or so.
    await h.waitUntil(async () => await metric(b, 'gsio_ledger_refusals_total', 'reason="not_member"') === 1,
                      5000, 'the refusal to be counted by reason');

    // gsio verify applies the membership rules to an exported chain: the node's signature over a
    // changed post holds (it re-signed it), the author's does not.
    const exported = await gsio(['--node', a.url, '--key', net.adminKey, 'ledger', '--json']);
    assert.equal(exported.code, 0, exported.stderr);
    const chain = JSON.parse(exported.stdout);
    const file = path.join(h.tempDir(), 'chain.json');
    fs.writeFileSync(file, JSON.stringify(chain));
    const verified = await gsio(['verify', '--from-file', file]);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    const nodeKey = m.keyFromFile(path.join(member.dir, 'node.key'));
    const post = chain[1];
    post.data.msg = 'changed';
    post.hash = forge.entryHash(post);
    post.signatures = { [post.creator_node_id]: require('node:crypto').sign(null, Buffer.from(post.hash, 'hex'), nodeKey.privateKey).toString('hex') };
    fs.writeFileSync(file, JSON.stringify(chain));
    const tampered = await gsio(['verify', '--from-file', file]);
    assert.equal(tampered.code, 4, tampered.stdout + tampered.stderr);
    assert.match(tampered.stdout, /entry #1 .*bad_author: the author's signature/);

    // A restart keeps the network; a data directory of this network under another is refused.
    await a.stop();
    const again = await h.startNode({ dataDir: member.dir, args: ['--network', net.file] });
    assert.equal((await h.health(again)).height, 2);
    await again.stop();
    const other = await createNetwork('others', [{ key: member.key, role: 'node' }]);
    const wrong = await h.runNodeToExit(['--port', '0', '--data-dir', member.dir, '--network', other.file]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.output, /is not a chain of network [0-9a-f]{64}/);
  });

  it('an open node says so at start and in /health', async () => {
    const node = await h.startNode();
    assert.match(node.log, /open network: anyone who can reach this node can add entries/);
    const health = await h.health(node);
    assert.equal(health.network, null);
    assert.equal(health.open, true);
  });

  it('two networks on one relay never see each other\'s traffic', async () => {
    const [a1, a2, b1] = await Promise.all([nodeDir(), nodeDir(), nodeDir()]);
    const [alice, bob] = [m.randomKey(), m.randomKey()];
    const netA = await createNetwork('alpha', [{ key: a1.key, role: 'node' }, { key: a2.key, role: 'node' },
                                               { key: alice.id, role: 'author' }]);
    const netB = await createNetwork('beta', [{ key: b1.key, role: 'node' }, { key: bob.id, role: 'author' }]);
    const relay = await c.startRelay({ args: ['--network', `${netA.file},${netB.file}`] });
    const nodes = [
      await c.startNetNode({ relayUrl: relay.url, dataDir: a1.dir, args: ['--network', netA.file] }),
      await c.startNetNode({ relayUrl: relay.url, dataDir: a2.dir, args: ['--network', netA.file] }),
      await c.startNetNode({ relayUrl: relay.url, dataDir: b1.dir, args: ['--network', netB.file] }),
      await c.startNetNode({ relayUrl: relay.url }),  // an open node: the relay takes none of its messages
    ];
    const writerA = await authorOn(nodes[0], netA, alice);
    const writerB = await authorOn(nodes[2], netB, bob);
    const sockets = [writerA.socket, await adminSocket(nodes[1], netA), writerB.socket, await h.connect(nodes[3].url)];
    await h.waitUntil(async () => {
      const peers = await h.emitAck(sockets[0], 'get_known_nodes');
      return peers.peers.filter((p) => !p.is_self).length >= 1;
    }, 10000, 'alpha nodes to see each other', 50);
    for (let i = 0; i < 5; i++) {
      assert.equal((await writerA.post({ alpha: i })).error, undefined);
      assert.equal((await writerB.post({ beta: i })).error, undefined);
      await h.emitAck(sockets[3], 'add_ledger_entry', { open: i });
    }
    await h.waitUntil(async () => (await h.health(nodes[1])).height === 6, 10000, 'alpha to converge');
    // Long enough for several announces: nothing of alpha's reaches beta or the open node.
    await c.sleep(4 * c.ANNOUNCE_MS);
    const heights = await Promise.all(nodes.map(async (n) => (await h.health(n)).height));
    assert.deepEqual(heights, [6, 6, 6, 5]);
    const known = await h.emitAck(sockets[2], 'get_known_nodes');
    assert.deepEqual(known.peers.filter((p) => !p.is_self), [], 'beta knows no node of another network');
    const chainA = await h.emitAck(sockets[1], 'get_ledger', { from: 0, limit: 10 });
    assert.equal(chainA[0].hash, netA.id);
    assert.ok(chainA.slice(1).every((e) => 'alpha' in e.data));
    // The relay kept them apart: the nodes never had to drop another network's message.
    for (const s of sockets) {
      const info = await h.emitAck(s, 'node_info');
      assert.equal(info.sync.other_network_dropped, 0);
    }
  });

  it('a node of a private network uses no relay that does not serve its network', async () => {
    const [d1, d2] = await Promise.all([nodeDir(), nodeDir()]);
    const net = await createNetwork('friends', [{ key: d1.key, role: 'node' }, { key: d2.key, role: 'node' }]);
    const other = await createNetwork('others', []);
    const open = await c.startRelay();
    const foreign = await c.startRelay({ args: ['--network', other.file] });
    const a = await c.startNetNode({ relayUrl: `${open.url},${foreign.url}`, dataDir: d1.dir, args: ['--network', net.file] });
    // The node dials each in turn (--relay A,B fails over), and leaves each before sending anything.
    await h.waitUntil(async () => {
      const stats = await Promise.all([open, foreign].map((r) => c.relayStats(r)));
      return stats.every((st) => (st.disconnects.peer_closed ?? 0) >= 1);
    }, 10000, 'the node to leave both relays');
    assert.match(a.log, /cannot reach ws:\/\/127\.0\.0\.1:\d+\/?: the relay does not serve private network [0-9a-f]{16} \(start it with --network/);
    assert.equal((await c.relayStats(open)).messages_in, 0, 'nothing was sent to the open relay');
    assert.equal((await c.relayStats(foreign)).messages_in, 0);
    // The same node through a relay that serves its network reaches the other member.
    const relay = await c.startRelay({ args: ['--network', net.file] });
    const b = await c.startNetNode({ relayUrl: relay.url, dataDir: d2.dir, args: ['--network', net.file] });
    await a.stop();
    const a2 = await c.startNetNode({ relayUrl: relay.url, dataDir: d1.dir, args: ['--network', net.file] });
    const sockets = await Promise.all([a2, b].map((n) => adminSocket(n, net)));
    await h.waitUntil(async () => (await c.relayStats(relay)).nodes.length === 2, 10000, 'both on the relay');
    await h.emitAck(sockets[0], 'get_members');
    assert.doesNotMatch(a2.log, /does not serve private network/);
  });

  it('invites: a node joins with --join, an author with gsio join, and each invite works once', async () => {
    const first = await nodeDir();
    const net = await createNetwork('friends', [{ key: first.key, role: 'node' }]);
    const relay = await c.startRelay({ args: ['--network', net.file] });
    const a = await c.startNetNode({ relayUrl: relay.url, dataDir: first.dir, args: ['--network', net.file] });
    const made = await gsio(['--node', a.url, 'invite', '--admin-key', net.adminKey, '--role', 'node', '--expires', '1h']);
    assert.equal(made.code, 0, made.stderr);
    const lines = made.stdout.trim().split('\n');
    const invite = lines[lines.length - 1];
    assert.equal(lines[lines.length - 2], `${a.url}/#invite=${invite}`);
    assert.match(invite, /^[A-Za-z0-9_-]+$/);

    const second = await nodeDir();
    const b = await c.startNetNode({ relayUrl: relay.url, dataDir: second.dir,
                                     args: ['--network', net.file, '--join', lines[lines.length - 2]] });
    assert.match(b.log, /redeemed the invite/);
    const [sa, sb] = await Promise.all([a, b].map((n) => adminSocket(n, net)));
    await c.waitConverged([sa, sb], { minHeight: 2, timeout: 20000 });

    // An author joins through b and posts; a shows the post with the author's key.
    const authorKey = path.join(h.tempDir(), 'ada.key');
    const authorInvite = (await gsio(['--node', a.url, 'invite', '--admin-key', net.adminKey, '--role', 'author'])).stdout.trim().split('\n').pop();
    const joined = await gsio(['--node', b.url, '--key', authorKey, 'join', authorInvite, '--nick', 'ada']);
    assert.equal(joined.code, 0, joined.stderr);
    const again = await gsio(['--node', b.url, '--key', authorKey, 'join', authorInvite]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already redeemed/);
    const posted = await gsio(['--node', b.url, '--key', authorKey, 'add', '{"msg":"hello"}']);
    assert.equal(posted.code, 0, posted.stderr);
    const adaKey = (await gsio(['key', 'show', authorKey])).stdout.trim();
    assert.equal(JSON.parse(posted.stdout).data.author.key, adaKey);
    await c.waitConverged([sa, sb], { minHeight: 4, timeout: 20000 });
    const unproved = await gsio(['--node', a.url, 'members']);
    assert.equal(unproved.code, 1);
    assert.match(unproved.stderr, /is for its members: answer the challenge/);
    const members = JSON.parse((await gsio(['--node', a.url, '--key', net.adminKey, 'members', '--json'])).stdout);
    assert.deepEqual(members.network, { id: net.id, name: 'friends', read: 'members' });
    const ada = members.members.find((x) => x.key === adaKey);
    assert.equal(ada.role, 'author');
    assert.equal(ada.nick, 'ada');
    // The charter (index 0) admits the admin and the first node, in key order.
    assert.deepEqual(members.changes.map((ch) => `${ch.index} ${ch.op} ${ch.role}`).sort(),
                     ['0 admitted admin', '0 admitted node', '1 admitted node', '2 admitted author']);

    // The spent node invite, on a third node that knows only the charter: it redeems on its own
    // chain, but the network's nodes do not let it pull theirs (another key spent the invite).
    const third = await nodeDir();
    const c3 = await c.startNetNode({ relayUrl: relay.url, dataDir: third.dir, args: ['--network', net.file, '--join', invite] });
    const s3 = await adminSocket(c3, net);
    await h.waitUntil(() => /not letting node [0-9a-f]{12} read the chain: .*redeemed by another key/.test(a.log + b.log),
                      10000, 'the network to refuse the third node a read');
    await h.waitUntil(async () => (await c.nodeInfo(sa)).sync.not_member_dropped + (await c.nodeInfo(sb)).sync.not_member_dropped > 0,
                      10000, 'its pull to be dropped');
    assert.equal((await c.nodeInfo(s3)).height, 2, 'the third node has only the charter and its redemption');
    const after = await h.emitAck(sa, 'get_members');
    assert.ok(!after.members.some((m) => m.key === third.key));
  });

  it('a second redemption of one invite is refused, also when both race on two cut-off nodes', async () => {
    const [d1, d2] = await Promise.all([nodeDir(), nodeDir()]);
    const net = await createNetwork('friends', [{ key: d1.key, role: 'node' }, { key: d2.key, role: 'node' }]);
    const relay = await c.startRelay({ args: ['--network', net.file] });
    const nodes = [
      await c.startNetNode({ relayUrl: relay.url, dataDir: d1.dir, args: ['--network', net.file] }),
      await c.startNetNode({ relayUrl: relay.url, dataDir: d2.dir, args: ['--network', net.file] }),
    ];
    const sockets = await Promise.all(nodes.map((n) => adminSocket(n, net)));
    await c.waitConverged(sockets, { minHeight: 1 });
    const invite = (await gsio(['--node', nodes[0].url, 'invite', '--admin-key', net.adminKey, '--role', 'author'])).stdout.trim().split('\n').pop();
    // Cut both off, redeem the one invite on each for two different keys.
    for (const n of nodes) n.proc.kill('SIGUSR1');
    await h.waitUntil(async () => (await Promise.all(sockets.map(c.nodeInfo))).every((i) => i.sync.links.length === 0),
                      5000, 'links to be suspended');
    const keys = [path.join(h.tempDir(), 'x.key'), path.join(h.tempDir(), 'y.key')];
    const results = await Promise.all(nodes.map((n, i) => gsio(['--node', n.url, '--key', keys[i], 'join', invite])));
    assert.deepEqual(results.map((r) => r.code), [0, 0], 'each node alone takes the redemption');
    for (const n of nodes) n.proc.kill('SIGUSR2');
    const infos = await c.waitConverged(sockets, { minHeight: 2, timeout: 30000 });
    assert.equal(infos[0].height, 2, 'one redemption is on the chain, the other refused at re-append');
    const chain = await h.getAll(sockets[1]);
    assert.equal(chain.filter((e) => e.data.gsio === 'redeem').length, 1);
    const members = await h.emitAck(sockets[0], 'get_members');
    const keyOf = async (file) => (await gsio(['key', 'show', file])).stdout.trim();
    const admitted = members.members.filter((x) => x.role === 'author').map((x) => x.key);
    assert.equal(admitted.length, 1);
    assert.ok([await keyOf(keys[0]), await keyOf(keys[1])].includes(admitted[0]));
  });

  it('after a removal the author\'s writes are refused everywhere, also those made on a cut-off node', async () => {
    const [d1, d2] = await Promise.all([nodeDir(), nodeDir()]);
    const authorFile = path.join(h.tempDir(), 'ada.key');
    const ada = (await gsio(['key', 'create', authorFile])).stdout.trim();
    const bob = m.randomKey();
    const net = await createNetwork('friends', [{ key: d1.key, role: 'node' }, { key: d2.key, role: 'node' },
                                                { key: ada, role: 'author', nick: 'ada' },
                                                { key: bob.id, role: 'author', nick: 'bob' }]);
    const relay = await c.startRelay({ args: ['--network', net.file] });
    const nodes = [
      await c.startNetNode({ relayUrl: relay.url, dataDir: d1.dir, args: ['--network', net.file] }),
      await c.startNetNode({ relayUrl: relay.url, dataDir: d2.dir, args: ['--network', net.file] }),
    ];
    const sockets = await Promise.all(nodes.map((n) => adminSocket(n, net)));
    const bobOn0 = await authorOn(nodes[0], net, bob);
    assert.equal((await gsio(['--node', nodes[1].url, '--key', authorFile, 'add', '{"before":1}'])).code, 0);
    await c.waitConverged(sockets, { minHeight: 2 });
    // Node 1 is cut off and keeps taking ada's posts while node 0 takes the removal and more.
    nodes[1].proc.kill('SIGUSR1');
    await h.waitUntil(async () => (await c.nodeInfo(sockets[1])).sync.links.length === 0, 5000, 'node 1 cut off');
    const removed = await gsio(['--node', nodes[0].url, 'remove', ada, '--admin-key', net.adminKey]);
    assert.equal(removed.code, 0, removed.stderr);
    for (let i = 0; i < 3; i++)
      assert.equal((await bobOn0.post({ main: i })).error, undefined);
    for (let i = 0; i < 2; i++)
      assert.equal((await gsio(['--node', nodes[1].url, '--key', authorFile, 'add', `{"cut":${i}}`])).code, 0);
    const refusedHere = await gsio(['--node', nodes[0].url, '--key', authorFile, 'add', '{"x":1}']);
    assert.equal(refusedHere.code, 1);
    assert.match(refusedHere.stderr, /is not a member of network/);
    nodes[1].proc.kill('SIGUSR2');
    const infos = await c.waitConverged(sockets, { minHeight: 6, timeout: 30000 });
    assert.equal(infos[0].height, 6);  // charter, before, removal, 3 of node 0: ada's cut posts are not re-appended
    const chains = await Promise.all(sockets.map((s) => h.getAll(s)));
    assert.deepEqual(chains[0], chains[1]);
    assert.ok(chains[0].every((e) => !('cut' in e.data)), 'no post of ada after her removal');
    assert.ok(chains[0].some((e) => 'before' in e.data), 'her post before the removal stays');
    const refusedThere = await gsio(['--node', nodes[1].url, '--key', authorFile, 'add', '{"x":2}']);
    assert.equal(refusedThere.code, 1);
    await h.waitUntil(async () => await metric(nodes[1], 'gsio_ledger_refusals_total', 'reason="not_member"') >= 2,
                      5000, 'node 1 to count its refused re-appends and the refused add');
  });

  it('over /p2p, a node reads the chain only with its key proven and its membership at the tip', async () => {
    const [d1, d2, outsider] = await Promise.all([nodeDir(), nodeDir(), nodeDir()]);
    const ada = m.randomKey();
    const net = await createNetwork('friends', [{ key: d1.key, role: 'node' }, { key: d2.key, role: 'node' },
                                                { key: ada.id, role: 'author', nick: 'ada' }]);
    const a = await c.startNetNode({ dataDir: d1.dir, args: ['--network', net.file] });
    const sa = await adminSocket(a, net);
    const adaOnA = await authorOn(a, net, ada);
    assert.equal((await adaOnA.post({ secret: 1 })).error, undefined);
    // A node of the network whose key no admin admitted dials a directly: its proof of key holds,
    // its membership does not, so a answers none of its requests and sends it no entries.
    const o = await c.startNetNode({ peer: a.url, dataDir: outsider.dir, args: ['--network', net.file] });
    const so = await adminSocket(o, net);
    await h.waitUntil(() => /not letting node [0-9a-f]{12} read the chain: .*not a member and shows no admission/.test(a.log),
                      10000, 'a to refuse the outsider a read');
    await h.waitUntil(async () => (await c.nodeInfo(sa)).sync.not_member_dropped > 0, 10000, 'its pull to be dropped');
    assert.equal((await adaOnA.post({ secret: 2 })).error, undefined);
    // A member node dialing a gets everything, including what came after the outsider connected.
    const b = await c.startNetNode({ peer: a.url, dataDir: d2.dir, args: ['--network', net.file] });
    const sb = await adminSocket(b, net);
    const [infoA] = await c.waitConverged([sa, sb], { minHeight: 3, timeout: 20000 });
    const infoO = await c.nodeInfo(so);
    assert.equal(infoO.height, 1, 'the outsider has the charter only');
    assert.equal(infoO.sync.entries_received_announce, 0, 'no entry was announced to the outsider');
    assert.deepEqual(Object.keys(infoO.sync.in_by_type), ['NodeAnnounce'], 'it heard a\'s hello, and nothing else');
    assert.notEqual(infoO.tip_hash, infoA.tip_hash);
    await h.waitUntil(async () => await metric(a, 'gsio_p2p_messages_dropped_total', 'reason="not_member"') > 0,
                      5000, 'the drops in /metrics');
    const known = (await h.emitAck(sa, 'get_known_nodes')).peers.map((n) => n.node_id);
    assert.ok(known.includes(outsider.key) && known.includes(d2.key), 'both dialed a and proved their keys');
  });

  it('1000 forged writes through a member node are refused and counted; the chain is unchanged', async () => {
    const member = await nodeDir();
    const authorFile = path.join(h.tempDir(), 'ada.key');
    const ada = (await gsio(['key', 'create', authorFile])).stdout.trim();
    const net = await createNetwork('friends', [{ key: member.key, role: 'node' }, { key: ada, role: 'author' }]);
    const node = await h.startNode({ dataDir: member.dir, args: ['--network', net.file] });
    const { socket } = await m.connectAs(node, m.keyFromFile(authorFile));
    const genuine = JSON.parse((await gsio(['--node', node.url, '--key', authorFile, 'add', '{"msg":"real"}'])).stdout);
    const block = genuine.data.author;
    const before = await h.health(node);
    const forged = [];
    for (let i = 0; i < 250; i++) {
      // ada's block on other data; a made-up key; a flipped signature; ada's genuine post replayed.
      forged.push({ msg: `forged ${i}`, author: block });
      forged.push({ msg: `made up ${i}`, author: { ...block, key: i.toString(16).padStart(64, 'a') } });
      forged.push({ msg: 'real', author: { ...block, sig: block.sig.slice(0, 127) + (block.sig[127] === '0' ? '1' : '0') } });
      forged.push({ msg: 'real', author: block });
    }
    const answers = [];  // in rounds below the node's 256 adds in flight per client
    for (let i = 0; i < forged.length; i += 200)
      answers.push(...await Promise.all(forged.slice(i, i + 200).map((data) => h.emitAck(socket, 'add_ledger_entry', data))));
    assert.equal(answers.filter((a) => typeof a.error === 'string').length, 1000);
    const unexpected = answers.filter((a) => !/author/.test(a.error)).map((a) => a.error);
    assert.deepEqual([...new Set(unexpected)], []);
    const after = await h.health(node);
    assert.equal(after.tip_hash, before.tip_hash);
    await h.waitUntil(async () => {
      // Made-up keys stop at the edge (not the key this connection proved), the rest at the ledger.
      const bad = await metric(node, 'gsio_ledger_refusals_total', 'reason="bad_author"');
      const notAuthor = await metric(node, 'gsio_ledger_refusals_total', 'reason="not_author"');
      return bad === 750 && notAuthor === 250;
    }, 5000, 'all 1000 refusals to be counted');
  });

  it('clients prove a member key with a fresh challenge before they read or write (attacker cases)', async () => {
    const member = await nodeDir();
    const [ada, rob, stranger] = [m.randomKey(), m.randomKey(), m.randomKey()];
    const net = await createNetwork('friends', [{ key: member.key, role: 'node' }, { key: ada.id, role: 'author' },
                                                { key: rob.id, role: 'reader' }]);
    const node = await h.startNode({ dataDir: member.dir, args: ['--network', net.file] });

    // No key: a challenge comes, and nothing is read, written or pushed until it is answered.
    const anon = await m.connectWithChallenge(node);
    assert.equal(anon.challenge.network_id, net.id);
    assert.match(anon.challenge.challenge, /^[0-9a-f]{64}$/);
    const pushed = [];
    anon.socket.on('ledger_entry_added', (e) => pushed.push(e));
    for (const [event, arg] of [['get_ledger', { from: 0, limit: 5 }], ['get_entry', 'x'], ['find_entries', { text: 'gsio' }],
                               ['verify_ledger'], ['get_members'], ['node_info'], ['get_known_nodes']]) {
      const answer = await h.emitAck(anon.socket, event, ...(arg ? [arg] : []));
      assert.match(answer.error, /is for its members: answer the challenge/, event);
    }
    const plain = await h.emitAck(anon.socket, 'add_ledger_entry', { msg: 'anonymous' });
    assert.match(plain.error, /authors only: answer the challenge/);

    // A stranger's key, correctly signed: not a member.
    const strangerAnswer = await m.connectAs(node, stranger);
    assert.match(strangerAnswer.answer.error, /is not a member of network/);

    // A replayed answer: the proof made for one connection, sent on another.
    const first = await m.connectWithChallenge(node);
    const proof = m.clientProof(ada, first.challenge);
    const second = await m.connectWithChallenge(node);
    assert.notEqual(first.challenge.challenge, second.challenge.challenge);
    assert.match((await h.emitAck(second.socket, 'authenticate', proof)).error, /does not prove key/);
    assert.deepEqual(await h.emitAck(first.socket, 'authenticate', proof), { key: ada.id, role: 'author' });
    assert.match((await h.emitAck(first.socket, 'authenticate', proof)).error, /already authenticated/);

    // A proof for another node of the same network does not work here.
    const elsewhere = m.clientProof(ada, { ...second.challenge, node_id: 'b'.repeat(64) });
    assert.match((await h.emitAck(second.socket, 'authenticate', elsewhere)).error, /does not prove key/);

    // An author writes as itself only; the post reaches proved members, not the anonymous socket.
    const readerSocket = (await m.connectAs(node, rob)).socket;
    const readerPushes = [];
    readerSocket.on('ledger_entry_added', (e) => readerPushes.push(e));
    const posted = await h.emitAck(first.socket, 'add_ledger_entry', m.authored(ada, net.id, { msg: 'hi' }));
    assert.equal(posted.data.author.key, ada.id);
    const asOther = await h.emitAck(first.socket, 'add_ledger_entry', m.authored(stranger, net.id, { msg: 'as someone else' }));
    assert.match(asOther.error, /signed by the key this connection proved/);
    const unsigned = await h.emitAck(first.socket, 'add_ledger_entry', { msg: 'unsigned' });
    assert.match(unsigned.error, /signed by the key this connection proved/);
    await h.waitUntil(() => readerPushes.length === 1, 5000, 'the reader to receive the post');
    await c.sleep(300);
    assert.deepEqual(pushed, [], 'nothing pushed to a socket that proved no key');
    // A reader reads but cannot write.
    assert.equal((await h.emitAck(readerSocket, 'get_ledger', { from: 0, limit: 5 })).length, 2);
    const byReader = await h.emitAck(readerSocket, 'add_ledger_entry', m.authored(rob, net.id, { msg: 'reader' }));
    assert.match(byReader.error, /is a reader, and only authors write/);

    // Eight failed proofs close the connection (each costs the node a verification).
    const prober = await m.connectWithChallenge(node);
    const closed = new Promise((resolve) => prober.socket.once('disconnect', resolve));
    for (let i = 0; i < 8; i++)
      await h.emitAck(prober.socket, 'authenticate', { key: ada.id, sig: '0'.repeat(128) }).catch(() => {});
    await h.withTimeout(closed, 5000, 'the prober to be disconnected');

    assert.equal((await h.health(node)).height, 2, 'only the one genuine post');
    await h.waitUntil(async () => await metric(node, 'gsio_ledger_refusals_total', 'reason="bad_client_proof"') >= 10 &&
                                  await metric(node, 'gsio_ledger_refusals_total', 'reason="unauthenticated"') === 8,
                      5000, 'the edge refusals to be counted');
  });

  it('a network that anyone may read pushes to every client, and still takes posts from authors only', async () => {
    const member = await nodeDir();
    const ada = m.randomKey();
    const net = await createNetwork('public', [{ key: member.key, role: 'node' }, { key: ada.id, role: 'author' }],
                                    ['--read', 'anyone']);
    const node = await h.startNode({ dataDir: member.dir, args: ['--network', net.file] });
    const anon = await m.connectWithChallenge(node);
    assert.equal(anon.challenge.read, 'anyone');
    const pushed = [];
    anon.socket.on('ledger_entry_added', (e) => pushed.push(e));
    assert.match((await h.emitAck(anon.socket, 'add_ledger_entry', { msg: 'x' })).error, /authors only/);
    const writer = await authorOn(node, net, ada);
    await writer.post({ msg: 'for everyone' });
    await h.waitUntil(() => pushed.length === 1, 5000, 'the anonymous reader to receive the post');
    assert.equal((await h.emitAck(anon.socket, 'get_ledger', { from: 0, limit: 5 })).length, 2);
  });

  it('a relay serving private networks admits a node only with its key proven and its admission shown', async () => {
    const [d1, d2, outsider, other] = await Promise.all([nodeDir(), nodeDir(), nodeDir(), nodeDir()]);
    const netA = await createNetwork('alpha', [{ key: d1.key, role: 'node' }]);
    const netB = await createNetwork('beta', [{ key: other.key, role: 'node' }]);
    const relay = await c.startRelay({ args: ['--network', netA.file] });
    assert.match(relay.log, /serving private network "alpha"/);
    const a = await c.startNetNode({ relayUrl: relay.url, dataDir: d1.dir, args: ['--network', netA.file] });
    // A node admitted later, by an invite: its announce shows the redemption.
    const invite = (await gsio(['--node', a.url, 'invite', '--admin-key', netA.adminKey, '--role', 'node'])).stdout.trim().split('\n').pop();
    const b = await c.startNetNode({ relayUrl: relay.url, dataDir: d2.dir, args: ['--network', netA.file, '--join', invite] });
    await h.waitUntil(async () => {
      const nodes = (await c.relayStats(relay)).nodes;
      return nodes.includes(d1.key) && nodes.includes(d2.key);
    }, 10000, 'both members on the relay');
    const [sa, sb] = await Promise.all([a, b].map((n) => adminSocket(n, netA)));
    await c.waitConverged([sa, sb], { minHeight: 2 });

    // Refused by the relay: a key no admin admitted, an open node. A node of a network the relay
    // does not serve refuses the relay itself (it is not listed in X-Gsio-Networks).
    const refusedNodes = [
      await c.startNetNode({ relayUrl: relay.url, dataDir: outsider.dir, args: ['--network', netA.file] }),
      await c.startNetNode({ relayUrl: relay.url, dataDir: other.dir, args: ['--network', netB.file] }),
      await c.startNetNode({ relayUrl: relay.url }),
    ];
    await h.waitUntil(async () => (await c.relayStats(relay)).drops.not_member >= 2, 10000, 'two refusals');
    await h.waitUntil(() => /the relay does not serve private network/.test(refusedNodes[1].log), 10000,
                      'the beta node to refuse the relay');
    await c.sleep(3 * c.ANNOUNCE_MS);
    const stats = await c.relayStats(relay);
    assert.deepEqual([...stats.nodes].sort(), [d1.key, d2.key].sort());
    assert.match(relay.log, /not a node of the charter and shows no admission/);
    assert.match(relay.log, /serves private networks only/);
    // Stopped, so that their retries do not add to the counts below.
    await Promise.all(refusedNodes.map((n) => n.stop()));

    // Forged proofs on a raw connection with a proven key: b's redemption shown by another key,
    // and a statement signed by a member that is not an admin.
    const rh = require('./lib/relay_harness');
    const key = m.randomKey();
    const redemption = (await h.getAll(sa)).find((e) => e.data.gsio === 'redeem').data;
    const prove = (challenge) => require('node:crypto').sign(null,
      require('node:crypto').createHash('sha256').update(`gsio-relay-announce\n${challenge}\n${key.id}`).digest(),
      key.privateKey).toString('hex');
    const { canonical } = require('./lib/forge');
    const forgedStatement = { gsio: 'member', network: netA.id, op: 'add', key: key.id, role: 'node', at: 1, by: d1.key };
    forgedStatement.sig = require('node:crypto').sign(null,
      Buffer.from(m.signedDigest('gsio-member-v1', netA.id, forgedStatement), 'hex'), key.privateKey).toString('hex');
    // A network the relay does not serve (a peer that ignores X-Gsio-Networks), and forged proofs.
    for (const [network, membership] of [[netB.id, ''], [netA.id, canonical(redemption)], [netA.id, canonical(forgedStatement)]]) {
      const peer = await rh.connectPeer(relay);
      const before = (await c.relayStats(relay)).drops.not_member;
      await peer.send({ message_type: 'NodeAnnounce', message_id: require('node:crypto').randomBytes(16).toString('hex'),
                        sender_id: key.id, recipient_id: '', network_id: network,
                        payload: { protocol: 2, node_id: key.id, relay_proof: prove(peer.challenge), membership } });
      await h.waitUntil(async () => (await c.relayStats(relay)).drops.not_member === before + 1, 5000, 'the forged proof refused');
      assert.ok(!(await c.relayStats(relay)).nodes.includes(key.id));
      await peer.close();
    }
    assert.match(relay.log, /does not admit node|not signed by an admin/);
    assert.match(relay.log, /does not serve network/);
  });
  it('a relay admits a node that an admin added after the charter admitted, shown with the chain to that admin', async () => {
    const [d1, d2, later] = await Promise.all([nodeDir(), nodeDir(), nodeDir()]);
    const net = await createNetwork('alpha', [{ key: d1.key, role: 'node' }]);
    const relay = await c.startRelay({ args: ['--network', net.file] });
    const a = await c.startNetNode({ relayUrl: relay.url, dataDir: d1.dir, args: ['--network', net.file] });
    // The charter's admin makes `later` an admin, who admits d2 as a node.
    const laterKey = path.join(later.dir, 'node.key');
    for (const [key, role, adminKey] of [[later.key, 'admin', net.adminKey], [d2.key, 'node', laterKey]]) {
      const made = await gsio(['--node', a.url, 'admit', key, '--role', role, '--admin-key', adminKey]);
      assert.equal(made.code, 0, made.stderr);
    }
    // d2 gets the chain from a directly (it is a node at a's tip), then restarts on the relay.
    const first = await c.startNetNode({ peer: a.url, dataDir: d2.dir, args: ['--network', net.file] });
    await c.waitConverged(await Promise.all([a, first].map((n) => adminSocket(n, net))), { minHeight: 3, timeout: 20000 });
    await first.stop();
    const b = await c.startNetNode({ relayUrl: relay.url, dataDir: d2.dir, args: ['--network', net.file] });
    await h.waitUntil(async () => (await c.relayStats(relay)).nodes.includes(d2.key), 10000, 'the relay to admit d2');
    assert.equal((await c.relayStats(relay)).drops.not_member ?? 0, 0);
    assert.match(b.log, /relay link to .* is up/);
    await c.waitConverged(await Promise.all([a, b].map((n) => adminSocket(n, net))), { minHeight: 3, timeout: 20000 });
  });
});
