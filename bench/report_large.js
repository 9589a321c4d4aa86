'use strict';
// Section (i) of bench/RESULTS.md (issue 23): a node on a large store beside one on a small store,
// in the same bench run: how long it takes to serve and to finish verifying, its memory, and
// whether pages and adds slow down with the length of the history.
const { median, spread, int, fix } = require('./report_util');

const mib = (kib) => fix(kib / 1024, 0);

function largeLedgerSection(runs, ctx) {
  const k = ctx.knobs;
  const pick = (label, mode) => runs.filter((r) => r.label === label && r.mode === mode);
  const large = pick('large', 'background');
  const full = pick('large', 'full');
  const small = pick('small', 'background');
  const out = [];
  const w = (s = '') => out.push(s);
  const store = k.large_store || {};
  w(`## (i) Large ledger: a node on ${int(k.large_entries)} stored entries`);
  w();
  w(`\`gsio-bench mkstore\` wrote ${int(k.large_entries)} chained entries signed by one key ` +
    `${store.reused ? '(before this run: LARGE_STORE) ' : ''}` +
    `(${[store.db_bytes ? `${fix(store.db_bytes / 2 ** 20, 0)} MiB, ${int(store.db_bytes / k.large_entries)} bytes per entry` : '',
        store.seconds ? `${fix(store.seconds, 1)} s` : ''].filter(Boolean).join(', ')}` +
    `) and ${int(k.large_small)} for the small node. Each run starts a node ` +
    'on the small store and on the large one with `--verify-on-start background` (the default: links and hashes ' +
    'before it serves, signatures after, on low-priority threads), then on the large one with `--verify-on-start full` ' +
    '(everything before it serves). Ready: spawn → the "ready on" log line. Verified: until `/health` says ' +
    '`start_check.state` `done`. Pages: `gsio-bench pages`, 300 `get_ledger` pages of 100 entries at each height, ' +
    'the heights in turn, once verified. Adds: `gsio-bench ingest --clients 4 --window 4`, 5 s measured.');
  w();
  w('| node | ready (s) | RSS ready (MiB) | fully verified (s) | RSS verified (MiB) |');
  w('|---|---|---|---|---|');
  const row = (label, rs, verified) => {
    if (!rs.length) return;
    w(`| ${label} | ${spread(rs, (r) => r.ready_s, (x) => fix(x, 2))} | ${spread(rs, (r) => r.rss_ready_kib, mib)} | ` +
      `${verified ? spread(rs, (r) => r.verified_s, (x) => fix(x, 2)) : '(= ready)'} | ` +
      `${verified ? spread(rs, (r) => r.rss_verified_kib, mib) : '–'} |`);
  };
  row(`${int(k.large_entries)} entries, background`, large, true);
  row(`${int(k.large_entries)} entries, full`, full, false);
  row(`${int(k.large_small)} entries, background`, small, true);
  w();
  const pageAt = (r, which) => r.pages.pages[which].latency_ms;
  if (large.length && small.length) {
    w('| node | page at height 10: p50 / p99 ms | page near the tip: p50 / p99 ms | adds/s | add p50 / p99 ms |');
    w('|---|---|---|---|---|');
    for (const [label, rs] of [[`${int(k.large_entries)} entries`, large], [`${int(k.large_small)} entries`, small]]) {
      w(`| ${label} | ${spread(rs, (r) => pageAt(r, 0).p50, fix)} / ${spread(rs, (r) => pageAt(r, 0).p99, fix)} | ` +
        `${spread(rs, (r) => pageAt(r, 1).p50, fix)} / ${spread(rs, (r) => pageAt(r, 1).p99, fix)} | ` +
        `${spread(rs, (r) => r.ingest.entries_per_s, int)} | ${spread(rs, (r) => r.ingest.latency_ms.p50, fix)} / ` +
        `${spread(rs, (r) => r.ingest.latency_ms.p99, fix)} |`);
    }
    w();
  }
  const summary = [];
  if (large.length) {
    const ready = median(large.map((r) => r.ready_s));
    const rss = median(large.map((r) => r.rss_verified_kib));
    summary.push([`(i) ${int(k.large_entries)} stored entries: ready (background check)`, `${fix(ready, 1)} s`,
      full.length ? `${fix(median(full.map((r) => r.ready_s)), 1)} s (full check first)` : '–',
      full.length ? `${fix(ready / median(full.map((r) => r.ready_s)))}×` : '–', '≤ 3 s', ready <= 3 ? 'yes' : '**no**']);
    summary.push([`(i) ${int(k.large_entries)} stored entries: RSS`, `${mib(rss)} MiB`, '–', '–',
      `≤ 256 MiB at 10M (≈ ${fix(256 * k.large_entries / 1e7, 0)} MiB here, pro rata)`,
      rss / 1024 <= 256 * k.large_entries / 1e7 ? 'yes' : '**no**']);
    if (small.length) {
      const tip = median(large.map((r) => pageAt(r, 1).p50));
      const smallTip = median(small.map((r) => pageAt(r, 1).p50));
      summary.push([`(i) page near the tip of ${int(k.large_entries)} entries, p50`, `${fix(tip)} ms`,
        `${fix(smallTip)} ms (${int(k.large_small)} entries)`, `${fix(tip / smallTip)}×`, '≤ 2×', tip / smallTip <= 2 ? 'yes' : '**no**']);
    }
  }
  w('| # | node | mode | cores busy before | ready s | verified s | RSS ready / verified MiB |');
  w('|---|---|---|---|---|---|---|');
  runs.forEach((r, i) => {
    w(`| ${i + 1} | ${r.label} (${int(r.height)}) | ${r.mode} | ${fix(r.busy_cores_before)} | ${fix(r.ready_s)} | ` +
      `${r.verified_s === null ? '–' : fix(r.verified_s)} | ${mib(r.rss_ready_kib)} / ${r.rss_verified_kib === null ? '–' : mib(r.rss_verified_kib)} |`);
  });
  w();
  return { summary, lines: out };
}

module.exports = { largeLedgerSection };
