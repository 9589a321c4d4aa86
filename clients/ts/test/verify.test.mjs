// verifyChain and canonicalization against the vectors made outside the project
// (tests/vectors): RFC 8785's own examples, 100,000 number serializations, five signed entries
// that must be reproduced byte for byte, the 31 cases of the signature rule; and the project's
// own entry texts (entry-texts.json), which the node's tests judge as well. No node needed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import {
  canonicalize, CanonicalJsonError, ChainVerifier, computeEntryHash, createEntry, entryHashInput, GENESIS_HASH,
  LiveLedger, MAX_UNIX_US, nodeIdFromSeed, nowUnixUs, parseEntryText, parseStrictJson, StrictJsonError,
  timestampFromUnixUs, unixMsFromId, unixUsFromId, verifyChain, verifyEntry, verifyEntryText, verifySignature,
  charterNetworkId, clientProof, signAsAuthor, signedDigest, verifyAuthorBlock, verifySignatureWebCrypto,
  verifySignatureAsync, webCryptoEd25519Available, MemoryCheckpoints, fingerprint, InviteError, newSeed, nickProblem, readInvite, redeemInvite,
} from '../dist/index.js';

const vectorsDir = process.env.GSIO_VECTORS ||
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../tests/vectors');
const vectors = JSON.parse(fs.readFileSync(path.join(vectorsDir, 'entries.json'), 'utf8'));
const chain = () => structuredClone(vectors.map((v) => v.entry));

// Changes one hex digit (one nibble of one byte) of a hash or signature.
const flipHex = (hex, at = 10) => hex.slice(0, at) + (hex[at] === '0' ? '1' : '0') + hex.slice(at + 1);

describe('canonical JSON (RFC 8785)', () => {
  const jcs = path.join(vectorsDir, 'jcs');
  for (const name of fs.readdirSync(path.join(jcs, 'input')).sort()) {
    it(`canonicalizes ${name} to the RFC's bytes`, () => {
      const input = JSON.parse(fs.readFileSync(path.join(jcs, 'input', name), 'utf8'));
      const expected = fs.readFileSync(path.join(jcs, 'output', name), 'utf8');
      assert.equal(canonicalize(input), expected);
    });
  }

  it('serializes all 100,000 numbers of jcs-numbers.txt as ECMAScript does', () => {
    const view = new DataView(new ArrayBuffer(8));
    const lines = fs.readFileSync(path.join(vectorsDir, 'jcs-numbers.txt'), 'utf8').split('\n').filter(Boolean);
    assert.equal(lines.length, 100000);
    const wrong = [];
    for (const line of lines) {
      const [bits, expected] = line.split(',');
      view.setBigUint64(0, BigInt(`0x${bits}`));
      const got = canonicalize(view.getFloat64(0));
      if (got !== expected) wrong.push(`${bits}: ${got} != ${expected}`);
    }
    assert.deepEqual(wrong.slice(0, 5), []);
  });

  it('refuses what has no canonical form', () => {
    for (const bad of [NaN, Infinity, -Infinity, '\ud800', 'x\udc00y', undefined, () => 1, new Date(0), [1n]]) {
      assert.throws(() => canonicalize(bad), CanonicalJsonError, String(bad));
    }
    const cyclic = {};
    cyclic.self = cyclic;
    assert.throws(() => canonicalize(cyclic), CanonicalJsonError);
    // A surrogate pair is fine, and so is the same object twice side by side (not a cycle).
    const shared = { a: 1 };
    assert.equal(canonicalize(['\ud83d\ude00', shared, shared]), '["😀",{"a":1},{"a":1}]');
    assert.equal(canonicalize(-0), '0');
  });
});

