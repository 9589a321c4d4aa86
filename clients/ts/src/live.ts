// LiveLedger: a local, verified mirror of a node's canonical chain that follows pushes
// (ledger_entry_added, ledger_reorg) and refetches after reconnects. This is what a live view
// (the web UI's feed and history) needs, kept here so it is tested against a real node.
import type { ConnectionStatus, GsioClient } from './client.js';
import { Listeners, type Unsubscribe } from './emitter.js';
import type { Entry, Reorg } from './types.js';
import { ChainVerifier, GENESIS_HASH, type VerifyProblem } from './verify.js';

export type LedgerChange =
  /** The whole chain was (re)loaded. */
  | { kind: 'reset'; entries: readonly Entry[] }
  /** Entries were appended at the tip. */
  | { kind: 'append'; entries: readonly Entry[] }
  /** Everything from `forkHeight` was replaced: `removed` left the chain, `added` joined it. */
  | { kind: 'reorg'; forkHeight: number; removed: readonly Entry[]; added: readonly Entry[] };

export interface Verification {
  /** `verifying` while a (re)load is being checked; `failed` stays until a reload passes. */
  state: 'verifying' | 'verified' | 'failed';
  /** Entries of the mirror that passed every check. */
  verified: number;
  problem?: VerifyProblem & { index: number; id: string | undefined };
}

type LiveEvents = {
  change: [LedgerChange];
  verification: [Verification];
  error: [Error];
};

type Pending = { kind: 'entry'; entry: Entry } | { kind: 'reorg'; reorg: Reorg };

export class LiveLedger {
  readonly #client: GsioClient;
  readonly #events = new Listeners<LiveEvents>();
  readonly #unsubscribe: Unsubscribe[] = [];
  #entries: Entry[] = [];
  #hashes = new Set<string>();
  #verifier = new ChainVerifier();
  #verification: Verification = { state: 'verifying', verified: 0 };
  // Pushes that arrive while a load is in flight wait here and are replayed on the loaded chain.
  #pending: Pending[] | null = null;
  #reloadAgain = false;
  #stopped = false;
  #problem: Verification['problem'] | null = null;
  #pumping = false;
  #loaded = false; // a load has succeeded
  static readonly BATCH = 100;

  constructor(client: GsioClient) {
    this.#client = client;
  }

