#!/usr/bin/env node
// The Node.js reference peer for gsio-bench (DESIGN §9: every figure is a ratio to a reference
// run side by side). It serves the part of the gsio-net client API that the ingest scenario uses
// (docs/PROTOCOL.md §2) on socket.io 4.8, with the same entry format (§3) and the same durability
// promise: an entry is acknowledged only after it is on disk.
//
//   node server.js --data-dir DIR [--port N] [--host H]
//
// Client API subset (namespace "/"):
//   add_ledger_entry, data [, ack] -> builds a signed entry, appends it durably, then every client
//                                      receives `ledger_entry_added` (entry) and the ack gets the
//                                      entry; on failure `error` {error} and ack {error}.
//   node_info [, ack]              -> {node_id, height, tip_hash, entries}
//
// Durability uses GROUP COMMIT: adds that arrive while an fdatasync is in flight wait in a queue;
// when the sync completes, the whole queue becomes the next batch, is written with one write()
// and made durable with one fdatasync(), and only then are its adds acknowledged. This is the
// strongest reasonable design for a single-threaded Node server (one sync per entry would cap it
// at ~1/fsync-latency entries per second), so the comparison with gsio-node is a fair one.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { Server } = require('socket.io');

const GENESIS_HASH = '0'.repeat(64);
// docs/PROTOCOL.md §1: entry data (canonical JSON) is limited to 64 KiB.
const MAX_DATA_BYTES = 64 * 1024;

function usage() {
  return [
    'usage: node server.js --data-dir DIR [--port N] [--host H]',
    '',
    'Node.js reference peer for gsio-bench: add_ledger_entry with durable group commit.',
    '  --data-dir DIR  where entries.jsonl is appended (created if missing; required)',
    '  --port N        listen port (default 3100; 0 picks a free one)',
    '  --host H        listen address (default 127.0.0.1)',
    '  --help          this help',
    '',
    'Prints "ready on http://HOST:PORT" once listening.',
  ].join('\n');
}

function parseArgs(argv) {
  const options = { port: 3100, host: '127.0.0.1', dataDir: '' };
  for (let i = 0; i < argv.length; ++i) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--help' || arg === '-h') {
      console.log(usage());
      process.exit(0);
    } else if (arg === '--port') {
      const port = Number(value());
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('--port must be 0..65535');
      options.port = port;
    } else if (arg === '--host') {
      options.host = value();
    } else if (arg === '--data-dir') {
      options.dataDir = value();
    } else {
      throw new Error(`unknown option ${arg}`);
    }
  }
  if (!options.dataDir) throw new Error('--data-dir is required');
  return options;
}

