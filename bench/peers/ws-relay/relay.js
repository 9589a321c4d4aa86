#!/usr/bin/env node
// Reference peer for gsio-bench scenario (c), relay fan-out: a WebSocket relay on Node.js and the
// `ws` library (with `bufferutil`, as a production deployment of ws would use) that applies the
// same forwarding rules as gsio-relay (docs/PROTOCOL.md §7 "Relay", src/net/relay_server.cpp and src/net/detail/relay_connection.cpp):
//
//   - upgrades on any path; with a token, the upgrade must carry `Authorization: Bearer T` or
//     `?token=T`, otherwise HTTP 401; beyond --max-connections, HTTP 503;
//   - every text frame is one P2P envelope, parsed and checked like decode_p2p does (object, known
//     message_type, message_id / sender_id 1-256 bytes, recipient_id a string or null, payload an
//     object); anything else is dropped as `malformed`;
//   - a connection's node id comes from its first NodeAnnounce (`unannounced` before), a different
//     sender_id is `spoofed`, and a newer connection announcing the same id replaces the older;
//   - broadcasts (empty recipient_id) go to every other announced connection, never back to the
//     sender; directed messages only to their recipient (`unknown_recipient`, `self_addressed`);
//   - frames above --max-frame-bytes close the connection (1009), binary frames too (1003); a
//     connection whose outbound buffer would pass --max-queue-bytes is cut (`slow_reader`);
//     connections silent for 20 s are closed, with a ping after 10 s;
//   - GET /health and /stats report the same counters as gsio-relay.
//
// The frame is forwarded as the Buffer it arrived in (no re-encoding), as a relay written for
// throughput would. It prints "ws-relay ready on ws://HOST:PORT" once listening.
'use strict';

const http = require('node:http');
const { WebSocketServer } = require('ws');

const MESSAGE_TYPES = new Set(['NodeAnnounce', 'NodeListRequest', 'NodeListResponse',
  'EntryAnnounce', 'EntryRequest', 'EntryResponse', 'LedgerSyncRequest', 'LedgerSyncResponse']);
const MAX_ID_BYTES = 256;

function usage() {
  return 'usage: relay.js [--host H] [--port P] [--token T] [--max-frame-bytes N] ' +
    '[--max-queue-bytes N] [--max-connections N] [--idle-timeout-ms N]';
}

function parseArgs(argv) {
  const o = {
    host: '127.0.0.1', port: 8787, token: process.env.GSIO_RELAY_TOKEN || '',
    maxFrameBytes: 4 * 1024 * 1024, maxQueueBytes: 8 * 1024 * 1024, maxConnections: 10000,
    idleTimeoutMs: 20000,
  };
  const numeric = { '--port': 'port', '--max-frame-bytes': 'maxFrameBytes',
    '--max-queue-bytes': 'maxQueueBytes', '--max-connections': 'maxConnections',
    '--idle-timeout-ms': 'idleTimeoutMs' };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i];
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${name} needs a value`);
    if (name === '--host') o.host = value;
    else if (name === '--token') o.token = value;
    else if (name in numeric) {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer`);
      o[numeric[name]] = n;
    } else throw new Error(`unknown option ${name}`);
  }
  return o;
}

// The same checks as decode_p2p (src/net/p2p_message.cpp); returns the envelope or a reason.
function decodeEnvelope(text) {
  let m;
  try {
    m = JSON.parse(text);
  } catch {
    return { error: 'a P2P message must be a JSON object' };
  }
  if (m === null || typeof m !== 'object' || Array.isArray(m)) {
    return { error: 'a P2P message must be a JSON object' };
  }
  const idOk = (v, required) => typeof v === 'string' &&
    (!required || v.length > 0) && Buffer.byteLength(v) <= MAX_ID_BYTES;
  if (!idOk(m.message_type, true) || !idOk(m.message_id, true) || !idOk(m.sender_id, true)) {
    return { error: 'message_type, message_id and sender_id must be 1 to 256 byte strings' };
  }
  if (m.recipient_id !== undefined && m.recipient_id !== null && !idOk(m.recipient_id, false)) {
    return { error: 'recipient_id must be a string of at most 256 bytes' };
  }
  if (!MESSAGE_TYPES.has(m.message_type)) return { error: 'unknown message_type' };
  if (m.payload === null || typeof m.payload !== 'object' || Array.isArray(m.payload)) {
    return { error: '"payload" must be an object' };
  }
  return { message: m };
}

