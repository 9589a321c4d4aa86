// Independent verification of entries and chains (docs/PROTOCOL.md §3): recomputes the canonical
// JSON and SHA-256 of every entry, checks every Ed25519 signature and every link, so a member
// never has to take the node's word for its ledger.
//
// The crypto is @noble/ed25519 + @noble/hashes (pure JS, audited, no dependencies) rather than
// Web Crypto: browsers only expose crypto.subtle on secure origins, and a node's UI is usually
// served over plain http:// from a LAN address, where crypto.subtle is undefined.
import * as ed from '@noble/ed25519';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { canonicalBytes, canonicalize } from './canonical.js';
import { bytesToHex, hexToBytes, isHex } from './hex.js';
import type { Entry, JsonValue } from './types.js';

// The synchronous API of @noble/ed25519 needs a SHA-512; it ships none so it can stay dependency-free.
ed.hashes.sha512 = sha512;

/** previous_hash of the first entry of every chain. */
export const GENESIS_HASH = '0'.repeat(64);

/** Why an entry failed: the node's own rejection reasons, plus `bad_link` for a broken chain. */
export type VerifyReason = 'malformed' | 'bad_hash' | 'bad_signature' | 'bad_link' | 'duplicate_id';

export interface VerifyProblem {
  reason: VerifyReason;
  message: string;
}

export interface ChainProblem extends VerifyProblem {
  /** Index of the failing entry in the array given to verifyChain. */
  index: number;
  /** Its id, when it had a readable one. */
  id: string | undefined;
}

export interface ChainVerification {
  valid: boolean;
  /** Entries that passed every check (all of them when valid). */
  verified: number;
  /** Hash of the last verified entry (the start link when none). */
  tipHash: string;
  /** The first failure; absent when valid. */
  problem?: ChainProblem;
}

const ID = /^([0-9a-f]{64})-(0|[1-9][0-9]*)$/;
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** The exact text hashed for an entry: canonical JSON of [id, timestamp, data, previous_hash, creator_node_id]. */
export function entryHashInput(e: Pick<Entry, 'id' | 'timestamp' | 'data' | 'previous_hash' | 'creator_node_id'>): string {
  return canonicalize([e.id, e.timestamp, e.data, e.previous_hash, e.creator_node_id]);
}

/** Lowercase hex SHA-256 of entryHashInput(e). */
export function computeEntryHash(e: Pick<Entry, 'id' | 'timestamp' | 'data' | 'previous_hash' | 'creator_node_id'>): string {
  return bytesToHex(sha256(canonicalBytes([e.id, e.timestamp, e.data, e.previous_hash, e.creator_node_id])));
}

function problem(reason: VerifyReason, message: string): VerifyProblem {
  return { reason, message };
}

// Shape checks first, so that the hash and signature checks below can trust the field types.
function checkShape(value: unknown): VerifyProblem | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return problem('malformed', 'not an object');
  const e = value as Record<string, unknown>;
  if (typeof e.id !== 'string') return problem('malformed', 'id is not a string');
  const id = ID.exec(e.id);
  if (!id) return problem('malformed', 'id is not <creator>-<unix_ms>');
  if (!isHex(e.creator_node_id, 32)) return problem('malformed', 'creator_node_id is not 64 lowercase hex');
  if (id[1] !== e.creator_node_id) return problem('malformed', 'id does not start with creator_node_id');
  if (typeof e.timestamp !== 'string' || !TIMESTAMP.test(e.timestamp)) {
    return problem('malformed', 'timestamp is not RFC 3339 UTC with milliseconds');
  }
  if (Date.parse(e.timestamp) !== Number(id[2])) return problem('malformed', 'timestamp and id name different instants');
  if (!('data' in e) || e.data === undefined) return problem('malformed', 'data is missing');
  if (!isHex(e.previous_hash, 32)) return problem('malformed', 'previous_hash is not 64 lowercase hex');
  if (!isHex(e.hash, 32)) return problem('malformed', 'hash is not 64 lowercase hex');
  const sigs = e.signatures;
  if (typeof sigs !== 'object' || sigs === null || Array.isArray(sigs)) return problem('malformed', 'signatures is not an object');
  for (const [signer, sig] of Object.entries(sigs)) {
    if (!isHex(signer, 32)) return problem('malformed', 'a signer id is not 64 lowercase hex');
    if (!isHex(sig, 64)) return problem('malformed', `the signature of ${signer.slice(0, 12)} is not 128 lowercase hex`);
  }
  if (!(e.creator_node_id in sigs)) return problem('bad_signature', 'the creator signature is missing');
  return null;
}

