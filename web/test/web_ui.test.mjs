// The web UI in Debian's Chromium (headless, driven by playwright-core), served by real gsio-node
// processes joined through a real gsio-relay: a note added on one node's page shows up on the
// other's, the in-browser verification badge, the history filter, entry details, peers,
// connection state, a phone-sized screen, and every asset coming from the node itself.
// Screenshots go to $GSIO_SCREENSHOT_DIR (meson points it into its log dir) or a temp dir; the
// path is printed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const h = require('../../tests/js/lib/harness.js');
const c = require('../../tests/js/lib/cluster.js');

const CHROMIUM = '/usr/bin/chromium';
const webDist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist');
const shots = process.env.GSIO_SCREENSHOT_DIR || fs.mkdtempSync(path.join(os.tmpdir(), 'gsio-web-ui-'));

describe('web UI on a two-node cluster', () => {
  let browser;
  let nodes;
  let relayUrl;
  const pages = [];
  const foreignRequests = [];

  async function openPage(node, viewport = { width: 1280, height: 900 }) {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    page.errors = [];
    page.on('pageerror', (err) => page.errors.push(String(err)));
    // Everything must come from the node that served the page (no CDN, nothing else).
    page.on('request', (req) => {
      if (!req.url().startsWith(`${node.url}/`) && !req.url().startsWith(node.url.replace('http', 'ws'))) {
        foreignRequests.push(req.url());
      }
    });
    await page.goto(`${node.url}/`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 15000 });
    pages.push(page);
    return page;
  }

  async function shot(page, name) {
    const file = path.join(shots, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    assert.ok(fs.statSync(file).size > 5000, `${file} is a real picture`);
  }

  before(async () => {
    assert.ok(fs.existsSync(CHROMIUM),
      `${CHROMIUM} is missing: install Debian's chromium (scripts/setup.sh --test does) to run the web UI tests`);
    assert.ok(fs.existsSync(path.join(webDist, 'index.html')) && fs.existsSync(path.join(webDist, 'app/main.js')),
      `${webDist} is not built: run (cd clients/ts && npm ci && npm run build) && (cd web && npm ci && npm run build)`);
    fs.mkdirSync(shots, { recursive: true });
    console.log(`screenshots: ${shots}`);
    const relay = await c.startRelay();
    relayUrl = relay.url;
    nodes = [];
    for (let i = 0; i < 2; i++) {
      nodes.push(await c.startNetNode({ relayUrl: relay.url, args: ['--web-dir', webDist] }));
    }
    // --no-sandbox: tests run as root, where Chromium's sandbox refuses to start.
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  });

  after(async () => {
    await browser?.close();
    await c.cleanup();
  });

  it('shows a note added on one node on the other node\'s page, verified in the browser', async () => {
    const [one, two] = [await openPage(nodes[0]), await openPage(nodes[1])];
    const nodeIds = await Promise.all(nodes.map(async (n) => (await h.health(n)).node_id));

    for (const page of [one, two]) {
      await page.waitForSelector('#connection[data-state="connected"]');
      assert.match(await page.textContent('#connection'), /connected · (websocket|polling)/);
    }
    // Socket.IO starts on polling and upgrades; the pill follows.
    await one.waitForSelector('#connection[data-transport="websocket"]', { timeout: 10000 });

    // Keyboard only: type the nickname and the note, send with Ctrl+Enter.
    const nickname = `ada-${Date.now().toString(36)}`;
    const text = 'Hello from the first page ✓';
    await one.focus('#nickname');
    await one.keyboard.type(nickname);
    await one.keyboard.press('Tab');
    await one.keyboard.type(text);
    await one.keyboard.press('Control+Enter');
    await one.waitForSelector('#note-status:has-text("Added")');
    assert.equal(await one.inputValue('#note-text'), '', 'the form is cleared after the ack');

    const onTwo = two.locator('#feed li', { hasText: text });
    await onTwo.waitFor({ timeout: 10000 });
    assert.match(await onTwo.textContent(), new RegExp(nickname));

    // The stored entry really carries the nickname and text in its data.
    const s = await h.connect(nodes[1].url);
    const chain = await h.getAll(s);
    const entry = chain.find((e) => e.data && e.data.text === text);
    assert.deepEqual(entry.data, { type: 'note', text, nickname });
    assert.equal(entry.creator_node_id, nodeIds[0]);

    for (const page of [one, two]) {
      const badge = page.locator('#verify-badge[data-state="verified"]');
      await badge.waitFor({ timeout: 10000 });
      assert.match(await badge.textContent(), /chain verified in your browser · 1 entry/);
      const color = await badge.evaluate((el) => getComputedStyle(el).backgroundColor);
      const [r, g, b] = color.match(/\d+/g).map(Number);
      assert.ok(g > r && g > b, `the badge is green (${color})`);
    }

    // Peers: each page lists the other node as online.
    await two.locator(`#peers li[data-node="${nodeIds[0]}"][data-online="true"]`).waitFor({ timeout: 10000 });
    await one.locator(`#peers li[data-node="${nodeIds[1]}"][data-online="true"]`).waitFor({ timeout: 10000 });

    // The nickname is remembered by the browser.
    await one.reload();
    await one.waitForSelector('body[data-ready="true"]');
    assert.equal(await one.inputValue('#nickname'), nickname);
    await shot(one, '1-main-desktop');

    assert.deepEqual(foreignRequests, [], 'every request went to the node that served the page');
    for (const page of pages) assert.deepEqual(page.errors, []);
  });

  it('filters the history by nickname, text, author and time, and shows an entry\'s details', async () => {
    const two = pages[1];
    const s = await h.connect(nodes[1].url);
    // More notes, from the second node, so the filters have something to leave out.
    for (const [nick, note] of [['bob', 'second node, first note'], ['carol', 'about the weather'], ['bob', 'bob again']]) {
      await h.emitAck(s, 'add_ledger_entry', { type: 'note', text: note, nickname: nick });
    }
    await two.waitForSelector('#feed-count:text("4")');
    const count = () => two.getAttribute('#history-count', 'data-count');
    assert.equal(await count(), '4');

    const target = (await h.getAll(s))[0];
    await two.fill('#filter-nickname', target.data.nickname.slice(0, 6).toUpperCase());
    assert.equal(await count(), '1', 'a nickname prefix, in any case, finds the note');
    assert.match(await two.textContent('#history-results'), /Hello from the first page/);
    await shot(two, '2-history-filtered');

    await two.fill('#filter-nickname', 'bob');
    assert.equal(await count(), '2');
    await two.fill('#filter-text', 'again');
    assert.equal(await count(), '1');
    await two.fill('#filter-text', 'no such words');
    assert.equal(await count(), '0');
    await two.click('#filter-clear');
    await two.waitForFunction(() => document.getElementById('history-count').dataset.count === '4');

    await two.selectOption('#filter-author', target.creator_node_id);
    assert.equal(await count(), '1', 'only the first node wrote one');
    await two.selectOption('#filter-author', '');
    // A time window that ends before the first note leaves nothing.
    const before = new Date(Date.parse(target.timestamp) - 60_000);
    const local = new Date(before.getTime() - before.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
    await two.fill('#filter-to', local);
    assert.equal(await count(), '0');
    await two.fill('#filter-to', '');
    await two.fill('#filter-from', local);
    assert.equal(await count(), '4');

    // Details by keyboard: focus the first note's button in the history, Enter opens, Esc closes.
    await two.fill('#filter-nickname', target.data.nickname);
    await two.focus('#history-results li button');
    await two.keyboard.press('Enter');
    const dialog = two.locator('#entry-detail[open]');
    await dialog.waitFor();
    const field = (name) => two.textContent(`#detail-fields dd[data-field="${name}"]`);
    assert.equal(await field('id'), target.id);
    assert.equal(await field('hash'), target.hash);
    assert.equal(await field('previous hash'), target.previous_hash);
    assert.equal(await field('signature'), target.signatures[target.creator_node_id]);
    assert.match(await field('verified here'), /^yes/);
    assert.match(await two.textContent('#detail-data'), /"nickname": "ada-/);
    await shot(two, '3-entry-detail');
    await two.keyboard.press('Escape');
    await two.locator('#entry-detail').waitFor({ state: 'hidden' });
  });

  it('fits a phone-sized screen', async () => {
    const phone = await openPage(nodes[0], { width: 390, height: 844 });
    await phone.waitForSelector('#verify-badge[data-state="verified"]');
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling (${overflow}px too wide)`);
    const box = await phone.locator('#note-submit').boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 390);
    await shot(phone, '4-phone');
  });

  it('turns the badge red when the node\'s answers are tampered with in transit', async () => {
    // Every frame from the node is rewritten on the way to this page: one byte of the first note
    // changes. The node's chain is fine; only verification in the browser can notice.
    const context = await browser.newContext();
    const page = await context.newPage();
    const tamper = (text) => text.replaceAll('Hello from the first page', 'Hello from the first pagE');
    await page.route(/\/socket\.io\/.*transport=polling/, async (route) => {
      const response = await route.fetch();
      await route.fulfill({ response, body: tamper(await response.text()) });
    });
    await page.routeWebSocket(/\/socket\.io\//, (ws) => {
      const server = ws.connectToServer();
      server.onMessage((message) => ws.send(typeof message === 'string' ? tamper(message) : message));
    });
    await page.goto(`${nodes[1].url}/`);
    const badge = page.locator('#verify-badge[data-state="failed"]');
    await badge.waitFor({ timeout: 15000 });
    assert.match(await badge.textContent(), /verification failed at entry #0: bad_hash/);
    assert.ok(await page.locator('#feed li', { hasText: 'first pagE' }).count() === 1, 'the tampered text is what arrived');
    await shot(page, '5-tampered');
    await context.close();
  });

  it('shows reconnecting while its node is down and recovers after a restart', async () => {
    const page = pages[0];
    const node = nodes[0];
    await node.stop('SIGTERM');
    await page.waitForSelector('#connection[data-state="reconnecting"]', { timeout: 10000 });
    assert.match(await page.textContent('#connection'), /reconnecting/);
    assert.equal(await page.getAttribute('#peers', 'data-stale'), 'true', 'the peers list is marked as stale');
    await shot(page, '6-reconnecting');
    // A note written elsewhere while this page's node is down...
    const s = await h.connect(nodes[1].url);
    const missed = await h.emitAck(s, 'add_ledger_entry', { type: 'note', text: 'written while node one was down' });
    assert.equal(missed.error, undefined);
    nodes[0] = await c.startNetNode({ relayUrl, dataDir: node.dataDir, args: ['--web-dir', webDist, '--port', String(node.port)] });
    await page.waitForSelector('#connection[data-state="connected"]', { timeout: 20000 });
    // ...reaches the page: the node syncs it from the relay and pushes it, or the reload after
    // the reconnect fetches it.
    await page.locator('#feed li', { hasText: 'written while node one was down' }).waitFor({ timeout: 15000 });
    assert.equal(await page.textContent('#feed-count'), '5');
    await page.waitForSelector('#verify-badge[data-state="verified"]');
  });
});
