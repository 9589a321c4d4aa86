'use strict';
// GET /metrics (Prometheus text format 0.0.4), /health/live and /health/ready of a real gsio-node:
// the text is well formed (checked here and, when installed, by promtool) and the counters move
// with real traffic over websocket and polling.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');
const h = require('./lib/harness');

const PROMTOOL = '/usr/bin/promtool';
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

// Parses the text format into families ({help, type}) and samples ({name, labels, value}).
// Throws on any line that is neither a comment nor a well-formed sample.
function parseExposition(text) {
  const families = new Map();
  const samples = [];
  const family = (name) => {
    if (!families.has(name)) families.set(name, { help: null, type: null });
    return families.get(name);
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (m) {
      const f = family(m[2]);
      if (m[1] === 'HELP') f.help = m[3];
      else f.type = m[3];
      continue;
    }
    m = /^([^{\s]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
    const labels = {};
    if (m[2]) {
      const labelRe = /([^=,]+)="((?:[^"\\]|\\.)*)"(,|$)/gy;
      let lm;
      let consumed = 0;
      while ((lm = labelRe.exec(m[2])) !== null) {
        assert.match(lm[1], LABEL_NAME, `label name in ${line}`);
        labels[lm[1]] = lm[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
        consumed = labelRe.lastIndex;
        if (lm[3] === '') break;
      }
      assert.equal(consumed, m[2].length, `malformed labels in ${line}`);
    }
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    assert.ok(m[3] === 'NaN' || !Number.isNaN(value), `bad value in ${line}`);
    samples.push({ name: m[1], labels, value });
  }
  return { families, samples };
}

// The family a sample belongs to: histograms' _bucket/_sum/_count samples belong to the base name.
function familyOf(name, families) {
  const hm = /^(.*)_(bucket|sum|count)$/.exec(name);
  if (hm && families.get(hm[1])?.type === 'histogram') return hm[1];
  return name;
}

