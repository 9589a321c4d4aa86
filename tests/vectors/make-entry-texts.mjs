#!/usr/bin/env node
// Writes tests/vectors/entry-texts.json: entry texts, each with the verdict every verifier of the
// network must give it (docs/PROTOCOL.md §3): `valid`, or the node's rejection reason
// (`malformed`, `bad_hash`, `bad_signature`, `too_large`). The node's C++ tests and the
// TypeScript client's tests run every case, so that both read and judge entry texts alike.
//
//   node tests/vectors/make-entry-texts.mjs     (deterministic: the same file every run)
//
// Built with Node's own crypto (Ed25519 from a PKCS#8 seed, SHA-256, SHA-512) and a canonical JSON
// of its own, not with the project's code, so that the data does not depend on the code under
// test. The one crafted signature that needs curve arithmetic (valid only with the cofactor) uses
// the small Edwards-curve code below, checked against Node's crypto before use.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const GENESIS = '0'.repeat(64);

// --- canonical JSON (RFC 8785) for the values used here ------------------------------------
// Strings: JSON.stringify escapes exactly what RFC 8785 escapes. Numbers: ECMAScript's
// Number#toString, which String() is. Object members sorted by UTF-16 code units (the default sort).
function canonical(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  switch (typeof value) {
    case 'boolean': return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new Error(`no canonical form for ${value}`);
      return String(value);
    case 'string': return JSON.stringify(value);
    case 'object':
      return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
    default: throw new Error(`not JSON: ${typeof value}`);
  }
}

// --- keys, hashes, signatures ---------------------------------------------------------------
function keyFromSeed(seedHex) {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seedHex, 'hex')]);
  const privateKey = crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  const id = crypto.createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
  return { seed: seedHex, id, privateKey };
}
const sha256hex = (text) => crypto.createHash('sha256').update(text, 'utf8').digest('hex');
const sign = (key, hashHex) => crypto.sign(null, Buffer.from(hashHex, 'hex'), key.privateKey).toString('hex');

const A = keyFromSeed('01'.repeat(32));
const B = keyFromSeed('02'.repeat(32));

// RFC 3339 UTC with six fractional digits for unix microseconds (a BigInt).
function timestampOf(us) {
  const iso = new Date(Number(us / 1000n)).toISOString();
  return `${iso.slice(0, 20)}${(us % 1000000n).toString().padStart(6, '0')}Z`;
}

const T0 = 1767323045678902n; // 2026-01-02T03:04:05.678902Z
let clock = T0;
const nextUs = () => (clock += 1111n);

// The hash input with the data given as its canonical text (or, for a bad_hash case, as some
// other text).
function hashInput(f, dataText) {
  return `[${JSON.stringify(f.id)},${JSON.stringify(f.timestamp)},${dataText},${JSON.stringify(f.previous_hash)},` +
    `${JSON.stringify(f.creator_node_id)}]`;
}

// A correctly hashed and signed entry; `over` changes the fields before hashing (e.g. an id of
// another form), so that only the change under test can be wrong with it.
function entry(data, { key = A, previousHash = GENESIS, us = nextUs(), over = {}, dataText } = {}) {
  const f = {
    id: `${key.id}-${us}`, timestamp: timestampOf(us), data, previous_hash: previousHash,
    creator_node_id: key.id, ...over,
  };
  const hash = sha256hex(hashInput(f, dataText ?? canonical(f.data)));
  return {
    id: f.id, timestamp: f.timestamp, data: f.data, previous_hash: f.previous_hash, hash,
    creator_node_id: f.creator_node_id, signatures: { [key.id]: sign(key, hash) },
  };
}
const text = (e) => JSON.stringify(e);

// Replaces the one occurrence of `from` in `s`.
function swap(s, from, to) {
  const at = s.indexOf(from);
  if (at < 0 || s.indexOf(from, at + 1) >= 0) throw new Error(`${JSON.stringify(from)} is not in the text exactly once`);
  return s.slice(0, at) + to + s.slice(at + from.length);
}
const nested = (depth) => {
  let v = [];
  for (let i = 1; i < depth; i++) v = [v];
  return v;
};
const flipHex = (hex, at) => hex.slice(0, at) + (hex[at] === '0' ? '1' : '0') + hex.slice(at + 1);

