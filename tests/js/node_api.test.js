'use strict';
// The client API of docs/PROTOCOL.md against a real gsio-node, with the official socket.io-client,
// over websocket-only, polling-only and polling→websocket upgrade.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const h = require('./lib/harness');
const forge = require('./lib/forge');

const HEX64 = /^[0-9a-f]{64}$/;

function assertEntryShape(entry, nodeId) {
  assert.equal(typeof entry.id, 'string');
  assert.match(entry.id, new RegExp(`^${nodeId}-\\d+$`));
  // Protocol 2: the id counts microseconds, and the timestamp names the same instant exactly.
  assert.match(entry.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  assert.equal(entry.timestamp, forge.timestampOf(BigInt(entry.id.split('-')[1])));
  assert.match(entry.hash, HEX64);
  assert.match(entry.previous_hash, HEX64);
  assert.equal(entry.creator_node_id, nodeId);
  assert.match(entry.signatures[nodeId], /^[0-9a-f]{128}$/);
}

// The hash rule recomputed independently of the node (tests/js/lib/forge.js).
const expectedHash = forge.entryHash;
function verifySignature(e) {
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(e.creator_node_id, 'hex')]);
  const key = crypto.createPublicKey({ key: spki, format: 'der', type: 'spki' });
  return crypto.verify(null, Buffer.from(e.hash, 'hex'), key, Buffer.from(e.signatures[e.creator_node_id], 'hex'));
}