// Canonical JSON (docs/PROTOCOL.md §4) for what the benchmark sends: plain objects, arrays,
// strings, booleans, null and integers. JSON.stringify already writes strings and safe integers
// the way RFC 8785 does, so sorting object keys is all that is left. (Keys are sorted by UTF-16
// code units, which is what Array.prototype.sort compares.) Non-finite numbers are refused.
function canonicalJson(value) {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') {
    return JSON.stringify(value);
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error('non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  throw new Error(`unsupported JSON value of type ${typeof value}`);
}

// Ed25519 identity; the node id is the lowercase hex of the raw 32-byte public key.
function loadOrCreateIdentity(dataDir) {
  const keyFile = path.join(dataDir, 'node.key.pem');
  let privateKey;
  if (fs.existsSync(keyFile)) {
    privateKey = crypto.createPrivateKey(fs.readFileSync(keyFile));
  } else {
    ({ privateKey } = crypto.generateKeyPairSync('ed25519'));
    fs.writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  }
  const jwk = crypto.createPublicKey(privateKey).export({ format: 'jwk' });
  const nodeId = Buffer.from(jwk.x, 'base64url').toString('hex');
  return { privateKey, nodeId };
}

// RFC 3339 UTC with exactly six fractional digits for unix microseconds (a BigInt), e.g.
// 2026-01-02T03:04:05.678901Z: Date#toISOString's text with its milliseconds replaced by the
// microseconds (years 1970-9999).
function formatTimestamp(unixUs) {
  const iso = new Date(Number(unixUs / 1000n)).toISOString();
  return `${iso.slice(0, 20)}${(unixUs % 1000000n).toString().padStart(6, '0')}Z`;
}

class Ledger {
  constructor(dataDir, identity) {
    this.identity = identity;
    this.file = fs.openSync(path.join(dataDir, 'entries.jsonl'), 'a');
    this.height = 0;
    this.tipHash = GENESIS_HASH;
    this.lastUnixUs = 0n;
    this.queue = []; // {canonicalData, resolve, reject} waiting for the next batch
    this.syncing = false; // a batch is being written + fdatasync'd
    // Reported at shutdown: how well group commit batched, and what one write + sync cost.
    this.batches = 0;
    this.batchedEntries = 0;
    this.commitNs = 0n;
  }

  // Resolves with the entry once it is durable.
  add(canonicalData) {
    return new Promise((resolve, reject) => {
      this.queue.push({ canonicalData, resolve, reject });
      if (!this.syncing) this.commitBatch();
    });
  }

  makeEntry(canonicalData) {
    // docs/PROTOCOL.md §3 (protocol 2): the microsecond in the id strictly increases per
    // creator, even when more than one entry per microsecond of the clock arrives (Date.now()
    // counts milliseconds, so the next microsecond is taken), which is what gsio-node does.
    const now = BigInt(Date.now()) * 1000n;
    const unixUs = now > this.lastUnixUs ? now : this.lastUnixUs + 1n;
    this.lastUnixUs = unixUs;
    const creator = this.identity.nodeId;
    const id = `${creator}-${unixUs}`;
    const timestamp = formatTimestamp(unixUs);
    const previousHash = this.tipHash;
    // Hash input: canonical JSON of [id, timestamp, data, previous_hash, creator_node_id]. The
    // data is already canonical text, so it is spliced in rather than re-serialized.
    const hashInput = `[${JSON.stringify(id)},${JSON.stringify(timestamp)},${canonicalData},` +
      `${JSON.stringify(previousHash)},${JSON.stringify(creator)}]`;
    const hashBytes = crypto.createHash('sha256').update(hashInput).digest();
    const hash = hashBytes.toString('hex');
    const signature = crypto.sign(null, hashBytes, this.identity.privateKey).toString('hex');
    this.tipHash = hash;
    this.height += 1;
    // Field order as in docs/PROTOCOL.md §3; the stored line is the entry's canonical JSON
    // (keys sorted), as gsio-node stores it.
    const entry = {
      id,
      timestamp,
      data: JSON.parse(canonicalData),
      previous_hash: previousHash,
      hash,
      creator_node_id: creator,
      signatures: { [creator]: signature },
    };
    const line = `{"creator_node_id":${JSON.stringify(creator)},"data":${canonicalData},` +
      `"hash":"${hash}","id":${JSON.stringify(id)},"previous_hash":"${previousHash}",` +
      `"signatures":{${JSON.stringify(creator)}:"${signature}"},"timestamp":"${timestamp}"}\n`;
    return { entry, line };
  }

  // Group commit: everything queued so far becomes one batch, one write and one fdatasync.
  commitBatch() {
    if (this.queue.length === 0) {
      this.syncing = false;
      return;
    }
    this.syncing = true;
    const batch = this.queue;
    this.queue = [];
    const built = batch.map((item) => this.makeEntry(item.canonicalData));
    const bytes = Buffer.from(built.map((b) => b.line).join(''));
    const fail = (err) => {
      // The file's state is unknown after a failed write or sync: refuse everything from now on
      // rather than acknowledge entries that may not be durable.
      const error = new Error(`storage failure: ${err.message}`);
      for (const item of batch) item.reject(error);
      this.broken = error;
      for (const item of this.queue) item.reject(error);
      this.queue = [];
      this.syncing = false;
    };
    const started = process.hrtime.bigint();
    writeAll(this.file, bytes, (writeErr) => {
      if (writeErr) return fail(writeErr);
      fs.fdatasync(this.file, (syncErr) => {
        if (syncErr) return fail(syncErr);
        for (let i = 0; i < batch.length; ++i) batch[i].resolve(built[i].entry);
        this.batches += 1;
        this.batchedEntries += batch.length;
        this.commitNs += process.hrtime.bigint() - started;
        // Adds that came in during this sync form the next batch.
        this.commitBatch();
      });
    });
  }
}

function writeAll(fd, bytes, done, offset = 0) {
  fs.write(fd, bytes, offset, bytes.length - offset, null, (err, written) => {
    if (err) return done(err);
    if (offset + written < bytes.length) return writeAll(fd, bytes, done, offset + written);
    done(null);
  });
}

function main() {
  let options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`node-server: ${err.message}\n\n${usage()}`);
    process.exit(2);
  }
  fs.mkdirSync(options.dataDir, { recursive: true });
  const identity = loadOrCreateIdentity(options.dataDir);
  const ledger = new Ledger(options.dataDir, identity);

  const httpServer = http.createServer((req, res) => {
    if (req.url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', node_id: identity.nodeId, height: ledger.height,
        tip_hash: ledger.tipHash }));
      return;
    }
    res.writeHead(404).end();
  });
  // gsio-node's defaults (docs/PROTOCOL.md §1): 1,000,000-byte messages, ping 25 s / 20 s.
  const io = new Server(httpServer, {
    maxHttpBufferSize: 1_000_000,
    pingInterval: 25000,
    pingTimeout: 20000,
    cors: { origin: '*' },
  });

  io.on('connection', (socket) => {
    socket.emit('auth', socket.handshake.auth || {});

    socket.on('add_ledger_entry', (...args) => {
      const ack = typeof args[args.length - 1] === 'function' ? args.pop() : null;
      const refuse = (reason) => {
        const body = { error: `add_ledger_entry: ${reason}` };
        socket.emit('error', body);
        if (ack) ack(body);
      };
      if (ledger.broken) return refuse(ledger.broken.message);
      if (args.length < 1) return refuse('missing data');
      let canonicalData;
      try {
        canonicalData = canonicalJson(args[0]);
      } catch (err) {
        return refuse(err.message);
      }
      if (Buffer.byteLength(canonicalData) > MAX_DATA_BYTES) return refuse('too_large');
      ledger.add(canonicalData).then((entry) => {
        // As gsio-node: every client, the sender included, gets ledger_entry_added.
        io.emit('ledger_entry_added', entry);
        if (ack) ack(entry);
      }, (err) => refuse(err.message));
    });

    socket.on('node_info', (...args) => {
      const ack = typeof args[args.length - 1] === 'function' ? args.pop() : null;
      const info = { node_id: identity.nodeId, height: ledger.height, tip_hash: ledger.tipHash,
        entries: ledger.height, batches: ledger.batches,
        batched_entries: ledger.batchedEntries };
      if (ack) ack(info); else socket.emit('node_info', info);
    });
  });

  httpServer.on('error', (err) => {
    console.error(`node-server: cannot listen on ${options.host}:${options.port}: ${err.message}`);
    process.exit(1);
  });
  httpServer.listen(options.port, options.host, () => {
    const { port } = httpServer.address();
    console.log(`ready on http://${options.host}:${port}`);
  });

  const stop = () => {
    const { batches } = ledger;
    const mean = batches ? (ledger.batchedEntries / batches).toFixed(1) : '0';
    const commitMs = batches ? (Number(ledger.commitNs) / 1e6 / batches).toFixed(2) : '0';
    console.log(`node-server: stopping; ${ledger.height} entries in ${batches} group commits ` +
      `(mean batch ${mean}, mean write+fdatasync ${commitMs} ms)`);
    io.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main();
