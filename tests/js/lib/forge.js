'use strict';
// Entries and P2P envelopes made by the tests themselves, with Node's own crypto: an independent
// implementation of the hash and signature rules (docs/PROTOCOL.md §3), used to play a fake peer
// and to check what the node signs.
const crypto = require('node:crypto');

// RFC 8785 for the values the tests use (strings, small integers, objects, arrays): JSON.stringify
// with sorted keys.
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function entryHash(e) {
  return crypto.createHash('sha256')
    .update(canonical([e.id, e.timestamp, e.data, e.previous_hash, e.creator_node_id])).digest('hex');
}

// A fresh Ed25519 identity: {id (the node id: public key hex), privateKey}.
function makeKey() {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  const id = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
  return { id, privateKey };
}

// The timestamp of an instant in unix microseconds (a BigInt): RFC 3339 UTC with exactly six
// fractional digits (docs/PROTOCOL.md §3), e.g. 2026-01-02T03:04:05.678901Z.
function timestampOf(us) {
  const iso = new Date(Number(us / 1000n)).toISOString();
  return `${iso.slice(0, 20)}${(us % 1000000n).toString().padStart(6, '0')}Z`;
}

// A signed entry by `key`, with the id `<key>-<unix_us>`; ids strictly increase even within one
// microsecond (Date.now() counts milliseconds: the next microsecond is taken).
let lastUs = 0n;
function signedEntry(key, data, previousHash) {
  const now = BigInt(Date.now()) * 1000n;
  const us = now > lastUs ? now : lastUs + 1n;
  lastUs = us;
  const e = {
    id: `${key.id}-${us}`, timestamp: timestampOf(us), data, previous_hash: previousHash,
    creator_node_id: key.id,
  };
  e.hash = entryHash(e);
  e.signatures = { [key.id]: crypto.sign(null, Buffer.from(e.hash, 'hex'), key.privateKey).toString('hex') };
  return e;
}

// A P2P envelope (docs/PROTOCOL.md §7) as an object.
function envelope(type, sender, payload, recipient = '') {
  return { message_type: type, message_id: crypto.randomBytes(16).toString('hex'),
           sender_id: sender, recipient_id: recipient, payload };
}

// The relay_proof of `key` for a relay's or a node's challenge (src/net/announce_proof.hpp): the
// signature of SHA-256("gsio-relay-announce\n" challenge "\n" id).
function announceProof(key, challenge) {
  const digest = crypto.createHash('sha256').update(`gsio-relay-announce\n${challenge}\n${key.id}`).digest();
  return crypto.sign(null, digest, key.privateKey).toString('hex');
}

module.exports = { canonical, entryHash, makeKey, signedEntry, envelope, timestampOf, announceProof };