function value(parsed, name, labels = {}) {
  const found = parsed.samples.filter((s) => s.name === name
    && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.equal(found.length, 1, `exactly one sample ${name} ${JSON.stringify(labels)}`);
  return found[0].value;
}

async function scrape(node) {
  const res = await fetch(`${node.url}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  return { res, text, parsed: parseExposition(text) };
}

// Polls until `check(parsed)` returns true (the snapshot is refreshed every second).
async function scrapeUntil(node, what, check, ms = 10000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = (await scrape(node)).parsed;
    if (check(last)) return last;
    if (Date.now() > deadline) assert.fail(`metrics never showed ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function waitReady(node, ms = 10000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await fetch(`${node.url}/health/ready`);
    const body = await res.json();
    if (res.status === 200) return body;
    assert.equal(res.status, 503);
    if (Date.now() > deadline) assert.fail(`never ready: ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('gsio-node /metrics and health probes', () => {
  let node;
  before(async () => {
    node = await h.startNode();
  });
  after(h.cleanup);

  it('answers /health/live and /health/ready, and /health keeps its fields', async () => {
    const live = await fetch(`${node.url}/health/live`);
    assert.equal(live.status, 200);
    assert.match(live.headers.get('content-type'), /application\/json/);
    assert.deepEqual(await live.json(), { status: 'live' });

    const ready = await waitReady(node);
    assert.deepEqual(ready, { status: 'ready', ledger_loaded: true, listening: true });

    const health = await h.health(node);
    assert.equal(health.status, 'ok');
    for (const key of ['node_id', 'height', 'tip_hash', 'entries', 'sessions', 'uptime_ms'])
      assert.ok(key in health, `/health has ${key}`);

    assert.equal((await fetch(`${node.url}/metrics`, { method: 'POST' })).status, 405);
  });

  it('serves well-formed exposition text with HELP and TYPE for every metric', async () => {
    await waitReady(node);
    const { res, text, parsed } = await scrape(node);
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    assert.ok(text.endsWith('\n'));
    assert.ok(parsed.samples.length > 0);
    for (const [name, f] of parsed.families) {
      assert.match(name, METRIC_NAME);
      assert.ok(f.help !== null, `HELP for ${name}`);
      assert.ok(['counter', 'gauge', 'histogram'].includes(f.type), `TYPE for ${name}: ${f.type}`);
      if (f.type === 'counter') assert.match(name, /_total$/);
    }
    for (const s of parsed.samples) {
      assert.match(s.name, METRIC_NAME);
      const f = parsed.families.get(familyOf(s.name, parsed.families));
      assert.ok(f && f.help !== null && f.type !== null, `HELP and TYPE for sample ${s.name}`);
    }
    // Every metric the node promises, present from the first scrape.
    for (const name of [
      'gsio_process_uptime_seconds', 'gsio_node_info', 'gsio_ledger_entries', 'gsio_ledger_height',
      'gsio_ledger_forks', 'gsio_ledger_held_entries', 'gsio_ledger_entries_appended_total',
      'gsio_ledger_entries_rejected_total', 'gsio_ledger_commits_total',
      'gsio_ledger_orphans_reappended_total', 'gsio_ledger_reorgs_total',
      'gsio_ledger_append_latency_seconds', 'gsio_ledger_commit_batch_entries', 'gsio_peers',
      'gsio_p2p_links', 'gsio_relay_link_up', 'gsio_p2p_messages_received_total',
      'gsio_p2p_messages_sent_total', 'gsio_sync_entries_received_total',
      'gsio_sync_entries_sent_total', 'gsio_engineio_sessions', 'gsio_socketio_sockets',
      'gsio_engineio_packets_received_total', 'gsio_engineio_packets_sent_total',
      'gsio_engineio_protocol_errors_total',
    ]) assert.ok(parsed.families.has(name), `family ${name}`);
    assert.equal(parsed.families.get('gsio_ledger_append_latency_seconds').type, 'histogram');
    assert.equal(value(parsed, 'gsio_ledger_append_latency_seconds_bucket', { le: '+Inf' }),
                 value(parsed, 'gsio_ledger_append_latency_seconds_count'));
    assert.equal(value(parsed, 'gsio_relay_link_up'), 0);  // started without --relay
    assert.equal(value(parsed, 'gsio_p2p_messages_received_total', { type: 'EntryAnnounce' }), 0);
    assert.ok(value(parsed, 'gsio_process_uptime_seconds') > 0);
    const health = await h.health(node);
    assert.equal(value(parsed, 'gsio_node_info', { node_id: health.node_id }), 1);
  });

  it('moves the ledger, latency and session metrics with adds over websocket and polling', async () => {
    await waitReady(node);
    const before = (await scrape(node)).parsed;
    const ws = await h.connect(node.url, { transport: 'websocket' });
    const polling = await h.connect(node.url, { transport: 'polling' });
    const adds = 6;
    for (let i = 0; i < adds / 2; ++i) {
      const acks = await Promise.all([
        h.emitAck(ws, 'add_ledger_entry', { via: 'websocket', i }),
        h.emitAck(polling, 'add_ledger_entry', { via: 'polling', i }),
      ]);
      for (const entry of acks) assert.match(entry.hash, /^[0-9a-f]{64}$/);
    }
    const base = (name, labels) => value(before, name, labels);
    const after = await scrapeUntil(node, `${adds} more entries`, (p) =>
      value(p, 'gsio_ledger_entries') >= base('gsio_ledger_entries') + adds);

    assert.equal(value(after, 'gsio_ledger_height'), base('gsio_ledger_height') + adds);
    assert.equal(value(after, 'gsio_ledger_entries_appended_total', { origin: 'local' }),
                 base('gsio_ledger_entries_appended_total', { origin: 'local' }) + adds);
    const commits = value(after, 'gsio_ledger_commits_total') - base('gsio_ledger_commits_total');
    assert.ok(commits >= 1 && commits <= adds, `commits moved by ${commits}`);
    assert.equal(value(after, 'gsio_ledger_append_latency_seconds_count'),
                 base('gsio_ledger_append_latency_seconds_count') + adds);
    assert.ok(value(after, 'gsio_ledger_append_latency_seconds_sum')
              > base('gsio_ledger_append_latency_seconds_sum'));
    assert.equal(value(after, 'gsio_ledger_commit_batch_entries_sum'),
                 base('gsio_ledger_commit_batch_entries_sum') + adds);
    assert.equal(value(after, 'gsio_ledger_commit_batch_entries_count'),
                 base('gsio_ledger_commit_batch_entries_count') + commits);
    // Cumulative buckets never decrease from one bound to the next.
    const buckets = after.samples.filter((s) => s.name === 'gsio_ledger_append_latency_seconds_bucket');
    for (let i = 1; i < buckets.length; ++i) assert.ok(buckets[i].value >= buckets[i - 1].value);
    assert.ok(value(after, 'gsio_broadcast_entries_total') >= adds);

    // Both clients are still connected: the live gauges count them.
    const live = (await scrape(node)).parsed;
    assert.ok(value(live, 'gsio_engineio_sessions', { transport: 'websocket' }) >= 1);
    assert.ok(value(live, 'gsio_engineio_sessions', { transport: 'polling' }) >= 1);
    assert.ok(value(live, 'gsio_socketio_sockets', { namespace: '/' }) >= 2);
    assert.equal(value(live, 'gsio_socketio_sockets', { namespace: '/p2p' }), 0);
    assert.ok(value(live, 'gsio_socketio_connects_total') >= 2);
    assert.ok(value(live, 'gsio_engineio_packets_received_total')
              >= base('gsio_engineio_packets_received_total') + adds);
    assert.ok(value(live, 'gsio_engineio_packets_sent_total')
              > base('gsio_engineio_packets_sent_total'));

    ws.disconnect();
    polling.disconnect();
    await scrapeUntil(node, 'the sockets gone', (p) =>
      value(p, 'gsio_socketio_sockets', { namespace: '/' }) === 0
      && value(p, 'gsio_engineio_sessions', { transport: 'websocket' }) === 0);
  });

  it('passes promtool check metrics', async (t) => {
    if (!fs.existsSync(PROMTOOL)) {
      // CI installs it (scripts/setup.sh --test); a developer machine may not have it.
      if (process.env.CI) assert.fail(`${PROMTOOL} is missing: install the Debian package prometheus`);
      t.skip(`${PROMTOOL} not installed (apt-get install --no-install-recommends prometheus)`);
      return;
    }
    await waitReady(node);
    const { text } = await scrape(node);
    const check = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(check.status, 0, `promtool check metrics:\n${check.stdout}${check.stderr}\n${text}`);
  });
});
