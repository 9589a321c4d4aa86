// Independent verification of entries and chains (docs/PROTOCOL.md §3): recomputes the canonical
// JSON and SHA-256 of every entry, checks every Ed25519 signature and every link, so a member
// never has to take the node's word for its ledger. Entries can be given as objects or as the
// JSON text that came over the wire; a text is read as strictly as a node reads it (json.ts), so
// that no text every node refuses is called valid here.
//
// The crypto is @noble/ed25519 + @noble/hashes (pure JS, audited, no dependencies) rather than
// Web Crypto: browsers only expose crypto.subtle on secure origins, and a node's UI is usually
// served over plain http:// from a LAN address, where crypto.subtle is undefined. It is JavaScript
// BigInt arithmetic and not constant-time, which matters for signing only (see createEntry).
import * as ed from '@noble/ed25519';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { CanonicalJsonError, canonicalBytes, canonicalize } from './canonical.js';
import { bytesToHex, hexToBytes, isHex } from './hex.js';
import { MAX_UNIX_US, nowUnixUs, timestampFromUnixUs, unixUsFromId } from './ids.js';
import { decodeUtf8Strict, parseStrictJson, StrictJsonError } from './json.js';
import type { Entry, JsonValue } from './types.js';

// The synchronous API of @noble/ed25519 needs a SHA-512; it ships none so it can stay dependency-free.
ed.hashes.sha512 = sha512;

/** previous_hash of the first entry of every chain. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * Why an entry failed: the node's own rejection reasons (`malformed`, `bad_hash`,
 * `bad_signature`, `too_large`), plus `bad_link` and `duplicate_id` for a chain.
 */
export type VerifyReason =
  'malformed' | 'bad_hash' | 'bad_signature' | 'too_large' | 'bad_link' | 'duplicate_id' | 'bad_author';

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

/**
 * Limits on entry data. Every node of a network must use the same (`gsio-node --max-data-bytes`);
 * the defaults are the node's.
 */
export interface EntryLimits {
  /** Longest canonical JSON of `data`, in UTF-8 bytes (default 65,536). */
  maxDataBytes: number;
  /** Deepest nesting of arrays and objects in `data` (default 128). */
  maxDataDepth: number;
}

export const DEFAULT_ENTRY_LIMITS: Readonly<EntryLimits> = Object.freeze({ maxDataBytes: 65_536, maxDataDepth: 128 });

/** An entry's fields: exactly these, no others. */
export const ENTRY_FIELDS = ['id', 'timestamp', 'data', 'previous_hash', 'hash', 'creator_node_id', 'signatures'] as const;

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

// --- the signature rule ---------------------------------------------------------------------

// The order of the Ed25519 group (RFC 8032's L).
const GROUP_ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;

function numberFromLittleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] ?? 0);
  return n;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

// Bytes, or lowercase hex of bytes; undefined for anything else (or the wrong length).
function bytesOf(value: Uint8Array | string, length?: number): Uint8Array | undefined {
  let bytes: Uint8Array;
  if (typeof value === 'string') {
    if (!/^(?:[0-9a-f]{2})*$/.test(value)) return undefined;
    bytes = hexToBytes(value);
  } else if (value instanceof Uint8Array) {
    bytes = value;
  } else {
    return undefined;
  }
  return length === undefined || bytes.length === length ? bytes : undefined;
}

/**
 * The one signature rule of the protocol (DESIGN §7, docs/PROTOCOL.md §3), which every verifier
 * of the network applies alike: `signature` (64 bytes: R then S) is valid for `message` under
 * `publicKey` (32 bytes) iff
 *
 * 1. S < L (the group order): no second spelling S + L of a signature;
 * 2. A, the public key, is the canonical encoding of a curve point (y < p; not x = 0 with the
 *    sign bit set), and A is not of small order ([8]A is not the identity);
 * 3. [S]B = R + [k]A holds without the cofactor, with k = SHA-512(R ‖ A ‖ message) mod L, checked
 *    as encoding([S]B − [k]A) = R byte for byte, so R must be the canonical encoding of that point.
 *
 * Keys, messages and signatures are bytes or lowercase hex. Never throws: anything that is not a
 * 32-byte key and a 64-byte signature is invalid. tests/vectors/ed25519-edge.tsv pins the rule.
 */