describe('entry hashing and signatures', () => {
  it('reproduces every vector: hash input, hash, and signature from the seed', () => {
    for (const v of vectors) {
      const e = v.entry;
      assert.equal(entryHashInput(e), v.hash_input);
      assert.equal(computeEntryHash(e), e.hash);
      assert.equal(nodeIdFromSeed(v.creator_seed), e.creator_node_id);
      const us = e.id.split('-')[1];
      const made = createEntry({ seed: v.creator_seed, data: e.data, previousHash: e.previous_hash, unixUs: BigInt(us) });
      assert.deepEqual(made, e);
      assert.equal(made.hash, e.hash);
      assert.equal(made.signatures[e.creator_node_id], e.signatures[e.creator_node_id]);
      assert.equal(entryHashInput(made), v.hash_input);
      // The same instant as a number (exact below 2^53 µs, i.e. until the year 2255).
      assert.deepEqual(createEntry({ seed: v.creator_seed, data: e.data, previousHash: e.previous_hash, unixUs: Number(us) }), e);
      assert.equal(verifyEntry(e), null);
      assert.equal(verifyEntryText(JSON.stringify(e)), null);
    }
  });

  it('accepts the vector chain and rejects each kind of tampering at the right entry', async () => {
    const ok = await verifyChain(chain());
    assert.deepEqual(ok, { valid: true, verified: 5, tipHash: vectors[4].entry.hash });

    const cases = [
      ['data', (c) => { c[2].data = c[2].data.replace('a', 'b'); }, 2, 'bad_hash'],
      ['hash', (c) => { c[2].hash = flipHex(c[2].hash); }, 2, 'bad_hash'],
      ['previous_hash', (c) => { c[2].previous_hash = flipHex(c[2].previous_hash); }, 2, 'bad_hash'],
      ['signature', (c) => { const k = c[2].creator_node_id; c[2].signatures[k] = flipHex(c[2].signatures[k]); }, 2, 'bad_signature'],
      ['missing signature', (c) => { c[1].signatures = {}; }, 1, 'bad_signature'],
      ['attestation that does not verify', (c) => { c[3].signatures['ab'.repeat(32)] = c[3].signatures[c[3].creator_node_id]; }, 3, 'bad_signature'],
      ['entry dropped', (c) => { c.splice(2, 1); }, 2, 'bad_link'],
      ['entries swapped', (c) => { [c[1], c[2]] = [c[2], c[1]]; }, 1, 'bad_link'],
      ['id and timestamp disagree by a microsecond', (c) => { c[0].timestamp = '2026-01-02T03:04:05.678901Z'; }, 0, 'malformed'],
      ['a timestamp with milliseconds', (c) => { c[0].timestamp = '2026-01-02T03:04:05.678Z'; }, 0, 'malformed'],
      ['an id in milliseconds', (c) => { c[1].id = c[1].id.slice(0, -3); }, 1, 'malformed'],
      ['an unknown field', (c) => { c[3].extra = 1; }, 3, 'malformed'],
      ['a field missing', (c) => { delete c[3].signatures; }, 3, 'malformed'],
      ['uppercase hex', (c) => { c[4].hash = c[4].hash.toUpperCase(); }, 4, 'malformed'],
    ];
    for (const [what, tamper, index, reason] of cases) {
      const copy = chain();
      tamper(copy);
      const res = await verifyChain(copy);
      assert.equal(res.valid, false, what);
      assert.equal(res.problem.index, index, `${what}: ${JSON.stringify(res.problem)}`);
      assert.equal(res.problem.reason, reason, `${what}: ${res.problem.message}`);
      assert.equal(res.verified, index, what);
    }
  });

  it('refuses the signature encodings a node refuses (docs/PROTOCOL.md §3)', () => {
    // S + L: the same signature written another way.
    const L = (1n << 252n) + 27742317777372353535851937790883648493n;
    const e = structuredClone(vectors[0].entry);
    const key = e.creator_node_id;
    const sig = e.signatures[key];
    const sBytes = sig.slice(64).match(/../g).map((b) => parseInt(b, 16));
    const s = sBytes.reduceRight((acc, b) => (acc << 8n) | BigInt(b), 0n);
    let sPlusL = s + L;
    let sHex = '';
    for (let i = 0; i < 32; i++, sPlusL >>= 8n) sHex += Number(sPlusL & 0xffn).toString(16).padStart(2, '0');
    e.signatures[key] = sig.slice(0, 64) + sHex;
    assert.equal(verifyEntry(e).reason, 'bad_signature');

    // A key of small order (the neutral point) with R = neutral, S = 0 satisfies the equation for
    // any message; it is no key anyone owns.
    const neutral = '01' + '00'.repeat(31);
    const forged = structuredClone(vectors[0].entry);
    forged.creator_node_id = neutral;
    forged.id = `${neutral}-${forged.id.split('-')[1]}`;
    forged.hash = computeEntryHash(forged);
    forged.signatures = { [neutral]: neutral + '00'.repeat(32) };
    assert.equal(verifyEntry(forged).reason, 'bad_signature');
  });

  it('refuses a signature whose R has a small-order part, as every node does (cofactorless)', () => {
    const L = (1n << 252n) + 27742317777372353535851937790883648493n;
    const le = (bytes) => [...bytes].reduceRight((acc, b) => (acc << 8n) | BigInt(b), 0n);
    const le32 = (n) => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
    const hex = (bytes) => Buffer.from(bytes).toString('hex');
    const e = structuredClone(vectors[0].entry);
    const { scalar, pointBytes } = ed.utils.getExtendedPublicKey(Buffer.from(vectors[0].creator_seed, 'hex'));
    // The key holder signs with R' = rB + T, T of order 8: [8]([S]B - [k]A - R') = 0 holds,
    // [S]B - [k]A = R' does not.
    const torsion = ed.Point.fromHex('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05');
    const r = 0x1234567890abcdefn;
    const encodedR = ed.Point.BASE.multiply(r).add(torsion).toBytes();
    const message = Buffer.from(e.hash, 'hex');
    const k = le(sha512(Buffer.concat([encodedR, pointBytes, message]))) % L;
    const signature = Buffer.concat([encodedR, le32((r + k * scalar) % L)]);
    assert.equal(ed.verify(signature, message, pointBytes, { zip215: false }), true,
                 'noble alone (cofactored) accepts it');
    e.signatures[e.creator_node_id] = hex(signature);
    assert.equal(verifyEntry(e).reason, 'bad_signature');
    assert.equal(verifyEntry(structuredClone(vectors[0].entry)), null, 'an honest signature still verifies');
  });

  it('checks a suffix against a given link, and truncates on a reorg', async () => {
    const c = chain();
    assert.equal((await verifyChain(c.slice(2))).problem.reason, 'bad_link');
    assert.equal((await verifyChain(c.slice(2), { previousHash: c[1].hash })).valid, true);

    const v = new ChainVerifier();
    for (const e of c) assert.equal(v.add(e), null);
    assert.equal(v.add(c[4]).reason, 'bad_link');
    v.truncate(3);
    assert.equal(v.tipHash, c[2].hash);
    assert.equal(v.add(c[3]), null, 'the entries above the cut can be added again');
    v.truncate(0);
    assert.equal(v.tipHash, GENESIS_HASH);

    // The same id twice on one path, even with a correct link, hash and signature.
    const seed = vectors[0].creator_seed;
    const first = createEntry({ seed, data: 1, previousHash: GENESIS_HASH, unixUs: 1767323045000000 });
    const again = createEntry({ seed, data: 2, previousHash: first.hash, unixUs: 1767323045000000 });
    const res = await verifyChain([first, again]);
    assert.equal(res.problem.reason, 'duplicate_id');
  });
});

