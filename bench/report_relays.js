'use strict';
// The relay-tier sections of bench/RESULTS.md (issue 21): (f) propagation across two relays
// joined through NATS beside one relay, (g) fan-out through NATS beside one relay. Both compare
// two topologies run alternately in the same bench run, so the ratio is the NATS hop's cost.
const { median, spread, int, fix } = require('./report_util');

const byTopology = (runs) => ({ nats: runs.filter((r) => r.peer === 'nats'), one: runs.filter((r) => r.peer === 'one') });

function propagationRelaysSection(runs, ctx) {
  const k = ctx.knobs;
  const { nats, one } = byTopology(runs);
  const out = [];
  const w = (s = '') => out.push(s);
  w('## (f) Propagation across relays joined through NATS');
  w();
  w(`As (b) at ${k.prop_rate} adds/s (${k.prop_writers} writers on node 1, a subscriber on node ` +
    `${k.prop_nodes}, ${k.prop_duration_s} s measured after 1 s), twice per run: with node 1 on relay A and ` +
    `node ${k.prop_nodes} on relay B, the relays joined through one \`nats-server\` (\`gsio-relay --nats\`), and ` +
    'with every node on one relay. The two alternate, fresh processes each time.');
  w();
  w('| topology | delivered/s | p50 ms | p90 ms | p99 ms | max ms |');
  w('|---|---|---|---|---|---|');
  for (const [label, rs] of [['two relays + NATS', nats], ['one relay', one]]) {
    if (!rs.length) continue;
    w(`| ${label} | ${spread(rs, (r) => r.delivered_per_s, (x) => fix(x, 1))} | ` +
      `${spread(rs, (r) => r.latency_ms.p50, (x) => fix(x))} | ${spread(rs, (r) => r.latency_ms.p90, (x) => fix(x))} | ` +
      `${spread(rs, (r) => r.latency_ms.p99, (x) => fix(x))} | ${spread(rs, (r) => r.latency_ms.max, (x) => fix(x))} |`);
  }
  w();
  const summary = [];
  if (nats.length && one.length) {
    const p50 = [median(nats.map((r) => r.latency_ms.p50)), median(one.map((r) => r.latency_ms.p50))];
    const p99 = [median(nats.map((r) => r.latency_ms.p99)), median(one.map((r) => r.latency_ms.p99))];
    w(`**The NATS hop's cost (medians, two relays + NATS / one relay): p50 ${fix(p50[0] / p50[1])}×, ` +
      `p99 ${fix(p99[0] / p99[1])}×** (${fix(p50[0] - p50[1])} ms more at p50).`);
    w();
    w('**What limits it.** An entry crosses two more sockets and one more process than through one relay: ' +
      'relay A publishes the envelope (libnats writes it from its own flusher thread), nats-server routes it, ' +
      'relay B\'s libnats delivery thread hands it to the node\'s connection strand. On ' +
      `${ctx.nproc} cores, ${k.prop_nodes} nodes, two relays, nats-server and the load generator share the ` +
      'machine, so each hop may also wait for a core; the difference between the topologies, not the absolute ' +
      'figure, is what the hop costs here.');
    w();
    summary.push([`(f) propagation across 2 relays via NATS, ${k.prop_rate}/s, p50 / p99`,
      `${fix(p50[0])} / ${fix(p99[0])} ms`, `${fix(p50[1])} / ${fix(p99[1])} ms (one relay)`,
      `${fix(p50[0] / p50[1])}× / ${fix(p99[0] / p99[1])}×`, '– (the hop\'s cost)', '–']);
  }
  w('| # | topology | cores busy before | delivered/s | p50 ms | p99 ms |');
  w('|---|---|---|---|---|---|');
  runs.forEach((r, i) => {
    w(`| ${i + 1} | ${r.peer} | ${fix(r.busy_cores_before)} | ${fix(r.delivered_per_s, 1)} | ${fix(r.latency_ms.p50)} | ${fix(r.latency_ms.p99)} |`);
  });
  w();
  return { summary, lines: out };
}