export function verifySignature(publicKey: Uint8Array | string, message: Uint8Array | string,
                                signature: Uint8Array | string): boolean {
  const keyBytes = bytesOf(publicKey, 32);
  const messageBytes = bytesOf(message);
  const signatureBytes = bytesOf(signature, 64);
  if (!keyBytes || !messageBytes || !signatureBytes) return false;
  const encodedR = signatureBytes.subarray(0, 32);
  const s = numberFromLittleEndian(signatureBytes.subarray(32));
  if (s >= GROUP_ORDER) return false;
  let a: ed.Point;
  try {
    // Strict decoding (not ZIP-215): refuses y >= p, x = 0 with the sign bit, and non-points.
    a = ed.Point.fromBytes(keyBytes, false);
  } catch {
    return false;
  }
  // Canonical: the point's encoding is these very bytes (belt and braces over the decoding).
  if (!sameBytes(a.toBytes(), keyBytes)) return false;
  if (a.isSmallOrder()) return false;
  const challenge = new Uint8Array(64 + messageBytes.length);
  challenge.set(encodedR, 0);
  challenge.set(keyBytes, 32);
  challenge.set(messageBytes, 64);
  const k = numberFromLittleEndian(sha512(challenge)) % GROUP_ORDER;
  // multiplyUnsafe: variable time, which is fine here: nothing secret goes into a verification.
  const sB = ed.Point.BASE.multiplyUnsafe(s);
  const kA = a.multiplyUnsafe(k);
  return sameBytes(sB.subtract(kA).toBytes(), encodedR);
}

// --- the same rule through Web Crypto ---------------------------------------------------------

// Web Crypto's Ed25519 (Chromium: BoringSSL; Node: OpenSSL) checks the cofactorless equation by
// encoding, as rule 3 does, but libraries differ on rules 1 and 2 (PROTOCOL.md §3). So those two
// run here, in our code, before Web Crypto is asked; Web Crypto then only does the arithmetic of
// rule 3. The edge vectors (tests/vectors/ed25519-edge.tsv) are run through both paths by the
// tests, in Node and in Chromium, and must get the same verdicts.

/** Which code checks the equation of rule 3: the JavaScript of @noble/ed25519, or Web Crypto. */
export type SignatureEngine = 'js' | 'webcrypto';

// Per public key: whether it passes rule 2, and its imported Web Crypto key. Keys repeat (one per
// node and author), so each is decoded and imported once; the map is cleared when it grows large.
interface KeyState {
  acceptable: boolean;
  imported?: Promise<CryptoKey | null>;
}
const keyStates = new Map<string, KeyState>();
const MAX_KEY_STATES = 4096;

function keyAcceptable(keyBytes: Uint8Array): boolean {
  try {
    const a = ed.Point.fromBytes(keyBytes, false);
    return sameBytes(a.toBytes(), keyBytes) && !a.isSmallOrder();
  } catch {
    return false;
  }
}

function keyState(keyBytes: Uint8Array): KeyState {
  const hex = bytesToHex(keyBytes);
  let state = keyStates.get(hex);
  if (!state) {
    if (keyStates.size >= MAX_KEY_STATES) keyStates.clear();
    state = { acceptable: keyAcceptable(keyBytes) };
    keyStates.set(hex, state);
  }
  return state;
}

// A copy on an ArrayBuffer of its own, as Web Crypto's types want.
function own(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}

function subtleCrypto(): SubtleCrypto | undefined {
  // Only on secure origins in a browser (https, localhost); Node 20 has it too.
  return (globalThis as { crypto?: { subtle?: SubtleCrypto } }).crypto?.subtle;
}

function importKey(state: KeyState, keyBytes: Uint8Array): Promise<CryptoKey | null> {
  state.imported ??= (async () => {
    const subtle = subtleCrypto();
    if (!subtle) return null;
    try {
      return await subtle.importKey('raw', own(keyBytes), { name: 'Ed25519' }, false, ['verify']);
    } catch {
      return null; // this browser cannot: the JavaScript path checks it
    }
  })();
  return state.imported;
}

let webCryptoProbe: Promise<boolean> | undefined;

/**
 * Whether Web Crypto can verify Ed25519 here (a secure origin of a browser that has it, or Node):
 * probed once, with a signature of the test vectors that must verify and a changed copy that must not.
 */
