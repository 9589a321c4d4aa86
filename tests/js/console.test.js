'use strict';
// The debug console (gsio-node --admin, `gsio console`) in a real terminal: tmux runs
// `gsio console` against a node of a small cluster (relay + 2 nodes), the test types every
// console command, captures the screen and asserts what it shows. Then one-shot mode (-c), stdin
// mode, and the error exit codes. The node's side branch, held entry and pull in flight are made
// by a fake peer on its /p2p namespace, so `forks`, `orphans` and `sync` have something to show.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./lib/harness');
const c = require('./lib/cluster');
const { makeKey, signedEntry, envelope, announceProof } = require('./lib/forge');

const gsioBinary = path.join(h.buildDir, 'src/bin/gsio');
const GENESIS = '0'.repeat(64);

// --- a terminal ------------------------------------------------------------------------------
// One tmux server per test run (its own socket), so nothing touches the user's tmux.
class Terminal {
  constructor(command, env) {
    this.socket = `gsio-console-test-${process.pid}`;
    this.session = 'console';
    this.tmux('new-session', '-d', '-s', this.session, '-x', '200', '-y', '50',
              ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]), command);
    // Keep the pane after the program exits, so its last screen can still be read.
    this.tmux('set-option', '-t', this.session, 'remain-on-exit', 'on');
  }

  tmux(...args) {
    return execFileSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8' });
  }

  screen() {
    return this.tmux('capture-pane', '-p', '-J', '-S', '-5000', '-t', this.session);
  }

  keys(...keys) { this.tmux('send-keys', '-t', this.session, ...keys); }

  paneDead() {
    return this.tmux('display-message', '-p', '-t', this.session, '#{pane_dead}').trim() === '1';
  }

  // Waits until `predicate(screen)` holds and returns the screen.
  async waitFor(predicate, what, timeout = 10000) {
    const deadline = Date.now() + timeout;
    let screen = '';
    while (Date.now() < deadline) {
      screen = this.screen();
      if (predicate(screen)) return screen;
      await c.sleep(50);
    }
    throw new Error(`timed out waiting for ${what}; the screen shows:\n${screen}`);
  }

  // Types `command` and Enter; resolves with what the screen shows after it, once the next prompt
  // is back.
  async run(command, { waitForPrompt = true } = {}) {
    const before = this.screen().split('\n').filter((l) => l.includes(`> ${command}`)).length;
    this.keys('-l', command);
    this.keys('Enter');
    const screen = await this.waitFor((s) => {
      const lines = s.split('\n');
      const echoes = lines.filter((l) => l.includes(`> ${command}`)).length;
      if (echoes <= before) return false;
      if (!waitForPrompt) return true;
      const tail = s.slice(s.lastIndexOf(`> ${command}`));
      return /\n.*gsio [^\n]*> *$/.test(tail.trimEnd() + ' ');
    }, `the reply to '${command}'`);
    const tail = screen.slice(screen.lastIndexOf(`> ${command}`) + 2 + command.length);
    return tail.slice(0, tail.lastIndexOf('gsio '));
  }

  close() {
    try { this.tmux('kill-server'); } catch { /* already gone */ }
  }
}

const { gsio } = h;

function adminPort(node) {
  const m = /debug console on 127\.0\.0\.1:(\d+)/.exec(node.log);
  assert.ok(m, `the node logs where its console listens:\n${node.log}`);
  return Number(m[1]);
}

