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

// A signed entry by `key`; ids strictly increase even within one millisecond.
let lastMs = 0;
function signedEntry(key, data, previousHash) {
  const ms = Math.max(Date.now(), lastMs + 1);
  lastMs = ms;
  const e = {
    id: `${key.id}-${ms}`, timestamp: new Date(ms).toISOString(), data, previous_hash: previousHash,
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

module.exports = { canonical, entryHash, makeKey, signedEntry, envelope };
