'use strict';
// Real nats-server processes for the relay tier's tests: a cluster of N servers on 127.0.0.1 with
// routes between them, each with its monitoring port. Also a bare NATS publisher, for feeding a
// relay what another publisher on its subjects might send. Everything started here is stopped
// by the harness's cleanup().
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const h = require('./harness');

const NATS_SERVER = '/usr/sbin/nats-server';

// `n` distinct free ports on 127.0.0.1. All are held open until all are chosen: a port closed
// right after it was picked may be picked again (one nats-server of a cluster then found its
// client port taken by another's cluster port).
async function freePorts(n) {
  const servers = [];
  try {
    for (let i = 0; i < n; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
    }
    return servers.map((server) => server.address().port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(() => resolve()))));
  }
}

// Starts (or, with the same ports, restarts) server `i` of a cluster.
async function startServer(cluster, i) {
  const me = cluster.ports[i];
  const args = ['-a', '127.0.0.1', '-p', String(me.client), '-m', String(me.monitor)];
  if (cluster.ports.length > 1) {
    const routes = cluster.ports.filter((_, k) => k !== i).map((p) => `nats://127.0.0.1:${p.cluster}`).join(',');
    args.push('--cluster_name', 'gsio-test', '--cluster', `nats://127.0.0.1:${me.cluster}`, '--routes', routes);
  }
  if (cluster.tls) args.push('--tls', '--tlscert', cluster.tls.cert, '--tlskey', cluster.tls.key);
  if (cluster.nkeys) {
    // Only these users' nkeys may connect (nats-server takes nkey users from a config file only).
    const file = path.join(h.tempDir('gsio-nats-conf-'), 'auth.conf');
    fs.writeFileSync(file, `authorization { users: [ ${cluster.nkeys.map((k) => `{ nkey: ${k} }`).join(', ')} ] }\n`);
    args.unshift('-c', file);
  }
  const server = await h.startProcess(NATS_SERVER, args,
    { name: `nats-server ${i}`, readyPattern: /Server is ready()/ });
  server.port = me.client;
  server.url = `nats://127.0.0.1:${me.client}`;
  cluster.servers[i] = server;
  return server;
}

// A cluster of `n` servers whose routes are all up (each server's /routez shows n-1 routes).
// With `tls` ({cert, key}), clients must connect with TLS; with `nkeys` (public keys), only those
// users may connect.
async function startCluster(n = 3, { tls, nkeys } = {}) {
  const free = await freePorts(3 * n);
  const ports = [];
  for (let i = 0; i < n; i++)
    ports.push({ client: free[3 * i], cluster: free[3 * i + 1], monitor: free[3 * i + 2] });
  const cluster = { ports, servers: [], tls, nkeys };
  for (let i = 0; i < n; i++) await startServer(cluster, i);
  await h.waitUntil(async () => {
    const routes = await Promise.all(ports.map(async (p) => {
      try {
        return (await (await fetch(`http://127.0.0.1:${p.monitor}/routez`)).json()).num_routes;
      } catch {
        return 0;
      }
    }));
    return routes.every((r) => r >= n - 1);
  }, 15000, 'the NATS cluster to form its routes', 100);
  cluster.urls = (order = [...Array(n).keys()]) => order.map((i) => `nats://127.0.0.1:${ports[i].client}`).join(',');
  cluster.restart = (i) => startServer(cluster, i);
  return cluster;
}

// A NATS client speaking the text protocol by hand: CONNECT, then PUB. Enough to publish what a
// stranger on the relays' subjects might.
async function publisher(url) {
  const { hostname, port } = new URL(url.replace('nats://', 'http://'));
  const socket = net.connect(Number(port), hostname);
  await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  socket.on('data', () => {});  // INFO, +OK, PING: not needed here (verbose off; pings answered below)
  socket.on('data', (chunk) => { if (chunk.toString().includes('PING')) socket.write('PONG\r\n'); });
  socket.write('CONNECT {"verbose":false,"pedantic":false,"name":"test-publisher"}\r\n');
  return {
    publish(subject, payload) {
      const bytes = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
      socket.write(`PUB ${subject} ${bytes.length}\r\n`);
      socket.write(bytes);
      socket.write('\r\n');
    },
    async flush() {
      socket.write('PING\r\n');
      await new Promise((resolve) => setTimeout(resolve, 200));
    },
    close() { socket.destroy(); },
  };
}

module.exports = { startCluster, startServer, freePorts, publisher, NATS_SERVER };

// NATS nkeys (a user's Ed25519 key pair) in NATS's text form, made here with Node's crypto:
// base32 (RFC 4648, no padding) of prefix byte(s) + key + CRC-16/XMODEM, little-endian.
function crc16(bytes) {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

function base32(bytes) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

function withCrc(bytes) {
  const crc = crc16(bytes);
  return base32(Buffer.concat([bytes, Buffer.from([crc & 0xff, crc >> 8])]));
}

function userNkey() {
  const crypto = require('node:crypto');
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  const pub = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32);
  const user = 20 << 3;  // 'U'
  const seedPrefix = 18 << 3;  // 'S'
  return {
    publicKey: withCrc(Buffer.concat([Buffer.from([user]), pub])),
    seed: withCrc(Buffer.concat([Buffer.from([seedPrefix | (user >> 5), (user & 31) << 3]), seed])),
  };
}

module.exports.userNkey = userNkey;
