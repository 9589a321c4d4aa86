'use strict';
// A private network's client side in JavaScript (docs/PROTOCOL.md §8): keys from `gsio key`
// files, the answer to a node's challenge, and author blocks. Written from the protocol text,
// so that the tests check the node against a second implementation, not against itself.
const crypto = require('node:crypto');
const fs = require('node:fs');
const h = require('./harness');
const { canonical } = require('./forge');

// PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function keyFromSeed(seedHex) {
  const privateKey = crypto.createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, Buffer.from(seedHex, 'hex')]),
                                               format: 'der', type: 'pkcs8' });
  const id = crypto.createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
  return { id, privateKey };
}

// A key file written by `gsio key create` (the hex seed).
function keyFromFile(file) {
  return keyFromSeed(fs.readFileSync(file, 'utf8').trim());
}

function randomKey() {
  return keyFromSeed(crypto.randomBytes(32).toString('hex'));
}

// SHA-256(domain "\n" network "\n" canonical object without sig), hex: what every signature signs.
function signedDigest(domain, network, object) {
  return crypto.createHash('sha256').update(`${domain}\n${network}\n${canonical(object)}`).digest('hex');
}

function signDigest(key, digestHex) {
  return crypto.sign(null, Buffer.from(digestHex, 'hex'), key.privateKey).toString('hex');
}

// The proof of `key` for one connection's challenge.
function clientProof(key, challenge) {
  const digest = signedDigest('gsio-client-v1', challenge.network_id,
                              { challenge: challenge.challenge, key: key.id, node: challenge.node_id });
  return { key: key.id, sig: signDigest(key, digest) };
}

// A socket on `node` that answered its challenge with `key`; resolves with {socket, challenge, answer}.
async function connectAs(node, key) {
  const { challenge, socket } = await connectWithChallenge(node);
  const answer = await h.emitAck(socket, 'authenticate', clientProof(key, challenge));
  return { socket, challenge, answer };
}

// A socket on `node` and the challenge it got (the node sends it before `auth`).
async function connectWithChallenge(node) {
  let challenge = null;
  const { io } = require('socket.io-client');
  const socket = io(node.url, { transports: ['websocket'], forceNew: true, reconnection: false });
  socket.on('challenge', (c) => { challenge = c; });
  await h.withTimeout(new Promise((resolve, reject) => {
    socket.once('auth', resolve);
    socket.once('connect_error', reject);
  }), 5000, 'connect and auth');
  h.track(socket);
  return { socket, challenge };
}

// `data` with an author block signed by `key` for `network`.
function authored(key, network, data, time = Date.now() * 1000) {
  const withBlock = { ...data, author: { key: key.id, time } };
  const sig = signDigest(key, signedDigest('gsio-author-v1', network, withBlock));
  return { ...data, author: { key: key.id, time, sig } };
}

module.exports = { keyFromSeed, keyFromFile, randomKey, signedDigest, clientProof, connectAs, connectWithChallenge, authored };