export function webCryptoEd25519Available(): Promise<boolean> {
  webCryptoProbe ??= (async () => {
    const subtle = subtleCrypto();
    if (!subtle) return false;
    try {
      const key = await subtle.importKey('raw', own(hexToBytes(PROBE_KEY)), { name: 'Ed25519' }, false, ['verify']);
      const good = await subtle.verify({ name: 'Ed25519' }, key, own(hexToBytes(PROBE_SIG)), own(hexToBytes(PROBE_MESSAGE)));
      const bad = own(hexToBytes(PROBE_MESSAGE));
      bad[0] = (bad[0] ?? 0) ^ 1;
      return good && !(await subtle.verify({ name: 'Ed25519' }, key, own(hexToBytes(PROBE_SIG)), bad));
    } catch {
      return false;
    }
  })();
  return webCryptoProbe;
}
// The first entry of tests/vectors/entries.json: its creator, hash and signature.
const PROBE_KEY = '8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c';
const PROBE_MESSAGE = 'a4b3acaf2fcd13a4a9df6824dd24628d201ba449f4a9b1aabee9fa7f75d23ec2';
const PROBE_SIG = 'd252e0eef162f7f212e4a45a9a1388ffa5c357d235052bd99e0a1d5ef106eae249a99d656a321ba0c8fcb4af6f488f48edb0a080b08bea2c624e7b217037c30c';

/**
 * verifySignature through Web Crypto: rules 1 and 2 here, the equation of rule 3 by
 * `crypto.subtle.verify`. Resolves to the same verdict as verifySignature for every input (the
 * edge vectors pin it). Where this browser cannot import the key, the JavaScript path decides.
 * Rejects when Web Crypto has no Ed25519 here (see webCryptoEd25519Available).
 */
export async function verifySignatureWebCrypto(publicKey: Uint8Array | string, message: Uint8Array | string,
                                               signature: Uint8Array | string): Promise<boolean> {
  const subtle = subtleCrypto();
  if (!subtle) throw new Error('Web Crypto is not available here');
  const keyBytes = bytesOf(publicKey, 32);
  const messageBytes = bytesOf(message);
  const signatureBytes = bytesOf(signature, 64);
  if (!keyBytes || !messageBytes || !signatureBytes) return false;
  if (!scalarBelowOrder(signatureBytes.subarray(32))) return false; // rule 1
  const state = keyState(keyBytes);
  if (!state.acceptable) return false; // rule 2
  const key = await importKey(state, keyBytes);
  if (!key) return verifySignature(keyBytes, messageBytes, signatureBytes);
  return subtle.verify({ name: 'Ed25519' }, key, own(signatureBytes), own(messageBytes));
}

// S < L, reading S little-endian, compared from the most significant byte.
const ORDER_BYTES = (() => {
  const out = new Uint8Array(32);
  let n = GROUP_ORDER;
  for (let i = 0; i < 32; i++) { out[i] = Number(n & 0xffn); n >>= 8n; }
  return out;
})();
function scalarBelowOrder(s: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    const a = s[i] ?? 0;
    const b = ORDER_BYTES[i] ?? 0;
    if (a !== b) return a < b;
  }
  return false; // S = L
}

/**
 * verifySignature, asynchronously, by `engine` ('auto': Web Crypto where it has Ed25519, else
 * JavaScript). Every engine gives the verdict of the one rule.
 */
export async function verifySignatureAsync(publicKey: Uint8Array | string, message: Uint8Array | string,
                                           signature: Uint8Array | string,
                                           engine: SignatureEngine | 'auto' = 'auto'): Promise<boolean> {
  if (engine === 'js' || (engine === 'auto' && !(await webCryptoEd25519Available()))) {
    return verifySignature(publicKey, message, signature);
  }
  return verifySignatureWebCrypto(publicKey, message, signature);
}

