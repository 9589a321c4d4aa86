// The web UI at depth (issue 23): a node serving a long chain (gsio-bench mkstore: 200,000 entries,
// far fewer under sanitizers). The page holds a window of the newest entries, is usable at once,
// keeps its JS heap bounded while it checks the history in the background, remembers a checkpoint
// in IndexedDB so that a reload after new entries verifies only those, and names an old entry
// that was changed in transit once the background check reaches it. Also: the signature rule
// through Chromium's Web Crypto gives every edge vector the JavaScript path's verdict, and the
// rates of both paths are printed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { tamperInTransit } from './page_helpers.mjs';

const require = createRequire(import.meta.url);
const h = require('../../tests/js/lib/harness.js');

const CHROMIUM = '/usr/bin/chromium';
const here = path.dirname(fileURLToPath(import.meta.url));
const webDist = path.resolve(here, '../dist');
const vectorsDir = process.env.GSIO_VECTORS || path.resolve(here, '../../tests/vectors');
const ENTRIES = process.env.GSIO_SANITIZED ? 5_000 : 200_000;
const WINDOW = 500;
const HEAP_LIMIT = 100 * 1024 * 1024;
const TAMPERED = 1500; // an old entry, far below the window

const badge = (page) => page.evaluate(() => ({ ...document.getElementById('verify-badge').dataset,
  text: document.getElementById('verify-badge').textContent, v: window.gsioVerification }));

