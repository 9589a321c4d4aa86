'use strict';
// The gsio command-line tool (src/bin/gsio.cpp) against real gsio-node processes: every
// subcommand, paging, watch and its signals, client-side verification (of the live chain, of an
// exported file and of a chain served by a fake node), and every documented exit code.
//
// The malformed-answer cases need a server that speaks Engine.IO / Socket.IO badly on purpose; it
// is a few lines over the `ws` package (fakeNode below), since the sio client uses WebSocket only.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { WebSocketServer } = require('ws');
const h = require('./lib/harness');

const gsioBinary = path.join(h.buildDir, 'src/bin/gsio');
const HEX64 = /^[0-9a-f]{64}$/;

const running = new Set();  // gsio processes still alive, killed by killAll()
const servers = new Set();  // fake nodes, closed by killAll()

// Runs gsio to completion and resolves with {code, signal, stdout, stderr}; a gsio that does not
// exit within timeoutMs is killed and the test fails (it must never hang).
function gsio(args, { input, env = {}, timeoutMs = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(gsioBinary, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, GSIO_NODE: '', ...env },
    });
    running.add(proc);
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c) => { stdout += c; });
    proc.stderr.on('data', (c) => { stderr += c; });
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`gsio ${args.join(' ')} did not exit within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(proc);
      resolve({ code, signal, stdout, stderr });
    });
    proc.stdin.on('error', () => {});  // gsio may exit before reading stdin
    proc.stdin.end(input);
  });
}

// Starts a long-running gsio (watch); `output()` has what it printed so far.
function spawnGsio(args) {
  const proc = spawn(gsioBinary, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GSIO_NODE: '' } });
  running.add(proc);
  const child = { proc, stdout: '', stderr: '' };
  proc.stdout.on('data', (c) => { child.stdout += c; });
  proc.stderr.on('data', (c) => { child.stderr += c; });
  child.exited = new Promise((resolve) => proc.on('close', (code, signal) => {
    running.delete(proc);
    resolve({ code, signal });
  }));
  return child;
}

async function waitFor(predicate, what, ms = 10000) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function killAll() {
  for (const proc of running) proc.kill('SIGKILL');
  running.clear();
  await Promise.all([...servers].map((s) => new Promise((r) => s.close(() => r()))));
  servers.clear();
}

// A port nothing listens on: bound once by us, then released.
function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// A fake node speaking Engine.IO v4 / Socket.IO v5 over WebSocket, answering each event with
// `answer(event, args)`: a string is sent as the ack's JSON arguments array, `{raw}` as a raw
// WebSocket text frame, and `null` means never answer.
async function fakeNode(answer) {
  const server = http.createServer((req, res) => { res.writeHead(404); res.end(); });
  const wss = new WebSocketServer({ server, path: '/socket.io/' });
  wss.on('connection', (ws) => {
    ws.send('0{"sid":"fake","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}');
    ws.on('message', (data) => {
      const text = data.toString();
      if (text.startsWith('40')) {
        ws.send('40{"sid":"fake-socket"}');
        return;
      }
      const m = /^42(\d+)(\[.*)$/s.exec(text);
      if (!m) return;
      const [event, ...args] = JSON.parse(m[2]);
      const reply = answer(event, args);
      if (reply === null) return;
      if (typeof reply === 'object') ws.send(reply.raw);
      else ws.send(`43${m[1]}${reply}`);
    });
  });
  servers.add(server);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  server.on('close', () => wss.close());
  return `http://127.0.0.1:${server.address().port}`;
}

