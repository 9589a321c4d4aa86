'use strict';
// deploy/cluster.sh: start, status, cut, heal and stop a relay with three nodes.
const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const h = require('./lib/harness');

const script = path.resolve(__dirname, '../../deploy/cluster.sh');

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('deploy/cluster.sh', () => {
  let env;
  const run = (...args) => new Promise((resolve) => {
    execFile(script, args, { env, timeout: 60000 }, (error, stdout, stderr) =>
      resolve({ code: error ? error.code : 0, stdout, stderr }));
  });
  after(async () => { if (env) await run('stop'); await h.cleanup(); });

  it('starts a linked cluster, reports it, cuts and heals a link, and stops it', async () => {
    // Consecutive free ports for the nodes: probe a base whose next two are free as well.
    let base = 0;
    for (let tries = 0; tries < 20 && !base; tries++) {
      const candidate = 20000 + Math.floor(Math.random() * 30000);
      const ok = await Promise.all([0, 1, 2].map((k) => new Promise((resolve) => {
        const s = net.createServer().once('error', () => resolve(false))
          .listen(candidate + k, '127.0.0.1', () => s.close(() => resolve(true)));
      })));
      if (ok.every(Boolean)) base = candidate;
    }
    assert.ok(base, 'found three free consecutive ports');
    const relayPort = await freePort();
    const token = 'cluster-secret-7';
    env = { ...process.env, GSIO_CLUSTER_DIR: h.tempDir('gsio-cluster-'), GSIO_BUILD_DIR: h.buildDir,
            GSIO_RELAY_PORT: String(relayPort), GSIO_BASE_PORT: String(base), GSIO_TOKEN: token };

    const started = await run('start', '3');
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stdout, new RegExp(`relay +ws://127\\.0\\.0\\.1:${relayPort}`));
    for (let i = 0; i < 3; i++) assert.match(started.stdout, new RegExp(`node ${i + 1} +http://127\\.0\\.0\\.1:${base + i}`));
    // The nodes linked through the relay with the token (start waits for that), and no process
    // shows it on its command line.
    const fs = require('node:fs');
    const pids = [fs.readFileSync(path.join(env.GSIO_CLUSTER_DIR, 'relay.pid'), 'utf8'),
                  ...[1, 2, 3].map((i) => fs.readFileSync(path.join(env.GSIO_CLUSTER_DIR, `node${i}`, 'pid'), 'utf8'))];
    for (const pid of pids) {
      const cmdline = fs.readFileSync(`/proc/${pid.trim()}/cmdline`, 'utf8');
      assert.ok(cmdline.includes('gsio-'), cmdline);
      assert.ok(!cmdline.includes(token), `the token is on the command line of ${pid.trim()}`);
    }
    const again = await run('start', '3');
    assert.notEqual(again.code, 0, 'a second start is refused');
    assert.match(again.stderr, /already running/);

    const relayHealth = async () => (await fetch(`http://127.0.0.1:${relayPort}/health`)).json();
    assert.equal((await relayHealth()).nodes, 3);
    const status = await run('status');
    assert.equal(status.code, 0);
    assert.equal((status.stdout.match(/^node \d +pid \d+/gm) || []).length, 3, status.stdout);

    // An entry added on node 1 while node 3 is cut reaches node 3 once it heals.
    assert.equal((await run('cut', '3')).code, 0);
    await h.waitUntil(async () => (await relayHealth()).nodes === 2, 5000, 'relay to lose node 3', 50);
    const s1 = await h.connect(`http://127.0.0.1:${base}`);
    const s3 = await h.connect(`http://127.0.0.1:${base + 2}`);
    const entry = await h.emitAck(s1, 'add_ledger_entry', { via: 'cluster script' });
    assert.equal((await h.emitAck(s3, 'node_info')).height, 0, 'node 3 is cut off');
    const arrived = h.once(s3, 'ledger_entry_added', 15000);
    assert.equal((await run('heal', '3')).code, 0);
    const [got] = await arrived;
    assert.equal(got.id, entry.id);
    assert.equal((await run('cut', '9')).code, 1);

    const stopped = await run('stop');
    assert.equal(stopped.code, 0);
    assert.match(stopped.stdout, /stopped 4 processes/);
    await assert.rejects(fetch(`http://127.0.0.1:${relayPort}/health`));
    env = null;
  });

  it('with --relays: three NATS servers, two relays, nodes spread over them; cut and restart each', async () => {
    // Ports: nodes base..base+3 (consoles +1000), relays r, r+1, NATS n..n+2 (+2000, +4000).
    const free = (port) => new Promise((resolve) => {
      const s = net.createServer().once('error', () => resolve(false)).listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    const pick = async (offsets) => {
      for (let tries = 0; tries < 50; tries++) {
        const candidate = 20000 + Math.floor(Math.random() * 25000);
        if ((await Promise.all(offsets.map((k) => free(candidate + k)))).every(Boolean)) return candidate;
      }
      throw new Error('no free ports');
    };
    const base = await pick([0, 1, 2, 3, 1000, 1001, 1002, 1003]);
    const relayPort = await pick([0, 1]);
    const natsPort = await pick([0, 1, 2, 2000, 2001, 2002, 4000, 4001, 4002]);
    env = { ...process.env, GSIO_CLUSTER_DIR: h.tempDir('gsio-cluster-'), GSIO_BUILD_DIR: h.buildDir,
            GSIO_RELAY_PORT: String(relayPort), GSIO_BASE_PORT: String(base), GSIO_NATS_PORT: String(natsPort) };
    const started = await run('start', '4', '2');
    assert.equal(started.code, 0, started.stderr);
    for (let k = 0; k < 3; k++) assert.match(started.stdout, new RegExp(`nats ${k + 1} +nats://127\\.0\\.0\\.1:${natsPort + k}`));
    for (let k = 0; k < 2; k++) assert.match(started.stdout, new RegExp(`relay ${k + 1} ws://127\\.0\\.0\\.1:${relayPort + k}`));
    const nodesOn = async (port) => (await (await fetch(`http://127.0.0.1:${port}/health`)).json()).nodes;
    assert.deepEqual([await nodesOn(relayPort), await nodesOn(relayPort + 1)], [2, 2], 'two nodes on each relay');
    const sockets = await Promise.all([0, 1, 2, 3].map((i) => h.connect(`http://127.0.0.1:${base + i}`)));

    // Node 1 is on relay 1, node 2 on relay 2: an entry crosses NATS.
    const first = h.once(sockets[1], 'ledger_entry_added', 10000);
    const entry = await h.emitAck(sockets[0], 'add_ledger_entry', { via: 'nats' });
    assert.equal((await first)[0].id, entry.id);

    // A NATS server dies: relay 1 moves on; a relay dies: its nodes move to the other.
    assert.equal((await run('cut-nats', '1')).code, 0);
    assert.equal((await run('cut-relay', '1')).code, 0);
    await h.waitUntil(async () => (await nodesOn(relayPort + 1)) === 4, 10000, 'every node on relay 2', 100);
    const status = await run('status');
    assert.match(status.stdout, /^nats 1 +stopped$/m);
    assert.match(status.stdout, /^relay 1 stopped$/m);
    const second = h.once(sockets[0], 'ledger_entry_added', 10000);
    const again = await h.emitAck(sockets[3], 'add_ledger_entry', { via: 'the other relay' });
    assert.equal((await second)[0].id, again.id);

    assert.match((await run('restart-relay', '1')).stdout, /relay 1 started again/);
    assert.match((await run('restart-nats', '1')).stdout, /nats 1 started again/);
    assert.equal((await run('restart-nats', '1')).code, 1, 'it is running');
    assert.equal((await run('cut-nats', '7')).code, 1);
    // restart-relay returns once the process is started, not listening: poll until it answers.
    await h.waitUntil(async () => (await nodesOn(relayPort).catch(() => -1)) === 0, 5000, 'relay 1 back', 100);
    const stopped = await run('stop');
    assert.match(stopped.stdout, /stopped 9 processes/);
    env = null;
  });

  it('never signals a process that took over the pid of a cluster process', async () => {
    const dir = h.tempDir('gsio-cluster-');
    const bystander = require('node:child_process').spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      // What a crash or a reboot leaves: pid files naming pids that are now someone else's.
      require('node:fs').mkdirSync(path.join(dir, 'node1'));
      require('node:fs').writeFileSync(path.join(dir, 'node1', 'pid'), `${bystander.pid}\n`);
      require('node:fs').writeFileSync(path.join(dir, 'relay.pid'), `${bystander.pid}\n`);
      env = { ...process.env, GSIO_CLUSTER_DIR: dir, GSIO_BUILD_DIR: h.buildDir };
      const stopped = await run('stop');
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.match(stopped.stdout, /nothing running/);
      assert.equal(bystander.exitCode, null);
      assert.equal(bystander.signalCode, null, 'the bystander was not signalled');
      process.kill(bystander.pid, 0);  // still there
    } finally {
      env = null;
      bystander.kill('SIGKILL');
    }
  });
});