describe(`web UI on a chain of ${ENTRIES.toLocaleString('en-US')} entries`, () => {
  let browser;
  let node;
  let made;
  let tip;

  before(async () => {
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing`);
    assert.ok(fs.existsSync(path.join(webDist, 'app/main.js')), `${webDist} is not built`);
    const dataDir = h.tempDir('gsio-web-large-');
    const t0 = Date.now();
    made = h.mkstore(dataDir, ENTRIES);
    assert.equal(made.entries, ENTRIES);
    node = await h.startNode({ dataDir, args: ['--web-dir', webDist], readyTimeout: 60000 });
    const info = await h.emitAck(await h.connect(node.url), 'node_info');
    assert.equal(info.height, ENTRIES);
    tip = info.tip_hash;
    assert.equal(tip, made.tip_hash, "the node serves the chain mkstore wrote");
    console.log(`store of ${ENTRIES} entries made and served in ${Date.now() - t0} ms`);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  });

  after(async () => {
    await browser?.close();
    await h.cleanup();
  });

  let context;
  let page;

  it('is usable at once, holds a bounded heap, verifies the history and stores a checkpoint', async () => {
    context = await browser.newContext();
    page = await context.newPage();
    page.errors = [];
    page.on('pageerror', (err) => page.errors.push(String(err)));
    const cdp = await context.newCDPSession(page);
    const t0 = Date.now();
    await page.goto(`${node.url}/`);
    await page.locator(`#feed li[data-hash="${tip}"]`).waitFor({ timeout: 10000 });
    const usableMs = Date.now() - t0;
    assert.equal(await page.textContent('#feed-count'), String(ENTRIES));
    assert.match(await page.textContent(`#feed li[data-hash="${tip}"]`), new RegExp(`#${ENTRIES - 1}`));
    // The window is verified first; the badge says the older history is not (yet).
    await page.waitForSelector('#verify-badge[data-state="partial"]', { timeout: 10000 });
    const partial = await badge(page);
    assert.match(partial.text, new RegExp(`newest ${WINDOW} verified in your browser; older history: [\\d,]+ of ${ENTRIES - WINDOW >= 1000 ? '[\\d,]+' : ENTRIES - WINDOW} checked`));
    assert.equal(partial.v.windowStart, ENTRIES - WINDOW);
    assert.equal(partial.v.complete, false);
    // The history filter says it searches what is loaded, and how to search the rest.
    assert.match(await page.textContent('#history-count'), new RegExp(`"Search the whole chain" asks the node for all ${ENTRIES.toLocaleString('en-US')}`));

    // Until the whole chain is verified, the heap stays bounded.
    let maxHeap = 0;
    let samples = 0;
    const t1 = Date.now();
    for (;;) {
      const { usedSize } = await cdp.send('Runtime.getHeapUsage');
      maxHeap = Math.max(maxHeap, usedSize);
      samples++;
      const b = await badge(page);
      assert.notEqual(b.state, 'failed', b.text);
      if (b.state === 'verified' && Number(b.saved) === ENTRIES) break;
      assert.ok(Date.now() - t1 < 100000, `the history check is too slow: ${b.text}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const fullMs = Date.now() - t1;
    const done = await badge(page);
    assert.equal(done.text, `✔ chain verified in your browser · ${ENTRIES.toLocaleString('en-US')} entries (#0–#${(ENTRIES - 1).toLocaleString('en-US')})`);
    assert.equal(Number(done.checkedThisVisit), ENTRIES, 'every entry verified once');
    assert.equal(Number(done.fromGenesis), ENTRIES);
    const entries = await page.evaluate(() => document.querySelectorAll('#history-results li').length);
    assert.ok(entries <= 200, `${entries} history items`);
    console.log(`usable (tip in the feed) after ${usableMs} ms; all ${ENTRIES} verified after ${fullMs} more ms ` +
                `(${Math.round(ENTRIES / (fullMs / 1000))} entries/s, signatures by ${done.engine}); ` +
                `JS heap at most ${(maxHeap / 1048576).toFixed(1)} MB over ${samples} samples`);
    assert.ok(usableMs < 10000, `usable after ${usableMs} ms`);
    assert.ok(maxHeap < HEAP_LIMIT, `JS heap reached ${(maxHeap / 1048576).toFixed(1)} MB`);
    assert.deepEqual(page.errors, []);
  });

  it('after new entries and a reload verifies only the new ones', async () => {
    // The page goes away (its profile, with the checkpoint, stays); entries are added meanwhile.
    await page.close();
    page = await context.newPage();
    page.errors = [];
    page.on('pageerror', (err) => page.errors.push(String(err)));
    const s = await h.connect(node.url);
    const added = 37;
    let last;
    for (let i = 0; i < added; i++) last = await h.emitAck(s, 'add_ledger_entry', { type: 'note', text: `new ${i}` });
    assert.equal(last.error, undefined);
    const t0 = Date.now();
    await page.goto(`${node.url}/`);
    await page.locator(`#feed li[data-hash="${last.hash}"]`).waitFor({ timeout: 10000 });
    await page.waitForFunction((n) => {
      const b = document.getElementById('verify-badge');
      return b.dataset.state === 'verified' && Number(b.dataset.saved) === n;
    }, ENTRIES + added, { timeout: 15000 });
    const b = await badge(page);
    assert.equal(Number(b.checkedThisVisit), added, `only the ${added} new entries were verified: ${JSON.stringify(b.v)}`);
    assert.equal(b.v.checkpoint, ENTRIES, 'from the stored checkpoint');
    assert.equal(b.v.history.state, 'none');
    assert.match(b.text, new RegExp(`✔ chain verified in your browser · ${(ENTRIES + added).toLocaleString('en-US')} entries`));
    console.log(`return visit: ${added} new entries verified in ${Date.now() - t0} ms`);

    // Older history, a page at a time from the node.
    await page.click('#history-older');
    await page.waitForSelector('#history-results[data-view="page"]');
    const from = Number(await page.getAttribute('#history-results', 'data-from'));
    assert.equal(from, ENTRIES + added - WINDOW - 200);
    assert.match(await page.textContent('#history-range'), /hashes, signatures and links within the page checked/);
    await page.fill('#history-height', '0');
    await page.press('#history-height', 'Enter');
    await page.waitForSelector('#history-results[data-from="0"]');
    assert.equal(await page.locator('#history-results li').count(), 200);
    assert.match(await page.textContent('#history-count'), /Matching: 200 of the 200 entries shown \(#0–#199\)/);

    // The filters search the entries shown; "Search the whole chain" asks the node for all of them.
    await page.fill('#filter-text', '"n":1234}');
    assert.equal(await page.getAttribute('#history-count', 'data-count'), '0', 'entry #1234 is not among those shown');
    const searchStarted = Date.now();
    await page.click('#filter-search');
    await page.waitForSelector('#history-count[data-searched="all"]', { timeout: 30000 });
    const hits = page.locator('#history-results[data-view="search"] li');
    assert.equal(await hits.count(), 1);
    assert.equal(await hits.locator('button').first().textContent(), '#1234');
    assert.equal(await hits.getAttribute('data-problem'), null, 'the match verifies here');
    assert.match(await page.textContent('#history-range'), /down to the first entry; each match's hash and signatures checked here/);
    console.log(`searched ${ENTRIES + added} entries on the node for one match in ${Date.now() - searchStarted} ms`);
    await hits.locator('button').first().click();
    await page.locator('#entry-detail[open]').waitFor();
    assert.match(await page.textContent('#detail-fields dd[data-field="verified here"]'), /^yes: hash and signatures checked/);
    await page.keyboard.press('Escape');
    await page.fill('#filter-text', '');
    await page.waitForSelector('#history-results[data-view="page"]');
    assert.deepEqual(page.errors, []);
    await context.close();
  });

  it('names an old entry changed in transit when the background check reaches it', async () => {
    const fresh = await browser.newContext(); // no checkpoint in this profile
    const tampered = await fresh.newPage();
    let hits = 0;
    await tamperInTransit(tampered, (text) => text.replaceAll(`"n":${TAMPERED}}`, () => { hits++; return `"n":${TAMPERED + 1}}`; }));
    await tampered.goto(`${node.url}/`);
    await tampered.waitForSelector('#verify-badge[data-state="failed"]', { timeout: 30000 });
    const b = await badge(tampered);
    assert.ok(hits > 0, 'the entry was changed on its way');
    assert.equal(b.text, `✖ chain verification failed at entry #${TAMPERED}: bad_hash`);
    assert.equal(b.v.problem.index, TAMPERED);
    assert.equal(b.v.fromGenesis, TAMPERED);
    const color = await tampered.evaluate(() => getComputedStyle(document.getElementById('verify-badge')).backgroundColor);
    const [r, g, bl] = color.match(/\d+/g).map(Number);
    assert.ok(r > g && r > bl, `the badge is red (${color})`);
    await fresh.close();
  });

  it('gives every edge vector the same verdict through Web Crypto as through JavaScript, and measures both', async () => {
    const rows = fs.readFileSync(path.join(vectorsDir, 'ed25519-edge.tsv'), 'utf8').split('\n')
      .filter((line) => line && !line.startsWith('#')).map((line) => line.split('\t'));
    assert.equal(rows.length, 31);
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    await p.goto(`${node.url}/`);
    await p.waitForSelector('body[data-ready="true"]');
    const result = await p.evaluate(async (rows) => {
      const m = await import('/vendor/gsio-client/index.js');
      const available = await m.webCryptoEd25519Available();
      const verdicts = [];
      for (const [name, key, message, sig, valid] of rows) {
        verdicts.push({ name, expected: valid === '1', js: m.verifySignature(key, message, sig),
                        webcrypto: await m.verifySignatureWebCrypto(key, message, sig) });
      }
      // Rates over real entries: each creator signature of two pages.
      const sock = await m.connect(location.origin);
      const entries = [...await sock.getLedger({ from: 0, limit: 1000 }), ...await sock.getLedger({ from: 1000, limit: 1000 })];
      sock.close();
      const jobs = entries.map((e) => [e.creator_node_id, e.hash, e.signatures[e.creator_node_id]]);
      let t = performance.now();
      const jsN = 300;
      let ok = 0;
      for (const [k, msg, sg] of jobs.slice(0, jsN)) ok += m.verifySignature(k, msg, sg) ? 1 : 0;
      const jsRate = jsN / ((performance.now() - t) / 1000);
      t = performance.now();
      const wc = await Promise.all(jobs.map(([k, msg, sg]) => m.verifySignatureWebCrypto(k, msg, sg)));
      const wcRate = jobs.length / ((performance.now() - t) / 1000);
      return { available, verdicts, jsRate, wcRate, ok, wcOk: wc.filter(Boolean).length, n: jobs.length, jsN };
    }, rows);
    assert.equal(result.available, true, 'Chromium has Ed25519 in Web Crypto on this origin');
    const disagree = result.verdicts.filter((v) => v.js !== v.expected || v.webcrypto !== v.expected);
    assert.deepEqual(disagree, [], 'every path gives the valid column');
    assert.equal(result.ok, result.jsN);
    assert.equal(result.wcOk, result.n);
    console.log(`Ed25519 in Chromium: JavaScript ${Math.round(result.jsRate)} signatures/s, ` +
                `Web Crypto ${Math.round(result.wcRate)} signatures/s (${result.n} signatures)`);
    await ctx.close();
  });
});