// --- entry texts and shapes -------------------------------------------------------------------

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// The fields and their types, as a node reads an entry (ledger::from_json): exactly the seven
// fields, five strings, data present, signatures an object of strings. Everything here is
// `malformed`.
function checkFields(value: unknown): VerifyProblem | null {
  if (!isPlainObject(value)) return problem('malformed', 'an entry must be a JSON object');
  for (const name of Object.keys(value)) {
    if (!(ENTRY_FIELDS as readonly string[]).includes(name)) return problem('malformed', `unexpected field ${JSON.stringify(name)}`);
  }
  for (const name of ENTRY_FIELDS) {
    if (!Object.hasOwn(value, name) || value[name] === undefined) return problem('malformed', `missing field "${name}"`);
  }
  for (const name of ['id', 'timestamp', 'previous_hash', 'hash', 'creator_node_id'] as const) {
    if (typeof value[name] !== 'string') return problem('malformed', `field "${name}" must be a string`);
  }
  const sigs = value.signatures;
  if (!isPlainObject(sigs)) return problem('malformed', 'field "signatures" must be an object of node id to signature');
  for (const sig of Object.values(sigs)) {
    if (typeof sig !== 'string') return problem('malformed', 'every signature must be a string');
  }
  return null;
}

/**
 * Reads an entry from its JSON text as a node does, before validation: strict JSON (see
 * parseStrictJson: one value, Unicode text, no member twice anywhere, numbers of at most 100
 * characters within a double's range, at most 160 levels of nesting), then exactly the seven
 * fields with their types. Bytes are read as UTF-8 (invalid UTF-8 is malformed). Returns the
 * entry, or the problem (always `malformed`). The entry is not validated: see verifyEntryText.
 */
export function parseEntryText(text: string | Uint8Array): { entry: Entry } | { problem: VerifyProblem } {
  let value: unknown;
  try {
    value = parseStrictJson(typeof text === 'string' ? text : decodeUtf8Strict(text));
  } catch (err) {
    if (err instanceof StrictJsonError) return { problem: problem('malformed', `not strict JSON: ${err.message}`) };
    return { problem: problem('malformed', `not an entry text: ${(err as Error).message}`) };
  }
  const bad = checkFields(value);
  if (bad) return { problem: bad };
  return { entry: value as unknown as Entry };
}

// Whether `value` nests arrays and objects more than `limit` levels deep (a scalar: 0 levels).
function nestsDeeperThan(value: unknown, limit: number, parents: object[]): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (limit <= 0) return true;
  if (parents.includes(value)) throw new CanonicalJsonError('cyclic structure');
  parents.push(value);
  const children: unknown[] = Array.isArray(value) ? value : Object.values(value);
  const deeper = children.some((child) => nestsDeeperThan(child, limit - 1, parents));
  parents.pop();
  return deeper;
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A surrogate pair is 4 bytes, 2 per half; canonical JSON holds no lone surrogate.
    n += c < 0x80 ? 1 : c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 2 : 3;
  }
  return n;
}

// The node's validation (ledger::validate, without the clock check) of an entry whose fields
// checkFields accepted, in the node's order, so that the reason is the node's too; all but the
// signature arithmetic, whose checks it returns (validate() runs them).
function validateUnsigned(e: Entry, limits: EntryLimits): VerifyProblem | SignatureCheck[] {
  let data: string;
  try {
    if (nestsDeeperThan(e.data, limits.maxDataDepth, [])) {
      return problem('too_large', `data nests arrays and objects more than ${limits.maxDataDepth} levels deep`);
    }
    data = canonicalize(e.data);
  } catch (err) {
    return problem('malformed', `data has no canonical JSON: ${(err as Error).message}`);
  }
  const dataBytes = utf8Length(data);
  if (dataBytes > limits.maxDataBytes) {
    return problem('too_large', `data is ${dataBytes} bytes, the limit is ${limits.maxDataBytes}`);
  }
  const creator = e.creator_node_id;
  if (!isHex(creator, 32)) return problem('malformed', 'creator_node_id must be 64 lowercase hex digits');
  const digits = e.id.startsWith(`${creator}-`) ? e.id.slice(65) : '';
  if (!/^(?:0|[1-9][0-9]*)$/.test(digits)) return problem('malformed', 'id must be "<creator_node_id>-<unix_us>"');
  const us = BigInt(digits);
  if (us > MAX_UNIX_US) return problem('malformed', 'the time of the id is past the year 9999');
  const expected = timestampFromUnixUs(us);
  if (e.timestamp !== expected) {
    // An entry of protocol 1: the id counted milliseconds and the timestamp had three digits.
    const asMilliseconds = us <= MAX_UNIX_US / 1000n ? new Date(Number(us)).toISOString() : '';
    if (e.timestamp === asMilliseconds) {
      return problem('malformed', 'made by protocol 1 (a millisecond id and timestamp); protocol 2 counts microseconds');
    }
    return problem('malformed', `timestamp must be ${expected}, the instant of the id`);
  }
  if (!isHex(e.previous_hash, 32)) return problem('malformed', 'previous_hash must be 64 lowercase hex digits');
  if (!isHex(e.hash, 32)) return problem('malformed', 'hash must be 64 lowercase hex digits');
  // The id, timestamp and hex fields are plain ASCII by now: only data needed canonicalizing.
  const hashInput = `["${e.id}","${e.timestamp}",${data},"${e.previous_hash}","${creator}"]`;
  const hash = bytesToHex(sha256(new TextEncoder().encode(hashInput)));
  if (hash !== e.hash) return problem('bad_hash', `hash should be ${hash}`);
  const signatures = Object.entries(e.signatures);
  if (!Object.hasOwn(e.signatures, creator)) return problem('bad_signature', "the creator's signature is missing");
  for (const [signer, sig] of signatures) {
    if (!isHex(signer, 32)) return problem('bad_signature', `signature key ${JSON.stringify(String(signer).slice(0, 70))} is not a node id`);
    // One spelling per signature: an upper-case copy would make a byte-different copy of the entry.
    if (!isHex(sig, 64)) return problem('bad_signature', `the signature of ${signer.slice(0, 12)} is not 128 lowercase hex digits`);
  }
  return signatures.map(([signer, signature]) => ({ signer, signature }));
}