// --- a little Edwards-curve arithmetic, for the signature valid only with the cofactor -------
const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const mod = (a, m = P) => ((a % m) + m) % m;
function pow(b, e) {
  let r = 1n;
  b = mod(b);
  for (; e > 0n; e >>= 1n, b = mod(b * b)) if (e & 1n) r = mod(r * b);
  return r;
}
const inv = (x) => pow(x, P - 2n);
const D = mod(-121665n * inv(121666n));
const leToBig = (buf) => BigInt(`0x${Buffer.from(buf).reverse().toString('hex') || '0'}`);
const bigToLe = (n) => Buffer.from(n.toString(16).padStart(64, '0'), 'hex').reverse();
function decodePoint(hex) {
  const n = leToBig(Buffer.from(hex, 'hex'));
  const y = n & ((1n << 255n) - 1n);
  const sign = n >> 255n;
  const x2 = mod((y * y - 1n) * inv(D * y * y + 1n));
  let x = pow(x2, (P + 3n) / 8n);
  if (mod(x * x) !== x2) x = mod(x * pow(2n, (P - 1n) / 4n));
  if (mod(x * x) !== x2) throw new Error('not a point');
  if ((x & 1n) !== sign) x = mod(-x);
  return [x, y];
}
const encodePoint = ([x, y]) => {
  const b = bigToLe(y);
  if (x & 1n) b[31] |= 0x80;
  return b;
};
function add([x1, y1], [x2, y2]) {
  const t = mod(D * x1 * x2 * y1 * y2);
  return [mod((x1 * y2 + y1 * x2) * inv(1n + t)), mod((y1 * y2 + x1 * x2) * inv(1n - t))];
}
function mul(n, pt) {
  let r = [0n, 1n];
  for (let q = pt; n > 0n; n >>= 1n, q = add(q, q)) if (n & 1n) r = add(r, q);
  return r;
}
const BASE = decodePoint('5866666666666666666666666666666666666666666666666666666666666666');
const sha512 = (...parts) => crypto.createHash('sha512').update(Buffer.concat(parts)).digest();

// A signature by `key` of `hashHex` whose R has an order-8 part: [8]([S]B - [k]A - R) = 0 holds,
// [S]B - [k]A = R does not. Checked here: the cofactored equation holds, and Node's verifier
// (cofactorless, like the rule) refuses it.
function cofactorOnlySignature(key, hashHex) {
  const h = sha512(Buffer.from(key.seed, 'hex'));
  const a0 = Buffer.from(h.subarray(0, 32));
  a0[0] &= 248;
  a0[31] &= 127;
  a0[31] |= 64;
  const a = leToBig(a0);
  const pub = encodePoint(mul(a, BASE));
  if (pub.toString('hex') !== key.id) throw new Error('curve arithmetic disagrees with Node on the public key');
  const torsion = decodePoint('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a');
  const r = mod(leToBig(sha512(Buffer.from('entry-texts: cofactor case'))), L);
  const R = add(mul(r, BASE), torsion);
  const encodedR = encodePoint(R);
  const message = Buffer.from(hashHex, 'hex');
  const k = mod(leToBig(sha512(encodedR, pub, message)), L);
  const s = mod(r + k * a, L);
  const signature = Buffer.concat([encodedR, bigToLe(s)]);
  const sB = mul(s, BASE);
  const rkA = add(R, mul(k, mul(a, BASE)));
  if (encodePoint(mul(8n, sB)).compare(encodePoint(mul(8n, rkA))) !== 0) throw new Error('cofactored equation fails');
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pub]);
  if (crypto.verify(null, message, crypto.createPublicKey({ key: spki, format: 'der', type: 'spki' }), signature)) {
    throw new Error('Node accepts the cofactor-only signature');
  }
  return signature.toString('hex');
}

// --- the cases ------------------------------------------------------------------------------
const cases = [];
const addCase = (name, verdict, t) => cases.push({ name, verdict, text: t });

