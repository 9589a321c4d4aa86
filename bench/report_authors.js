'use strict';
// Section (h) of bench/RESULTS.md (issue 20): ingest (a) with author-signed entries on a private
// network's node beside node-signed ones on an open node, run alternately in the same bench run,
// so the ratio is what the author's signature costs the node.
const { median, spread, int, fix } = require('./report_util');

function authorIngestSection(runs, ctx) {
  const k = ctx.knobs;
  const authored = runs.filter((r) => r.peer === 'gsio-author');
  const open = runs.filter((r) => r.peer === 'gsio-node');
  const out = [];
  const w = (s = '') => out.push(s);
  w('## (h) Ingest with author-signed entries');
  w();
  w(`(a) twice per run, alternating, fresh processes each time: against a private network's node ` +
    '(`gsio-node --network`, a charter admitting the node and one author) where every client first proves ' +
    "the author's key (`authenticate`) and every add carries an author block that gsio-bench signs " +
    '(`ledger::add_author_block`), and against an open node taking the same adds without one. The node ' +
    "checks each author block (DESIGN §10: the author's membership at the parent and one more Ed25519 " +
    'verify) before it signs and stores the entry as its creator. ' +
    `${k.ingest_args}, ${k.ingest_duration_s} s measured.`);
  w();
  w('| entries | entries/s | p50 ms | p99 ms | server CPU (cores) | add → durable in the ledger (ms) | load-gen CPU |');
  w('|---|---|---|---|---|---|---|');
  for (const [label, rs] of [['author-signed (private network)', authored], ['node-signed (open network)', open]]) {
    if (!rs.length) continue;
    const ledgerMs = rs.every((r) => r.server_ledger_ms !== undefined)
      ? spread(rs, (r) => r.server_ledger_ms, (x) => fix(x)) : '–';
    w(`| ${label} | ${spread(rs, (r) => r.entries_per_s, int)} | ${spread(rs, (r) => r.latency_ms.p50, (x) => fix(x))} | ` +
      `${spread(rs, (r) => r.latency_ms.p99, (x) => fix(x))} | ${spread(rs, (r) => r.server_cpu_cores, (x) => fix(x))} | ` +
      `${ledgerMs} | ${spread(rs, (r) => r.client_cpu_util * 100, (x) => `${fix(x, 0)} %`)} |`);
  }
  w();
  const summary = [];
  if (authored.length && open.length) {
    const rate = [median(authored.map((r) => r.entries_per_s)), median(open.map((r) => r.entries_per_s))];
    const cpu = [median(authored.map((r) => r.server_cpu_cores)), median(open.map((r) => r.server_cpu_cores))];
    // CPU-seconds per entry, in µs: what an author-signed entry costs the node beyond a node-signed one.
    const perEntry = cpu.map((c, i) => (rate[i] > 0 ? (c / rate[i]) * 1e6 : 0));
    const verifyUs = ctx.limits.ed25519_verify_new_key_per_s ? 1e6 / ctx.limits.ed25519_verify_new_key_per_s : null;
    const cachedUs = ctx.limits.ed25519_verify_per_s ? 1e6 / ctx.limits.ed25519_verify_per_s : null;
    w(`**Author-signed / node-signed (medians of entries/s): ${fix(rate[0] / rate[1])}×** ` +
      `(${int(rate[0])} vs ${int(rate[1])} entries/s).`);
    w();
    const ledgerMs = [median(authored.map((r) => r.server_ledger_ms ?? 0)), median(open.map((r) => r.server_ledger_ms ?? 0))];
    const parts = [];
    parts.push(`The node spent ${fix(perEntry[0], 1)} µs of CPU per author-signed entry against ` +
      `${fix(perEntry[1], 1)} µs per node-signed one (server CPU ÷ entries/s), ${fix(perEntry[0] - perEntry[1], 1)} µs more.`);
    if (verifyUs && cachedUs)
      parts.push(`Of that, one Ed25519 verify is ${fix(cachedUs, 1)} µs on this machine (a key with precomputed ` +
        `tables, as an author who posts often has; ${fix(verifyUs, 1)} µs the first time, \`gsio-bench limits\`), ` +
        'and reading the block is a JSON parse of the data, its canonical form without `sig` and a SHA-256; ' +
        'the ledger checks it once per add (`ledger::admit`, then handed to the tree).');
    parts.push('The block also makes every entry about 240 bytes (≈ 55 %) longer, so the node hashes and signs ' +
      'more, and writes more bytes in the ack and in each of the 32 `ledger_entry_added` pushes; and each ' +
      'client session parses the data to check that the block names the key its connection proved.');
    if (ledgerMs[0] > 0 && ledgerMs[1] > 0)
      parts.push(`As in (a), the rate follows the time an add waits (Little's law): from reaching the ledger actor ` +
        `to being durable it took ${fix(ledgerMs[0])} ms against ${fix(ledgerMs[1])} ms, since the ledger checks ` +
        'and signs on its one thread while the batch waits; the server was not CPU-bound ' +
        `(${fix(cpu[0])} and ${fix(cpu[1])} of ${ctx.nproc} cores).`);
    w('**What it costs, and why.** ' + parts.join(' '));
    w();
    summary.push(['(h) ingest, author-signed entries/s', spread(authored, (r) => r.entries_per_s, int),
      `${int(rate[1])} (node-signed, open node)`, `${fix(rate[0] / rate[1])}×`, '– (the author check\'s cost)', '–']);
  }
  w('| # | entries | cores busy before | entries/s | p50 ms | p99 ms | refused | server CPU | load-gen CPU |');
  w('|---|---|---|---|---|---|---|---|---|');
  runs.forEach((r, i) => {
    w(`| ${i + 1} | ${r.peer === 'gsio-author' ? 'author-signed' : 'node-signed'} | ${fix(r.busy_cores_before)} | ` +
      `${int(r.entries_per_s)} | ${fix(r.latency_ms.p50)} | ${fix(r.latency_ms.p99)} | ${r.refused} | ` +
      `${fix(r.server_cpu_cores)} | ${fix(r.client_cpu_util * 100, 0)} % |`);
  });
  w();
  return { summary, lines: out };
}

module.exports = { authorIngestSection };