// The signatures an entry's validation still has to check, in the order a node checks them.
interface SignatureCheck {
  signer: string;
  signature: string;
}

function badSignature(e: Entry, signer: string): VerifyProblem {
  return problem('bad_signature', signer === e.creator_node_id
    ? "the creator's signature is invalid"
    : `the attestation by ${signer.slice(0, 12)} is invalid`);
}

// validate() up to the signatures, then the signatures by `check` (JavaScript by default).
function validate(e: Entry, limits: EntryLimits): VerifyProblem | null {
  const checks = validateUnsigned(e, limits);
  if (!Array.isArray(checks)) return checks;
  const message = hexToBytes(e.hash);
  for (const { signer, signature } of checks) {
    if (!verifySignature(signer, message, signature)) return badSignature(e, signer);
  }
  return null;
}

function limitsOf(limits: Partial<EntryLimits> | undefined): EntryLimits {
  return { ...DEFAULT_ENTRY_LIMITS, ...limits };
}

// An entry given as an object or as text: the entry (when it could be read) and its verdict.
function judge(input: unknown, limits: EntryLimits): { entry: Entry | undefined; problem: VerifyProblem | null } {
  const read = readEntry(input);
  if (!read.entry) return { entry: undefined, problem: read.problem };
  return { entry: read.entry, problem: validate(read.entry, limits) };
}

function readEntry(input: unknown): { entry: Entry; problem: null } | { entry: undefined; problem: VerifyProblem } {
  if (typeof input === 'string' || input instanceof Uint8Array) {
    const parsed = parseEntryText(input);
    if ('problem' in parsed) return { entry: undefined, problem: parsed.problem };
    return { entry: parsed.entry, problem: null };
  }
  const bad = checkFields(input);
  if (bad) return { entry: undefined, problem: bad };
  return { entry: input as Entry, problem: null };
}

// judge() without the signature arithmetic: the entry, a problem, or the signatures to check.
function judgeUnsigned(input: unknown, limits: EntryLimits):
    { entry: Entry | undefined; problem: VerifyProblem | null; checks: SignatureCheck[] } {
  const read = readEntry(input);
  if (!read.entry) return { entry: undefined, problem: read.problem, checks: [] };
  const checks = validateUnsigned(read.entry, limits);
  if (!Array.isArray(checks)) return { entry: read.entry, problem: checks, checks: [] };
  return { entry: read.entry, problem: null, checks };
}

/**
 * Checks one entry on its own, as a node validates an entry from a peer (without the clock
 * check): its fields, the limits on its data, id, timestamp, hash, and every signature present
 * (the creator's is required; attestations by other nodes must verify too). `entry` is an object,
 * or an entry text (a string or UTF-8 bytes), which is read strictly first (parseEntryText).
 * Returns null when it is sound.
 */
export function verifyEntry(entry: unknown, limits?: Partial<EntryLimits>): VerifyProblem | null {
  return judge(entry, limitsOf(limits)).problem;
}