// The vectors made outside the project; the first is rebuilt here as a check of this script.
const vectors = JSON.parse(fs.readFileSync(path.join(here, 'entries.json'), 'utf8'));
{
  const v = vectors[0].entry;
  const rebuilt = entry(v.data, { us: BigInt(v.id.split('-')[1]) });
  if (text(rebuilt) !== text(v)) throw new Error('this script does not reproduce tests/vectors/entries.json[0]');
}

// valid
addCase('valid: vector entry 2 as it is (compact)', 'valid', text(vectors[1].entry));
addCase('valid: vector entry 1 pretty-printed, tabs and CRLF, whitespace around', 'valid',
  ` \r\n${JSON.stringify(vectors[0].entry, null, '\t').replace(/\n/g, '\r\n')}\n\t `);
{
  const e = vectors[1].entry;
  const reversed = (o) => Object.fromEntries(Object.entries(o).reverse());
  addCase('valid: members in another order (top level and data)', 'valid',
    text({ ...reversed({ ...e, data: reversed(e.data) }) }));
  addCase('valid: an escaped member name ("\\u0069d" for "id")', 'valid', swap(text(e), '"id":', '"\\u0069d":'));
}
{
  const e = entry({ n: 1 });
  addCase('valid: data number written 1.0 (signed over {"n":1})', 'valid', swap(text(e), '"data":{"n":1}', '"data":{"n":1.0}'));
  addCase('valid: data number written 1E0 (signed over {"n":1})', 'valid', swap(text(e), '"data":{"n":1}', '"data":{"n":1E0}'));
  addCase('valid: data number written 0.1e1 (signed over {"n":1})', 'valid', swap(text(e), '"data":{"n":1}', '"data":{"n":0.1e1}'));
}
{
  const e = entry({ s: 'café' });
  addCase('valid: data string with "\\u00e9" escaped', 'valid', swap(text(e), '"café"', '"caf\\u00e9"'));
  addCase('valid: data string with é raw (the same entry)', 'valid', text(e));
  addCase('bad_hash: é hashed as the escape "\\u00e9" instead of raw UTF-8', 'bad_hash',
    text(entry({ s: 'café' }, { dataText: '{"s":"caf\\u00e9"}' })));
}
{
  const e = entry({ s: 'a/😀' });
  addCase('valid: escaped solidus and an escaped surrogate pair in data', 'valid',
    swap(text(e), '"a/😀"', '"a\\/\\ud83d\\ude00"'));
}
{
  const literal = `1${'0'.repeat(99)}`; // 100 characters: 1e99
  const e = entry({ n: Number(literal) });
  addCase('valid: a number literal of exactly 100 characters', 'valid', swap(text(e), '"data":{"n":1e+99}', `"data":{"n":${literal}}`));
  const longer = `1${'0'.repeat(100)}`; // 101 characters: 1e100
  const f = entry({ n: Number(longer) });
  addCase('malformed: a number literal of 101 characters', 'malformed', swap(text(f), '"data":{"n":1e+100}', `"data":{"n":${longer}}`));
}
{
  const e = entry({ n: 9007199254740992 }); // what 9007199254740993 reads as
  addCase('valid: an integer above 2^53 in data, hashed as its double', 'valid',
    swap(text(e), '"data":{"n":9007199254740992}', '"data":{"n":9007199254740993}'));
  const f = entry({ n: 9007199254740992 }, { dataText: '{"n":9007199254740993}' });
  addCase('bad_hash: an integer above 2^53 hashed as written, not as its double', 'bad_hash',
    swap(text(f), '"data":{"n":9007199254740992}', '"data":{"n":9007199254740993}'));
}
{
  const e = entry({ n: 0 });
  addCase('valid: data number -0, hashed as 0', 'valid', swap(text(e), '"data":{"n":0}', '"data":{"n":-0}'));
  addCase('valid: data number 1e-400, below the smallest double, read as 0', 'valid',
    swap(text(e), '"data":{"n":0}', '"data":{"n":1e-400}'));
}
addCase('valid: data nested exactly 128 deep', 'valid', text(entry(nested(128))));
addCase('valid: data null', 'valid', text(entry(null)));
{
  const e = entry({ s: 'x'.repeat(65536 - 8) }); // {"s":"…"} is 8 bytes around the string
  addCase('valid: canonical data of exactly 65,536 bytes', 'valid', text(e));
}
{
  const e = entry({ note: 'attested' });
  e.signatures[B.id] = sign(B, e.hash);
  addCase('valid: an attestation by a second key', 'valid', text(e));
  const f = structuredClone(e);
  f.signatures[B.id] = f.signatures[A.id];
  addCase('bad_signature: an attestation that does not verify', 'bad_signature', text(f));
}
addCase('valid: the last microsecond of the year 9999', 'valid', text(entry({ n: 1 }, { us: 253402300799999999n })));

