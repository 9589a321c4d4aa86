// verifyChain and canonicalization against the vectors made outside the project
// (tests/vectors): RFC 8785's own examples, 100,000 number serializations, and five signed
// entries that must be reproduced byte for byte. No node needed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import {
  canonicalize, CanonicalJsonError, ChainVerifier, computeEntryHash, createEntry, entryHashInput, GENESIS_HASH,
  LiveLedger, nodeIdFromSeed, verifyChain, verifyEntry,
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
      const made = createEntry({ seed: v.creator_seed, data: e.data, previousHash: e.previous_hash,
                                 unixMs: Number(e.id.split('-')[1]) });
      assert.deepEqual(made, e);
      assert.equal(verifyEntry(e), null);
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
      ['id and timestamp disagree', (c) => { c[0].timestamp = '2026-01-02T03:04:05.678Z'; }, 0, 'malformed'],
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
    const first = createEntry({ seed, data: 1, previousHash: GENESIS_HASH, unixMs: 1767323045000 });
    const again = createEntry({ seed, data: 2, previousHash: first.hash, unixMs: 1767323045000 });
    const res = await verifyChain([first, again]);
    assert.equal(res.problem.reason, 'duplicate_id');
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
      failNextLoad: false,
      froms: [],
      duringLoad: null,  // runs while a load is on its way, as a node's events would
      async getFullLedger({ from = 0 } = {}) {
        this.loads++;
        this.froms.push(from);
        if (this.failNextLoad) { this.failNextLoad = false; throw new Error('timed out'); }
        const page = structuredClone(this.chain.slice(from));
        const during = this.duringLoad;
        this.duringLoad = null;
        if (during) during();
        return page;
      },
      push(kind, value) { for (const f of handlers[kind]) f(value); },
    };
  }
  const seed = '5a'.repeat(32);
  function makeChain(length, previousHash = GENESIS_HASH, from = 0) {
    const out = [];
    for (let i = 0; i < length; i++) {
      out.push(createEntry({ seed, data: { i: from + i }, previousHash: out.at(-1)?.hash ?? previousHash,
                             unixMs: 1767323045000 + from + i }));
    }
    return out;
  }

  it('reloads rather than apply a reorg with a malformed entry, and never vouches for unverified entries', async () => {
    const honest = makeChain(6);
    const client = fakeClient(honest);
    const live = new LiveLedger(client);
    await live.start();
    assert.deepEqual(await live.settled(), { state: 'verified', verified: 6 });
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
    assert.deepEqual(await live.settled(), { state: 'verified', verified: 12 });
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
    assert.deepEqual(await live.settled(), { state: 'verified', verified: 3 });
    live.stop();
  });
});