/** verifyEntry for an entry text: the verdict a node gives it (null: valid). */
export function verifyEntryText(text: string | Uint8Array, limits?: Partial<EntryLimits>): VerifyProblem | null {
  return judge(text, limitsOf(limits)).problem;
}

/**
 * Verifies a chain one entry at a time, keeping only what the next check needs (the tip hash and
 * the ids on the path). Useful for a live view: add() each new entry, truncate() on a reorg.
 */
// --- private networks: signed objects and author blocks (docs/PROTOCOL.md §8) -------------------

/**
 * What every signature inside a private network's entry data signs: the hex SHA-256 of
 * `domain "\n" networkId "\n" canonical JSON of the object without its "sig" member`.
 */
export function signedDigest(domain: string, networkId: string, object: Record<string, JsonValue>): string {
  const { sig: _sig, ...unsigned } = object;
  void _sig;
  return bytesToHex(sha256(new TextEncoder().encode(`${domain}\n${networkId}\n${canonicalize(unsigned)}`)));
}

/** A private network's id when `entry` is its charter (the first entry, `data.gsio` "charter"). */
export function charterNetworkId(entry: Entry): string | null {
  const data = entry.data;
  return entry.previous_hash === GENESIS_HASH && isPlainObject(data) && data.gsio === 'charter' ? entry.hash : null;
}

/**
 * Checks the author block of `data` (an entry's data) for network `networkId`: its shape, the
 * author's time against the entry's (`entryUnixUs`: at most an hour before, five minutes after),
 * and the author's signature under the one rule. Null when sound or when there is no block.
 * Whether the key was an author at that point of the chain is the node's to judge (it needs the
 * chain's membership); the node refuses entries whose author was not.
 */
export function verifyAuthorBlock(data: JsonValue, networkId: string, entryUnixUs?: bigint): VerifyProblem | null {
  if (!isPlainObject(data) || !('author' in data)) return null;
  const block = data.author;
  if (!isPlainObject(block) || Object.keys(block).sort().join(',') !== 'key,sig,time') {
    return problem('bad_author', 'an author block is {key, time, sig}');
  }
  const { key, time, sig } = block;
  if (typeof key !== 'string' || !isHex(key, 32) || typeof sig !== 'string' || !isHex(sig, 64) ||
      typeof time !== 'number' || !Number.isSafeInteger(time) || time < 0) {
    return problem('bad_author', 'author block fields: a 64-hex key, an integer time, a 128-hex sig');
  }
  if (entryUnixUs !== undefined &&
      (BigInt(time) > entryUnixUs + 300_000_000n || BigInt(time) + 3_600_000_000n < entryUnixUs)) {
    return problem('bad_author', "the author's time is more than an hour before or five minutes after the entry's");
  }
  const unsigned = { ...data, author: { key, time } } as Record<string, JsonValue>;
  if (!verifySignature(key, signedDigest('gsio-author-v1', networkId, unsigned), sig)) {
    return problem('bad_author', `the author's signature by ${key.slice(0, 16)} is invalid`);
  }
  return null;
}

/** Options of a ChainVerifier beyond the start link and the limits. */
export interface ChainVerifierOptions {
  /**
   * The private network of the chain (its charter's hash) when verifying a suffix of it, whose
   * author blocks are then checked too. From the genesis link it is read from the charter.
   */
  networkId?: string | null;
  /**
   * Ids on the chain below the start link that this verifier does not hold itself (e.g. the
   * entries of a window verified before): an entry with such an id is a `duplicate_id`.
   */
  idBefore?: (id: string) => boolean;
}

/** Where a batch stopped: the failing input's index in the batch, the entry (if read) and why. */
export interface BatchProblem extends VerifyProblem {
  index: number;
  entry: Entry | undefined;
}

export class ChainVerifier {
  readonly #startHash: string;
  #networkId: string | null = null;
  readonly #limits: EntryLimits;
  readonly #idBefore: ((id: string) => boolean) | undefined;
  readonly #hashes: string[] = [];
  readonly #ids: string[] = [];
  readonly #idSet = new Set<string>();
  // Entries verified and then forgotten by compact(): they count in height; their ids are not held.
  #forgotten = 0;
  #forgottenTip: string | undefined;