// malformed: the JSON text
const base = entry({ note: 'hello', list: [1, 2, 3] });
const baseText = text(base);
addCase('malformed: "id" twice (the same value)', 'malformed', swap(baseText, '"timestamp":', `"id":${JSON.stringify(base.id)},"timestamp":`));
addCase('malformed: "id" twice, once spelled "\\u0069d"', 'malformed',
  swap(baseText, '"timestamp":', `"\\u0069d":${JSON.stringify(base.id)},"timestamp":`));
addCase('malformed: a duplicate member name inside data', 'malformed', swap(baseText, '"note":"hello"', '"note":"hello","note":"hello"'));
addCase('malformed: a duplicate member name inside signatures', 'malformed',
  swap(baseText, '"signatures":{', `"signatures":{${JSON.stringify(A.id)}:${JSON.stringify(base.signatures[A.id])},`));
addCase('malformed: trailing garbage after the entry', 'malformed', `${baseText}x`);
addCase('malformed: two JSON values', 'malformed', `${baseText}\n${baseText}`);
addCase('malformed: a byte order mark in front', 'malformed', `\ufeff${baseText}`);
addCase('malformed: a raw NUL in a data string', 'malformed', swap(baseText, '"hello"', '"hel\u0000lo"'));
{
  const e = entry({ n: 1 });
  addCase('malformed: 1e400, beyond the range of a double', 'malformed', swap(text(e), '"data":{"n":1}', '"data":{"n":1e400}'));
  const s = entry({ s: 'x' });
  addCase('malformed: a lone low surrogate "\\udc00" in data', 'malformed', swap(text(s), '"s":"x"', '"s":"x\\udc00"'));
}
addCase('malformed: data nested 160 deep (161 levels in the text)', 'malformed', text(entry(nested(160))));

// malformed: fields
addCase('malformed: an unknown field', 'malformed', swap(baseText, '"signatures":', '"extra":1,"signatures":'));
{
  const { signatures, ...noSignatures } = base;
  addCase('malformed: signatures missing', 'malformed', text(noSignatures));
  const { data, ...noData } = base;
  addCase('malformed: data missing', 'malformed', text(noData));
  addCase('malformed: signatures an array', 'malformed', text({ ...base, signatures: [signatures[A.id]] }));
  addCase('malformed: a signature that is not a string', 'malformed', text({ ...base, signatures: { [A.id]: 7 } }));
}
addCase('malformed: the top level an array', 'malformed', `[${baseText}]`);
{
  const e = entry({ n: 1 }, { us: 1767323045000000n });
  addCase('malformed: id a number', 'malformed', swap(text(e), `"id":"${e.id}"`, `"id":${e.id.split('-')[1]}`));
}

// malformed: id, timestamp, hex fields (each correctly hashed and signed)
{
  const ms = 1767323045679n;
  const iso = new Date(Number(ms)).toISOString(); // 2026-01-02T03:04:05.679Z
  addCase('malformed: a protocol 1 entry (millisecond id, 3-digit timestamp), hashed and signed', 'malformed',
    text(entry({ message: 'Hello, ledger!' }, { over: { id: `${A.id}-${ms}`, timestamp: iso } })));
  const us = nextUs();
  addCase('malformed: timestamp one microsecond after the id', 'malformed',
    text(entry({ n: 1 }, { us, over: { timestamp: timestampOf(us + 1n) } })));
  addCase('malformed: id with a leading zero', 'malformed',
    text(entry({ n: 1 }, { us, over: { id: `${A.id}-0${us}` } })));
  addCase('malformed: id past the year 9999', 'malformed',
    text(entry({ n: 1 }, { over: { id: `${A.id}-253402300800000000`, timestamp: '10000-01-01T00:00:00.000000Z' } })));
}
addCase('malformed: hash in uppercase', 'malformed', text({ ...base, hash: base.hash.toUpperCase() }));

