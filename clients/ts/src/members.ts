// Private networks on the client side (docs/PROTOCOL.md §8): the answer to a node's challenge and
// an author's signed post. Checking a post's author block is verifyAuthorBlock (verify.ts); who
// may write at which point of the chain is the node's to judge (src/ledger/membership.cpp), as it
// needs the whole chain's membership.
import * as ed from '@noble/ed25519';
import { bytesToHex, hexToBytes } from './hex.js';
import { nowUnixUs } from './ids.js';
import type { JsonValue } from './types.js';
import { nodeIdFromSeed, signedDigest } from './verify.js';

/** What a private network's node sends on connect, before `auth`. */
export interface Challenge {
  network_id: string;
  network_name: string;
  node_id: string;
  /** 64 random hex digits, fresh for this connection. */
  challenge: string;
  /** The charter's read policy: `members` (prove a key to read) or `anyone`. */
  read: 'members' | 'anyone';
}

function signDigest(seed: string, digestHex: string): string {
  return bytesToHex(ed.sign(hexToBytes(digestHex), hexToBytes(seed)));
}

/**
 * The `authenticate` argument proving the key of `seed` to the node that sent `challenge`, on that
 * connection only: the signature of signedDigest("gsio-client-v1", network, {challenge, key, node}).
 */
export function clientProof(seed: string, challenge: Challenge): { key: string; sig: string } {
  const key = nodeIdFromSeed(seed);
  const digest = signedDigest('gsio-client-v1', challenge.network_id,
                              { challenge: challenge.challenge, key, node: challenge.node_id });
  return { key, sig: signDigest(seed, digest) };
}

/**
 * `data` with an author block signed by the key of `seed` for network `networkId`: what
 * add_ledger_entry takes from an author. `timeUs` defaults to now (unix microseconds).
 */
export function signAsAuthor(seed: string, networkId: string, data: Record<string, JsonValue>,
                             timeUs?: number): Record<string, JsonValue> {
  if ('author' in data || 'gsio' in data) throw new TypeError('signAsAuthor: data must not hold "author" or "gsio"');
  const key = nodeIdFromSeed(seed);
  const time = timeUs ?? Number(nowUnixUs());
  const sig = signDigest(seed, signedDigest('gsio-author-v1', networkId, { ...data, author: { key, time } }));
  return { ...data, author: { key, time, sig } };
}