describe('ids and timestamps in microseconds (protocol 2)', () => {
  it('formats the instant of an id exactly, with six fractional digits', () => {
    assert.equal(timestampFromUnixUs(0), '1970-01-01T00:00:00.000000Z');
    assert.equal(timestampFromUnixUs(1767323045678902n), '2026-01-02T03:04:05.678902Z');
    assert.equal(timestampFromUnixUs(1767323045678902), '2026-01-02T03:04:05.678902Z');
    assert.equal(timestampFromUnixUs(1767323045000001n), '2026-01-02T03:04:05.000001Z');
    assert.equal(timestampFromUnixUs(MAX_UNIX_US), '9999-12-31T23:59:59.999999Z');
    // Beyond 2^53 µs (the year 2255) only a BigInt is exact.
    assert.equal(timestampFromUnixUs(9007199254740993n), '2255-06-05T23:47:34.740993Z');
    for (const bad of [-1, -1n, MAX_UNIX_US + 1n, 1.5, Number.NaN, 2 ** 60]) {
      assert.throws(() => timestampFromUnixUs(bad), RangeError, String(bad));
    }
  });

  it('reads the instant of an id, and nothing that is not an id', () => {
    const key = 'ab'.repeat(32);
    assert.equal(unixUsFromId(`${key}-1767323045678902`), 1767323045678902n);
    assert.equal(unixMsFromId(`${key}-1767323045678902`), 1767323045678);
    assert.equal(unixUsFromId(`${key}-0`), 0n);
    for (const bad of [`${key}-01`, `${key}-+1`, `${key}--1`, `${key}-1 `, `${key}-`, `${key.toUpperCase()}-1`,
      `${key}-253402300800000000`, 'x-1', 17]) {
      assert.equal(unixUsFromId(bad), undefined, String(bad));
    }
    assert.ok(Number.isNaN(unixMsFromId('nope')));
  });

  it('createEntry makes strictly increasing microsecond ids by default, and refuses unixMs', () => {
    const seed = '07'.repeat(32);
    const made = Array.from({ length: 50 }, (_, i) => createEntry({ seed, data: i, previousHash: GENESIS_HASH }));
    const times = made.map((e) => BigInt(e.id.split('-')[1]));
    for (let i = 1; i < times.length; i++) assert.ok(times[i] > times[i - 1]);
    for (const e of made) {
      assert.match(e.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      assert.equal(e.timestamp, timestampFromUnixUs(unixUsFromId(e.id)));
      assert.equal(verifyEntry(e), null);
    }
    const lead = Number(times.at(-1)) / 1000 - Date.now();
    assert.ok(lead < 1000, `ids run ${lead} ms ahead of the clock`);
    assert.ok(nowUnixUs() > times.at(-1));
    assert.throws(() => createEntry({ seed, data: 1, previousHash: GENESIS_HASH, unixMs: 1767323045678 }), /unixUs/);
    assert.throws(() => createEntry({ seed, data: 1, previousHash: GENESIS_HASH, unixUs: -1 }), RangeError);
  });
});

describe('the signature rule (tests/vectors/ed25519-edge.tsv)', () => {
  const rows = fs.readFileSync(path.join(vectorsDir, 'ed25519-edge.tsv'), 'utf8').split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [name, publicKey, message, signature, valid] = line.split('\t');
      return { name, publicKey, message, signature, valid: valid === '1' };
    });
  const IDENTITY_ZERO = `01${'0'.repeat(126)}`; // R = identity, S = 0

  it('has the 31 cases', () => {
    assert.equal(rows.length, 31);
  });

  it('verifySignature decides all 31 cases as the valid column says (hex and bytes)', () => {
    const wrong = [];
    for (const r of rows) {
      const hex = verifySignature(r.publicKey, r.message, r.signature);
      const bytes = verifySignature(Buffer.from(r.publicKey, 'hex'), Buffer.from(r.message, 'hex'), Buffer.from(r.signature, 'hex'));
      if (hex !== r.valid || bytes !== r.valid) wrong.push(`${r.name}: ${hex}/${bytes}, expected ${r.valid}`);
    }
    assert.deepEqual(wrong, []);
  });

  it('the Web Crypto path (rules 1 and 2 here, the equation by crypto.subtle) agrees on all 31', async () => {
    assert.equal(await webCryptoEd25519Available(), true, 'Node 20 has Ed25519 in Web Crypto');
    const wrong = [];
    for (const r of rows) {
      const viaWebCrypto = await verifySignatureWebCrypto(r.publicKey, r.message, r.signature);
      const viaAsyncJs = await verifySignatureAsync(r.publicKey, r.message, r.signature, 'js');
      if (viaWebCrypto !== r.valid || viaAsyncJs !== r.valid) wrong.push(`${r.name}: ${viaWebCrypto}/${viaAsyncJs}, expected ${r.valid}`);
    }
    assert.deepEqual(wrong, []);
  });

  it('is what @noble/ed25519 strict mode checks, plus the cofactorless equation', () => {
    // noble (zip215: false) already refuses S >= L, non-canonical A and R and small-order keys,
    // but checks the cofactored equation: it accepts the cases valid only with the cofactor.
    const nobleOnly = rows.filter((r) => {
      let noble;
      try {
        noble = ed.verify(Buffer.from(r.signature, 'hex'), Buffer.from(r.message, 'hex'), Buffer.from(r.publicKey, 'hex'), { zip215: false });
      } catch {
        noble = false;
      }
      if (r.valid) assert.equal(noble, true, `noble refuses ${r.name}, which the rule accepts`);
      return noble && !r.valid;
    }).map((r) => r.name);
    assert.deepEqual(nobleOnly, ['A_mixed_R_prime_cofactored_only', 'A_honest_R_mixed_cofactored_only', 'speccheck_4', 'speccheck_5']);
  });

  it('refuses anything that is not a key, a message and a signature', () => {
    const r = rows[0];
    assert.equal(verifySignature(r.publicKey, r.message, r.signature), true);
    for (const [key, message, signature] of [
      [r.publicKey.toUpperCase(), r.message, r.signature], [r.publicKey, r.message, r.signature.toUpperCase()],
      [r.publicKey.slice(2), r.message, r.signature], [r.publicKey, r.message, r.signature.slice(2)],
      [r.publicKey, r.message, `${r.signature}00`], [r.publicKey, 'xyz', r.signature], [null, r.message, r.signature],
    ]) {
      assert.equal(verifySignature(key, message, signature), false);
    }
  });

  it('refuses entries "signed" with R = identity, S = 0 under a small-order or non-canonical key, in verifyEntry and verifyChain', async () => {
    const forgeries = rows.filter((r) => r.signature === IDENTITY_ZERO);
    assert.equal(forgeries.length, 7);
    for (const r of forgeries) {
      assert.equal(r.valid, false);
      const e = structuredClone(vectors[0].entry);
      e.creator_node_id = r.publicKey;
      e.id = `${r.publicKey}-${e.id.split('-')[1]}`;
      e.hash = computeEntryHash(e);
      e.signatures = { [r.publicKey]: IDENTITY_ZERO };
      assert.equal(verifySignature(r.publicKey, e.hash, IDENTITY_ZERO), false, r.name);
      assert.equal(verifyEntry(e)?.reason, 'bad_signature', r.name);
      assert.equal(verifyEntryText(JSON.stringify(e))?.reason, 'bad_signature', r.name);
      const chain = await verifyChain([e]);
      assert.equal(chain.valid, false, r.name);
      assert.equal(chain.problem.reason, 'bad_signature', r.name);
      assert.equal((await verifyChain([JSON.stringify(e)])).problem.reason, 'bad_signature', r.name);
    }
  });
});

