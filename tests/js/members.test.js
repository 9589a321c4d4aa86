'use strict';
// Private networks (DESIGN §10) with real gsio, gsio-node and gsio-relay processes: `gsio key` and
// `gsio network create`, a node started with --network (its start-up, /health, the writes it
// takes and refuses, a data directory of another network), admin statements through a node,
// and two networks sharing one relay without seeing each other's traffic.
const { describe, it, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./lib/harness');
const c = require('./lib/cluster');

afterEach(c.cleanup);

const gsioBinary = path.join(h.buildDir, 'src/bin/gsio');
const HEX64 = /^[0-9a-f]{64}$/;

function gsio(args, { timeoutMs = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(gsioBinary, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GSIO_NODE: '' } });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`gsio ${args.join(' ')} hung`)); }, timeoutMs);
    proc.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

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
    const net = await createNetwork('friends', [{ key: member.key, role: 'node' }]);
    const a = await h.startNode({ dataDir: member.dir, args: ['--network', net.file] });
    const b = await h.startNode({ dataDir: outsider.dir, args: ['--network', net.file] });
    assert.match(a.log, /private network "friends" \(id [0-9a-f]{64}\): 2 members/);
    assert.doesNotMatch(a.log, /not a member/);
    assert.match(b.log, /this node is not a member node of the network/);
    const health = await h.health(a);
    assert.deepEqual(health.network, { id: net.id, name: 'friends' });
    assert.equal(health.open, false);
    assert.equal(health.height, 1, 'the chain starts with the charter');

    const sa = await h.connect(a.url);
    const sb = await h.connect(b.url);
    const ok = await h.emitAck(sa, 'add_ledger_entry', { msg: 'from a member' });
    assert.equal(ok.previous_hash, net.id);
    const refusal = await h.emitAck(sb, 'add_ledger_entry', { msg: 'from an outsider' });
    assert.match(refusal.error, /not a member node of network "friends"/);
    assert.equal((await h.health(b)).height, 1);
    // /metrics is scraped from the actors every second or so.
    await h.waitUntil(async () => await metric(b, 'gsio_ledger_refusals_total', 'reason="not_member"') === 1,
                      5000, 'the refusal to be counted by reason');

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
    const relay = await c.startRelay();
    const [a1, a2, b1] = await Promise.all([nodeDir(), nodeDir(), nodeDir()]);
    const netA = await createNetwork('alpha', [{ key: a1.key, role: 'node' }, { key: a2.key, role: 'node' }]);
    const netB = await createNetwork('beta', [{ key: b1.key, role: 'node' }]);
    const nodes = [
      await c.startNetNode({ relayUrl: relay.url, dataDir: a1.dir, args: ['--network', netA.file] }),
      await c.startNetNode({ relayUrl: relay.url, dataDir: a2.dir, args: ['--network', netA.file] }),
      await c.startNetNode({ relayUrl: relay.url, dataDir: b1.dir, args: ['--network', netB.file] }),
      await c.startNetNode({ relayUrl: relay.url }),  // an open node on the same relay
    ];
    const sockets = await Promise.all(nodes.map((n) => h.connect(n.url)));
    await h.waitUntil(async () => {
      const peers = await h.emitAck(sockets[0], 'get_known_nodes');
      return peers.peers.filter((p) => !p.is_self).length >= 1;
    }, 10000, 'alpha nodes to see each other', 50);
    for (let i = 0; i < 5; i++) {
      await h.emitAck(sockets[0], 'add_ledger_entry', { alpha: i });
      await h.emitAck(sockets[2], 'add_ledger_entry', { beta: i });
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
});
