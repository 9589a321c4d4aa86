'use strict';
// Starts real gsio-node processes on 127.0.0.1 with temporary data directories and connects real
// socket.io-client sockets to them. Everything started here is stopped by cleanup().
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { io } = require('socket.io-client');

const buildDir = process.env.GSIO_BUILD_DIR || path.resolve(__dirname, '../../../build');
const nodeBinary = path.join(buildDir, 'src/bin/gsio-node');

const started = new Set();
const tempDirs = new Set();
const sockets = new Set();

function tempDir(prefix = 'gsio-test-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`timed out after ${ms} ms: ${what}`), { timedOut: true })), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Calls `check` (it may be async) every `interval` ms until it returns a truthy value, and
// resolves with that; rejects once `ms` have passed. The polling stops at the deadline too, so a
// failed wait leaves no timer behind to keep the test process alive.
async function waitUntil(check, ms = 5000, what = 'condition', interval = 20) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await withTimeout(Promise.resolve().then(check), Math.max(1, deadline - Date.now()), what)
      .catch((err) => { throw err.timedOut ? new Error(`timed out after ${ms} ms: ${what}`) : err; });
    if (value) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

// A self-signed certificate for localhost and 127.0.0.1 in `dir` (its own CA): { key, cert } paths.
function makeCertificate(dir) {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  return { key, cert };
}

// Starts one of our programs and resolves once its log matches `readyPattern` (whose first group
// is the port); rejects if it exits first. The returned handle has proc, log, port, exited,
// waitExit(ms) and stop(signal). Every process started here is killed by cleanup(). `env` adds
// to the environment it inherits.
function startProcess(binary, args, { name, readyPattern, readyTimeout = 15000, extra = {}, env = {} }) {
  const proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const child = { proc, log: '', port: 0, exited: null, ...extra };
  started.add(child);
  const exited = new Promise((resolve) => {
    proc.on('close', (code, signal) => {
      child.exited = { code, signal };
      started.delete(child);
      resolve(child.exited);
    });
  });
  // On a timeout the error carries the end of the log: it says where shutdown got stuck.
  child.waitExit = (ms = 15000) => withTimeout(exited, ms, `${name} exit`).catch((err) => {
    err.message += `\n--- last lines of the ${name} log ---\n${child.log.split('\n').slice(-15).join('\n')}`;
    throw err;
  });
  child.stop = async (signal = 'SIGTERM') => {
    if (child.exited) return child.exited;
    proc.kill(signal);
    return child.waitExit();
  };
  const ready = new Promise((resolve, reject) => {
    const onData = (chunk) => {
      child.log += chunk.toString();
      const m = readyPattern.exec(child.log);
      if (m && !child.port) {
        child.port = Number(m[1]);
        resolve(child);
      }
    };
    proc.stderr.on('data', onData);
    proc.stdout.on('data', onData);
    exited.then(({ code, signal }) =>
      reject(new Error(`${name} exited (code ${code}, signal ${signal}) before it was ready:\n${child.log}`)));
  });
  return withTimeout(ready, readyTimeout, `${name} start`);
}

// A gsio-node on 127.0.0.1 with a free port; `url` is its http:// address.
async function startNode({ dataDir = tempDir(), args = [], readyTimeout = 15000, env = {} } = {}) {
  const node = await startProcess(nodeBinary,
    ['--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, ...args],
    { name: 'gsio-node', readyPattern: /ready on http:\/\/127\.0\.0\.1:(\d+)/, readyTimeout,
      extra: { dataDir }, env });
  node.url = `http://127.0.0.1:${node.port}`;
  return node;
}

// Runs the gsio command-line tool to completion: {code, stdout, stderr}. GSIO_NODE is cleared so
// that every test names its node; a gsio that does not exit within timeoutMs is killed and the
// test fails (it must never hang).
function gsio(args, { input = '', env = {}, timeoutMs = 20000 } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(path.join(buildDir, 'src/bin/gsio'), args,
                       { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, GSIO_NODE: '', ...env } });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`gsio ${args.join(' ')} hung`)); }, timeoutMs);
    // 'close', not 'exit': only then has all of its output been read.
    proc.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
    proc.stdin.on('error', () => {});  // gsio may exit before reading stdin
    proc.stdin.end(input);
  });
}