describe('entry texts, read as strictly as a node reads them (tests/vectors/entry-texts.json)', () => {
  const cases = JSON.parse(fs.readFileSync(path.join(vectorsDir, 'entry-texts.json'), 'utf8'));
  const verdict = (p) => (p ? p.reason : 'valid');

  it('has cases of every verdict', () => {
    assert.ok(cases.length >= 45, `${cases.length} cases`);
    const verdicts = new Set(cases.map((c) => c.verdict));
    assert.deepEqual([...verdicts].sort(), ['bad_hash', 'bad_signature', 'malformed', 'too_large', 'valid']);
  });

  it('gives every case its verdict, exactly', () => {
    const wrong = [];
    for (const c of cases) {
      const p = verifyEntryText(c.text);
      if (verdict(p) !== c.verdict) wrong.push(`${c.name}: ${verdict(p)} (${p?.message}), expected ${c.verdict}`);
    }
    assert.deepEqual(wrong, []);
  });

  it('gives the same verdicts to the texts as UTF-8 bytes, in verifyChain, and to the entries read from them', async () => {
    const wrong = [];
    for (const c of cases) {
      const bytes = new TextEncoder().encode(c.text);
      if (verdict(verifyEntryText(bytes)) !== c.verdict) wrong.push(`${c.name}: bytes`);
      let previousHash = GENESIS_HASH;
      try {
        const loose = JSON.parse(c.text);
        if (typeof loose?.previous_hash === 'string') previousHash = loose.previous_hash;
      } catch {
        // not JSON at all: any link will do
      }
      const chain = await verifyChain([c.text], { previousHash });
      if (verdict(chain.problem) !== c.verdict) wrong.push(`${c.name}: verifyChain says ${verdict(chain.problem)}`);
      if (chain.valid !== (c.verdict === 'valid')) wrong.push(`${c.name}: verifyChain valid = ${chain.valid}`);
      const parsed = parseEntryText(c.text);
      if ('entry' in parsed) {
        if (verdict(verifyEntry(parsed.entry)) !== c.verdict) wrong.push(`${c.name}: the object read from it`);
      } else if (c.verdict !== 'malformed') {
        wrong.push(`${c.name}: not read (${parsed.problem.message})`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('verifies a chain given as texts, or mixed texts and objects', async () => {
    const texts = vectors.map((v) => JSON.stringify(v.entry));
    assert.deepEqual(await verifyChain(texts), { valid: true, verified: 5, tipHash: vectors[4].entry.hash });
    const mixed = [texts[0], vectors[1].entry, JSON.stringify(vectors[2].entry, null, 2), vectors[3].entry, texts[4]];
    assert.equal((await verifyChain(mixed)).valid, true);
    // A duplicate member that JSON.parse would quietly resolve: the chain stops there, with the id.
    const doubled = texts[2].replace('"data":', `"data":"hidden","data":`);
    const res = await verifyChain([texts[0], texts[1], doubled, texts[3]]);
    assert.equal(res.valid, false);
    assert.equal(res.problem.index, 2);
    assert.equal(res.problem.reason, 'malformed');
    assert.equal(res.verified, 2);
    // A ChainVerifier takes texts too.
    const v = new ChainVerifier();
    for (const t of texts) assert.equal(v.add(t), null);
    assert.equal(v.tipHash, vectors[4].entry.hash);
  });

  it('applies the data limits to objects too, and takes a network\'s own limits', () => {
    const seed = vectors[0].creator_seed;
    let deep = [];
    for (let i = 1; i < 128; i++) deep = [deep]; // 128 levels
    const at128 = createEntry({ seed, data: deep, previousHash: GENESIS_HASH, unixUs: 1767323045000000 });
    assert.equal(verifyEntry(at128), null);
    const at129 = createEntry({ seed, data: [deep], previousHash: GENESIS_HASH, unixUs: 1767323045000001 });
    assert.equal(verifyEntry(at129).reason, 'too_large');
    assert.equal(verifyEntry(at129, { maxDataDepth: 200 }), null);
    const big = createEntry({ seed, data: 'x'.repeat(65535), previousHash: GENESIS_HASH, unixUs: 1767323045000002 });
    assert.equal(verifyEntry(big).reason, 'too_large', '65,537 bytes with the quotes');
    assert.equal(verifyEntry(big, { maxDataBytes: 70000 }), null);
    const small = createEntry({ seed, data: 'x'.repeat(65534), previousHash: GENESIS_HASH, unixUs: 1767323045000003 });
    assert.equal(verifyEntry(small), null);
    // Objects JSON has no text for are malformed, not too large.
    const cyclic = structuredClone(vectors[0].entry);
    cyclic.data = { self: null };
    cyclic.data.self = cyclic.data;
    assert.equal(verifyEntry(cyclic).reason, 'malformed');
    assert.equal(verifyEntry({ ...vectors[0].entry, data: undefined }).reason, 'malformed');
    assert.equal(verifyEntry({ ...vectors[0].entry, data: Number.NaN }).reason, 'malformed');
  });
});

describe('parseStrictJson', () => {
  it('reads what JSON.parse reads, to the same values', () => {
    const texts = [
      ...fs.readdirSync(path.join(vectorsDir, 'jcs', 'input')).map((n) => fs.readFileSync(path.join(vectorsDir, 'jcs', 'input', n), 'utf8')),
      ...vectors.map((v) => JSON.stringify(v.entry, null, 2)),
      '0', '-0', '"\\u0000"', '[]', '{}', ' [1, 2.5e-3, -1E+2, true, false, null, "\\"\\\\\\/\\b\\f\\n\\r\\t"] ',
      '{"__proto__": 1, "constructor": {"prototype": 2}}', '1e-400', '123456789012345678901234567890',
    ];
    // Random values, written by JSON.stringify with and without indentation.
    let seed = 12345;
    const rand = (n) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const chars = ['a', 'é', '😀', '\u0001', '"', '\\', '/', '\u2028', ' ', 'Z'];
    const value = (depth) => {
      switch (rand(depth > 4 ? 4 : 6)) {
        case 0: return rand(2) === 0 ? rand(1000) - 500 : (rand(1e6) - 5e5) * 10 ** (rand(40) - 20);
        case 1: return Array.from({ length: rand(6) }, () => chars[rand(chars.length)]).join('');
        case 2: return [true, false, null][rand(3)];
        case 3: return rand(2) ? 1.5 : -0;
        case 4: return Array.from({ length: rand(5) }, () => value(depth + 1));
        default: return Object.fromEntries(Array.from({ length: rand(5) }, (_, i) => [`${chars[rand(chars.length)]}${i}`, value(depth + 1)]));
      }
    };
    for (let i = 0; i < 500; i++) {
      const v = value(0);
      texts.push(JSON.stringify(v), JSON.stringify(v, null, rand(2) ? 2 : '\t'));
    }
    for (const t of texts) {
      const strict = parseStrictJson(t);
      assert.deepEqual(strict, JSON.parse(t), t.slice(0, 80));
      assert.equal(Object.is(strict, -0), Object.is(JSON.parse(t), -0));
    }
    const proto = parseStrictJson('{"__proto__": {"x": 1}}');
    assert.equal(Object.getPrototypeOf(proto), Object.prototype, 'an own member, not the prototype');
    assert.deepEqual(Object.keys(proto), ['__proto__']);
  });

  it('refuses what a node refuses', () => {
    const deep = (n) => '['.repeat(n) + ']'.repeat(n);
    assert.doesNotThrow(() => parseStrictJson(deep(160)));
    assert.doesNotThrow(() => parseStrictJson(`[${'1'.repeat(100)}]`));
    for (const bad of [
      '', ' ', '{"a":1,"a":1}', '{"a":1,"\\u0061":2}', '[{"b":{"c":1,"c":1}}]', '1 2', '[1] x', '\ufeff[1]', '[1,]',
      '{"a":1,}', '01', '1.', '.5', '+1', '1e', '-', 'NaN', 'Infinity', '[1e400]', '[-1e400]', `[${'1'.repeat(101)}]`,
      `[0.${'0'.repeat(98)}1]`, deep(161), '"\\udc00"', '"\\ud800"', '"\\ud800\\u0041"', '"\ud800"', '"a\udc00"',
      '"\u0000"', '"\n"', '"\\x41"', '"\\u12"', "'a'", '[1]\u0000', 'true false', '{"a" 1}', '{a:1}', '[1 2]',
      '\u00a0[1]', 'nul', 'tru',
    ]) {
      assert.throws(() => parseStrictJson(bad), StrictJsonError, JSON.stringify(bad));
    }
    // Text that is not valid UTF-8 never gets that far.
    assert.equal(parseEntryText(Uint8Array.of(0x7b, 0xff, 0x7d)).problem.reason, 'malformed');
    assert.equal(parseEntryText(Uint8Array.of(0xef, 0xbb, 0xbf, 0x7b, 0x7d)).problem.reason, 'malformed', 'a BOM in bytes');
  });
});

describe('LiveLedger against a node that pushes malformed events', () => {
  // A stand-in for GsioClient: serves `chain` and lets the test push events.
  function fakeClient(chain) {
    const handlers = { entry: [], reorg: [] };
    return {
      chain,
      loads: 0,
      onEntry: (f) => { handlers.entry.push(f); return () => {}; },
      onReorg: (f) => { handlers.reorg.push(f); return () => {}; },
      onState: (f) => { handlers.state = [f]; return () => {}; },
      async nodeInfo() { return { height: this.chain.length }; },
      async getLedger({ from = 0, limit = 1000 } = {}) {
        return structuredClone((this.tamper ?? ((x) => x))(this.chain.slice(from, from + limit), from));
      },
      async *ledgerPages({ from = 0, pageSize = 1000 } = {}) {
        for (let at = from; ; at += pageSize) {
          this.pagesServed++;
          const page = await this.getLedger({ from: at, limit: pageSize });
          if (page.length) yield page;
          if (page.length < pageSize) return;
        }
      },
      pagesServed: 0,
      tamper: null,
      failNextLoad: false,
      froms: [],
      duringLoad: null,  // runs while a load is on its way, as a node's events would
      async getFullLedger({ from = 0 } = {}) {
        this.loads++;
        this.froms.push(from);
        if (this.failNextLoad) { this.failNextLoad = false; throw new Error('timed out'); }
        const page = structuredClone((this.tamper ?? ((x) => x))(this.chain.slice(from), from));
        const during = this.duringLoad;
        this.duringLoad = null;
        if (during) during();
        return page;
      },
      push(kind, value) { for (const f of handlers[kind]) f(value); },
    };
  }
  const seed = '5a'.repeat(32);
  function assertVerified(v, n) {
    assert.equal(v.state, 'verified');
    assert.equal(v.verified, n);
    assert.equal(v.fromGenesis, n);
    assert.equal(v.complete, true);
    assert.equal(v.problem, undefined);
  }
  function makeChain(length, previousHash = GENESIS_HASH, from = 0) {
    const out = [];
    for (let i = 0; i < length; i++) {
      out.push(createEntry({ seed, data: { i: from + i }, previousHash: out.at(-1)?.hash ?? previousHash,
                             unixUs: 1767323045000000 + from + i }));
    }
    return out;
  }

  it('reloads rather than apply a reorg with a malformed entry, and never vouches for unverified entries', async () => {
    const honest = makeChain(6);
    const client = fakeClient(honest);
    const live = new LiveLedger(client);
    await live.start();
    assertVerified(await live.settled(), 6);
    // A branch from height 2 whose second entry is not an entry at all.
    const branch = makeChain(5, honest[1].hash, 100);
    client.push('reorg', { fork_height: 2, removed: honest.slice(2).map((e) => e.id), added: [branch[0], null, ...branch.slice(2)], partial: false });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(client.loads, 2, 'the malformed reorg made it load the chain again');
    assert.deepEqual(live.entries.map((e) => e.hash), honest.map((e) => e.hash));
    const v = await live.settled();
    assert.equal(v.state, 'verified');
    assert.equal(v.verified, live.entries.length);

    // A negative or fractional fork height is refused the same way.
    client.push('reorg', { fork_height: -1, removed: [], added: [], partial: false });
    client.push('reorg', { fork_height: 1.5, removed: [], added: [], partial: false });
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(client.loads >= 3, `${client.loads} loads`);
    assert.deepEqual(live.entries.map((e) => e.hash), honest.map((e) => e.hash));
    live.stop();
  });

  it('after a reorg during its load, fetches again only from the fork', async () => {
    const honest = makeChain(10);
    const client = fakeClient(honest);
    const branch = makeChain(8, honest[3].hash, 100);
    // While the first load is on its way the network switches to a branch from height 4: the
    // pages may mix both branches, so the part from the fork on is fetched again.
    client.duringLoad = () => {
      client.chain = [...honest.slice(0, 4), ...branch];
      client.push('reorg', { fork_height: 4, removed: honest.slice(4).map((e) => e.id), added: branch, partial: false });
    };
    const live = new LiveLedger(client);
    await live.start();
    assert.deepEqual(client.froms, [0, 4]);
    assert.deepEqual(live.entries.map((e) => e.hash), client.chain.map((e) => e.hash));
    assertVerified(await live.settled(), 12);
    live.stop();
  });

  it('loads again on the next connect when the first load failed', async () => {
    const client = fakeClient(makeChain(3));
    client.failNextLoad = true;
    const live = new LiveLedger(client);
    const errors = [];
    live.onError((e) => errors.push(e.message));
    await live.start();
    assert.deepEqual(errors, ['timed out']);
    assert.equal(live.entries.length, 0);
    client.push('state', { state: 'connected', sessions: 1 });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(live.entries.length, 3);
    assertVerified(await live.settled(), 3);
    live.stop();
  });

  // Waits until `live` reports a verification passing `ok`.
  function until(live, ok, what) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out: ${what} (${JSON.stringify(live.verification)})`)), 20000);
      const check = (v) => { if (ok(v)) { clearTimeout(timer); off(); resolve(v); } };
      const off = live.onVerification(check);
      check(live.verification);
    });
  }

  describe('a window on a long chain, with a checkpoint', () => {
    const long = makeChain(1300);
    const more = makeChain(7, long.at(-1).hash, 1300);

    it('holds only the window, verifies the history in pages, then only what was added', async () => {
      const store = new MemoryCheckpoints();
      const client = fakeClient(long.slice());
      const live = new LiveLedger(client, { window: 100, checkpoints: store, historyPageSize: 250 });
      await live.start();
      assert.equal(live.entries.length, 100);
      assert.equal(live.windowStart, 1200);
      assert.equal(live.entries[0].hash, long[1200].hash);
      const v = await until(live, (x) => x.complete && x.saved === 1300, 'the history check joins up');
      assert.equal(v.fromGenesis, 1300);
      assert.equal(v.checkedThisVisit, 1300, 'every entry once');
      assert.deepEqual(v.history, { state: 'done', from: 0, to: 1200, checked: 1200 });
      assert.equal(client.pagesServed, 5, '1200 entries in pages of 250');
      assert.deepEqual(await store.load(long[0].hash), { chain: long[0].hash, height: 1300, hash: long[1299].hash, networkId: null });
      live.stop();

      // Later: 7 more entries; a new LiveLedger on the same store verifies those 7 only.
      client.chain.push(...more);
      const again = new LiveLedger(client, { window: 100, checkpoints: store, historyPageSize: 250 });
      await again.start();
      const w = await until(again, (x) => x.complete && x.saved === 1307, 'the 7 new entries');
      assert.equal(w.checkpoint, 1300);
      assert.equal(w.checkedThisVisit, 7);
      assert.equal(w.history.state, 'none');
      assert.equal(again.entries.length, 100);
      // Pushes move the window along; memory stays bounded by the window and its slack.
      let tip = more.at(-1).hash;
      for (const e of makeChain(150, tip, 2000)) { client.chain.push(e); client.push('entry', e); tip = e.hash; }
      const x = await until(again, (y) => y.complete && y.height === 1457, 'the pushed entries');
      assert.equal(x.checkedThisVisit, 157);
      assert.ok(again.entries.length <= 200, `window of ${again.entries.length}`);
      assert.equal(again.tipHash, tip);
      again.stop();
    });

    it('goes back to entry 0 when the checkpoint is not on the chain, and names a tampered old entry', async () => {
      const store = new MemoryCheckpoints();
      // A checkpoint of another branch with the same first entry.
      await store.save({ chain: long[0].hash, height: 600, hash: 'ab'.repeat(32), networkId: null });
      const client = fakeClient(long.slice());
      client.tamper = (page, from) => page.map((e, i) => (from + i === 700 ? { ...e, data: { i: 'changed' } } : e));
      const live = new LiveLedger(client, { window: 100, checkpoints: store, historyPageSize: 250 });
      await live.start();
      const v = await until(live, (x) => x.state === 'failed', 'the tampered entry');
      assert.equal(v.problem.index, 700);
      assert.equal(v.problem.reason, 'bad_hash');
      assert.equal(v.problem.id, long[700].id);
      assert.equal(v.fromGenesis, 700, 'verified from 0 up to the bad entry');
      assert.equal(v.checkpoint, 0, 'the checkpoint was dropped');
      assert.equal((await store.load(long[0].hash)).height, 600, 'no checkpoint past a failure is stored');
      live.stop();
    });
  });
});

describe('ChainVerifier.addBatch', () => {
  const seed = '6b'.repeat(32);
  const build = (n) => {
    const out = [];
    for (let i = 0; i < n; i++) {
      out.push(createEntry({ seed, data: { i }, previousHash: out.at(-1)?.hash ?? GENESIS_HASH, unixUs: 1767323046000000 + i }));
    }
    return out;
  };

  it('gives add()\'s verdict, index and reason, by both engines', async () => {
    const good = build(8);
    const badSig = structuredClone(good);
    badSig[3].signatures[badSig[3].creator_node_id] = flipHex(badSig[3].signatures[badSig[3].creator_node_id]);
    // Entry 5's signature fails and entry 5's link too: the signature is checked first.
    const both = structuredClone(good);
    both[5].signatures[both[5].creator_node_id] = flipHex(both[5].signatures[both[5].creator_node_id]);
    both[5].previous_hash = 'cd'.repeat(32);
    const badLink = structuredClone(good);
    badLink[6] = createEntry({ seed, data: { i: 6 }, previousHash: 'ef'.repeat(32), unixUs: 1767323046000006 });
    for (const chainIn of [good, badSig, both, badLink]) {
      const one = new ChainVerifier();
      let expected = null;
      for (let i = 0; i < chainIn.length && !expected; i++) {
        const p = one.add(chainIn[i]);
        if (p) expected = { reason: p.reason, index: i };
      }
      for (const engine of ['js', 'webcrypto']) {
        const batch = new ChainVerifier();
        const got = await batch.addBatch(chainIn, engine);
        assert.deepEqual(got && { reason: got.reason, index: got.index }, expected, engine);
        assert.equal(batch.height, one.height, `${engine}: the entries before the failure stay added`);
        assert.equal(batch.tipHash, one.tipHash);
      }
    }
  });
});

// tests/vectors/membership.json is made by the node's code (tests/unit/membership_test.cpp); this
// client, written from docs/PROTOCOL.md §8, must reproduce it byte for byte.
describe('private networks (membership vectors)', () => {
  const m = JSON.parse(fs.readFileSync(path.join(vectorsDir, 'membership.json'), 'utf8'));
  const seed = (byte) => byte.repeat(32);
  const t = 1767323045000000;

  it('signs an author block as the node does, and checks it', () => {
    const authored = signAsAuthor(seed('12'), m.network_id, { msg: 'hello' }, t + 2000);
    assert.equal(canonicalize(authored), m.authored);
    assert.equal(signedDigest('gsio-author-v1', m.network_id, { ...authored, author: { key: authored.author.key, time: authored.author.time } }),
                 m.authored_digest);
    assert.equal(verifyAuthorBlock(JSON.parse(m.authored), m.network_id), null);
    assert.equal(verifyAuthorBlock({ ...JSON.parse(m.authored), msg: 'changed' }, m.network_id).reason, 'bad_author');
    assert.equal(verifyAuthorBlock(JSON.parse(m.authored), 'f'.repeat(64)).reason, 'bad_author', 'another network');
    assert.equal(verifyAuthorBlock({ msg: 'x', author: 'ada' }, m.network_id).reason, 'bad_author');
    assert.equal(verifyAuthorBlock({ msg: 'no block' }, m.network_id), null);
    assert.throws(() => signAsAuthor(seed('12'), m.network_id, { author: 1 }), TypeError);
  });

  it('answers a challenge as the node expects', () => {
    assert.deepEqual(clientProof(seed('12'), m.client_challenge), m.client_proof);
    assert.equal(signedDigest('gsio-client-v1', m.network_id,
                              { challenge: m.client_challenge.challenge, key: m.keys.author, node: m.keys.node }),
                 m.client_proof_digest);
  });

  it('verifyChain checks the author blocks of a chain that starts with a charter', async () => {
    assert.equal(charterNetworkId(m.charter), m.network_id);
    const post = createEntry({ seed: seed('11'), data: JSON.parse(m.authored), previousHash: m.charter.hash, unixUs: t + 3000 });
    const good = await verifyChain([m.charter, post]);
    assert.equal(good.valid, true, JSON.stringify(good.problem));
    // The node re-signs tampered data (its own signature holds): only the author's does not.
    const tampered = createEntry({ seed: seed('11'), data: { ...JSON.parse(m.authored), msg: 'hi!' },
                                   previousHash: m.charter.hash, unixUs: t + 3000 });
    const bad = await verifyChain([m.charter, tampered]);
    assert.equal(bad.valid, false);
    assert.equal(bad.problem.reason, 'bad_author');
    assert.equal(bad.problem.index, 1);
    // Far from the author's time: refused as the node refuses it.
    const late = createEntry({ seed: seed('11'), data: JSON.parse(m.authored), previousHash: m.charter.hash,
                               unixUs: t + 2000 + 3_600_000_001 });
    assert.equal((await verifyChain([m.charter, late])).problem.reason, 'bad_author');
    // On an open chain (no charter) author blocks are just data.
    const open = createEntry({ seed: seed('11'), data: { ...JSON.parse(m.authored), msg: 'hi!' }, previousHash: GENESIS_HASH,
                               unixUs: t + 3000 });
    assert.equal((await verifyChain([open])).valid, true);
  });

  // The invite of the vectors expired on 2026-01-09: read it as of a day after it was made.
  const dayAfter = t + 86_400_000_000;

  it('reads an invite from its string or a link, and redeems it as the node does', () => {
    const invite = readInvite(m.invite_string, { nowUs: dayAfter });
    assert.deepEqual(invite, JSON.parse(m.invite));
    assert.equal(signedDigest('gsio-invite-v1', m.network_id, invite), m.invite_digest);
    for (const link of [`http://127.0.0.1:8080/#invite=${m.invite_string}`, `  https://node.example/#invite=${m.invite_string}\n`]) {
      assert.deepEqual(readInvite(link, { nowUs: dayAfter, networkId: m.network_id }), invite);
    }
    const redemption = redeemInvite(seed('13'), invite, 'newt');
    assert.equal(canonicalize(redemption), m.redemption);
    assert.equal(redemption.key, m.keys.newcomer);
    assert.equal(signedDigest('gsio-redeem-v1', m.network_id, redemption), m.redemption_digest);
    // Without a nick, the object has no nick member and a signature of its own.
    const bare = redeemInvite(seed('13'), invite);
    assert.equal('nick' in bare, false);
    assert.ok(verifySignature(m.keys.newcomer, signedDigest('gsio-redeem-v1', m.network_id, bare), bare.sig));
    assert.throws(() => redeemInvite(seed('13'), invite, ''), /at least one character/);
    assert.throws(() => redeemInvite(seed('13'), invite, 'x'.repeat(65)), /at most 64 bytes/);
  });

  it('refuses malformed, foreign, forged and expired invites with a reason', () => {
    const b64 = (text) => Buffer.from(text).toString('base64url');
    const object = JSON.parse(m.invite);
    const refusal = (text, reason, pattern, options = { nowUs: dayAfter }) => {
      assert.throws(() => readInvite(text, options), (err) => {
        assert.ok(err instanceof InviteError, String(err));
        assert.equal(err.reason, reason, err.message);
        assert.match(err.message, pattern);
        return true;
      }, JSON.stringify(text).slice(0, 60));
    };
    refusal('', 'malformed', /empty/);
    refusal('not base64!', 'malformed', /base64url/);
    refusal(`${m.invite_string}==`, 'malformed', /base64url/);
    refusal(m.invite_string.slice(0, -1), 'malformed', /not JSON/);
    refusal('http://node/#nothing-here', 'malformed', /no "#invite="/);
    refusal(b64('[1,2]'), 'malformed', /JSON object/);
    refusal(b64(canonicalize({ ...object, extra: 1 })), 'malformed', /exactly the members/);
    refusal(b64(canonicalize({ ...object, role: 'admin' })), 'malformed', /a role/);
    refusal(b64(canonicalize({ ...object, expires: 1.5 })), 'malformed', /integer expires/);
    refusal(b64(m.redemption), 'wrong_kind', /not an invite \(gsio: "redeem"\)/);
    refusal(b64(canonicalize({ ...object, role: 'node' })), 'bad_signature', /signature does not hold/);
    refusal(b64(canonicalize({ ...object, sig: flipHex(object.sig) })), 'bad_signature', /signature/);
    refusal(m.invite_string, 'expired', /expired on 2026-01-09T03:04:05.000Z/, { nowUs: object.expires + 1 });
    refusal(m.invite_string, 'expired', /expired/, {});
    refusal(m.invite_string, 'wrong_network', /not this one/, { nowUs: dayAfter, networkId: 'f'.repeat(64) });
    assert.deepEqual(readInvite(m.invite_string, { nowUs: object.expires }), object, 'valid up to its last microsecond');
  });

  it('checks nicks, makes fresh seeds and shows fingerprints', () => {
    assert.equal(nickProblem('newt'), null);
    assert.equal(nickProblem('é'.repeat(32)), null, '64 bytes');
    assert.match(nickProblem('é'.repeat(33)), /64 bytes/);
    assert.match(nickProblem(''), /at least one/);
    assert.match(nickProblem(' ada'), /space/);
    assert.match(nickProblem('a\nb'), /control/);
    const [one, two] = [newSeed(), newSeed()];
    assert.match(one, /^[0-9a-f]{64}$/);
    assert.notEqual(one, two);
    assert.equal(fingerprint(m.keys.newcomer), '66cd:608b:928b:88e5');
  });
});
