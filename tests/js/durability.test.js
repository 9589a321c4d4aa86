'use strict';
// Durability and integrity of the store: restart, tampering, and kill -9 under load.
const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const h = require('./lib/harness');

describe('gsio-node store', () => {
  after(h.cleanup);

  it('keeps and re-verifies the ledger across a restart; refuses a tampered store naming the entry', async () => {
    const dataDir = h.tempDir();
    let node = await h.startNode({ dataDir });
    let s = await h.connect(node.url);
    const added = [];
    for (const word of ['first', 'victim', 'third']) added.push(await h.emitAck(s, 'add_ledger_entry', { word }));
    const before = await h.getAll(s);
    s.disconnect();
    const stopped = await node.stop('SIGTERM');
    assert.equal(stopped.code, 0, `clean shutdown exit code\n${node.log}`);

    node = await h.startNode({ dataDir });
    assert.match(node.log, /ledger loaded, height 3 \(links and hashes checked; the signatures of 3 stored entries are verified in the background\)/);
    await h.waitUntil(async () => (await h.health(node)).verified_height === 3, 10000, 'the background check');
    s = await h.connect(node.url);
    assert.deepEqual(await h.getAll(s), before);
    assert.deepEqual(await h.emitAck(s, 'verify_ledger'), { valid: true });
    s.disconnect();
    await node.stop('SIGTERM');

    const victim = added[1];
    const rows = h.sqlite(path.join(dataDir, 'ledger.db'),
      "UPDATE entries SET data = replace(data, '\"victim\"', '\"villain\"') WHERE unix_us = ? RETURNING seq",
      [Number(victim.id.split('-')[1])]);
    assert.equal(rows.length, 1, 'exactly one stored entry was changed');
    const run = await h.runNodeToExit(['--port', '0', '--data-dir', dataDir]);
    assert.notEqual(run.code, 0, 'a tampered store must not start');
    assert.match(run.output, /refusing to start/);
    assert.ok(run.output.includes(victim.id), `the message names the tampered entry:\n${run.output}`);
    assert.ok(!run.output.includes(added[0].id), 'the intact entry before it is not blamed');
  });

  it('stops naming the entry when a forged signature in a small store is found, even before it is ready', async () => {
    const dataDir = h.tempDir();
    const node = await h.startNode({ dataDir });
    const s = await h.connect(node.url);
    for (const word of ['one', 'two', 'three']) await h.emitAck(s, 'add_ledger_entry', { word });
    s.disconnect();
    await node.stop('SIGTERM');
    const db = path.join(dataDir, 'ledger.db');
    h.sqlite(db, 'UPDATE entries SET signatures = (SELECT signatures FROM entries WHERE seq = 3) WHERE seq = 2');
    const [[victim]] = h.sqlite(db, "SELECT lower(hex(creator)) || '-' || unix_us FROM entries WHERE seq = 2");
    const run = await h.runNodeToExit(['--port', '0', '--data-dir', dataDir]);
    assert.equal(run.code, 3, run.output);
    assert.match(run.output, new RegExp(`refusing to serve: the stored ledger in .* is corrupt at entry ${victim}: .*signature is invalid`));
    assert.doesNotMatch(run.output, /a core actor stopped/);
  });

  it('refuses a store of protocol 1 (millisecond ids) with what it is and what to do, and leaves it as it was', async () => {
    // A store as a protocol 1 node left it: schema 1, entries with millisecond ids. The rows are
    // what such a node wrote (the refusal never reads them as entries).
    const dataDir = h.tempDir();
    const node = await h.startNode({ dataDir });
    await node.stop('SIGTERM');
    const db = path.join(dataDir, 'ledger.db');
    const creator = 'ab'.repeat(32);
    for (const sql of [
      'DROP TABLE entries',
      'CREATE TABLE entries (seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, id TEXT NOT NULL, json TEXT NOT NULL)',
      'PRAGMA user_version = 1',
      `INSERT INTO entries (hash, id, json) VALUES ('${'1'.repeat(64)}', '${creator}-1767323045679', '{}')`,
      `INSERT INTO entries (hash, id, json) VALUES ('${'2'.repeat(64)}', '${creator}-1767323045680', '{}')`,
    ]) h.sqlite(db, sql);
    const before = h.sqlite(db, 'SELECT seq, hash, id, json FROM entries ORDER BY seq');

    const run = await h.runNodeToExit(['--port', '0', '--data-dir', dataDir]);
    assert.equal(run.code, 3, run.output);
    assert.match(run.output, /refusing to start: .*ledger\.db holds 2 entries of protocol 1 \(millisecond ids, store schema 1\)/);
    assert.match(run.output, /Start the node on a new data directory \(--data-dir DIR\)/);
    assert.match(run.output, /From protocol 1/);
    assert.deepEqual(h.sqlite(db, 'PRAGMA user_version'), [[1]]);
    assert.deepEqual(h.sqlite(db, 'SELECT seq, hash, id, json FROM entries ORDER BY seq'), before);

    // A new data directory starts at once.
    const fresh = await h.startNode({ dataDir: h.tempDir() });
    assert.match(fresh.log, /ledger verified, height 0/);
    assert.deepEqual((await h.health(fresh)).start_check, { mode: 'background', state: 'done', verified: 0, of: 0 });
  });

  it('converts a store of schema 2 (an entry\'s JSON text per row) once, keeping every entry', async () => {
    const dataDir = h.tempDir();
    let node = await h.startNode({ dataDir });
    let s = await h.connect(node.url);
    for (let i = 0; i < 40; i++) await h.emitAck(s, 'add_ledger_entry', { i, text: `entry ${i}` });
    const before = await h.getAll(s);
    s.disconnect();
    await node.stop('SIGTERM');

    // The store as the previous version wrote it.
    const db = path.join(dataDir, 'ledger.db');
    h.sqlite(db, 'DROP TABLE entries');
    h.sqlite(db, 'CREATE TABLE entries (seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, id TEXT NOT NULL, json TEXT NOT NULL)');
    for (const e of before) h.sqlite(db, 'INSERT INTO entries (hash, id, json) VALUES (?, ?, ?)', [e.hash, e.id, JSON.stringify(e)]);
    h.sqlite(db, 'PRAGMA user_version = 2');

    node = await h.startNode({ dataDir });
    assert.match(node.log, /converting the store in .* \(40 entries\) from schema 2 to schema 3/);
    assert.match(node.log, /converted the store from schema 2 in \d+ ms/);
    s = await h.connect(node.url);
    assert.deepEqual(await h.getAll(s), before);
    assert.deepEqual(await h.emitAck(s, 'verify_ledger'), { valid: true });
    s.disconnect();
    await node.stop('SIGTERM');
    assert.deepEqual(h.sqlite(db, 'PRAGMA user_version'), [[3]]);
    assert.deepEqual(h.sqlite(db, 'SELECT COUNT(*) FROM entries'), [[40]]);
  });

  it('shuts down cleanly on SIGTERM under load, keeping every acknowledged entry', async () => {
    const dataDir = h.tempDir();
    // glibc fills freed memory with this byte, so touching freed memory while shutting down (as a
    // session that outlived the server's io_context once did) crashes or hangs here every time
    // instead of now and then. Under ASan the variable has no effect.
    const node = await h.startNode({ dataDir, env: { MALLOC_PERTURB_: '192' } });
    const clients = await Promise.all([0, 1, 2, 3].map(() => h.connect(node.url)));
    const acked = [];
    let stop = false;
    const writers = clients.map(async (s, c) => {
      for (let i = 0; !stop; i++) {
        const reply = await h.ackOrDisconnect(s, 'add_ledger_entry', { client: c, i });
        if (reply === null) return;
        if (reply.error === undefined) acked.push(reply.id);
      }
    });
    await new Promise((r) => setTimeout(r, 300));
    const stopped = await node.stop('SIGTERM');
    stop = true;
    await Promise.all(writers);
    clients.forEach((s) => s.disconnect());
    assert.equal(stopped.code, 0, `exit status after SIGTERM\n${node.log}`);
    assert.match(node.log, /shut down cleanly|stopped/);
    assert.ok(acked.length > 0, 'entries were acknowledged before the signal');

    const again = await h.startNode({ dataDir });
    const s = await h.connect(again.url);
    const ids = new Set((await h.getAll(s)).map((e) => e.id));
    const lost = acked.filter((id) => !ids.has(id));
    assert.deepEqual(lost, [], `${lost.length} of ${acked.length} acknowledged entries were lost`);
  });

  it('loses no acknowledged entry across 20 kill -9 while 4 clients add as fast as acks return', async () => {
    const dataDir = h.tempDir();
    const acked = new Map();  // id -> data
    let round = 0;
    for (; round < 20; round++) {
      const node = await h.startNode({ dataDir });
      const clients = await Promise.all([0, 1, 2, 3].map(() => h.connect(node.url)));
      let ackedThisRound = 0;
      let stop = false;
      const writers = clients.map(async (s, c) => {
        for (let i = 0; !stop; i++) {
          const data = { round, client: c, i };
          const reply = await h.ackOrDisconnect(s, 'add_ledger_entry', data);
          if (reply === null) return;
          assert.equal(reply.error, undefined, JSON.stringify(reply));
          acked.set(reply.id, data);
          ackedThisRound++;
        }
      });
      await new Promise((r) => setTimeout(r, 100 + Math.floor(Math.random() * 300)));
      node.proc.kill('SIGKILL');
      await node.waitExit();
      stop = true;
      await Promise.all(writers);
      clients.forEach((s) => s.disconnect());
      assert.ok(ackedThisRound > 0, `round ${round} acknowledged some entries before the kill`);
    }

    const node = await h.startNode({ dataDir });
    const s = await h.connect(node.url);
    const chain = await h.getAll(s);
    const byId = new Map(chain.map((e) => [e.id, e]));
    let missing = 0;
    for (const [id, data] of acked) {
      const e = byId.get(id);
      if (!e) missing++;
      else assert.deepEqual(e.data, data);
    }
    assert.equal(missing, 0, `${missing} of ${acked.size} acknowledged entries were lost`);
    assert.equal(byId.size, chain.length, 'no id appears twice');
    assert.deepEqual(await h.emitAck(s, 'verify_ledger'), { valid: true });
    console.log(`kill -9 rounds: ${round}, acknowledged entries: ${acked.size}, chain height: ${chain.length}`);
  });

  describe('a large stored ledger (--verify-on-start)', () => {
    // Large enough that checking every signature takes seconds; a tenth of that under the
    // sanitizers, which slow the check more than they slow a node's start.
    const entries = process.env.GSIO_SANITIZED ? 20000 : 200000;
    let dataDir;
    let db;

    it('serves before the background check of the signatures ends, says how far it got, then finishes it', async () => {
      dataDir = h.tempDir();
      db = path.join(dataDir, 'ledger.db');
      const made = h.mkstore(dataDir, entries);
      const node = await h.startNode({ dataDir, readyTimeout: 120000 });
      const first = await h.health(node);
      assert.equal(first.height, entries);
      assert.equal(first.tip_hash, made.tip_hash);
      assert.equal(first.start_check.mode, 'background');
      assert.equal(first.start_check.of, entries);
      assert.equal(first.start_check.state, 'running', 'ready before the check ended');
      assert.ok(first.verified_height < entries, JSON.stringify(first));
      assert.match(node.log, new RegExp(`ledger loaded, height ${entries} \\(links and hashes checked; the signatures of ${entries} stored entries`));

      // It answers from the whole chain meanwhile.
      const s = await h.connect(node.url);
      const page = await h.emitAck(s, 'get_ledger', { from: entries - 2, limit: 2 });
      assert.equal(page.length, 2);
      assert.equal(page[1].hash, made.tip_hash);

      const done = await h.waitUntil(async () => {
        const now = await h.health(node);
        return now.start_check.state === 'done' && now;
      }, 180000, 'the background check to end', 200);
      assert.equal(done.verified_height, entries);
      assert.equal(done.start_check.verified, entries);
      assert.match(node.log, new RegExp(`background check done: all ${entries} stored entries verified`));
      const metrics = await (await fetch(`${node.url}/metrics`)).text();
      assert.match(metrics, new RegExp(`^gsio_ledger_verified_height ${entries}$`, 'm'));
      assert.match(metrics, /^gsio_ledger_start_check_running 0$/m);
      s.disconnect();
      assert.equal((await node.stop('SIGTERM')).code, 0);
    });

    it('stops naming the entry when the background check finds a forged signature deep in history; full refuses to start', async () => {
      assert.ok(dataDir, 'the store of the test before');
      // Entry k gets the signature of entry k + 1: well-formed, and only verifying shows it wrong.
      const k = Math.floor(entries / 2);
      const idAt = (seq) => h.sqlite(db, "SELECT lower(hex(creator)) || '-' || unix_us FROM entries WHERE seq = ?", [seq])[0][0];
      const victimId = idAt(k);
      const beforeId = idAt(k - 1);
      h.sqlite(db, 'UPDATE entries SET signatures = (SELECT signatures FROM entries WHERE seq = ?) WHERE seq = ?', [k + 1, k]);

      const node = await h.startNode({ dataDir, readyTimeout: 120000 });
      const exit = await node.waitExit(180000);
      assert.equal(exit.code, 3, node.log);
      assert.match(node.log, new RegExp(`refusing to serve: the stored ledger in .* is corrupt at entry ${victimId}: .*the creator's signature is invalid`));
      assert.ok(!node.log.includes(beforeId), 'the intact entry before it is not blamed');

      const full = await h.runNodeToExit(['--port', '0', '--data-dir', dataDir, '--verify-on-start', 'full'], 180000);
      assert.equal(full.code, 3, full.output);
      assert.match(full.output, new RegExp(`refusing to start: the stored ledger in .* is corrupt at entry ${victimId}`));
    });

    it('refuses an unknown --verify-on-start', async () => {
      const run = await h.runNodeToExit(['--port', '0', '--data-dir', h.tempDir(), '--verify-on-start', 'never']);
      assert.equal(run.code, 2);
      assert.match(run.output, /--verify-on-start must be background or full \(got "never"\)/);
    });
  });
});
