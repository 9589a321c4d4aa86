'use strict';
// Links over TLS: a node dials the relay with wss:// and another node's /p2p with https://,
// through a TLS-terminating proxy in front (as nginx would be in a deployment, see
// deploy/nginx/gsio.conf), trusting a private CA given with --tls-ca. A node that does not trust
// the certificate must not connect, and must say why (in its console's `relay` view).
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const tls = require('node:tls');
const h = require('./lib/harness');
const c = require('./lib/cluster');

const gsioBinary = path.join(h.buildDir, 'src/bin/gsio');
const proxies = new Set();

// TLS on a free port, forwarding the plain bytes to 127.0.0.1:targetPort.
function startTlsProxy(targetPort, { key, cert }) {
  const sockets = new Set();
  const server = tls.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => { client.destroy(); upstream.destroy(); });
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  server.on('tlsClientError', () => {});  // an untrusting client hangs up mid-handshake
  const proxy = { server, sockets, handshakes: 0 };
  server.on('secureConnection', () => { proxy.handshakes += 1; });
  proxies.add(proxy);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    proxy.port = server.address().port;
    resolve(proxy);
  }));
}

function consoleCommand(node, command) {
  const port = Number(/debug console on 127\.0\.0\.1:(\d+)/.exec(node.log)[1]);
  return new Promise((resolve, reject) => {
    const proc = spawn(gsioBinary, ['console', `127.0.0.1:${port}`, '-c', command]);
    let out = '';
    proc.stdout.on('data', (d) => { out += d; });
    proc.stderr.on('data', (d) => { out += d; });
    proc.on('error', reject);
    proc.on('close', (code) => resolve({ code, out }));
  });
}

async function eventually(check, what, timeout = 15000) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await check();
    if (last.ok) return last;
    await c.sleep(100);
  }
  throw new Error(`timed out waiting for ${what}; last seen:\n${last && last.detail}`);
}

describe('TLS links (wss:// relay, https:// peer)', () => {
  let cert; let relay; let relayTls;

  before(async () => {
    cert = h.makeCertificate(h.tempDir('gsio-tls-'));
    relay = await c.startRelay();
    relayTls = await startTlsProxy(relay.port, cert);
  });

  after(async () => {
    for (const p of proxies) {
      for (const s of p.sockets) s.destroy();
      p.server.close();
    }
    await c.cleanup();
  });

  it('a node joins the relay over wss:// with --tls-ca, and entries cross to a ws:// node', async () => {
    const secure = await c.startNetNode({
      args: ['--relay', `wss://localhost:${relayTls.port}`, '--tls-ca', cert.cert] });
    const plain = await c.startNetNode({ relayUrl: relay.url });
    const [ss, sp] = await Promise.all([h.connect(secure.url), h.connect(plain.url)]);
    // One after the other, so that no fork (and no re-append with a new hash) muddles the check.
    const added = await h.emitAck(ss, 'add_ledger_entry', { note: 'over TLS' });
    await c.waitConverged([ss, sp], { minHeight: 1 });
    const back = await h.emitAck(sp, 'add_ledger_entry', { note: 'back over TLS' });
    await c.waitConverged([ss, sp], { minHeight: 2 });
    const chain = await h.getAll(ss);
    assert.deepEqual(chain.map((e) => e.hash), [added.hash, back.hash]);
    assert.ok(relayTls.handshakes >= 1, 'the link went through the TLS proxy');
    const view = await consoleCommand(secure, 'relay');
    assert.equal(view.code, 0, view.out);
    assert.match(view.out, new RegExp(`relay wss://localhost:${relayTls.port}`));
    assert.match(view.out, /state\s+connected since/);
  });

  it('a node that does not trust the certificate stays out and says why', async () => {
    const untrusting = await c.startNetNode({ args: ['--relay', `wss://localhost:${relayTls.port}`] });
    await eventually(async () => {
      const view = await consoleCommand(untrusting, 'relay');
      return { ok: /last error\s+connect failed: TLS handshake: certificate verify failed/.test(view.out),
               detail: view.out };
    }, 'the certificate error in the console');
    const view = await consoleCommand(untrusting, 'relay');
    assert.match(view.out, /state\s+connecting/);
    const stats = await (await fetch(`${relay.httpUrl}/stats`)).json();
    const ids = JSON.stringify(stats);
    const info = await h.emitAck(await h.connect(untrusting.url), 'node_info');
    assert.ok(!ids.includes(info.node_id), 'the relay never saw the untrusting node');
  });

  it('a node peers with another over https:// (Socket.IO /p2p through TLS)', async () => {
    const target = await c.startNetNode();
    const st = await h.connect(target.url);
    await h.emitAck(st, 'add_ledger_entry', { note: 'fetched over https' });
    const targetTls = await startTlsProxy(target.port, cert);
    const peer = await c.startNetNode({
      args: ['--peer', `https://localhost:${targetTls.port}`, '--tls-ca', cert.cert] });
    const sp = await h.connect(peer.url);
    await c.waitConverged([st, sp], { minHeight: 1 });
    const [entry] = await h.getAll(sp);
    assert.equal(entry.data.note, 'fetched over https');
    assert.ok(targetTls.handshakes >= 1);
  });

  it('an unreadable --tls-ca stops the node at start with a clear error', async () => {
    const result = await h.runNodeToExit(['--port', '0', '--data-dir', h.tempDir(),
      '--relay', 'wss://localhost:1', '--tls-ca', '/nonexistent/ca.pem']);
    assert.equal(result.code, 2);
    assert.match(result.output, /cannot read --tls-ca \/nonexistent\/ca\.pem/);
  });
});