describe('debug console', () => {
  let relay; let a; let b; let sa; let fake; let p2p; let home; let term; let address;
  const notes = [];
  let side; let held; let missingParent;

  before(async () => {
    relay = await c.startRelay();
    // A second relay url that nobody listens on: the link stays on the first, its list shows both.
    a = await c.startNetNode({ relayUrl: `${relay.url},ws://127.0.0.1:1` });
    b = await c.startNetNode({ relayUrl: relay.url });
    address = `127.0.0.1:${adminPort(a)}`;
    sa = await h.connect(a.url);
    await h.connect(a.url, { transport: 'polling' });  // a second session, on the other transport
    const sb = await h.connect(b.url);
    for (let i = 1; i <= 3; i++) notes.push(await h.emitAck(sa, 'add_ledger_entry', { note: `console-test-${i}` }));
    await c.waitConverged([sa, sb], { minHeight: 3 });

    // A fake peer on a's /p2p: a one-entry branch from genesis (lighter than the chain, so it
    // stays a side branch) and an entry whose parent nobody has (held; a pulls from the fake
    // peer, which never answers, so the pull stays in flight).
    fake = makeKey();
    p2p = await h.connect(a.url, { nsp: '/p2p' });
    const emit = (env) => p2p.timeout(5000).emitWithAck('p2p_message', env);
    const challenge = await p2p.challenge;
    await emit(envelope('NodeAnnounce', fake.id, { node_id: fake.id, protocol: 2, height: 1, tip_hash: GENESIS,
                                                   relay_proof: announceProof(fake, challenge) }));
    side = signedEntry(fake, { note: 'side branch' }, GENESIS);
    await emit(envelope('EntryAnnounce', fake.id, { entry: side }));
    missingParent = crypto.randomBytes(32).toString('hex');
    held = signedEntry(fake, { note: 'waiting for its parent' }, missingParent);
    await emit(envelope('EntryAnnounce', fake.id, { entry: held }));

    home = h.tempDir('gsio-console-home-');
    term = new Terminal(`${gsioBinary} console ${address}`, { HOME: home, TERM: 'xterm' });
    await term.waitFor((s) => /gsio 127\.0\.0\.1:\d+> $/m.test(s), 'the prompt');
  });

  after(async () => {
    if (term) {
      process.stdout.write(`--- the console's last screen ---\n${term.screen()}\n`);
      term.close();
    }
    await c.cleanup();
  });

  it('greets with the node id and shows a prompt', () => {
    const screen = term.screen();
    assert.match(screen, new RegExp(`gsio-node [0-9a-f]{64} debug console; type help`));
  });

  it('sync: the pull from the fake peer is in flight', async () => {
    const out = await term.run('sync');
    assert.match(out, /1 request in flight/);
    assert.match(out, new RegExp(fake.id.slice(0, 12)));
    assert.match(out, /pulls started [1-9]/);
  });

  it('help lists every command', async () => {
    const out = await term.run('help');
    for (const cmd of ['help', 'actors', 'inspect <actor>', 'ledger tail [N]', 'ledger show <id>',
      'ledger verify', 'forks', 'orphans', 'peers', 'sessions', 'relay', 'sync', 'stats',
      'log-level', 'quit']) {
      assert.ok(out.includes(cmd), `help shows ${cmd}:\n${out}`);
    }
  });

  it('actors: every actor with id, mailbox, uptime and messages handled', async () => {
    const out = await term.run('actors');
    const rows = Object.fromEntries(out.split('\n').map((l) => l.trim().split(/\s{2,}/))
      .filter((cells) => cells.length === 5).map((cells) => [cells[0], cells]));
    for (const name of ['ledger', 'peer-registry', 'sync-coordinator', 'gateway', 'relay-link',
      'console', 'client-session']) {
      assert.ok(rows[name], `actors lists ${name}:\n${out}`);
      const [, id, mailbox, uptime, handled] = rows[name];
      assert.match(id, /^\d+$/);
      assert.match(mailbox, /^\d+$/);
      assert.match(uptime, /^\d+(\.\d)?(ms|s)$|^\d+m\d\ds$/);
      assert.match(handled, /^\d+$/);
    }
    assert.ok(Number(rows.ledger[4]) >= 3, 'the ledger handled at least the three adds');
    term.gatewayId = rows.gateway[1];
  });

  it('inspect: an actor\'s state as JSON, by name or by id; an unknown one is an error', async () => {
    const info = await h.emitAck(sa, 'node_info');
    const ledger = await term.run('inspect ledger');
    assert.match(ledger, new RegExp(`"node_id": "${info.node_id}"`));
    assert.match(ledger, /"height": 3/);
    assert.match(ledger, /"actor": \{\s+"name": "ledger"/);
    const gateway = await term.run(`inspect ${term.gatewayId}`);
    assert.match(gateway, /"name": "gateway"/);
    assert.match(gateway, /"websocket_sessions": [1-9]/);
    const missing = await term.run('inspect nobody');
    assert.match(missing, /error: no actor named or numbered 'nobody'/);
    const ambiguous = await term.run('inspect client-session');
    assert.match(ambiguous, /error: 'client-session' names [3-9] actors; inspect one by its id/);
  });

  it('ledger tail, show and verify', async () => {
    const tail = await term.run('ledger tail 2');
    assert.doesNotMatch(tail, /console-test-1/);
    assert.match(tail, /^\s*1 .*"note":"console-test-2"/m);
    assert.match(tail, /^\s*2 .*"note":"console-test-3"/m);
    assert.match(tail, /height 3/);
    const show = await term.run(`ledger show ${notes[0].id}`);
    assert.match(show, new RegExp(`"hash": "${notes[0].hash}"`));
    assert.match(show, /\(on the canonical chain\)/);
    const byHash = await term.run(`ledger show ${side.hash}`);
    assert.match(byHash, /"note": "side branch"/);
    assert.match(byHash, /off the canonical chain/);
    const verify = await term.run('ledger verify');
    assert.match(verify, /ok: all 3 entries of the canonical chain verify/);
  });

  it('forks and orphans show the side branch and the held entry', async () => {
    const forks = await term.run('forks');
    assert.match(forks, /canonical chain: height 3/);
    assert.match(forks, new RegExp(`${side.hash.slice(0, 12)}\\s+\\S+\\s+genesis\\s+1`));
    assert.doesNotMatch(forks, /longest of/, 'the only branch is shown whole');
    assert.match(await term.run('forks 1'), new RegExp(side.hash.slice(0, 12)));
    assert.match(await term.run('forks 0').catch((e) => String(e)), /forks: N must be a number from 1 to 1000/);
    const orphans = await term.run('orphans');
    assert.match(orphans, /1 entries off the canonical chain/);
    assert.match(orphans, /"note":"side branch"/);
    assert.match(orphans, /1 entries held, waiting for an unknown parent/);
    assert.match(orphans, /"note":"waiting for its parent"/);
    assert.match(orphans, new RegExp(`missing parents: ${missingParent.slice(0, 12)}`));
  });

  it('peers, sessions and relay', async () => {
    const infoB = await h.emitAck(await h.connect(b.url), 'node_info');
    // a learns b's height from b's next NodeAnnounce (every ANNOUNCE_MS), which can come after
    // the two converged.
    const bAtHeight3 = new RegExp(`${infoB.node_id.slice(0, 12)}\\s+relay\\s+http://127\\.0\\.0\\.1:${b.port}\\s+3`);
    let peers = await term.run('peers');
    for (const deadline = Date.now() + 5000; !bAtHeight3.test(peers) && Date.now() < deadline;) {
      await c.sleep(100);
      peers = await term.run('peers');
    }
    assert.match(peers, /\(this node\)\s+self/);
    assert.match(peers, bAtHeight3);
    const sessions = await term.run('sessions');
    assert.match(sessions, /\d+\s+websocket\s+\/\s+127\.0\.0\.1/);
    assert.match(sessions, /\d+\s+polling\s+\/\s+127\.0\.0\.1/);
    assert.match(sessions, /\d+\s+websocket\s+\/p2p\s+127\.0\.0\.1/);
    assert.match(sessions, /[3-9] client\(s\)/);
    const relayOut = await term.run('relay');
    assert.match(relayOut, new RegExp(`relay ws://127\\.0\\.0\\.1:${relay.port}`));
    assert.match(relayOut, /state\s+connected since/);
    assert.match(relayOut, /reconnects\s+0/);
    assert.match(relayOut, new RegExp(`failover list\\s+ws://127\\.0\\.0\\.1:${relay.port}, ws://127\\.0\\.0\\.1:1\n`));
    assert.match(relayOut, /failovers\s+0/);
    assert.match(relayOut, /queue\s+\d+ bytes/);
  });

  it('stats summarises the node', async () => {
    const out = await term.run('stats');
    assert.match(out, /height\s+3/);
    assert.match(out, /entries \(all branches\)\s+4/);
    assert.match(out, /held \(unknown parent\)\s+1/);
    assert.match(out, /appended here\s+3/);
  });

  it('log-level changes the node\'s logging at runtime', async () => {
    assert.match(await term.run('log-level'), /log level: info/);
    assert.doesNotMatch(a.log, /Z debug /);
    assert.match(await term.run('log-level debug'), /log level: debug \(was info\)/);
    await term.run('stats');
    await h.waitUntil(() => / debug .*console: connection \d+: stats/.test(a.log), 5000, 'a debug line in the node log', 50);
    assert.match(await term.run('log-level shouting'), /error: unknown log level 'shouting'/);
    assert.match(await term.run('log-level info'), /log level: info \(was debug\)/);
  });

  it('bad commands and arguments get a one-line error and the session goes on', async () => {
    assert.match(await term.run('frobnicate'), /error: unknown command 'frobnicate'; type help/);
    assert.match(await term.run('ledger tail zero'), /error: ledger tail: N must be a number/);
    assert.match(await term.run('ledger'), /error: usage: ledger tail \[N\] \| ledger show <id> \| ledger verify/);
    assert.match(await term.run('peers extra'), /error: usage: peers/);
    assert.match(await term.run('ledger tail 1'), /"note":"console-test-3"/);
  });

  it('line editing and history', async () => {
    const echoes = () => term.screen().split('\n').filter((l) => /> stats$/.test(l)).length;
    const prompts = () => term.screen().split('\n').filter((l) => /^gsio \S+>/.test(l)).length;
    // Type "statz", erase the z, type s: the line sent is "stats".
    let before = echoes();
    let promptsBefore = prompts();
    term.keys('-l', 'statz');
    term.keys('BSpace');
    term.keys('-l', 's');
    term.keys('Enter');
    await term.waitFor(() => echoes() > before && prompts() > promptsBefore, 'the edited line to run');
    assert.match(term.screen(), /> stats\n[\s\S]*appended here\s+3/);
    // Up recalls the last command.
    before = echoes();
    promptsBefore = prompts();
    term.keys('Up');
    term.keys('Enter');
    await term.waitFor(() => echoes() > before && prompts() > promptsBefore, 'the recalled command to run');
  });

  it('quit ends the session and the history is kept', async () => {
    term.keys('-l', 'quit');
    term.keys('Enter');
    await term.waitFor((s) => /> quit\nbye/.test(s), 'bye');
    await h.waitUntil(() => term.paneDead(), 5000, 'gsio console to exit', 50);
    // libedit writes spaces in its history file as \040.
    const history = fs.readFileSync(path.join(home, '.gsio_console_history'), 'utf8').replaceAll('\\040', ' ');
    for (const cmd of ['sync', 'actors', 'ledger verify', 'quit']) assert.ok(history.includes(cmd), `history has ${cmd}`);
  });

  it('one-shot mode: -c runs commands and exits; errors give exit code 1', async () => {
    const ok = await gsio(['console', address, '-c', 'ledger tail 1', '-c', 'log-level']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /"note":"console-test-3"/);
    assert.match(ok.stdout, /log level: info/);
    assert.doesNotMatch(ok.stdout, /debug console; type help/, 'no greeting in one-shot mode');
    const bad = await gsio(['console', address, '-c', 'nonsense']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /error: unknown command 'nonsense'/);
    const accented = await gsio(['console', address, '-c', 'LÉDGER tail ü', '-c', 'ledger tail ü']);
    assert.equal(accented.code, 1);
    assert.match(accented.stderr, /error: unknown command 'lÉdger'/);
    assert.match(accented.stderr, /error: ledger tail: N must be a number/);
    const piped = await gsio(['console', address], { input: 'stats\nledger verify\n' });
    assert.equal(piped.code, 0, piped.stderr);
    assert.match(piped.stdout, /height\s+3[\s\S]*ok: all 3 entries/);
  });

  it('usage errors exit 2, an unreachable console exits 3', async () => {
    const usage = await gsio(['console', 'not an address']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /is not HOST:PORT/);
    const option = await gsio(['console', '--bogus']);
    assert.equal(option.code, 2);
    const help = await gsio(['console', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /usage: gsio console \[HOST:PORT\] \[-c COMMAND\]/);
    const down = await gsio(['console', '127.0.0.1:1', '-c', 'help']);
    assert.equal(down.code, 3);
    assert.match(down.stderr, /cannot reach the debug console at 127\.0\.0\.1:1/);
  });

  it('--admin off disables the console; a bad --admin is a usage error', async () => {
    const off = await h.startNode({ args: ['--admin', 'off'] });
    assert.doesNotMatch(off.log, /debug console on/);
    const bad = await h.runNodeToExit(['--port', '0', '--data-dir', h.tempDir(), '--admin', 'here']);
    assert.equal(bad.code, 2);
    assert.match(bad.output, /--admin must be off, PORT or HOST:PORT/);
  });
});