// The order of the Ed25519 group (RFC 8032's L).
const GROUP_ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;

function numberFromLittleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] ?? 0);
  return n;
}

/**
 * noble's strict mode checks [8]([S]B - [k]A - R) = 0 (cofactored); a node checks [S]B - [k]A = R
 * exactly (cofactorless, PROTOCOL.md §3). They differ for a key holder who puts a small-order
 * component into R: such a signature must fail here as it fails on every node.
 */
function cofactorlessEquationHolds(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  const encodedR = signature.subarray(0, 32);
  const s = numberFromLittleEndian(signature.subarray(32));
  const challenge = new Uint8Array(64 + message.length);
  challenge.set(encodedR, 0);
  challenge.set(publicKey, 32);
  challenge.set(message, 64);
  const k = numberFromLittleEndian(sha512(challenge)) % GROUP_ORDER;
  const a = ed.Point.fromBytes(publicKey, false);
  const sB = s === 0n ? ed.Point.ZERO : ed.Point.BASE.multiplyUnsafe(s);
  const kA = k === 0n ? ed.Point.ZERO : a.multiplyUnsafe(k);
  const computed = sB.subtract(kA).toBytes();
  return computed.every((byte, i) => byte === encodedR[i]);
}

/**
 * Checks one entry on its own: shape, hash, and every signature present (the creator's is
 * required; attestations by other nodes must verify too). Returns null when it is sound.
 */
export function verifyEntry(entry: unknown): VerifyProblem | null {
  const shape = checkShape(entry);
  if (shape) return shape;
  const e = entry as Entry;
  let hash: string;
  try {
    hash = computeEntryHash(e);
  } catch (err) {
    return problem('malformed', `data has no canonical JSON: ${(err as Error).message}`);
  }
  if (hash !== e.hash) return problem('bad_hash', `hash should be ${hash}`);
  const message = hexToBytes(e.hash);
  for (const [signer, sig] of Object.entries(e.signatures)) {
    let ok: boolean;
    try {
      // Strict RFC 8032 rules (not ZIP-215) and the cofactorless equation: exactly what a node
      // accepts (PROTOCOL.md §3).
      const signature = hexToBytes(sig);
      const publicKey = hexToBytes(signer);
      ok = ed.verify(signature, message, publicKey, { zip215: false }) &&
        cofactorlessEquationHolds(signature, message, publicKey);
    } catch {
      ok = false; // e.g. a public key that is not a curve point
    }
    if (!ok) return problem('bad_signature', `the signature of ${signer.slice(0, 12)} does not verify`);
  }
  return null;
}

/**
 * Verifies a chain one entry at a time, keeping only what the next check needs (the tip hash and
 * the ids on the path). Useful for a live view: add() each new entry, truncate() on a reorg.
 */
export class ChainVerifier {
  readonly #startHash: string;
  readonly #hashes: string[] = [];
  readonly #ids: string[] = [];
  readonly #idSet = new Set<string>();

  /** `previousHash`: the link the first entry must carry (the genesis link unless verifying a suffix). */
  constructor(previousHash: string = GENESIS_HASH) {
    this.#startHash = previousHash;
  }

  /** Entries verified so far. */
  get height(): number {
    return this.#hashes.length;
  }

  get tipHash(): string {
    return this.#hashes[this.#hashes.length - 1] ?? this.#startHash;
  }