// Fills the empty data directory `dataDir` with a node key and `entries` chained entries that
// key signed (gsio-bench mkstore), and returns what mkstore printed ({entries, tip_hash, ...}).
// The benchmark driver is built only in the main build; the store it writes serves any build.
function mkstore(dataDir, entries) {
  const bench = [buildDir, path.resolve(__dirname, '../../../build')]
    .map((dir) => path.join(dir, 'src/bin/gsio-bench'))
    .find((file) => fs.existsSync(file));
  if (!bench) throw new Error('gsio-bench is not built (ninja -C build)');
  const out = execFileSync(bench, ['mkstore', '--dir', dataDir, '--entries', String(entries)],
                           { encoding: 'utf8', timeout: 300000 });
  return JSON.parse(out.trim().split('\n').pop());
}

// Runs gsio-node to completion (for start-up failures) and returns {code, output}.
function runNodeToExit(args, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    const proc = spawn(nodeBinary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout.on('data', (c) => { output += c; });
    proc.stderr.on('data', (c) => { output += c; });
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error('gsio-node did not exit')); }, timeoutMs);
    proc.on('close', (code) => { clearTimeout(timer); resolve({ code, output }); });
  });
}

const transports = {
  websocket: { transports: ['websocket'] },
  polling: { transports: ['polling'] },
  upgrade: { transports: ['polling', 'websocket'], upgrade: true },
};

function connect(url, { transport = 'websocket', auth, nsp = '/', timeout = 5000 } = {}) {
  const socket = io(url + (nsp === '/' ? '' : nsp), {
    ...transports[transport], auth, forceNew: true, reconnection: false, timeout,
  });
  sockets.add(socket);
  // The server emits `auth` right after the CONNECT reply, possibly in the same read.
  socket.authArgs = new Promise((resolve) => socket.once('auth', (...args) => resolve(args)));
  // On /p2p, the node's challenge (docs/PROTOCOL.md §7, Direct peering), sent the same way.
  if (nsp === '/p2p') socket.challenge = new Promise((resolve) => socket.once('p2p_challenge', (arg) => resolve(arg.challenge)));
  return withTimeout(new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => reject(err));
  }), timeout + 1000, `connect ${transport} ${url}${nsp}`);
}

// A socket made elsewhere, disconnected by cleanup() like those of connect().
function track(socket) {
  sockets.add(socket);
  return socket;
}

function once(socket, event, ms = 5000) {
  return withTimeout(new Promise((resolve) => socket.once(event, (...args) => resolve(args))), ms,
                     `event ${event}`);
}

function emitAck(socket, event, ...args) {
  return socket.timeout(10000).emitWithAck(event, ...args);
}

async function health(node) {
  const res = await fetch(`${node.url}/health`);
  return res.json();
}

function rssKiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
}

// Python with Debian's sqlite3 module, for editing a node's store from outside.
function sqlite(dbPath, sql, params = []) {
  const script = 'import sqlite3,sys,json\n' +
    'db=sqlite3.connect(sys.argv[1]); cur=db.execute(sys.argv[2], json.loads(sys.argv[3]))\n' +
    'rows=cur.fetchall(); db.commit(); print(json.dumps(rows))';
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script, dbPath, sql, JSON.stringify(params)]).toString());
}

async function cleanup() {
  for (const s of sockets) s.disconnect();
  sockets.clear();
  await Promise.all([...started].map((n) => n.stop('SIGKILL').catch(() => {})));
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

module.exports = {
  mkstore,
  buildDir, nodeBinary, tempDir, startProcess, startNode, runNodeToExit, gsio, connect, track, once, emitAck, health,
  rssKiB, sqlite, cleanup, withTimeout, waitUntil, makeCertificate, transports,
};

// Resolves with the ack, or with null once the socket disconnects first (the node died).
function ackOrDisconnect(socket, event, ...args) {
  if (!socket.connected) return Promise.resolve(null);
  return new Promise((resolve) => {
    const onDisconnect = () => resolve(null);
    socket.once('disconnect', onDisconnect);
    socket.emit(event, ...args, (reply) => {
      socket.off('disconnect', onDisconnect);
      resolve(reply);
    });
  });
}

// The whole canonical chain, fetched in pages.
// The whole chain, page by page; a page of large entries above what the node puts in one answer
// is asked for again with as many entries as its error says fit (docs/PROTOCOL.md §2).
async function getAll(socket, pageSize = 1000) {
  const all = [];
  let limit = pageSize;
  for (;;) {
    const page = await emitAck(socket, 'get_ledger', { from: all.length, limit });
    if (!Array.isArray(page)) {
      if (page && Number.isInteger(page.fits) && page.fits >= 1 && page.fits < limit) {
        limit = page.fits;
        continue;
      }
      throw new Error(`get_ledger: ${JSON.stringify(page)}`);
    }
    all.push(...page);
    if (page.length < limit) return all;
  }
}

module.exports.ackOrDisconnect = ackOrDisconnect;
module.exports.getAll = getAll;