describe('gsio-node client API', () => {
  let node;
  let nodeId;
  before(async () => {
    node = await h.startNode();
    nodeId = (await h.health(node)).node_id;
  });
  after(h.cleanup);

  it('reports protocol 2, node_id, height and tip_hash on /health', async () => {
    const res = await fetch(`${node.url}/health`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /application\/json/);
    const body = await res.json();
    assert.equal(body.protocol, 2);
    assert.match(body.node_id, HEX64);
    assert.equal(typeof body.height, 'number');
    assert.match(body.tip_hash, HEX64);
  });

  for (const transport of ['websocket', 'polling', 'upgrade']) {
    describe(`over ${transport}`, () => {
      it('echoes the auth payload on connect', async () => {
        const auth = { token: `t-${transport}`, n: 7 };
        const s = await h.connect(node.url, { transport, auth });
        const [got] = await h.withTimeout(s.authArgs, 5000, 'auth event');
        assert.deepEqual(got, auth);
        if (transport === 'upgrade') {
          await h.withTimeout(new Promise((r) => (s.io.engine.transport.name === 'websocket' ? r() : s.io.engine.once('upgrade', r))), 5000, 'upgrade');
          assert.equal(s.io.engine.transport.name, 'websocket');
        } else {
          assert.equal(s.io.engine.transport.name, transport);
        }
      });

      it('adds entries with and without ack; every client receives ledger_entry_added', async () => {
        const a = await h.connect(node.url, { transport });
        const b = await h.connect(node.url, { transport });
        const data = { note: `hello over ${transport}`, n: 1 };
        const onB = h.once(b, 'ledger_entry_added');
        const onA = h.once(a, 'ledger_entry_added');
        const entry = await h.emitAck(a, 'add_ledger_entry', data);
        assert.equal(entry.error, undefined);
        assertEntryShape(entry, nodeId);
        assert.deepEqual(entry.data, data);
        assert.equal(entry.hash, expectedHash(entry));
        assert.ok(verifySignature(entry), 'creator signature verifies');
        assert.deepEqual((await onB)[0], entry);
        assert.deepEqual((await onA)[0], entry);

        // Without an ack the entry still arrives as ledger_entry_added.
        const pushed = h.once(b, 'ledger_entry_added');
        a.emit('add_ledger_entry', { note: 'no ack', transport });
        const [e2] = await pushed;
        assert.deepEqual(e2.data, { note: 'no ack', transport });
        assert.equal(e2.previous_hash === entry.hash || e2.previous_hash.length === 64, true);
      });

      it('returns the ledger in chain order, whole and paged', async () => {
        const s = await h.connect(node.url, { transport });
        for (let i = 0; i < 5; i++) await h.emitAck(s, 'add_ledger_entry', { page_test: i, transport });
        const all = await h.emitAck(s, 'get_ledger');
        assert.ok(Array.isArray(all));
        assert.ok(all.length >= 5);
        for (let i = 0; i < all.length; i++) {
          assert.equal(all[i].previous_hash, i === 0 ? '0'.repeat(64) : all[i - 1].hash);
          assert.equal(all[i].hash, expectedHash(all[i]));
        }
        const page = await h.emitAck(s, 'get_ledger', { from: all.length - 3, limit: 2 });
        assert.deepEqual(page, all.slice(all.length - 3, all.length - 1));
        const tail = await h.emitAck(s, 'get_ledger', { from: all.length - 1 });
        assert.deepEqual(tail, all.slice(all.length - 1));
        const beyond = await h.emitAck(s, 'get_ledger', { from: all.length + 10, limit: 5 });
        assert.deepEqual(beyond, []);
        // Without an ack the answer comes as a ledger_entries event.
        const ev = h.once(s, 'ledger_entries');
        s.emit('get_ledger', { from: 0, limit: 1 });
        assert.deepEqual((await ev)[0], all.slice(0, 1));
      });

      it('answers get_known_nodes with this node', async () => {
        const s = await h.connect(node.url, { transport });
        const ev = h.once(s, 'known_nodes');
        s.emit('get_known_nodes');
        // Protocol 2: `nodes` holds the ids, `peers` a record for each.
        const [{ nodes, peers }] = await ev;
        assert.ok(Array.isArray(nodes) && nodes.every((id) => typeof id === 'string'), JSON.stringify(nodes));
        assert.ok(nodes.includes(nodeId));
        assert.ok(Array.isArray(peers));
        const self = peers.find((n) => n.is_self);
        assert.equal(self.node_id, nodeId);
        assert.match(self.tip_hash, HEX64);
      });

      it('answers ping with pong, message with message-back, and acks message-with-ack', async () => {
        const s = await h.connect(node.url, { transport });
        const pong = h.once(s, 'pong');
        s.emit('ping', { t: 1 });
        assert.deepEqual(await pong, [{ t: 1 }]);
        const back = h.once(s, 'message-back');
        s.emit('message', 'hi', 2, { x: [1, 2] });
        assert.deepEqual(await back, ['hi', 2, { x: [1, 2] }]);
        assert.deepEqual(await h.emitAck(s, 'message-with-ack', { y: 'z' }), { y: 'z' });
      });

      it('round-trips binary arguments', async () => {
        const s = await h.connect(node.url, { transport });
        const payload = Buffer.from([0, 1, 2, 250, 255, 10, 30]);
        const back = h.once(s, 'message-back');
        s.emit('message', payload, { nested: Buffer.from('abc') });
        const [bin, obj] = await back;
        assert.deepEqual(Buffer.from(bin), payload);
        assert.deepEqual(Buffer.from(obj.nested), Buffer.from('abc'));
        const acked = await h.emitAck(s, 'message-with-ack', Buffer.from([9, 8, 7]));
        assert.deepEqual(Buffer.from(acked), Buffer.from([9, 8, 7]));
      });

      it('refuses an unknown namespace', async () => {
        await assert.rejects(h.connect(node.url, { transport, nsp: '/nope' }), /Invalid namespace/);
      });

      it('reports bad requests as errors and keeps the connection', async () => {
        const s = await h.connect(node.url, { transport });
        const err = h.once(s, 'error');
        const reply = await h.emitAck(s, 'get_ledger', 'not an object');
        assert.match(reply.error, /get_ledger/);
        assert.match((await err)[0].error, /get_ledger/);
        const missing = await h.emitAck(s, 'add_ledger_entry');
        assert.match(missing.error, /needs the entry data/);
        const unknown = await h.emitAck(s, 'no_such_event', 1);
        assert.match(unknown.error, /unknown event/);
        assert.ok(s.connected);
        assert.deepEqual(await h.emitAck(s, 'message-with-ack', 'still here'), 'still here');
      });
    });
  }

  it('searches the whole chain with find_entries: newest first, paged, by author, nickname, text and time', async () => {
    const s = await h.connect(node.url);
    const tag = crypto.randomBytes(4).toString('hex');
    const made = [];
    for (let i = 0; i < 12; i++) {
      const nickname = i % 4 === 0 ? `Ada-${tag}` : `bob-${tag}`;
      made.push(await h.emitAck(s, 'add_ledger_entry', { type: 'note', nickname, text: `${tag} note ${i}` }));
    }
    const ada = made.filter((_, i) => i % 4 === 0).reverse();  // newest first
    const ids = (answer) => answer.entries.map((e) => e.id);

    const all = await h.emitAck(s, 'find_entries', { nickname: `ADA-${tag}` });
    assert.deepEqual(ids(all), ada.map((e) => e.id));
    const chain = await h.emitAck(s, 'get_ledger');
    assert.equal(all.height, chain.length);
    assert.deepEqual(all.heights, ada.map((e) => chain.findIndex((c) => c.id === e.id)));
    assert.equal(all.next, null);  // searched down to the first entry
    assert.equal(all.scanned, chain.length);

    // Paging: `limit`, then `before` = the answer's `next`.
    const first = await h.emitAck(s, 'find_entries', { nickname: `ada-${tag}`, limit: 2 });
    assert.deepEqual(ids(first), ada.slice(0, 2).map((e) => e.id));
    assert.equal(first.next, first.heights[1]);
    const rest = await h.emitAck(s, 'find_entries', { nickname: `ada-${tag}`, before: first.next });
    assert.deepEqual(ids(rest), ada.slice(2).map((e) => e.id));

    const text = await h.emitAck(s, 'find_entries', { text: `${tag} NOTE 11` });
    assert.deepEqual(ids(text), [made[11].id]);
    const byAuthor = await h.emitAck(s, 'find_entries', { author: nodeId, text: tag });
    assert.equal(byAuthor.entries.length, 12);
    assert.equal((await h.emitAck(s, 'find_entries', { author: 'c'.repeat(64), text: tag })).entries.length, 0);
    const us = (e) => Number(e.id.split('-')[1]);
    const window = await h.emitAck(s, 'find_entries', { text: tag, from_us: us(made[3]), to_us: us(made[5]) });
    assert.deepEqual(ids(window), [made[5].id, made[4].id, made[3].id]);

    for (const [bad, why] of [
      ['not an object', /must be an object/],
      [{ author: 'ab' }, /node id/],
      [{ nickname: 5 }, /'nickname' must be a string/],
      [{ text: 'x'.repeat(257) }, /longer than 256/],
      [{ limit: 0 }, /at least 1/],
      [{ before: -1 }, /non-negative integer/],
      [{ color: 'red' }, /unknown option 'color'/],
    ]) {
      const reply = await h.emitAck(s, 'find_entries', bad);
      assert.match(reply.error, /^find_entries: /);
      assert.match(reply.error, why);
    }
    assert.ok(s.connected);
  });

  it('accepts connections and p2p_message on /p2p, from a socket that proved its node id', async () => {
    const s = await h.connect(node.url, { nsp: '/p2p' });
    const key = forge.makeKey();
    const msg = { message_type: 'NodeAnnounce', message_id: 'm1', sender_id: key.id, recipient_id: '',
                  payload: { node_id: key.id, protocol: 2 } };
    assert.match((await h.emitAck(s, 'p2p_message', msg)).error, /has not proven a node id/);
    msg.payload.relay_proof = forge.announceProof(key, await s.challenge);
    assert.deepEqual(await h.emitAck(s, 'p2p_message', msg), { accepted: true });
    const bad = await h.emitAck(s, 'p2p_message', { message_type: 1 });
    assert.match(bad.error, /message_type/);
  });

  it('stops at once when clients left with requests still open', async () => {
    // A session that was waiting for an answer when its client left used to linger until the
    // answer's timeout (10 s for node_info), and SIGTERM waited for it.
    const node = await h.startNode();
    for (let i = 0; i < 5; i++) {
      const s = await h.connect(node.url);
      s.emit('node_info', () => {});
      s.emit('get_known_nodes', () => {});
      s.disconnect();
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    const exit = await node.stop('SIGTERM');
    assert.equal(exit.code, 0);
    assert.ok(Date.now() - started < 3000, `stopped in ${Date.now() - started} ms`);
  });

  it('serves get_entry, node_info and verify_ledger', async () => {
    const s = await h.connect(node.url);
    const e = await h.emitAck(s, 'add_ledger_entry', { extra: true });
    assert.deepEqual(await h.emitAck(s, 'get_entry', e.id), e);
    const info = await h.emitAck(s, 'node_info');
    assert.equal(info.node_id, nodeId);
    assert.equal(info.protocol, 2);
    assert.equal(info.tip_hash, e.hash);
    assert.deepEqual(await h.emitAck(s, 'verify_ledger'), { valid: true });
  });
});

describe('gsio-node shutdown', () => {
  after(h.cleanup);

  it('closes WebSocket clients with 1001 (going away) when it stops', async () => {
    const WebSocket = require('ws');
    const node = await h.startNode();
    const ws = new WebSocket(`ws://127.0.0.1:${node.port}/socket.io/?EIO=4&transport=websocket`);
    ws.on('error', () => {});
    const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
    await h.withTimeout(new Promise((resolve) => ws.once('message', resolve)), 5000, 'the open packet');
    ws.send('40');
    await node.stop('SIGTERM');
    assert.equal(await h.withTimeout(closed, 5000, 'the close'), 1001);
  });
});

describe('gsio-node options', () => {
  after(h.cleanup);
  const run = (...args) => h.runNodeToExit(['--port', '0', '--admin', 'off', '--data-dir', h.tempDir(), ...args]);

  it('refuses values it cannot work with, naming the option and its range', async () => {
    for (const [args, expected] of [
      [['--announce-interval-ms', '0'], /--announce-interval-ms must be 50 to 3600000 \(got 0\)/],
      [['--peer-expiry-ms', '2'], /--peer-expiry-ms must be 1000 to/],
      [['--workers', '4000000000'], /--workers must be 1 to 256/],
      [['--ping-interval-ms', '18446744073709551615'], /--ping-interval-ms must be 100 to/],
      [['--announce-interval-ms', '20000'], /--peer-expiry-ms \(30000\) must be at least twice --announce-interval-ms/],
    ]) {
      const r = await run(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.output}`);
      assert.match(r.output, expected);
    }
  });

  it('takes an option that follows a value-taking option as a missing value, not as the value', async () => {
    const r = await run('--relay', '--token=secret');
    assert.equal(r.code, 2, r.output);
    assert.match(r.output, /option --relay needs a value/);
    assert.ok(!r.output.includes('secret'), 'the token is not echoed');
  });

  it('answers a get_ledger above --max-page-bytes with an error saying how many fit', async () => {
    const node = await h.startNode({ args: ['--max-page-bytes', '65536'] });
    const s = await h.connect(node.url);
    const filler = 'f'.repeat(4000);
    for (let i = 0; i < 30; i++) await h.emitAck(s, 'add_ledger_entry', { i, filler });
    const all = await h.emitAck(s, 'get_ledger');  // 30 entries of ~4.6 KB
    assert.match(all.error, /30 entries from 0 on exceed the 65536 bytes of one answer; ask for at most \d+/);
    assert.ok(all.fits >= 10 && all.fits < 30, `fits ${all.fits}`);
    const page = await h.emitAck(s, 'get_ledger', { from: 0, limit: all.fits });
    assert.equal(page.length, all.fits);
    assert.deepEqual(page.map((e) => e.data.i), [...Array(all.fits).keys()]);
    // One entry above the limit still comes, alone.
    const tiny = await h.startNode({ args: ['--max-page-bytes', '65536'] });
    const t = await h.connect(tiny.url);
    await h.emitAck(t, 'add_ledger_entry', { big: 'b'.repeat(60000) });
    await h.emitAck(t, 'add_ledger_entry', { big: 'b'.repeat(60000) });
    const first = await h.emitAck(t, 'get_ledger', { from: 0, limit: 2 });
    assert.equal(first.fits, 1);
    assert.equal((await h.emitAck(t, 'get_ledger', { from: 0, limit: 1 })).length, 1);
  });

  it('lets only its own pages, and those of --cors-origin, open sessions from a browser', async () => {
    const http = require('node:http');
    const WebSocket = require('ws');
    const handshake = (node, origin) => new Promise((resolve, reject) => {
      http.get(`${node.url}/socket.io/?EIO=4&transport=polling`, { headers: origin ? { Origin: origin } : {} }, (res) => {
        res.resume();
        resolve({ status: res.statusCode, allow: res.headers['access-control-allow-origin'] });
      }).on('error', reject);
    });
    const upgrade = (node, origin) => new Promise((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${node.port}/socket.io/?EIO=4&transport=websocket`, { origin });
      ws.on('open', () => { ws.terminate(); resolve(101); });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode));
      ws.on('error', () => {});
    });
    const node = await h.startNode();
    assert.equal((await handshake(node)).status, 200, 'no Origin: not a browser page');
    assert.equal((await handshake(node, node.url)).status, 200, 'a page the node served');
    assert.equal((await handshake(node, 'http://evil.example')).status, 403);
    assert.equal((await handshake(node, 'null')).status, 403);
    assert.equal(await upgrade(node, node.url), 101);
    assert.equal(await upgrade(node, 'http://evil.example'), 403);
    const open = await h.startNode({ args: ['--cors-origin', 'https://ui.example'] });
    assert.deepEqual(await handshake(open, 'https://ui.example'), { status: 200, allow: 'https://ui.example' });
    assert.equal((await handshake(open, 'http://evil.example')).status, 403);
  });

  it('answers only the host names it knows, so DNS rebinding cannot reach it', async () => {
    const http = require('node:http');
    // As a browser sends it after a name of the attacker's was rebound to 127.0.0.1: the page's
    // own origin and Host agree, so only the Host name tells it apart.
    const get = (node, path, host) => new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: node.port, path, headers: { Host: host, Origin: `http://${host}` } }, (res) => {
        let body = '';
        res.on('data', (c) => { body += c; });
        res.on('end', () => resolve({ status: res.statusCode, body }));
      }).on('error', reject);
    });
    const handshake = '/socket.io/?EIO=4&transport=polling';
    const node = await h.startNode();
    const rebound = await get(node, handshake, `evil.example:${node.port}`);
    assert.equal(rebound.status, 403);
    assert.match(rebound.body, /host not allowed: evil\.example .*--allowed-hosts/);
    assert.equal((await get(node, '/health', `evil.example:${node.port}`)).status, 403, 'every path, not only Socket.IO');
    assert.equal((await get(node, handshake, `127.0.0.1:${node.port}`)).status, 200);
    assert.equal((await get(node, handshake, `localhost:${node.port}`)).status, 200);
    assert.equal((await get(node, handshake, `${require('node:os').hostname()}:${node.port}`)).status, 200,
                 "the machine's own name");
    assert.match(node.log, /answering requests for IP addresses, localhost and /);

    const named = await h.startNode({ args: ['--allowed-hosts', 'node1.example,.cluster.example'] });
    assert.equal((await get(named, handshake, `node1.example:${named.port}`)).status, 200);
    assert.equal((await get(named, handshake, `b.cluster.example:${named.port}`)).status, 200);
    assert.equal((await get(named, handshake, `evil.example:${named.port}`)).status, 403);
    const advertised = await h.startNode({ args: ['--advertise', 'https://user@node2.example?x#y'] });
    assert.equal((await get(advertised, handshake, 'node2.example')).status, 200, 'the --advertise name');
    assert.equal((await get(advertised, handshake, 'node1.example')).status, 403);
    const any = await h.startNode({ args: ['--allowed-hosts', '*'] });
    assert.equal((await get(any, handshake, `evil.example:${any.port}`)).status, 200);

    const bad = await h.runNodeToExit(['--port', '0', '--admin', 'off', '--data-dir', h.tempDir(), '--allowed-hosts', 'http://x.example']);
    assert.equal(bad.code, 2, bad.output);
    assert.match(bad.output, /--allowed-hosts: not a host name: "http:\/\/x\.example"/);
  });

  it('refuses to start on a data directory another gsio-node is using', async () => {
    const first = await h.startNode();
    const r = await h.runNodeToExit(['--port', '0', '--admin', 'off', '--data-dir', first.dataDir]);
    assert.equal(r.code, 1, r.output);
    assert.match(r.output, /is in use by another process/);
    assert.equal((await h.health(first)).status, 'ok', 'the first node carries on');
  });

  it("keeps a '#' inside a quoted config value", async () => {
    const dir = h.tempDir();
    const config = require('node:path').join(dir, 'node.conf');
    require('node:fs').writeFileSync(config, 'cors-origin = "https://a.example/#frag" # a comment\nmax-connections = 9 # another\n');
    const node = await h.startNode({ args: ['--config', config] });
    const res = await fetch(`${node.url}/socket.io/?EIO=4&transport=polling`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://a.example/#frag');
  });
});
