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