function fanoutRelaysSection(runs, ctx) {
  const k = ctx.knobs;
  const { nats, one } = byTopology(runs);
  const out = [];
  const w = (s = '') => out.push(s);
  const peers = runs[0].peers;
  w('## (g) Fan-out through NATS');
  w();
  w(`${peers} peers as in (c), every one broadcasting: split ${peers / 2} and ${peers / 2} over two relays joined ` +
    `through one \`nats-server\`, beside all ${peers} on one relay. Either way each broadcast reaches the ` +
    `${peers - 1} other peers; through NATS it crosses once, whatever the number of peers on the other relay. ` +
    `${k.fanout_duration_s} s measured after 1 s. Relay CPU is the relays' (and nats-server's) together.`);
  w();
  w('| topology | deliveries/s | broadcasts/s | fan-out p50 ms | fan-out p99 ms | relay + NATS CPU (cores) | load-gen CPU |');
  w('|---|---|---|---|---|---|---|');
  for (const [label, rs] of [[`2 relays × ${peers / 2} + NATS`, nats], [`1 relay × ${peers}`, one]]) {
    if (!rs.length) continue;
    w(`| ${label} | ${spread(rs, (r) => r.delivered_per_s, int)} | ${spread(rs, (r) => r.broadcasts_per_s, int)} | ` +
      `${spread(rs, (r) => r.fanout_latency_ms.p50, (x) => fix(x))} | ${spread(rs, (r) => r.fanout_latency_ms.p99, (x) => fix(x))} | ` +
      `${spread(rs, (r) => r.server_cpu_cores, (x) => fix(x))} | ${spread(rs, (r) => r.client_cpu_util * 100, (x) => `${fix(x, 0)} %`)} |`);
  }
  w();
  const summary = [];
  if (nats.length && one.length) {
    const rate = [median(nats.map((r) => r.delivered_per_s)), median(one.map((r) => r.delivered_per_s))];
    const cpu = [median(nats.map((r) => r.server_cpu_cores)), median(one.map((r) => r.server_cpu_cores))];
    const lg = median(nats.map((r) => r.client_cpu_util));
    w(`**Two relays through NATS / one relay (medians of deliveries/s): ${fix(rate[0] / rate[1])}×.**`);
    w();
    const parts = [];
    parts.push(`The relays and nats-server used ${fix(cpu[0])} cores against ${fix(cpu[1])} for one relay: ` +
      `${fix(cpu[0] > 0 ? rate[0] / cpu[0] / 1000 : 0, 0)}k vs ${fix(cpu[1] > 0 ? rate[1] / cpu[1] / 1000 : 0, 0)}k ` +
      'deliveries per CPU-second. Through NATS each relay delivers to half the peers, and publishes and ' +
      'receives each broadcast once more (the envelope without the WebSocket header, then a new frame on the ' +
      'other side).');
    parts.push(`The load generator, which receives every delivery, used ${fix(lg * 100, 0)} % of a core; on ` +
      `${ctx.nproc} cores it competes with the relays, so two relays cannot show the capacity that two hosts ` +
      'would give them.');
    w('**What limits it.** ' + parts.join(' '));
    w();
    summary.push([`(g) fan-out, 2 relays × ${peers / 2} peers via NATS, deliveries/s`, spread(nats, (r) => r.delivered_per_s, int),
      `${int(rate[1])} (1 relay × ${peers})`, `${fix(rate[0] / rate[1])}×`, '– (reported)', '–']);
  }
  w('| # | topology | cores busy before | deliveries/s | fan-out p50 ms | p99 ms | relay + NATS CPU | load-gen CPU |');
  w('|---|---|---|---|---|---|---|---|');
  runs.forEach((r, i) => {
    w(`| ${i + 1} | ${r.peer} | ${fix(r.busy_cores_before)} | ${int(r.delivered_per_s)} | ${fix(r.fanout_latency_ms.p50)} | ` +
      `${fix(r.fanout_latency_ms.p99)} | ${fix(r.server_cpu_cores)} | ${fix(r.client_cpu_util * 100, 0)} % |`);
  });
  w();
  return { summary, lines: out };
}

module.exports = { propagationRelaysSection, fanoutRelaysSection };
