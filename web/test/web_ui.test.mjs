// The web UI in Debian's Chromium (headless, driven by playwright-core), served by real gsio-node
// processes joined through a real gsio-relay: a note added on one node's page shows up on the
// other's, the in-browser verification badge, the history filter, entry details, peers,
// connection state, a phone-sized screen, and every asset coming from the node itself; and on a
// private network, joining with an invite link, author badges, the members view.
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
import { tamperInTransit } from './page_helpers.mjs';

const require = createRequire(import.meta.url);
const h = require('../../tests/js/lib/harness.js');
const c = require('../../tests/js/lib/cluster.js');
const m = require('../../tests/js/lib/members.js');

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
    await tamperInTransit(page, tamper);
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

describe('web UI on a private network: joining with an invite link', () => {
  let browser;
  let net;
  let nodes;
  let adminKey;
  const contexts = [];
  const fingerprint = (key) => key.slice(0, 16).match(/.{4}/g).join(':');

  async function newPage(context) {
    const page = await context.newPage();
    page.errors = [];
    page.on('pageerror', (err) => page.errors.push(String(err)));
    return page;
  }

  async function shot(page, name) {
    const file = path.join(shots, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    assert.ok(fs.statSync(file).size > 5000, `${file} is a real picture`);
  }

  // An author invite made through `node`: the link `gsio invite` prints for it.
  async function inviteLink(node) {
    const made = await h.gsio(['--node', node.url, 'invite', '--role', 'author', '--admin-key', net.adminKey]);
    assert.equal(made.code, 0, made.stderr);
    const lines = made.stdout.trim().split('\n');
    const link = `${node.url}/#invite=${lines[lines.length - 1]}`;
    assert.ok(lines.includes(link), `gsio invite prints the link: ${made.stdout}`);
    return link;
  }

  // The chain and membership as the admin reads them from node A.
  async function adminView() {
    const { socket } = await m.connectAs(nodes[0], m.keyFromFile(net.adminKey));
    const chain = await h.getAll(socket);
    const members = await h.emitAck(socket, 'get_members');
    socket.disconnect();
    return { chain, members };
  }

  // Fills the join form of `page` (open on an invite link) and waits until it says who we are.
  async function join(page, nick) {
    await page.locator('#join:not([hidden])').waitFor({ timeout: 15000 });
    await page.fill('#join-nick', nick);
    await page.click('#join-submit');
    await page.locator('#me:not([hidden])').waitFor({ timeout: 15000 });
    const key = await page.getAttribute('#me', 'data-key');
    assert.match(key, /^[0-9a-f]{64}$/);
    assert.equal(await page.textContent('#me'), `you are ${nick} (${fingerprint(key)})`);
    return key;
  }

  before(async () => {
    fs.mkdirSync(shots, { recursive: true });
    const dirs = [];
    const keys = [];
    for (let i = 0; i < 2; i++) {
      const dir = h.tempDir('gsio-web-member-');
      const made = await h.gsio(['key', 'create', path.join(dir, 'node.key')]);
      assert.equal(made.code, 0, made.stderr);
      dirs.push(dir);
      keys.push(made.stdout.trim());
    }
    const dir = path.join(h.tempDir('gsio-web-net-'), 'net');
    const made = await h.gsio(['network', 'create', 'friends', '--dir', dir, '--members', `${keys[0]}:node:alpha,${keys[1]}:node:beta`]);
    assert.equal(made.code, 0, made.stderr);
    net = { file: path.join(dir, 'network.json'), adminKey: path.join(dir, 'admin.key') };
    adminKey = (await h.gsio(['key', 'show', net.adminKey])).stdout.trim();
    const relay = await c.startRelay({ args: ['--network', net.file] });
    nodes = [];
    for (const dataDir of dirs) {
      nodes.push(await c.startNetNode({ relayUrl: relay.url, dataDir, args: ['--network', net.file, '--web-dir', webDist] }));
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    // One browser profile per person: each keeps its keys in its own IndexedDB.
    contexts.push(await browser.newContext({ viewport: { width: 1280, height: 900 } }),
                  await browser.newContext({ viewport: { width: 1280, height: 900 } }));
  });

  after(async () => {
    await browser?.close();
    await c.cleanup();
  });

  let authorKey;
  let firstLink;
  const nick = `newt-${Date.now().toString(36)}`;
  const text = 'Signed in this browser by its own key';

  it('joins from an invite link, posts as the author, and another node shows the post verified', async () => {
    // Without a key, a members-only network says so instead of showing an empty page.
    const two = await newPage(contexts[1]);
    await two.goto(`${nodes[1].url}/`);
    await two.waitForSelector('body[data-ready="true"]', { timeout: 15000 });
    assert.match(await two.textContent('#access'), /this network is for its members: open an invite link/i);
    assert.equal(await two.isVisible('#access'), true);
    assert.equal(await two.isVisible('#join'), false);
    assert.equal(await two.locator('#feed li').count(), 0, 'nothing was read without a key');
    assert.equal(await two.isDisabled('#note-submit'), true);
    await shot(two, '7-members-only');

    const one = await newPage(contexts[0]);
    firstLink = await inviteLink(nodes[0]);
    await one.goto(firstLink);
    await one.locator('#join:not([hidden])').waitFor({ timeout: 15000 });
    assert.match(await one.inputValue('#join-nick'), /^guest-[0-9a-f]{4}$/, 'a nickname is suggested');
    assert.match(await one.textContent('#join-title'), /friends/);
    // A nickname that breaks the rules is refused in the form, before anything is sent.
    await one.fill('#join-nick', 'é'.repeat(33)); // 33 characters, 66 bytes
    await one.click('#join-submit');
    assert.match(await one.textContent('#join-status'), /at most 64 bytes/);
    await one.fill('#join-nick', '   ');
    await one.click('#join-submit');
    assert.match(await one.textContent('#join-status'), /at least one character/);
    assert.equal((await adminView()).chain.filter((e) => e.data.gsio === 'redeem').length, 0);
    await shot(one, '8-join-form');

    authorKey = await join(one, nick);
    assert.equal(new URL(one.url()).hash, '', 'the invite left the address bar');
    assert.equal(await one.isVisible('#access'), false);
    // The redemption on the chain names the browser's key and the nick.
    const { chain } = await adminView();
    const redemptions = chain.filter((e) => e.data.gsio === 'redeem');
    assert.equal(redemptions.length, 1);
    assert.equal(redemptions[0].data.key, authorKey);
    assert.equal(redemptions[0].data.nick, nick);

    // Posting signs as the author: the node stores the block of the browser's key.
    await one.fill('#note-text', text);
    await one.click('#note-submit');
    await one.waitForSelector('#note-status:has-text("Added")', { timeout: 10000 });
    const posted = (await adminView()).chain.find((e) => e.data.text === text);
    assert.ok(posted, 'the note is on the chain');
    assert.equal(posted.data.author.key, authorKey);
    assert.equal(posted.data.nickname, undefined, 'the nick comes from the membership, not from the note');
    const mine = one.locator('#feed li', { hasText: text }).locator('.author');
    await mine.waitFor({ timeout: 10000 });
    assert.equal(await mine.getAttribute('data-verified'), 'true');

    // The second person joins on node B (its own origin, its own key) and sees the post.
    await two.goto(await inviteLink(nodes[1]));
    const otherKey = await join(two, 'otto');
    assert.notEqual(otherKey, authorKey);
    const badge = two.locator('#feed li', { hasText: text }).locator('.author');
    await badge.waitFor({ timeout: 15000 });
    assert.equal(await badge.getAttribute('data-verified'), 'true');
    assert.equal(await badge.getAttribute('data-author'), authorKey);
    assert.equal(await badge.textContent(), `✔ ${nick} (${fingerprint(authorKey)})`);
    assert.match(await badge.getAttribute('title'), /signature was checked in your browser/);
    const [r, g, b] = (await badge.evaluate((el) => getComputedStyle(el).color)).match(/\d+/g).map(Number);
    assert.ok(g > r && g > b, 'a verified author is shown in green');
    await two.waitForSelector('#verify-badge[data-state="verified"]', { timeout: 10000 });

    // The members view: both admissions, by the admin who signed the invites, newest first.
    const admitted = two.locator(`#member-changes li[data-op="admitted"][data-key="${authorKey}"]`);
    await admitted.waitFor({ timeout: 10000 });
    assert.equal(await admitted.getAttribute('data-by'), adminKey);
    assert.match(await admitted.textContent(), new RegExp(`${nick} \\(${fingerprint(authorKey)}\\) admitted as author by admin \\(${fingerprint(adminKey)}\\)`));
    const newest = two.locator('#member-changes li').first();
    await two.waitForFunction((key) => document.querySelector('#member-changes li')?.dataset.key === key, otherKey);
    assert.match(await newest.textContent(), /otto/);
    assert.equal(await two.locator(`#members li[data-key="${authorKey}"][data-role="author"]`).count(), 1);
    assert.equal(await two.locator('#feed li', { hasText: `${nick} joined with an invite as author` }).count(), 1,
                 'the redemption reads as words');
    await shot(two, '9-private-feed-and-members');

    for (const page of [one, two]) assert.deepEqual(page.errors, []);
  });

  it('stays joined on a reload and on the spent link, without a second redemption', async () => {
    const before = await adminView();
    const one = await newPage(contexts[0]);
    await one.goto(`${nodes[0].url}/`);
    await one.waitForSelector('body[data-ready="true"]', { timeout: 15000 });
    await one.locator('#me:not([hidden])').waitFor({ timeout: 10000 });
    assert.equal(await one.textContent('#me'), `you are ${nick} (${fingerprint(authorKey)})`);
    await one.locator('#feed li', { hasText: text }).waitFor({ timeout: 10000 });
    // The invite link again: the stored key answers, the form does not come back.
    await one.reload();
    await one.waitForSelector('body[data-ready="true"]', { timeout: 15000 });
    await one.locator('#me:not([hidden])').waitFor({ timeout: 10000 });
    assert.equal(await one.isVisible('#join'), false);
    await one.goto('about:blank');
    await one.goto(firstLink);
    await one.waitForSelector('body[data-ready="true"]', { timeout: 15000 });
    await one.locator('#me:not([hidden])').waitFor({ timeout: 10000 });
    assert.equal(await one.isVisible('#join'), false);
    assert.equal(new URL(one.url()).hash, '');
    await one.waitForFunction((n) => document.getElementById('members-section').dataset.changes === String(n),
                              before.members.changes.length);
    const afterwards = await adminView();
    assert.equal(afterwards.chain.length, before.chain.length, 'nothing was added');
    assert.equal(afterwards.members.changes.length, before.members.changes.length);
    assert.deepEqual(one.errors, []);
  });

  it('turns an author badge red when the author\'s signature is changed on the way to the page', async () => {
    // One hex digit of every author signature flips in transit; the entry is otherwise intact.
    let tampered = 0;
    const tamper = (message) => message.replace(/("author":\{"key":"[0-9a-f]{64}","sig":")([0-9a-f])/g, (_, head, digit) => {
      tampered++;
      return head + (digit === '0' ? '1' : '0');
    });
    const page = await newPage(contexts[0]);
    await tamperInTransit(page, tamper);
    await page.goto(`${nodes[0].url}/`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 15000 });
    const badge = page.locator('#feed li', { hasText: text }).locator('.author');
    await badge.waitFor({ timeout: 15000 });
    assert.ok(tampered > 0, 'a signature was changed on its way');
    assert.equal(await badge.getAttribute('data-verified'), 'false');
    assert.match(await badge.textContent(), new RegExp(`^✖ ${nick} `));
    assert.match(await badge.getAttribute('title'), /does not verify: the author's signature by [0-9a-f]{16} is invalid/);
    const [r, g, b] = (await badge.evaluate((el) => getComputedStyle(el).color)).match(/\d+/g).map(Number);
    assert.ok(r > g && r > b, 'the badge is red');
    // The entry's hash covers its data: the chain check fails there as well.
    await page.waitForSelector('#verify-badge[data-state="failed"]', { timeout: 10000 });
    assert.match(await page.textContent('#verify-badge'), /bad_hash/);
    await shot(page, '10-author-tampered');
    assert.deepEqual(page.errors, []);
  });
});
