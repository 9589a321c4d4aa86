'use strict';
// Real nats-server processes for the relay tier's tests: a cluster of N servers on 127.0.0.1 with
// routes between them, each with its monitoring port. Also a bare NATS publisher, for feeding a
// relay what another publisher on its subjects might send. Everything started here is stopped
// by the harness's cleanup().
const net = require('node:net');
const h = require('./harness');

const NATS_SERVER = '/usr/sbin/nats-server';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Starts (or, with the same ports, restarts) server `i` of a cluster.
async function startServer(cluster, i) {
  const me = cluster.ports[i];
  const routes = cluster.ports.filter((_, k) => k !== i).map((p) => `nats://127.0.0.1:${p.cluster}`).join(',');
  const server = await h.startProcess(NATS_SERVER,
    ['-a', '127.0.0.1', '-p', String(me.client), '-m', String(me.monitor),
     '--cluster_name', 'gsio-test', '--cluster', `nats://127.0.0.1:${me.cluster}`, '--routes', routes],
    { name: `nats-server ${i}`, readyPattern: /Server is ready()/ });
  server.port = me.client;
  server.url = `nats://127.0.0.1:${me.client}`;
  cluster.servers[i] = server;
  return server;
}

// A cluster of `n` servers whose routes are all up (each server's /routez shows n-1 routes).
async function startCluster(n = 3) {
  const ports = [];
  for (let i = 0; i < n; i++)
    ports.push({ client: await freePort(), cluster: await freePort(), monitor: await freePort() });
  const cluster = { ports, servers: [] };
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

module.exports = { startCluster, publisher, NATS_SERVER };