describe('gsio against a node', () => {
  let node;
  let nodeId;
  let socket;
  const pushed = [];  // ledger_entry_added seen by an independent socket.io-client

  before(async () => {
    node = await h.startNode();
    nodeId = (await h.health(node)).node_id;
    socket = await h.connect(node.url);
    socket.on('ledger_entry_added', (e) => pushed.push(e));
  });
  after(async () => { await killAll(); await h.cleanup(); });

  it('prints usage and the exit codes with --help', async () => {
    const r = await gsio(['--help']);
    assert.equal(r.code, 0);
    for (const word of ['add', 'ledger', 'find', 'watch', 'nodes', 'verify', 'info', 'exit codes']) {
      assert.ok(r.stdout.includes(word), `help mentions ${word}`);
    }
    for (const cmd of ['add', 'ledger', 'find', 'watch', 'nodes', 'verify', 'info']) {
      const sub = await gsio([cmd, '--help']);
      assert.equal(sub.code, 0, `${cmd} --help`);
      assert.match(sub.stdout, new RegExp(`usage: gsio ${cmd}`));
      assert.match(sub.stdout, /--node/);
    }
  });

  it('adds an entry given as an argument and prints it', async () => {
    const r = await gsio(['--node', node.url, 'add', '{"note":"from argument","n":1}']);
    assert.equal(r.code, 0, r.stderr);
    const entry = JSON.parse(r.stdout);
    assert.deepEqual(entry.data, { n: 1, note: 'from argument' });
    assert.equal(entry.creator_node_id, nodeId);
    assert.match(entry.hash, HEX64);
    assert.match(r.stdout, /\n {2}"id": /, 'pretty-printed');
    await waitFor(() => pushed.some((e) => e.id === entry.id), 'ledger_entry_added for the add');
  });

  it('adds an entry read from stdin; it appears in ledger --json and to other clients', async () => {
    const r = await gsio(['add', '--node', node.url], { input: '{"note":"from stdin","list":[1,2.5,"é"]}\n' });
    assert.equal(r.code, 0, r.stderr);
    const entry = JSON.parse(r.stdout);
    assert.deepEqual(entry.data, { list: [1, 2.5, 'é'], note: 'from stdin' });
    await waitFor(() => pushed.some((e) => e.id === entry.id), 'ledger_entry_added for the stdin add');
    const listed = await gsio(['ledger', '--json'], { env: { GSIO_NODE: node.url } });
    assert.equal(listed.code, 0, listed.stderr);
    const chain = JSON.parse(listed.stdout);
    assert.deepEqual(chain.at(-1), entry);
    assert.deepEqual(chain, await h.getAll(socket));
  });

  it('pages with as many entries as the node says fit when entries are large; verify too', async () => {
    const small = await h.startNode({ args: ['--max-page-bytes', '65536'] });
    const s = await h.connect(small.url);
    for (let i = 0; i < 40; i++) await h.emitAck(s, 'add_ledger_entry', { i, filler: 'f'.repeat(4000) });
    const json = await gsio(['--node', small.url, 'ledger', '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout).map((e) => e.data.i), [...Array(40).keys()]);
    const verified = await gsio(['--node', small.url, 'verify']);
    assert.equal(verified.code, 0, verified.stderr + verified.stdout);
  });

  it('lists the ledger as a table and pages through more than one page', async () => {
    // 1,005 more entries: get_ledger pages hold at most 1,000, so listing and verify must page.
    for (let i = 0; i < 1005; i += 200) {
      const batch = [];
      for (let j = i; j < Math.min(i + 200, 1005); j++) batch.push(h.emitAck(socket, 'add_ledger_entry', { seq: j }));
      await Promise.all(batch);
    }
    const all = await h.getAll(socket);
    assert.ok(all.length > 1000);

    const json = await gsio(['--node', node.url, 'ledger', '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), all);

    const table = await gsio(['--node', node.url, 'ledger']);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^index\s+id\s+timestamp\s+hash\s+data$/);
    assert.equal(lines.length, all.length + 1);
    const last = all.at(-1);
    assert.match(lines.at(-1), new RegExp(`^${all.length - 1}\\s+${nodeId.slice(0, 8)}-${last.id.split('-')[1]}\\s+` +
      `${last.timestamp.replace(/\./g, '\\.')}\\s+${last.hash.slice(0, 12)}\\s+\\{"seq":1004\\}$`));

    const page = await gsio(['--node', node.url, 'ledger', '--from', '2', '--limit', '3', '--json']);
    assert.equal(page.code, 0, page.stderr);
    assert.deepEqual(JSON.parse(page.stdout), all.slice(2, 5));

    const across = await gsio(['--node', node.url, 'ledger', '--from', '990', '--limit', '1010', '--json']);
    assert.equal(across.code, 0, across.stderr);
    assert.deepEqual(JSON.parse(across.stdout), all.slice(990, 2000));

    const beyond = await gsio(['--node', node.url, 'ledger', '--from', '100000']);
    assert.equal(beyond.code, 0, beyond.stderr);
    assert.equal(beyond.stdout.trimEnd().split('\n').length, 1, 'only the header');
  });

  it('finds entries anywhere on the chain with find, newest first', async () => {
    const nick = `zed-${Date.now()}`;
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await h.emitAck(socket, 'add_ledger_entry', { type: 'note', nickname: nick, text: `found ${i}` }));
    const all = await h.getAll(socket);
    const json = await gsio(['--node', node.url, 'find', '--nickname', nick.toUpperCase(), '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), [...made].reverse());

    const table = await gsio(['--node', node.url, 'find', '--nickname', nick, '--limit', '1']);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 2, 'the header and one match');
    assert.match(lines[1], new RegExp(`^${all.findIndex((e) => e.id === made[2].id)}\\s+${nodeId.slice(0, 8)}-`));

    // An old entry, far below the newest: {"seq":3} from the paging test above.
    const old = await gsio(['--node', node.url, 'find', '--text', '"seq":3}', '--author', nodeId, '--json']);
    assert.equal(old.code, 0, old.stderr);
    assert.deepEqual(JSON.parse(old.stdout).map((e) => e.data), [{ seq: 3 }]);

    const bad = await gsio(['--node', node.url, 'find', '--author', 'nope']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /find_entries: 'author' must be a node id/);
  });

  it('prints no terminal control sequence that came from entry data, and its JSON still parses', async () => {
    const note = 'rtl\u202eevil csi\u009b2J del\u007f red\u001b[31m title\u001b]0;pwned\u0007';
    const entry = await h.emitAck(socket, 'add_ledger_entry', { note });
    const table = await gsio(['--node', node.url, 'ledger', '--from', '0', '--limit', '100000']);
    assert.equal(table.code, 0, table.stderr);
    const json = await gsio(['--node', node.url, 'ledger', '--json']);
    assert.equal(json.code, 0, json.stderr);
    for (const out of [table.stdout, json.stdout]) {
      assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(out),
                `a control character reached the terminal: ${JSON.stringify(out.slice(-300))}`);
    }
    assert.ok(table.stdout.includes('\\u202e'), 'the override is shown escaped');
    const listed = JSON.parse(json.stdout).find((e) => e.id === entry.id);
    assert.equal(listed.data.note, note, 'the JSON output means the same text');
  });

  it('refuses a file nested too deep to verify, without crashing', async () => {
    const dir = h.tempDir('gsio-cli-');
    const file = path.join(dir, 'deep.json');
    fs.writeFileSync(file, '['.repeat(200000) + ']'.repeat(200000));
    const r = await gsio(['verify', '--from-file', file]);
    assert.equal(r.signal, null, r.stderr);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /nested deeper than 160 levels/);
  });

  it('lists the known nodes', async () => {
    const r = await gsio(['--node', node.url, 'nodes']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^node\s+self\s+link\s+address\s+height\s+tip\s+last seen$/);
    assert.ok(lines.some((l) => l.startsWith(nodeId.slice(0, 12)) && /\byes\b/.test(l)), r.stdout);

    const json = await gsio(['--node', node.url, 'nodes', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const self = JSON.parse(json.stdout).peers.find((n) => n.is_self);
    assert.equal(self.node_id, nodeId);
  });

  it('shows node_info', async () => {
    const expected = await h.emitAck(socket, 'node_info');
    const json = await gsio(['--node', node.url, 'info', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const info = JSON.parse(json.stdout);
    assert.equal(info.node_id, nodeId);
    assert.equal(info.height, expected.height);
    assert.equal(info.tip_hash, expected.tip_hash);

    const text = await gsio(['info'], { env: { GSIO_NODE: node.url } });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^node_id:\\s+${nodeId}$`, 'm'));
    assert.match(text.stdout, new RegExp(`^height:\\s+${expected.height}$`, 'm'));
  });

  it('verifies the live chain (exit 0)', async () => {
    const info = await h.emitAck(socket, 'node_info');
    const r = await gsio(['--node', node.url, 'verify']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout.trim(), `chain verified: ${info.height} entries, tip ${info.tip_hash}`);
  });

  it('verifies an exported chain and names a tampered entry (exit 4)', async () => {
    const added = await gsio(['--node', node.url, 'add', '{"note":"tamper-me"}']);
    assert.equal(added.code, 0, added.stderr);
    const target = JSON.parse(added.stdout);
    await h.emitAck(socket, 'add_ledger_entry', { note: 'after the target' });

    const dir = h.tempDir('gsio-cli-');
    const file = path.join(dir, 'chain.json');
    const exported = await gsio(['--node', node.url, 'ledger', '--json']);
    assert.equal(exported.code, 0, exported.stderr);
    fs.writeFileSync(file, exported.stdout);
    const clean = await gsio(['verify', '--from-file', file]);
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);
    assert.match(clean.stdout, /^chain verified: \d+ entries, tip [0-9a-f]{64}\n$/);

    // One byte of one entry's data, nothing recomputed.
    assert.equal(exported.stdout.split('tamper-me').length, 2);
    fs.writeFileSync(file, exported.stdout.replace('tamper-me', 'tamper-mE'));
    const tampered = await gsio(['verify', '--from-file', file]);
    assert.equal(tampered.code, 4, tampered.stdout + tampered.stderr);
    assert.ok(tampered.stdout.includes(target.id), tampered.stdout);
    assert.match(tampered.stdout, /bad_hash/);

    // Dropping an entry breaks the link of the one after it.
    const chain = JSON.parse(exported.stdout);
    const at = chain.findIndex((e) => e.id === target.id);
    chain.splice(at, 1);
    fs.writeFileSync(file, JSON.stringify(chain));
    const unlinked = await gsio(['verify', '--from-file', file]);
    assert.equal(unlinked.code, 4, unlinked.stdout + unlinked.stderr);
    assert.ok(unlinked.stdout.includes(`entry #${at} (${chain[at].id})`), unlinked.stdout);
    assert.match(unlinked.stdout, /broken_link/);

    // A forged signature on an otherwise intact entry.
    const forged = JSON.parse(exported.stdout);
    const sig = forged[0].signatures[nodeId];
    forged[0].signatures[nodeId] = (sig[0] === '0' ? '1' : '0') + sig.slice(1);
    fs.writeFileSync(file, JSON.stringify(forged));
    const badSig = await gsio(['verify', '--from-file', file]);
    assert.equal(badSig.code, 4, badSig.stdout + badSig.stderr);
    assert.ok(badSig.stdout.includes(`entry #0 (${forged[0].id})`), badSig.stdout);
    assert.match(badSig.stdout, /bad_signature/);
  });

  it('watches entries as they are added until SIGTERM (exit 0)', async () => {
    const watcher = spawnGsio(['--node', node.url, 'watch', '--json']);
    await waitFor(() => watcher.stderr.includes('watching'), 'watch to connect');
    const entry = await h.emitAck(socket, 'add_ledger_entry', { note: 'watched' });
    await waitFor(() => watcher.stdout.includes(entry.id), 'watch to print the entry');
    const line = watcher.stdout.split('\n').find((l) => l.includes(entry.id));
    assert.deepEqual(JSON.parse(line), { event: 'ledger_entry_added', data: entry });
    watcher.proc.kill('SIGTERM');
    assert.deepEqual(await h.withTimeout(watcher.exited, 5000, 'watch exit'), { code: 0, signal: null });

    const human = spawnGsio(['--node', node.url, 'watch']);
    await waitFor(() => human.stderr.includes('watching'), 'watch to connect');
    const second = await h.emitAck(socket, 'add_ledger_entry', { note: 'watched again' });
    const shortId = `${nodeId.slice(0, 8)}-${second.id.split('-')[1]}`;
    await waitFor(() => human.stdout.includes(shortId), 'watch to print the entry');
    assert.match(human.stdout, new RegExp(`^added\\s+${shortId}\\s+\\S+\\s+${second.hash.slice(0, 12)}\\s+` +
      '\\{"note":"watched again"\\}$', 'm'));
    human.proc.kill('SIGINT');
    assert.deepEqual(await h.withTimeout(human.exited, 5000, 'watch exit'), { code: 0, signal: null });
  });

  it('rejects bad usage with exit 2', async () => {
    const cases = [
      [],
      ['frobnicate'],
      ['--node', node.url, 'ledger', '--limit', 'abc'],
      ['--node', node.url, 'ledger', '--bogus'],
      ['--node', node.url, 'add', 'not json'],
      ['--node', node.url, 'add', '{"a":1}', '{"b":2}'],
      ['--node', 'ftp://127.0.0.1:1', 'info'],
      ['--node', node.url, '--timeout-ms', '0', 'info'],
      ['verify', '--from-file', '/nonexistent/chain.json'],
    ];
    for (const args of cases) {
      const r = await gsio(args);
      assert.equal(r.code, 2, `gsio ${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stderr.length > 0, `gsio ${args.join(' ')} explains itself`);
    }
    const empty = await gsio(['--node', node.url, 'add'], { input: '' });
    assert.equal(empty.code, 2, empty.stderr);
  });
});

describe('gsio error exits', () => {
  after(async () => { await killAll(); await h.cleanup(); });

  it('reports an unreachable node with exit 3, naming the URL', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    for (const cmd of [['info'], ['ledger'], ['verify'], ['watch'], ['add', '{"a":1}']]) {
      const r = await gsio(['--node', url, '--timeout-ms', '2000', ...cmd]);
      assert.equal(r.code, 3, `${cmd[0]}: ${r.stderr}`);
      assert.ok(r.stderr.includes(url), r.stderr);
    }
  });

  it('exits 3 when the node does not answer in time', async () => {
    const url = await fakeNode(() => null);
    const started = Date.now();
    const r = await gsio(['--node', url, '--timeout-ms', '1000', 'info']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /did not answer node_info within 1000 ms/);
    assert.ok(Date.now() - started < 10000);
  });

  it('exits 1 with the reason when the node refuses an entry', async () => {
    const small = await h.startNode({ args: ['--max-data-bytes', '64'] });
    const r = await gsio(['--node', small.url, 'add', JSON.stringify({ big: 'x'.repeat(200) })]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /refused add_ledger_entry: add_ledger_entry: .*/);
    assert.equal(r.stdout, '');
    const ok = await gsio(['--node', small.url, 'add', '{"small":true}']);
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('exits 3 from watch when the node goes away', async () => {
    const doomed = await h.startNode();
    const watcher = spawnGsio(['--node', doomed.url, 'watch']);
    await waitFor(() => watcher.stderr.includes('watching'), 'watch to connect');
    await doomed.stop('SIGTERM');
    const exit = await h.withTimeout(watcher.exited, 10000, 'watch exit');
    assert.deepEqual(exit, { code: 3, signal: null }, watcher.stderr);
    assert.ok(watcher.stderr.includes(doomed.url), watcher.stderr);
  });

  it('exits 5 on malformed answers', async () => {
    const url = await fakeNode((event) => {
      if (event === 'get_ledger') return '["not an array"]';
      if (event === 'node_info') return '[42]';
      if (event === 'get_known_nodes') return '[{"nodes":"none"}]';
      if (event === 'add_ledger_entry') return '[{"id":"x"}]';
      return null;
    });
    for (const cmd of [['ledger'], ['info'], ['nodes'], ['add', '{"a":1}'], ['verify']]) {
      const r = await gsio(['--node', url, '--timeout-ms', '3000', ...cmd]);
      assert.equal(r.code, 5, `${cmd[0]}: ${r.stderr}`);
      assert.match(r.stderr, /malformed answer from the node/);
    }
    const garbled = await fakeNode(() => ({ raw: '4garbage that is no socket.io packet' }));
    const r = await gsio(['--node', garbled, '--timeout-ms', '3000', 'info']);
    assert.equal(r.code, 5, r.stderr);
  });

  it('verify exits 4 on a tampered chain served by a node', async () => {
    const real = await h.startNode();
    const socket = await h.connect(real.url);
    for (let i = 0; i < 5; i++) await h.emitAck(socket, 'add_ledger_entry', { i });
    const chain = await h.getAll(socket);
    chain[3].data = { i: 33 };
    const url = await fakeNode((event, args) => {
      if (event !== 'get_ledger') return null;
      const { from = 0, limit = 1000 } = args[0] || {};
      return JSON.stringify([chain.slice(from, from + limit)]);
    });
    const r = await gsio(['--node', url, 'verify']);
    assert.equal(r.code, 4, r.stdout + r.stderr);
    assert.ok(r.stdout.includes(`entry #3 (${chain[3].id}): bad_hash`), r.stdout);
  });
});
