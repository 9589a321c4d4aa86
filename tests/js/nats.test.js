'use strict';
// The relay tier on NATS (DESIGN §11): real nats-server processes in a cluster with routes,
// gsio-relay processes joined to it with --nats, and real gsio-node processes (or raw WebSocket
// peers playing nodes) on the relays. All on 127.0.0.1, all stopped after each test.
const { describe, it, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./lib/harness');
const c = require('./lib/cluster');
const r = require('./lib/relay_harness');
const nats = require('./lib/nats');

afterEach(async () => {
  await r.cleanup();
  await c.cleanup();
});

// A relay on the NATS servers of `cluster` in the given order (the first is the one it joins).
const relayOn = (cluster, order, args = []) => c.startRelay({ args: ['--nats', cluster.urls(order), ...args] });
const natsOf = async (relay) => (await r.stats(relay)).nats;

// Waits until the relay is on NATS and subscribed to `watched` node subjects, and until the NATS
// server at `viaServer` knows of every node subject the relay holds (interest crosses the
// cluster's routes shortly after a subscription; a message published before that is not lost to
// a bug but to NATS's own at-most-once rule, and would make the counts below meaningless).
async function waitWatched(relay, watched, cluster, viaServer, nodeIds = []) {
  await r.waitUntil(async () => {
    const s = await natsOf(relay);
    return s.connected && s.watched_nodes === watched;
  }, 10000, `relay on NATS with ${watched} node subject(s)`);
  if (cluster === undefined) return;
  const monitor = cluster.ports[viaServer].monitor;
  await r.waitUntil(async () => {
    const routez = await (await fetch(`http://127.0.0.1:${monitor}/routez?subs=1`)).json();
    const remote = new Set((routez.routes || []).flatMap((route) => route.subscriptions_list || []));
    return nodeIds.every((id) => remote.has(`gsio.node.${id}`)) && remote.has('gsio.broadcast');
  }, 10000, 'NATS interest to cross the routes');
}

describe('relays on NATS', () => {
  it('carries broadcasts once per relay and directed messages only to the relay of their node', async () => {
    const cluster = await nats.startCluster(3);
    const a = await relayOn(cluster, [0, 1, 2]);
    const b = await relayOn(cluster, [1, 2, 0]);
    const other = await relayOn(cluster, [2, 0, 1], ['--nats-subject-prefix', 'gsio.other-network']);
    const a1 = await r.announcedPeer(a, 'a1');
    const b1 = await r.announcedPeer(b, 'b1');
    const b2 = await r.announcedPeer(b, 'b2');
    const o1 = await r.announcedPeer(other, 'a1');  // the same id, on another network's subjects
    await waitWatched(a, 1, cluster, 1, ['a1']);
    await waitWatched(b, 2, cluster, 0, ['b1', 'b2']);
    await waitWatched(other, 1);
    const before = { a: await r.stats(a), b: await r.stats(b), other: await r.stats(other) };

    // A broadcast from relay A reaches both nodes of relay B, crossing NATS once.
    const broadcast = await a1.send(r.envelope('EntryAnnounce', 'a1'));
    await b1.waitFor((m) => m.message_id === broadcast.message_id);
    await b2.waitFor((m) => m.message_id === broadcast.message_id);
    // Directed messages both ways reach their node only.
    const toB1 = await a1.send(r.envelope('EntryRequest', 'a1', 'b1'));
    const toA1 = await b2.send(r.envelope('EntryResponse', 'b2', 'a1'));
    await b1.waitFor((m) => m.message_id === toB1.message_id);
    await a1.waitFor((m) => m.message_id === toA1.message_id);
    // b2's broadcast goes to b1 (same relay) and a1 (through NATS), never back to b2.
    const fromB2 = await b2.send(r.envelope('EntryAnnounce', 'b2'));
    await b1.waitFor((m) => m.message_id === fromB2.message_id);
    await a1.waitFor((m) => m.message_id === fromB2.message_id);
    await r.sleep(300);  // time for anything that must not arrive

    assert.equal(b2.hasSeen(toB1.message_id), false, 'a directed message reached another node');
    assert.equal(b2.hasSeen(fromB2.message_id), false, 'echoed to its sender');
    for (const id of [broadcast, toB1, toA1, fromB2].map((m) => m.message_id))
      assert.equal(o1.hasSeen(id), false, 'a message crossed into another network\'s subjects');
    const after = { a: await r.stats(a), b: await r.stats(b), other: await r.stats(other) };
    const delta = (relay, key) => after[relay].nats[key] - before[relay].nats[key];
    assert.equal(delta('a', 'published'), 2, 'relay A: its broadcast and its directed message, once each');
    assert.equal(delta('b', 'received'), 2, 'relay B: the broadcast once (not once per node), and the message to b1');
    assert.equal(delta('b', 'published'), 2, 'relay B: the message to a1 and b2\'s broadcast');
    assert.equal(delta('a', 'received'), 2);
    assert.equal(delta('other', 'received'), 0);
    assert.equal(after.b.messages_out - before.b.messages_out, 4, 'relay B: broadcast x2, to b1, b2\'s broadcast to b1');
    assert.equal(after.a.drops.unknown_recipient, 0);
    assert.equal(after.b.drops.unknown_recipient, 0);

    // The relay's /metrics shows the NATS side.
    const metrics = await (await fetch(`${b.httpUrl}/metrics`)).text();
    assert.match(metrics, /^gsio_relay_nats_connected 1$/m);
    assert.match(metrics, /^gsio_relay_nats_messages_total\{direction="in"\} [1-9]/m);
    assert.match(metrics, /^gsio_relay_nats_dropped_total\{reason="malformed"\} 0$/m);
    assert.match(metrics, /^gsio_relay_nats_watched_nodes 2$/m);
  });

  it('drops and counts what another publisher on the subjects sends that a node could not', async () => {
    const cluster = await nats.startCluster(1);
    const relay = await relayOn(cluster, [0], ['--max-frame-bytes', '4096']);
    const peer = await r.announcedPeer(relay, 'n1');
    await waitWatched(relay, 1);
    const stranger = await nats.publisher(cluster.servers[0].url);
    const valid = r.envelope('EntryAnnounce', 'x1');
    stranger.publish('gsio.broadcast', 'not json at all');
    stranger.publish('gsio.broadcast', JSON.stringify({ ...valid, message_type: 'NoSuchType' }));
    stranger.publish('gsio.broadcast', JSON.stringify(r.envelope('EntryRequest', 'x1', 'n1')));  // directed, on the broadcast subject
    stranger.publish('gsio.node.n1', JSON.stringify(r.envelope('EntryRequest', 'x1', 'n2')));  // another recipient
    stranger.publish('gsio.node.n1', JSON.stringify(r.envelope('EntryRequest', 'n1', 'n1')));  // to itself
    stranger.publish('gsio.broadcast', JSON.stringify({ ...valid, payload: { pad: 'p'.repeat(8192) } }));  // oversized
    stranger.publish('gsio.broadcast', Buffer.from([0xff, 0xfe, 0x00, 0x01]));
    stranger.publish('gsio.broadcast', JSON.stringify(valid));  // the one good message
    await stranger.flush();
    await peer.waitFor((m) => m.message_id === valid.message_id, 5000, 'the valid message');
    const s = await r.waitUntil(async () => {
      const now = await natsOf(relay);
      return now.malformed === 6 && now.receive_dropped === 1 ? now : undefined;
    }, 5000, 'six malformed and one oversized message counted');
    assert.equal(s.received, 7, 'everything but the oversized one was read');
    assert.equal(peer.messages.filter((m) => m.message_type !== 'NodeAnnounce').length, 1, 'only the valid message was delivered');
    assert.match(relay.log, /dropped a message from NATS/);
    assert.equal((await r.health(relay)).status, 'ok');
    stranger.close();
  });

  it('nodes on two relays on different NATS servers converge with every acknowledged id once', async () => {
    const cluster = await nats.startCluster(3);
    const a = await relayOn(cluster, [0, 1, 2]);
    const b = await relayOn(cluster, [2, 1, 0]);
    const nodes = [];
    for (const relay of [a, a, b, b]) nodes.push(await c.startNetNode({ relayUrl: relay.url }));
    const sockets = await Promise.all(nodes.map((n) => h.connect(n.url)));
    const run = c.writers(sockets, { perClient: 50 });
    await run.done;
    assert.equal(run.acked.size, 200);
    const infos = await c.waitConverged(sockets, { minHeight: 200, acked: run.acked });
    for (const [i, s] of sockets.entries()) c.assertAllPresentOnce(assert, await h.getAll(s), run.acked, `node ${i + 1}`);
    assert.ok(infos.every((i) => i.height === 200));
    assert.ok((await natsOf(a)).published > 0 && (await natsOf(b)).received > 0);
  });

  it('a relay whose NATS server is killed moves to another one, and nothing acknowledged is lost', async () => {
    const cluster = await nats.startCluster(3);
    const a = await relayOn(cluster, [0, 1, 2]);
    const b = await relayOn(cluster, [1, 2, 0]);
    const nodes = [];
    for (const relay of [a, a, b, b]) nodes.push(await c.startNetNode({ relayUrl: relay.url }));
    const sockets = await Promise.all(nodes.map((n) => h.connect(n.url)));
    assert.equal((await natsOf(a)).server, cluster.servers[0].url);
    const run = c.writers(sockets);
    await c.sleep(500);
    await cluster.servers[0].stop('SIGKILL');
    const moved = await r.waitUntil(async () => {
      const s = await natsOf(a);
      return s.connected && s.server !== cluster.servers[0].url ? s : undefined;
    }, 10000, 'relay A to reconnect to another NATS server');
    await c.sleep(1000);
    await run.stop();
    assert.ok(moved.reconnects >= 1);
    assert.ok(run.acked.size > 0);
    await c.waitConverged(sockets, { minHeight: run.acked.size, acked: run.acked });
    for (const [i, s] of sockets.entries()) c.assertAllPresentOnce(assert, await h.getAll(s), run.acked, `node ${i + 1}`);
    assert.match(a.log, /NATS connection lost/);
  });

  it('nodes whose relay is killed fail over to the other relay, and nothing acknowledged is lost', async () => {
    const cluster = await nats.startCluster(3);
    const a = await relayOn(cluster, [0, 1, 2]);
    const b = await relayOn(cluster, [1, 2, 0]);
    const nodes = [];
    for (const list of [[a, b], [a, b], [b, a], [b, a]])
      nodes.push(await c.startNetNode({ relayUrl: list.map((relay) => relay.url).join(',') }));
    const sockets = await Promise.all(nodes.map((n) => h.connect(n.url)));
    const run = c.writers(sockets);
    await c.sleep(500);
    await a.stop('SIGKILL');
    const t0 = Date.now();
    await r.waitUntil(async () => (await r.stats(b)).nodes.length === 4, 10000, 'every node on relay B');
    console.log(`nodes of the killed relay were on the other one after ${Date.now() - t0} ms`);
    await c.sleep(1000);
    await run.stop();
    await c.waitConverged(sockets, { minHeight: run.acked.size, acked: run.acked });
    for (const [i, s] of sockets.entries()) c.assertAllPresentOnce(assert, await h.getAll(s), run.acked, `node ${i + 1}`);
  });

  it('says so when no NATS server answers at start, serves its own nodes meanwhile and joins once one does', async () => {
    const [port] = await nats.freePorts(1);
    const relay = await c.startRelay({ args: ['--nats', `nats://127.0.0.1:${port}`] });
    await r.waitUntil(() => /no NATS server answers yet \(nats:\/\/127\.0\.0\.1:\d+, .*\): connecting in the background/.test(relay.log),
                      5000, 'the warning');
    assert.equal((await natsOf(relay)).connected, false);
    const a = await r.announcedPeer(relay, 'n1');
    const b = await r.announcedPeer(relay, 'n2');
    const sent = await a.send(r.envelope('EntryAnnounce', 'n1'));
    await b.waitFor((m) => m.message_id === sent.message_id);
    // A server on that port later: the relay joins it by itself.
    const [cluster, monitor] = await nats.freePorts(2);
    const late = { ports: [{ client: port, cluster, monitor }], servers: [] };
    await nats.startServer(late, 0);
    await r.waitUntil(async () => (await natsOf(relay)).connected, 15000, 'the relay to join the late server');
    assert.match(relay.log, /NATS connected to nats:\/\/127\.0\.0\.1:/);
  });

  it('holds messages for the other relays while NATS is away, up to --nats-buffer-bytes, and counts the rest', async () => {
    const cluster = await nats.startCluster(1);
    const relay = await relayOn(cluster, [0], ['--nats-buffer-bytes', '4096']);
    const peer = await r.announcedPeer(relay, 'n1');
    await waitWatched(relay, 1);
    await cluster.servers[0].stop('SIGKILL');
    await r.waitUntil(async () => !(await natsOf(relay)).connected, 5000, 'the relay to notice');
    const before = await natsOf(relay);
    // 40 broadcasts of about 1 KB: four fit in the buffer, the rest are dropped and counted.
    for (let i = 0; i < 40; i++) await peer.send(r.envelope('EntryAnnounce', 'n1', '', { pad: 'x'.repeat(1000), i }));
    const after = await r.waitUntil(async () => {
      const s = await natsOf(relay);
      return s.published + s.publish_dropped - before.published - before.publish_dropped === 40 ? s : undefined;
    }, 5000, 'every broadcast published or dropped');
    assert.ok(after.publish_dropped - before.publish_dropped >= 30, JSON.stringify(after));
    assert.ok(after.published - before.published >= 1, 'some were held for the reconnection');
    const metrics = await (await fetch(`${relay.httpUrl}/metrics`)).text();
    assert.match(metrics, /^gsio_relay_nats_connected 0$/m);
    assert.match(metrics, new RegExp(`^gsio_relay_nats_dropped_total\\{reason="publish_buffer"\\} ${after.publish_dropped}$`, 'm'));
    // The relay still serves its own nodes.
    const other = await r.announcedPeer(relay, 'n2');
    const local = await other.send(r.envelope('EntryAnnounce', 'n2'));
    await peer.waitFor((m) => m.message_id === local.message_id);
  });

  it('joins NATS over TLS with --nats-tls-ca, and carries messages between relays that way', async () => {
    const cert = h.makeCertificate(h.tempDir('gsio-nats-tls-'));
    const cluster = await nats.startCluster(1, { tls: cert });
    const url = `tls://localhost:${cluster.servers[0].port}`;
    const a = await c.startRelay({ args: ['--nats', url, '--nats-tls-ca', cert.cert] });
    const b = await c.startRelay({ args: ['--nats', url, '--nats-tls-ca', cert.cert] });
    const pa = await r.announcedPeer(a, 'ta');
    const pb = await r.announcedPeer(b, 'tb');
    await waitWatched(a, 1);
    await waitWatched(b, 1);
    await r.waitUntil(async () => {
      const probe = await pa.send(r.envelope('EntryAnnounce', 'ta'));
      await r.sleep(100);
      return pb.hasSeen(probe.message_id);
    }, 10000, 'a broadcast across the TLS connections');
    assert.match((await natsOf(a)).server, /^tls:\/\/localhost:/);
    const connz = await (await fetch(`http://127.0.0.1:${cluster.ports[0].monitor}/connz`)).json();
    assert.equal(connz.num_connections, 2);
    assert.ok(connz.connections.every((conn) => conn.tls_version), 'both relays on TLS');
  });

  it('with nkey authentication, only a relay holding an allowed key joins; the others serve alone', async () => {
    const allowed = nats.userNkey();
    const stranger = nats.userNkey();
    const cluster = await nats.startCluster(1, { nkeys: [allowed.publicKey] });
    const dir = h.tempDir('gsio-nkeys-');
    const seedFile = (key, name) => {
      const file = path.join(dir, name);
      fs.writeFileSync(file, `${key.seed}\n`, { mode: 0o600 });
      return file;
    };
    const good = await relayOn(cluster, [0], ['--nats-nkey', allowed.publicKey, '--nats-nkey-seed', seedFile(allowed, 'good.nk')]);
    const none = await relayOn(cluster, [0]);
    const wrongSeed = await relayOn(cluster, [0], ['--nats-nkey', allowed.publicKey, '--nats-nkey-seed', seedFile(stranger, 'wrong.nk')]);
    const otherKey = await relayOn(cluster, [0], ['--nats-nkey', stranger.publicKey, '--nats-nkey-seed', seedFile(stranger, 'other.nk')]);
    await r.waitUntil(async () => (await natsOf(good)).connected, 10000, 'the relay with the allowed key to join');
    await r.sleep(1500);  // several reconnection attempts of the others
    for (const relay of [none, wrongSeed, otherKey]) {
      assert.equal((await natsOf(relay)).connected, false, relay.log);
      assert.equal((await r.health(relay)).status, 'ok', 'it still serves its own nodes');
    }
    const connz = await (await fetch(`http://127.0.0.1:${cluster.ports[0].monitor}/connz`)).json();
    assert.equal(connz.num_connections, 1, 'only the allowed relay is connected');
  });

  it('refuses NATS settings it cannot use, with a message', async () => {
    const relayBinary = c.relayBinary;
    const run = (args) => new Promise((resolve) => {
      const { execFile } = require('node:child_process');
      execFile(relayBinary, ['--port', '0', ...args], { timeout: 10000 }, (err, stdout, stderr) =>
        resolve({ code: err ? err.code : 0, output: stdout + stderr }));
    });
    let out = await run(['--nats-creds', '/nonexistent']);
    assert.equal(out.code, 2);
    assert.match(out.output, /the --nats-\* options need --nats/);
    out = await run(['--nats', 'nats://127.0.0.1:1', '--nats-subject-prefix', 'gsio.*']);
    assert.equal(out.code, 2);
    assert.match(out.output, /--nats-subject-prefix must be/);
    out = await run(['--nats', 'nats://127.0.0.1:1', '--nats-tls-cert', '/x.pem']);
    assert.equal(out.code, 2);
    assert.match(out.output, /--nats-tls-cert\s+with --nats-tls-key/);
    out = await run(['--nats', 'nats://127.0.0.1:1', '--nats-creds', '/x.creds', '--nats-nkey', 'U', '--nats-nkey-seed', '/x.nk']);
    assert.equal(out.code, 2);
    assert.match(out.output, /either --nats-creds or --nats-nkey/);
    out = await run(['--nats', 'nats://127.0.0.1:1', '--nats-creds', '/nonexistent/creds']);
    assert.equal(out.code, 1);
    assert.match(out.output, /cannot use the NATS credentials file \/nonexistent\/creds/);
  });
});