  /** Loads the chain and starts following the node. */
  async start(): Promise<void> {
    this.#unsubscribe.push(
      this.#client.onEntry((entry) => this.#push({ kind: 'entry', entry })),
      this.#client.onReorg((reorg) => this.#push({ kind: 'reorg', reorg })),
      this.#client.onState((status: ConnectionStatus) => {
        // Pushes sent while we were away are lost: fetch the chain again. So is a first load
        // that failed (the node was slow or away when we started).
        if (status.state === 'connected' && (status.sessions > 1 || !this.#loaded)) void this.reload();
      }),
    );
    await this.reload();
  }

  stop(): void {
    this.#stopped = true;
    for (const off of this.#unsubscribe.splice(0)) off();
    this.#events.clear();
  }

  /** The canonical chain as last known, oldest first. */
  get entries(): readonly Entry[] {
    return this.#entries;
  }

  get verification(): Verification {
    return { ...this.#verification };
  }

  get tipHash(): string {
    return this.#entries[this.#entries.length - 1]?.hash ?? GENESIS_HASH;
  }

  /** Resolves once verification has caught up with the mirror (state `verified` or `failed`). */
  settled(): Promise<Verification> {
    if (this.#verification.state !== 'verifying' && !this.#pumping) return Promise.resolve(this.verification);
    return new Promise((resolve) => {
      const off = this.onVerification((v) => {
        if (v.state === 'verifying') return;
        off();
        resolve(v);
      });
    });
  }

  onChange(listener: (change: LedgerChange) => void): Unsubscribe {
    return this.#events.on('change', listener);
  }

  onVerification(listener: (v: Verification) => void): Unsubscribe {
    return this.#events.on('verification', listener);
  }

  /** Failed reloads (e.g. the node went away mid-load); the next reconnect tries again. */
  onError(listener: (err: Error) => void): Unsubscribe {
    return this.#events.on('error', listener);
  }

  /** Fetches the whole chain again and verifies it from the genesis link. */
  async reload(): Promise<void> {
    if (this.#pending) {
      this.#reloadAgain = true; // a load is running: let it go round once more
      return;
    }
    this.#pending = [];
    try {
      this.#reloadAgain = false;
      let entries = await this.#client.getFullLedger();
      for (;;) {
        if (this.#stopped) return;
        // A reorg during paging may have mixed two branches, which the replay below would not
        // fix: fetch again from the lowest fork any of them reported (the entries below it are
        // the same on both branches), or everything when one gave no usable height. On a busy
        // network reorgs are routine, and starting from 0 each time might never finish.
        const forks = this.#pending.flatMap((p) => (p.kind === 'reorg' ? [p.reorg.fork_height] : []));
        if (forks.length === 0 && !this.#reloadAgain) break;
        const usable = !this.#reloadAgain && forks.every((f) => Number.isSafeInteger(f) && f >= 0);
        const from = usable ? Math.min(entries.length, ...forks) : 0;
        this.#reloadAgain = false;
        this.#pending = [];
        entries = entries.slice(0, from).concat(await this.#client.getFullLedger({ from }));
      }
      this.#loaded = true;
      this.#entries = entries;
      this.#hashes = new Set(entries.map((e) => e.hash));
      this.#verifier = new ChainVerifier();
      this.#problem = null;
      this.#setVerification({ state: 'verifying', verified: 0 });
      this.#events.emit('change', { kind: 'reset', entries: this.#entries });
      this.#scheduleVerify();
      const replay = this.#pending;
      this.#pending = null;
      for (const p of replay) this.#apply(p);
    } catch (err) {
      this.#events.emit('error', err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.#pending = null;
    }
  }

  #push(p: Pending): void {
    if (this.#pending) this.#pending.push(p);
    else this.#apply(p);
  }

  #apply(p: Pending): void {
    if (p.kind === 'entry') {
      const e = p.entry;
      if (!isEntryShaped(e)) {
        void this.reload(); // not an entry: don't guess
        return;
      }
      if (this.#hashes.has(e.hash)) return; // already loaded
      if (e.previous_hash !== this.tipHash) {
        void this.reload(); // we missed something: don't guess
        return;
      }
      this.#entries.push(e);
      this.#hashes.add(e.hash);
      this.#events.emit('change', { kind: 'append', entries: [e] });
      this.#scheduleVerify();
      return;
    }
    if (p.reorg.partial) {
      void this.reload(); // the node did not push the new branch: fetch it
      return;
    }
    const { fork_height: fork, added } = p.reorg;
    // Checked before anything changes: a malformed event must not leave the entries replaced and
    // the verifier still vouching for the old ones.
    if (!Number.isSafeInteger(fork) || fork < 0 || !Array.isArray(added) || !added.every(isEntryShaped)) {
      void this.reload();
      return;
    }
    const linkBelow = fork === 0 ? GENESIS_HASH : this.#entries[fork - 1]?.hash;
    const joins = added.length === 0 || added[0]?.previous_hash === linkBelow;
    if (fork > this.#entries.length || !joins) {
      void this.reload();
      return;
    }
    // Already applied (e.g. the reorg raced with a load that saw its result).
    if (added.every((e, i) => this.#entries[fork + i]?.hash === e.hash) && this.#entries.length === fork + added.length) return;
    this.#verifier.truncate(fork);
    const removed = this.#entries.splice(fork);
    for (const e of removed) this.#hashes.delete(e.hash);
    this.#entries.push(...added);
    for (const e of added) this.#hashes.add(e.hash);
    // A failure in the replaced part no longer stands; one below the fork still does.
    if (this.#problem && this.#problem.index >= fork) this.#problem = null;
    this.#events.emit('change', { kind: 'reorg', forkHeight: fork, removed, added });
    this.#scheduleVerify();
  }

  // Verification runs as one background pump over the entries not yet verified, in batches with
  // a yield between them, so a long chain never freezes a page. Appends and reorgs only move the
  // verifier's position; the pump picks up from there.
  #scheduleVerify(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    void this.#pump().finally(() => {
      this.#pumping = false;
    });
  }

  async #pump(): Promise<void> {
    await Promise.resolve(); // let the caller finish its change first
    while (!this.#stopped && !this.#problem) {
      // The verifier vouches for entries [0, height): if the entries are fewer, what it checked
      // is gone, so check everything again rather than trust it.
      if (this.#verifier.height > this.#entries.length) this.#verifier.truncate(0);
      const start = this.#verifier.height;
      if (start >= this.#entries.length) break;
      const end = Math.min(this.#entries.length, start + LiveLedger.BATCH);
      for (let i = start; i < end; i++) {
        const bad = this.#verifier.add(this.#entries[i]);
        if (bad) {
          this.#problem = { ...bad, index: i, id: this.#entries[i]?.id };
          break;
        }
      }
      if (this.#problem || this.#verifier.height >= this.#entries.length) break;
      this.#setVerification({ state: 'verifying', verified: this.#verifier.height });
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    if (this.#stopped) return;
    if (this.#problem) this.#setVerification({ state: 'failed', verified: this.#verifier.height, problem: this.#problem });
    else this.#setVerification({ state: 'verified', verified: this.#verifier.height });
  }

  #setVerification(v: Verification): void {
    this.#verification = v;
    this.#events.emit('verification', this.verification);
  }
}

// What #apply relies on before it changes anything; the verifier checks the rest.
function isEntryShaped(e: unknown): e is Entry {
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return false;
  const { hash, previous_hash: previous } = e as Record<string, unknown>;
  return typeof hash === 'string' && typeof previous === 'string';
}