  /** Verifies `entry` as the next one; on success it becomes the tip. Returns null when sound. */
  add(entry: unknown): VerifyProblem | null {
    const bad = verifyEntry(entry);
    if (bad) return bad;
    const e = entry as Entry;
    if (e.previous_hash !== this.tipHash) {
      return problem('bad_link', `previous_hash should be ${this.tipHash} (the entry before)`);
    }
    if (this.#idSet.has(e.id)) return problem('duplicate_id', 'the id is already on this chain');
    this.#hashes.push(e.hash);
    this.#ids.push(e.id);
    this.#idSet.add(e.id);
    return null;
  }

  /** Forgets every entry from index `height` on (after a reorg replaced them). */
  truncate(height: number): void {
    while (this.#hashes.length > Math.max(0, height)) {
      this.#hashes.pop();
      this.#idSet.delete(this.#ids.pop() as string);
    }
  }
}

export interface VerifyChainOptions {
  /** previous_hash the first entry must link to; the genesis link by default. */
  previousHash?: string;
  /** Called after every `progressEvery` entries, e.g. to update a progress bar. */
  onProgress?: (verified: number, total: number) => void;
  progressEvery?: number;
}

/**
 * Verifies `entries` as a chain: every entry's shape, hash and signatures, each previous_hash
 * linking to the entry before (the first to `previousHash`), and no id twice. Stops at the first
 * failure. Yields to the event loop between batches so a page stays responsive on long chains.
 */
export async function verifyChain(entries: readonly unknown[], options: VerifyChainOptions = {}): Promise<ChainVerification> {
  const verifier = new ChainVerifier(options.previousHash ?? GENESIS_HASH);
  const every = Math.max(1, options.progressEvery ?? 100);
  for (let index = 0; index < entries.length; index++) {
    const entry = entries[index];
    const bad = verifier.add(entry);
    if (bad) {
      const id = (entry as { id?: unknown } | null)?.id;
      return {
        valid: false,
        verified: verifier.height,
        tipHash: verifier.tipHash,
        problem: { ...bad, index, id: typeof id === 'string' ? id : undefined },
      };
    }
    if ((index + 1) % every === 0) {
      options.onProgress?.(index + 1, entries.length);
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
  options.onProgress?.(entries.length, entries.length);
  return { valid: true, verified: verifier.height, tipHash: verifier.tipHash };
}

/** What createEntry needs: the creator's 32-byte Ed25519 seed and the entry's content. */
export interface NewEntry {
  /** 64 lowercase hex: the private seed (as in a node's node.key). */
  seed: string;
  data: JsonValue;
  previousHash: string;
  /** Creation time in unix ms; now by default. */
  unixMs?: number;
}

/** The node id (lowercase hex public key) of an Ed25519 seed. */
export function nodeIdFromSeed(seed: string): string {
  return bytesToHex(ed.getPublicKey(hexToBytes(seed)));
}

/**
 * The `relay_proof` a NodeAnnounce carries to prove `nodeId` to a relay (docs/PROTOCOL.md §7,
 * Relay): the Ed25519 signature by `seed` of SHA-256("gsio-relay-announce\n" challenge "\n" nodeId),
 * where the challenge is the relay's `X-Gsio-Challenge` upgrade response header.
 */
export function relayProof(seed: string, challenge: string, nodeId: string): string {
  const digest = sha256(new TextEncoder().encode(`gsio-relay-announce\n${challenge}\n${nodeId}`));
  return bytesToHex(ed.sign(digest, hexToBytes(seed)));
}

/**
 * Builds and signs an entry the way a node does, e.g. for a program speaking the P2P protocol
 * (see p2p.ts). Ed25519 is deterministic, so this reproduces the test vectors byte for byte.
 */
export function createEntry({ seed, data, previousHash, unixMs = Date.now() }: NewEntry): Entry {
  const secret = hexToBytes(seed);
  const creator = bytesToHex(ed.getPublicKey(secret));
  const body = {
    id: `${creator}-${unixMs}`,
    timestamp: new Date(unixMs).toISOString(),
    data,
    previous_hash: previousHash,
    creator_node_id: creator,
  };
  const hash = computeEntryHash(body);
  const signature = bytesToHex(ed.sign(hexToBytes(hash), secret));
  return { ...body, hash, signatures: { [creator]: signature } };
}