// Constant-time comparison, so timing does not reveal how much of a guessed token matched.
function sameSecret(given, expected) {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; ++i) diff |= a[i] ^ b[i];
  return diff === 0;
}

function authorized(req, token) {
  if (!token) return true;
  const header = req.headers.authorization || '';
  if (/^bearer /i.test(header) && sameSecret(header.slice(7).trim(), token)) return true;
  const query = new URL(req.url, 'http://relay').searchParams.get('token');
  return query !== null && sameSecret(query, token);
}

function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`ws-relay: ${err.message}\n${usage()}`);
    process.exit(2);
  }
  const startedAt = Date.now();
  const counters = { messages_in: 0, messages_out: 0, bytes_in: 0, bytes_out: 0 };
  const drops = { malformed: 0, unannounced: 0, spoofed: 0, unknown_recipient: 0, self_addressed: 0 };
  const disconnects = { peer_closed: 0, connection_lost: 0, timeout: 0, oversized: 0, protocol: 0,
    replaced: 0, slow_reader: 0, handshake_failed: 0, shutdown: 0 };
  const rejected = { unauthorized: 0, over_capacity: 0, shutting_down: 0 };
  const connections = new Set();
  const nodes = new Map(); // node id -> connection state
  let stopping = false;

  // Records why a connection ended (the first cause wins) and forgets it.
  function end(c, cause) {
    if (c.ended) return;
    c.ended = true;
    disconnects[cause] += 1;
    connections.delete(c);
    if (c.nodeId && nodes.get(c.nodeId) === c) nodes.delete(c.nodeId);
  }

  function deliver(target, frame) {
    if (target.ended) return;
    const queued = target.ws.bufferedAmount;
    if (queued !== 0 && queued + frame.length > o.maxQueueBytes) {
      // A peer that does not read would not read a close frame either: cut the connection.
      end(target, 'slow_reader');
      target.ws.terminate();
      return;
    }
    target.ws.send(frame, { binary: false });
    counters.messages_out += 1;
    counters.bytes_out += frame.length;
  }

  function route(sender, m, frame) {
    const recipient = m.recipient_id || '';
    if (recipient === '') {
      for (const target of nodes.values()) if (target !== sender) deliver(target, frame);
      return;
    }
    if (recipient === sender.nodeId) {
      drops.self_addressed += 1;
      return;
    }
    const target = nodes.get(recipient);
    if (!target) {
      drops.unknown_recipient += 1;
      return;
    }
    deliver(target, frame);
  }

  function onFrame(c, data, isBinary) {
    if (c.ended) return;
    counters.messages_in += 1;
    counters.bytes_in += data.length;
    if (isBinary) {
      end(c, 'protocol');
      c.ws.close(1003, 'only text frames carrying P2P messages are accepted');
      return;
    }
    const { message: m } = decodeEnvelope(data.toString());
    if (!m) {
      drops.malformed += 1;
      return;
    }
    if (!c.nodeId) {
      if (m.message_type !== 'NodeAnnounce') {
        drops.unannounced += 1;
        return;
      }
      c.nodeId = m.sender_id;
      const older = nodes.get(c.nodeId);
      nodes.set(c.nodeId, c);
      // The newest connection wins: a node that reconnects must not wait for its dead link.
      if (older && older !== c) {
        end(older, 'replaced');
        older.ws.close(1008, 'replaced by a newer connection for this node id');
      }
    } else if (m.sender_id !== c.nodeId) {
      drops.spoofed += 1;
      return;
    }
    route(c, m, data);
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: o.maxFrameBytes,
    perMessageDeflate: false });

  const json = (res, status, body, extra = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store',
      server: 'ws-relay', ...extra });
    res.end(JSON.stringify(body));
  };

  const server = http.createServer((req, res) => {
    const path = req.url.split('?')[0];
    if (path !== '/health' && path !== '/stats') {
      return json(res, 404, { error: 'not_found', message: 'no such resource' });
    }
    if (req.method !== 'GET') return json(res, 405, { error: 'method_not_allowed' }, { allow: 'GET' });
    if (path === '/health') {
      return json(res, 200, { status: 'ok', connections: connections.size, nodes: nodes.size,
        uptime_ms: Date.now() - startedAt });
    }
    return json(res, 200, { connections: connections.size, nodes: [...nodes.keys()].sort(),
      ...counters, drops, disconnects, rejected });
  });

  // Refusals before the upgrade are plain HTTP responses written on the raw socket.
  const refuse = (socket, status, text, error, message, extra = '') => {
    const body = JSON.stringify({ error, message });
    socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\n${extra}` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  };

  server.on('upgrade', (req, socket, head) => {
    if (stopping) {
      rejected.shutting_down += 1;
      return refuse(socket, 503, 'Service Unavailable', 'shutting_down', 'the relay is shutting down',
        'Retry-After: 5\r\n');
    }
    if (!authorized(req, o.token)) {
      rejected.unauthorized += 1;
      return refuse(socket, 401, 'Unauthorized', 'unauthorized',
        'this relay requires the network token (query ?token= or header Authorization: Bearer)',
        'WWW-Authenticate: Bearer\r\n');
    }
    if (connections.size >= o.maxConnections) {
      rejected.over_capacity += 1;
      return refuse(socket, 503, 'Service Unavailable', 'over_capacity',
        'the relay has reached its connection limit', 'Retry-After: 5\r\n');
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const c = { ws, nodeId: '', ended: false, lastSeen: Date.now(), pinged: false };
      connections.add(c);
      ws.on('message', (data, isBinary) => {
        c.lastSeen = Date.now();
        c.pinged = false;
        onFrame(c, data, isBinary);
      });
      ws.on('pong', () => { c.lastSeen = Date.now(); c.pinged = false; });
      ws.on('ping', () => { c.lastSeen = Date.now(); });
      // ws reports an oversized frame (it closes with 1009) or a protocol error here.
      ws.on('error', (err) => {
        end(c, err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'oversized' : 'protocol');
      });
      ws.on('close', (code) => end(c, code === 1006 ? 'connection_lost' : 'peer_closed'));
    });
  });

  // Keep-alive: a ping after half the idle timeout of silence, a cut after all of it. Checked once
  // a second; per-message timers would cost more than the forwarding itself.
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const c of connections) {
      const silent = now - c.lastSeen;
      if (silent >= o.idleTimeoutMs) {
        end(c, 'timeout');
        c.ws.terminate();
      } else if (silent >= o.idleTimeoutMs / 2 && !c.pinged) {
        c.pinged = true;
        c.ws.ping();
      }
    }
  }, 1000);

  server.on('error', (err) => {
    console.error(`ws-relay: cannot listen on ${o.host}:${o.port}: ${err.message}`);
    process.exit(1);
  });
  server.listen(o.port, o.host, () => {
    console.log(`ws-relay ready on ws://${o.host}:${server.address().port}`);
  });

  const stop = () => {
    if (stopping) return;
    stopping = true;
    clearInterval(sweep);
    console.log(`ws-relay: stopping; ${counters.messages_in} in, ${counters.messages_out} out, ` +
      `drops ${JSON.stringify(drops)}, disconnects ${JSON.stringify(disconnects)}`);
    for (const c of connections) {
      end(c, 'shutdown');
      c.ws.close(1001, 'relay shutting down');
    }
    server.close();
    // Peers that do not finish the close handshake must not keep the process alive.
    setTimeout(() => process.exit(0), 500).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main();