  /**
   * `previousHash`: the link the first entry must carry (the genesis link unless verifying a
   * suffix); `limits`: the network's limits on entry data, the node's defaults unless given.
   */
  constructor(previousHash: string = GENESIS_HASH, limits?: Partial<EntryLimits>, options: ChainVerifierOptions = {}) {
    this.#startHash = previousHash;
    this.#limits = limitsOf(limits);
    this.#networkId = options.networkId ?? null;
    this.#idBefore = options.idBefore;
  }

  /** The private network of the chain (its charter's hash), once its first entry was a charter. */
  get networkId(): string | null {
    return this.#networkId;
  }

  /** Entries verified so far. */
  get height(): number {
    return this.#forgotten + this.#hashes.length;
  }

  get tipHash(): string {
    return this.#hashes[this.#hashes.length - 1] ?? this.#forgottenTip ?? this.#startHash;
  }

  /**
   * Verifies `entry` (an object or an entry text) as the next one; on success it becomes the
   * tip. Returns null when sound.
   */
  add(entry: unknown): VerifyProblem | null {
    return this.#add(entry).problem;
  }

  #add(input: unknown): { entry: Entry | undefined; problem: VerifyProblem | null } {
    const judged = judgeUnsigned(input, this.#limits);
    const e = judged.entry;
    if (judged.problem || !e) return judged;
    const message = hexToBytes(e.hash);
    for (const { signer, signature } of judged.checks) {
      if (!verifySignature(signer, message, signature)) return { entry: e, problem: badSignature(e, signer) };
    }
    return { entry: e, problem: this.#accept(e) };
  }

  // The checks that need the chain (link, duplicate id, author block); on success e is the tip.
  #accept(e: Entry): VerifyProblem | null {
    if (e.previous_hash !== this.tipHash) {
      return problem('bad_link', `previous_hash should be ${this.tipHash} (the entry before)`);
    }
    if (this.#idSet.has(e.id) || this.#idBefore?.(e.id)) return problem('duplicate_id', 'the id is already on this chain');
    if (this.height === 0 && this.#startHash === GENESIS_HASH) this.#networkId = charterNetworkId(e);
    if (this.#networkId !== null) {
      const bad = verifyAuthorBlock(e.data, this.#networkId, unixUsFromId(e.id));
      if (bad) return bad;
    }
    this.#hashes.push(e.hash);
    this.#ids.push(e.id);
    this.#idSet.add(e.id);
    return null;
  }

  /** Like add(), and also gives the entry read (from a text) when it could be read. */
  addAndRead(input: unknown): { entry: Entry | undefined; problem: VerifyProblem | null } {
    return this.#add(input);
  }

  /**
   * add() for each of `inputs` in turn, with the same verdicts, but the Ed25519 signatures of the
   * batch checked together by `engine` ('auto': Web Crypto where this browser has Ed25519, else
   * JavaScript). Stops at the first failure, which it returns; the entries before it stay added.
   */
  async addBatch(inputs: readonly unknown[], engine: SignatureEngine | 'auto' = 'auto'): Promise<BatchProblem | null> {
    const start = this.height;
    const staged: { entry: Entry; checks: SignatureCheck[] }[] = [];
    let stop: BatchProblem | null = null;
    let stopChecks: SignatureCheck[] = [];
    for (let index = 0; index < inputs.length; index++) {
      const judged = judgeUnsigned(inputs[index], this.#limits);
      const e = judged.entry;
      if (judged.problem || !e) {
        stop = { ...(judged.problem as VerifyProblem), index, entry: e };
        break;
      }
      const bad = this.#accept(e);
      if (bad) {
        // add() checks the signatures before these: they decide first.
        stop = { ...bad, index, entry: e };
        stopChecks = judged.checks;
        break;
      }
      staged.push({ entry: e, checks: judged.checks });
    }
    const useJs = engine === 'js' || (engine === 'auto' && !(await webCryptoEd25519Available()));
    const verdicts = await Promise.all([...staged, ...(stop ? [{ entry: stop.entry as Entry, checks: stopChecks }] : [])]
      .map(async ({ entry, checks }) => {
        if (checks.length === 0) return null;
        const message = hexToBytes(entry.hash);
        const results = await Promise.all(checks.map(({ signer, signature }) => useJs
          ? verifySignature(signer, message, signature)
          : verifySignatureWebCrypto(signer, message, signature)));
        const failed = results.indexOf(false);
        return failed < 0 ? null : badSignature(entry, (checks[failed] as SignatureCheck).signer);
      }));
    const first = verdicts.findIndex((v) => v !== null);
    if (first >= 0 && first < staged.length) {
      this.truncate(start + first);
      return { ...(verdicts[first] as VerifyProblem), index: first, entry: staged[first]?.entry };
    }
    if (stop && first === staged.length) return { ...(verdicts[first] as VerifyProblem), index: stop.index, entry: stop.entry };
    return stop;
  }

  /** Forgets every entry from index `height` on (after a reorg replaced them). */
  truncate(height: number): void {
    if (height < this.#forgotten) throw new RangeError(`cannot truncate below ${this.#forgotten}: compact() forgot those entries`);
    while (this.height > Math.max(0, height)) {
      this.#hashes.pop();
      this.#idSet.delete(this.#ids.pop() as string);
    }
  }

  /**
   * Forgets the ids and hashes of all but the newest `keep` entries, so that a long-lived
   * verifier holds bounded memory: height and tipHash stay; duplicate ids are then found among
   * the entries kept only, and truncate() cannot go below them.
   */
  compact(keep: number): void {
    const drop = this.#hashes.length - Math.max(0, keep);
    if (drop <= 0) return;
    this.#forgottenTip = this.#hashes[drop - 1];
    this.#forgotten += drop;
    this.#hashes.splice(0, drop);
    for (const id of this.#ids.splice(0, drop)) this.#idSet.delete(id);
  }
}

export interface VerifyChainOptions {
  /** previous_hash the first entry must link to; the genesis link by default. */
  previousHash?: string;
  /** The network's limits on entry data; the node's defaults by default. */
  limits?: Partial<EntryLimits>;
  /** Called after every `progressEvery` entries, e.g. to update a progress bar. */
  onProgress?: (verified: number, total: number) => void;
  progressEvery?: number;
}

/**
 * Verifies `entries` as a chain: every entry's fields, data limits, hash and signatures, each
 * previous_hash linking to the entry before (the first to `previousHash`), and no id twice.
 * Entries are objects or entry texts (strings or UTF-8 bytes, read strictly, as a node reads
 * them). Stops at the first failure. Yields to the event loop between batches so a page stays
 * responsive on long chains.
 */
export async function verifyChain(entries: readonly unknown[], options: VerifyChainOptions = {}): Promise<ChainVerification> {
  const verifier = new ChainVerifier(options.previousHash ?? GENESIS_HASH, options.limits);
  const every = Math.max(1, options.progressEvery ?? 100);
  for (let index = 0; index < entries.length; index++) {
    const input = entries[index];
    const { entry, problem: bad } = verifier.addAndRead(input);
    if (bad) {
      const id = entry?.id ?? (isPlainObject(input) ? input.id : undefined);
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

// --- making entries ---------------------------------------------------------------------------

/** What createEntry needs: the creator's 32-byte Ed25519 seed and the entry's content. */
export interface NewEntry {
  /** 64 lowercase hex: the private seed (as in a node's node.key). */
  seed: string;
  data: JsonValue;
  previousHash: string;
  /**
   * Creation time in unix microseconds (a safe integer or a BigInt); by default now, strictly
   * increasing from one call to the next (nowUnixUs).
   */
  unixUs?: number | bigint;
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
 *
 * Signing runs @noble/ed25519's JavaScript BigInt arithmetic, which is not constant-time: someone
 * who can time many signatures made with one seed may learn bits of it. Sign where nobody else
 * can measure how long signing takes, or leave signing to a node.
 */
export function createEntry(fields: NewEntry): Entry {
  if ('unixMs' in (fields as object)) {
    throw new TypeError('createEntry: unixMs was replaced by unixUs (microseconds) in protocol 2');
  }
  const { seed, data, previousHash } = fields;
  const unixUs = fields.unixUs ?? nowUnixUs();
  const timestamp = timestampFromUnixUs(unixUs); // RangeError for anything but an instant of 1970-9999
  const secret = hexToBytes(seed);
  const creator = bytesToHex(ed.getPublicKey(secret));
  const body = {
    id: `${creator}-${BigInt(unixUs)}`,
    timestamp,
    data,
    previous_hash: previousHash,
    creator_node_id: creator,
  };
  const hash = computeEntryHash(body);
  const signature = bytesToHex(ed.sign(hexToBytes(hash), secret));
  return { ...body, hash, signatures: { [creator]: signature } };
}