// bad_hash
addCase('bad_hash: data changed, hash kept', 'bad_hash', swap(baseText, '"hello"', '"hellO"'));
addCase('bad_hash: previous_hash changed', 'bad_hash', text({ ...base, previous_hash: flipHex(GENESIS, 63) }));

// bad_signature
const sig = base.signatures[A.id];
addCase('bad_signature: no creator signature (signatures empty)', 'bad_signature', text({ ...base, signatures: {} }));
addCase('bad_signature: one bit of the signature flipped', 'bad_signature',
  text({ ...base, signatures: { [A.id]: sig.slice(0, 20) + (parseInt(sig[20], 16) ^ 1).toString(16) + sig.slice(21) } }));
addCase('bad_signature: the signature in uppercase', 'bad_signature', text({ ...base, signatures: { [A.id]: sig.toUpperCase() } }));
addCase('bad_signature: a signer key that is not hex', 'bad_signature',
  text({ ...base, signatures: { [A.id]: sig, [`zz${A.id.slice(2)}`]: sig } }));
{
  const s = leToBig(Buffer.from(sig.slice(64), 'hex')) + L;
  addCase('bad_signature: S + L in place of S', 'bad_signature',
    text({ ...base, signatures: { [A.id]: sig.slice(0, 64) + bigToLe(s).toString('hex') } }));
}
// A small-order key with R = identity, S = 0 (tests/vectors/ed25519-edge.tsv): the equation holds
// for any message, so the entry is correctly hashed and "signed" by no one.
{
  const key = '0100000000000000000000000000000000000000000000000000000000000000'; // the identity point
  const us = nextUs();
  const f = { id: `${key}-${us}`, timestamp: timestampOf(us), data: { forged: true }, previous_hash: GENESIS, creator_node_id: key };
  const hash = sha256hex(hashInput(f, canonical(f.data)));
  addCase('bad_signature: creator a small-order key (the identity), signature R = identity, S = 0', 'bad_signature',
    text({ ...f, hash, signatures: { [key]: `01${'0'.repeat(126)}` } }));
}
{
  const e = entry({ note: 'cofactor' });
  addCase('bad_signature: valid only with the cofactor (R with an order-8 part)', 'bad_signature',
    text({ ...e, signatures: { [A.id]: cofactorOnlySignature(A, e.hash) } }));
}

// too_large
addCase('too_large: canonical data of 65,537 bytes', 'too_large', text(entry({ s: 'x'.repeat(65537 - 8) })));
addCase('too_large: data of 65,537 UTF-8 bytes in 32,773 UTF-16 code units', 'too_large',
  text(entry({ s: `${'é'.repeat(32764)}x` })));
addCase('too_large: data nested 129 deep', 'too_large', text(entry(nested(129))));
addCase('too_large: data nested 159 deep (160 levels in the text)', 'too_large', text(entry(nested(159))));
{
  const e = entry({ s: 'x'.repeat(65537 - 8) }, { over: { id: `${A.id}-0` } });
  addCase('too_large: oversized data comes first (the id and hash are wrong too)', 'too_large',
    text({ ...e, hash: flipHex(e.hash, 0) }));
}

// --- write ----------------------------------------------------------------------------------
const names = new Set();
for (const c of cases) {
  if (names.has(c.name)) throw new Error(`two cases named ${c.name}`);
  names.add(c.name);
}
const order = ['valid', 'malformed', 'bad_hash', 'bad_signature', 'too_large'];
cases.sort((x, y) => order.indexOf(x.verdict) - order.indexOf(y.verdict));
// One case per line; a byte order mark is written as an escape so that it can be seen.
const body = cases.map((c) => `  ${JSON.stringify({ name: c.name, verdict: c.verdict, text: c.text })}`).join(',\n')
  .replace(/\ufeff/g, '\\ufeff');
const out = path.join(here, 'entry-texts.json');
fs.writeFileSync(out, `[\n${body}\n]\n`);
console.log(`${path.relative(process.cwd(), out)}: ${cases.length} cases`);
