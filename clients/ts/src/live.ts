// LiveLedger: a window on a node's canonical chain (its newest entries), verified here, that
// follows pushes (ledger_entry_added, ledger_reorg) and refetches after reconnects. This is what a
// live view (the web UI's feed) needs, kept here so it is tested against a real node.
//
// Memory does not grow with the chain: the window holds at most `window` entries (plus a short
// slack before it is trimmed), and the history below it is verified in the background page by
// page, never kept. What was verified from entry 0 on is remembered as a checkpoint
// {height, hash} in a CheckpointStore (the web UI keeps it in IndexedDB), so a later visit
// verifies only what was added since.
import type { ConnectionStatus, GsioClient } from './client.js';
import { Listeners, type Unsubscribe } from './emitter.js';
import type { Entry, Reorg } from './types.js';
import {
  ChainVerifier, GENESIS_HASH, charterNetworkId, computeEntryHash, type EntryLimits, type SignatureEngine,
  type VerifyProblem,
} from './verify.js';

export type LedgerChange =
  /** The window was (re)loaded. */
  | { kind: 'reset'; entries: readonly Entry[] }
  /** Entries were appended at the tip. */
  | { kind: 'append'; entries: readonly Entry[] }
  /** Everything from height `forkHeight` was replaced: `removed` left the chain, `added` joined it. */
  | { kind: 'reorg'; forkHeight: number; removed: readonly Entry[]; added: readonly Entry[] };

/**
 * What this browser (or program) verified of a chain: entries 0 to `height - 1` were verified in
 * full, in order, from the genesis link, ending at `hash`. Keyed by `chain`, the hash of the
 * chain's first entry, which on a private network is its network id (the charter's hash).
 */
export interface Checkpoint {
  chain: string;
  height: number;
  hash: string;
  /** The private network the chain belongs to (its charter's hash), or null for an open one. */
  networkId: string | null;
}

/** Where checkpoints are kept (IndexedDB in the web UI). */
export interface CheckpointStore {
  load(chain: string): Promise<Checkpoint | undefined>;
  save(checkpoint: Checkpoint): Promise<void>;
}

/** Checkpoints kept in memory, for as long as the object lives. */
export class MemoryCheckpoints implements CheckpointStore {
  readonly #map = new Map<string, Checkpoint>();
  async load(chain: string): Promise<Checkpoint | undefined> {
    const c = this.#map.get(chain);
    return c && { ...c };
  }
  async save(checkpoint: Checkpoint): Promise<void> {
    this.#map.set(checkpoint.chain, { ...checkpoint });
  }
}

export interface Verification {
  /**
   * `verifying` while the window is being checked; `verified` once all of it is (the history
   * below it may still be checked in the background: see `history` and `complete`); `failed`
   * stays until a reload passes.
   */
  state: 'verifying' | 'verified' | 'failed';
  /** Entries of the window (`entries`, from its start) that are verified. */
  verified: number;
  /** Height of the window's first entry, and of the chain as loaded (window start + its length). */
  windowStart: number;
  height: number;
  /**
   * Entries 0 to fromGenesis - 1 are verified in full from the genesis link, in this browser: on
   * this visit, or on an earlier one up to the checkpoint found at load.
   */
  fromGenesis: number;
  /** Every entry from 0 to the tip is verified (fromGenesis === height, window verified). */
  complete: boolean;
  /** Height of the checkpoint found at load and used (0: none). */
  checkpoint: number;
  /** Height of the checkpoint last stored (0: none yet). */
  saved: number;
  /**
   * The background check of the history below the window: entries [from, to) (`from`: the
   * checkpoint, or 0); `checked` of them are verified. `none`: nothing to check.
   */
  history: { state: 'none' | 'running' | 'done' | 'failed'; from: number; to: number; checked: number };
  /** Entries verified in full (hash, signatures, link) by this LiveLedger since it started. */
  checkedThisVisit: number;
  problem?: VerifyProblem & { index: number; id: string | undefined };
}

type LiveEvents = {
  change: [LedgerChange];
  verification: [Verification];
  error: [Error];
};

type Pending = { kind: 'entry'; entry: Entry } | { kind: 'reorg'; reorg: Reorg };

/** What LiveLedger uses of a GsioClient. */
export type LiveSource = Pick<GsioClient,
  'onEntry' | 'onReorg' | 'onState' | 'getFullLedger' | 'getLedger' | 'nodeInfo' | 'ledgerPages'>;

export interface LiveLedgerOptions {
  /** Entries the window holds (default 500). */
  window?: number;
  /** Where checkpoints are kept; without one, every start verifies the history from entry 0. */
  checkpoints?: CheckpointStore;
  /** Which code checks signatures (default 'auto': Web Crypto where it has Ed25519). */
  engine?: SignatureEngine | 'auto';
  /** The network's limits on entry data (the node's defaults by default). */
  limits?: Partial<EntryLimits>;
  /** Entries per page of the history check (at most 1000, the node's limit). */
  historyPageSize?: number;
}

export class LiveLedger {
  readonly #client: LiveSource;
  readonly #events = new Listeners<LiveEvents>();
  readonly #unsubscribe: Unsubscribe[] = [];
  readonly #windowSize: number;
  readonly #store: CheckpointStore | undefined;
  readonly #engine: SignatureEngine | 'auto';
  readonly #limits: Partial<EntryLimits> | undefined;
  readonly #pageSize: number;
  // The window: entries[i] is at height #start + i; #startPrev is entries[0]'s link.
  #entries: Entry[] = [];
  #start = 0;
  #startPrev = GENESIS_HASH;
  #hashes = new Set<string>();
  #idHeights = new Map<string, number>();
  #chain: string | null = null; // the first entry's hash: the checkpoint key
  #networkId: string | null = null;
  // Verified: the window from the anchor up to #verifiedHeight; #joined when [0, anchor) is too.
  #verifiedHeight = 0;
  #verifiedHash = GENESIS_HASH;
  #joined = true;
  #checkpoint = 0;
  #saved = 0;
  #history: Verification['history'] = { state: 'none', from: 0, to: 0, checked: 0 };
  #checked = 0;
  #gen = 0; // bumped when the window is replaced or reorganised: a batch in flight is void
  #loadGen = 0; // bumped on each load: the history check of an older load stops
  #verification: Verification;
  #pending: Pending[] | null = null;
  #reloadAgain = false;
  #stopped = false;
  #problem: Verification['problem'] | null = null;
  #pumping = false;
  #loaded = false;
  #saving: Promise<void> = Promise.resolve();
  static readonly BATCH = 100;
  static readonly WINDOW = 500;
  // Entries the window may grow past its size before the oldest verified ones are dropped.
  static readonly SLACK = 100;
  // The history check stores its progress as a checkpoint every this many entries.
  static readonly SAVE_EVERY = 20_000;

  constructor(client: LiveSource, options: LiveLedgerOptions = {}) {
    this.#client = client;
    this.#windowSize = Math.max(1, Math.floor(options.window ?? LiveLedger.WINDOW));
    this.#store = options.checkpoints;
    this.#engine = options.engine ?? 'auto';
    this.#limits = options.limits;
    this.#pageSize = Math.min(1000, Math.max(1, Math.floor(options.historyPageSize ?? 1000)));
    this.#verification = this.#snapshot('verifying');
  }

  /** Loads the window and starts following the node. */
  async start(): Promise<void> {
    this.#unsubscribe.push(
      this.#client.onEntry((entry) => this.#push({ kind: 'entry', entry })),
      this.#client.onReorg((reorg) => this.#push({ kind: 'reorg', reorg })),
      this.#client.onState((status: ConnectionStatus) => {
        // Pushes sent while we were away are lost: fetch the window again. So is a first load
        // that failed (the node was slow or away when we started).
        if (status.state === 'connected' && (status.sessions > 1 || !this.#loaded)) void this.reload();
      }),
    );
    await this.reload();
  }

  stop(): void {
    this.#stopped = true;
    this.#loadGen++;
    for (const off of this.#unsubscribe.splice(0)) off();
    this.#events.clear();
  }

  /** The window: the newest entries of the canonical chain as last known, oldest first. */
  get entries(): readonly Entry[] {
    return this.#entries;
  }

  /** Height of entries[0]. */
  get windowStart(): number {
    return this.#start;
  }

  /** Height of the chain as known here (window start + window length). */
  get height(): number {
    return this.#start + this.#entries.length;
  }

  /** The private network of the chain (its first entry, a charter), or null. */
  get networkId(): string | null {
    return this.#networkId;
  }

  get verification(): Verification {
    return { ...this.#verification, history: { ...this.#verification.history } };
  }

  get tipHash(): string {
    return this.#entries[this.#entries.length - 1]?.hash ?? this.#startPrev;
  }

  /** Whether the entry at `height` is verified in this browser (now or up to a checkpoint). */
  isVerified(height: number): boolean {
    const v = this.#verification;
    return height < v.fromGenesis || (height >= this.#start && height < this.#start + v.verified && v.state !== 'failed');
  }

  /** Resolves once verification has caught up with the window (state `verified` or `failed`). */
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

  /** Fetches the window again; verifies it, and the history below it from the checkpoint. */
  async reload(): Promise<void> {
    if (this.#pending) {
      this.#reloadAgain = true; // a load is running: let it go round once more
      return;
    }
    this.#pending = [];
    try {
      let loaded: { start: number; entries: Entry[] } | null = null;
      for (let attempt = 0; ; attempt++) {
        if (this.#stopped) return;
        if (attempt > 20) throw new Error('the chain kept changing while the window was fetched');
        // A reorg during paging may have mixed two branches: fetch again from the lowest fork
        // any of them reported (the entries below it are the same on both branches), or the
        // whole window when one gave no usable height or forked below the window.
        const forks = this.#pending.flatMap((p) => (p.kind === 'reorg' ? [p.reorg.fork_height] : []));
        if (loaded && forks.length === 0 && !this.#reloadAgain) break;
        const usable = loaded !== null && !this.#reloadAgain &&
          forks.every((f) => Number.isSafeInteger(f) && f >= (loaded as { start: number }).start);
        this.#reloadAgain = false;
        this.#pending = [];
        if (!usable || !loaded) {
          loaded = await this.#fetchWindow();
          if (!loaded) this.#reloadAgain = true; // the chain shrank under us: once more
          continue;
        }
        const from = Math.min(loaded.start + loaded.entries.length, ...forks);
        loaded.entries = loaded.entries.slice(0, from - loaded.start).concat(await this.#client.getFullLedger({ from }));
      }
      const { start, entries } = loaded;
      const first = start === 0 ? entries[0] : (await this.#client.getLedger({ from: 0, limit: 1 }))[0];
      let checkpoint: Checkpoint | undefined;
      if (first && this.#store) {
        try {
          checkpoint = await this.#store.load(first.hash);
        } catch {
          checkpoint = undefined; // no store (e.g. IndexedDB refused): verify from entry 0
        }
      }
      if (this.#stopped) return;
      this.#commit(start, entries, first, checkpoint);
      const replay = this.#pending;
      this.#pending = null;
      for (const p of replay) this.#apply(p);
    } catch (err) {
      this.#events.emit('error', err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.#pending = null;
    }
  }

  // The newest `window` entries, or null when the chain got shorter than the node said.
  async #fetchWindow(): Promise<{ start: number; entries: Entry[] } | null> {
    const info = await this.#client.nodeInfo();
    const height = info.height;
    if (!Number.isSafeInteger(height) || height < 0) throw new Error(`node_info: bad height ${String(height)}`);
    let start = Math.max(0, height - this.#windowSize);
    let entries = await this.#client.getFullLedger({ from: start });
    if (entries.length === 0 && start > 0) return null;
    if (entries.length > this.#windowSize) {
      start += entries.length - this.#windowSize;
      entries = entries.slice(entries.length - this.#windowSize);
    }
    return { start, entries };
  }

  #commit(start: number, entries: Entry[], first: Entry | undefined, stored: Checkpoint | undefined): void {
    this.#loaded = true;
    this.#gen++;
    const loadGen = ++this.#loadGen;
    this.#entries = entries;
    this.#start = start;
    this.#startPrev = entries[0]?.previous_hash ?? GENESIS_HASH;
    this.#reindex();
    this.#chain = first?.hash ?? null;
    this.#problem = null;
    this.#saved = 0;
    const end = start + entries.length;
    const checkpoint = stored && this.#usableCheckpoint(stored, first, end) ? stored : undefined;
    this.#networkId = checkpoint ? checkpoint.networkId : first ? charterNetworkId(first) : null;
    this.#checkpoint = checkpoint?.height ?? 0;
    // The window is verified from its anchor: the checkpoint when it lies in the window and the
    // window's entries below it are the ones it vouches for, else the window's start.
    let anchorHeight = start;
    let anchorHash = this.#startPrev;
    if (checkpoint && checkpoint.height > start && this.#windowMatches(checkpoint)) {
      anchorHeight = checkpoint.height;
      anchorHash = checkpoint.hash;
    }
    this.#verifiedHeight = anchorHeight;
    this.#verifiedHash = anchorHash;
    this.#joined = anchorHeight > start || start === 0;
    this.#history = { state: 'none', from: 0, to: 0, checked: 0 };
    if (!this.#joined) {
      const usable = checkpoint && checkpoint.height <= start ? checkpoint : undefined;
      const from = usable?.height ?? 0;
      this.#history = { state: 'running', from, to: start, checked: 0 };
      void this.#checkHistory(loadGen, from, usable?.hash ?? GENESIS_HASH, start, anchorHash);
    }
    this.#setVerification('verifying');
    this.#events.emit('change', { kind: 'reset', entries: this.#entries });
    this.#scheduleVerify();
  }

  #usableCheckpoint(c: Checkpoint, first: Entry | undefined, end: number): boolean {
    return !!first && c.chain === first.hash && Number.isSafeInteger(c.height) && c.height >= 1 && c.height <= end &&
      typeof c.hash === 'string' && (c.networkId === null || typeof c.networkId === 'string');
  }

  // Whether the window's entries below the checkpoint are the ones it vouches for: each one's hash
  // recomputed and linked to the next, the last being the checkpoint's. Equal hashes mean equal
  // entries (SHA-256), so their signatures were checked when the checkpoint was made.
  #windowMatches(c: Checkpoint): boolean {
    const below = this.#entries.slice(0, c.height - this.#start);
    if (below[below.length - 1]?.hash !== c.hash) return false;
    for (let i = 0; i < below.length; i++) {
      const e = below[i] as Entry;
      if (i > 0 && e.previous_hash !== below[i - 1]?.hash) return false;
      try {
        if (computeEntryHash(e) !== e.hash) return false;
      } catch {
        return false;
      }
    }
    return true;
  }

  // Verifies the history [from, to) page by page, from `fromHash`; it must end at `toHash`, the
  // link of the window's anchor. Stores its progress as checkpoints.
  async #checkHistory(loadGen: number, from: number, fromHash: string, to: number, toHash: string): Promise<void> {
    const current = () => loadGen === this.#loadGen && !this.#stopped;
    let height = from;
    let hash = fromHash;
    let networkId: string | null = from === 0 ? null : this.#networkId;
    let lastSave = from;
    try {
      const pages = this.#client.ledgerPages({ from, pageSize: this.#pageSize })[Symbol.asyncIterator]();
      try {
        let next = height < to ? pages.next() : null;
        while (next) {
          const got = await next;
          if (!current()) return;
          if (got.done) break;
          const page = got.value.slice(0, to - height);
          next = height + page.length < to ? pages.next() : null; // fetched while this page is checked
          const verifier = new ChainVerifier(hash, this.#limits, { networkId });
          const bad = await verifier.addBatch(page, this.#engine);
          if (!current()) return;
          const passed = bad ? bad.index : page.length;
          this.#checked += passed;
          if (passed > 0) {
            height += passed;
            hash = (page[passed - 1] as Entry).hash;
          }
          networkId = verifier.networkId;
          this.#history = { ...this.#history, checked: height - from };
          if (bad) {
            if (height === from && from > 0 && bad.index === 0 && bad.reason === 'bad_link') {
              // The chain does not hold the checkpoint (it switched branches below it, or this is
              // another chain with the same first entry): verify it from entry 0 instead.
              this.#checkpoint = 0;
              this.#history = { state: 'running', from: 0, to, checked: 0 };
              void this.#checkHistory(loadGen, 0, GENESIS_HASH, to, toHash);
              return;
            }
            this.#history = { ...this.#history, state: 'failed' };
            this.#fail({ reason: bad.reason, message: bad.message }, height, bad.entry?.id ?? idOf(page[bad.index]));
            return;
          }
          if (height - lastSave >= LiveLedger.SAVE_EVERY && height < to) {
            lastSave = height;
            this.#save(height, hash);
          }
          this.#setVerification(this.#verification.state === 'failed' ? 'failed' : this.#verification.state);
        }
      } finally {
        void pages.return?.(undefined);
      }
      if (height < to) {
        // The chain is shorter than when the window was loaded: it switched branches; load again.
        void this.reload();
        return;
      }
      if (hash !== toHash) {
        this.#history = { ...this.#history, state: 'failed' };
        this.#fail({ reason: 'bad_link', message: `previous_hash should be ${hash} (the entry before)` }, to,
                   this.#entries[to - this.#start]?.id);
        return;
      }
      if (from === 0 && networkId !== this.#networkId) {
        this.#history = { ...this.#history, state: 'failed' };
        this.#fail({ reason: 'malformed', message: 'the node gave two different first entries' }, 0, undefined);
        return;
      }
      this.#history = { ...this.#history, state: 'done' };
      this.#joined = true;
      if (this.#verifiedHeight > to || this.#entries.length === 0) this.#save(this.#verifiedHeight, this.#verifiedHash);
      else this.#save(to, toHash);
      this.#setVerification(this.#problem ? 'failed' : this.#pumping ? 'verifying' : 'verified');
    } catch (err) {
      if (!current()) return;
      // The node went away or refused a page: the next reconnect loads and checks again.
      this.#history = { ...this.#history, state: 'failed' };
      this.#setVerification(this.#verification.state);
      this.#events.emit('error', err instanceof Error ? err : new Error(String(err)));
    }
  }

  #fail(p: VerifyProblem, index: number, id: string | undefined): void {
    if (this.#problem && this.#problem.index <= index) return;
    this.#problem = { reason: p.reason, message: p.message, index, id };
    this.#setVerification('failed');
  }

  // Stores {height, hash} as this chain's checkpoint; the writes go one after the other.
  #save(height: number, hash: string): void {
    const store = this.#store;
    const chain = this.#chain;
    if (!store || !chain || height < 1) return;
    const record: Checkpoint = { chain, height, hash, networkId: this.#networkId };
    const loadGen = this.#loadGen;
    this.#saving = this.#saving.then(async () => {
      try {
        await store.save(record);
        if (loadGen === this.#loadGen) {
          this.#saved = height;
          this.#setVerification(this.#verification.state);
        }
      } catch (err) {
        this.#events.emit('error', err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  #reindex(): void {
    this.#hashes = new Set(this.#entries.map((e) => e.hash));
    this.#idHeights = new Map();
    this.#entries.forEach((e, i) => {
      if (typeof e.id === 'string' && !this.#idHeights.has(e.id)) this.#idHeights.set(e.id, this.#start + i);
    });
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
      if (typeof e.id === 'string' && !this.#idHeights.has(e.id)) this.#idHeights.set(e.id, this.height - 1);
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
    if (fork < this.#start) {
      void this.reload(); // below the window: fetch the window again
      return;
    }
    const linkBelow = fork === this.#start ? this.#startPrev : this.#entries[fork - this.#start - 1]?.hash;
    const joins = added.length === 0 || added[0]?.previous_hash === linkBelow;
    if (fork > this.height || !joins) {
      void this.reload();
      return;
    }
    const at = fork - this.#start;
    // Already applied (e.g. the reorg raced with a load that saw its result).
    if (added.every((e, i) => this.#entries[at + i]?.hash === e.hash) && this.#entries.length === at + added.length) return;
    this.#gen++;
    const removed = this.#entries.splice(at);
    this.#entries.push(...added);
    this.#reindex();
    if (this.#verifiedHeight > fork) {
      this.#verifiedHeight = fork;
      this.#verifiedHash = linkBelow as string;
    }
    // A failure in the replaced part no longer stands; one below the fork still does.
    if (this.#problem && this.#problem.index >= fork) this.#problem = null;
    this.#events.emit('change', { kind: 'reorg', forkHeight: fork, removed, added });
    this.#scheduleVerify();
  }

  // Verification of the window runs as one background pump over the entries not yet verified,
  // in batches with a yield between them, so a page never freezes. Appends and reorgs only move
  // the verified height; the pump picks up from there.
  #scheduleVerify(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    void this.#pump().finally(() => {
      this.#pumping = false;
    });
  }

  async #pump(): Promise<void> {
    await Promise.resolve(); // let the caller finish its change first
    while (!this.#stopped && !(this.#problem && this.#problem.index >= this.#start)) {
      const from = this.#verifiedHeight;
      const end = Math.min(this.height, from + LiveLedger.BATCH);
      if (from >= end) break;
      const gen = this.#gen;
      const batch = this.#entries.slice(from - this.#start, end - this.#start);
      const verifier = new ChainVerifier(this.#verifiedHash, this.#limits, {
        networkId: this.#networkId,
        idBefore: (id) => (this.#idHeights.get(id) ?? Infinity) < from,
      });
      const bad = await verifier.addBatch(batch, this.#engine);
      if (this.#stopped) return;
      if (gen !== this.#gen) continue; // the window changed meanwhile: look again
      const passed = bad ? bad.index : batch.length;
      this.#checked += passed;
      if (passed > 0) {
        this.#verifiedHeight = from + passed;
        this.#verifiedHash = (batch[passed - 1] as Entry).hash;
      }
      if (bad) {
        this.#fail({ reason: bad.reason, message: bad.message }, from + bad.index, bad.entry?.id ?? idOf(batch[bad.index]));
        break;
      }
      this.#trim();
      if (this.#verifiedHeight < this.height) {
        this.#setVerification('verifying');
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    }
    if (this.#stopped) return;
    this.#trim();
    if (this.#problem) {
      this.#setVerification('failed');
      return;
    }
    this.#setVerification('verified');
    if (this.#joined && this.#verifiedHeight > this.#saved) this.#save(this.#verifiedHeight, this.#verifiedHash);
  }

  // Drops the oldest verified entries once the window has grown past its size and slack.
  #trim(): void {
    if (this.#entries.length <= this.#windowSize + LiveLedger.SLACK) return;
    const drop = Math.min(this.#entries.length - this.#windowSize, this.#verifiedHeight - this.#start);
    if (drop <= 0) return;
    const dropped = this.#entries.splice(0, drop);
    this.#start += drop;
    this.#startPrev = (dropped[dropped.length - 1] as Entry).hash;
    this.#reindex();
  }

  #snapshot(state: Verification['state']): Verification {
    const verified = Math.max(0, this.#verifiedHeight - this.#start);
    const fromGenesis = this.#joined
      ? this.#verifiedHeight
      : this.#history.state === 'none' ? 0 : this.#history.from + this.#history.checked;
    const v: Verification = {
      state,
      verified: this.#problem && this.#problem.index >= this.#start ? Math.min(verified, this.#problem.index - this.#start) : verified,
      windowStart: this.#start,
      height: this.height,
      fromGenesis,
      complete: state === 'verified' && this.#joined && this.#verifiedHeight === this.height,
      checkpoint: this.#checkpoint,
      saved: this.#saved,
      history: { ...this.#history },
      checkedThisVisit: this.#checked,
    };
    if (this.#problem) v.problem = { ...this.#problem };
    return v;
  }

  #setVerification(state: Verification['state']): void {
    // A failure anywhere (window or history) keeps the state failed until a reload.
    this.#verification = this.#snapshot(this.#problem ? 'failed' : state);
    this.#events.emit('verification', this.verification);
  }
}

function idOf(e: unknown): string | undefined {
  const id = typeof e === 'object' && e !== null ? (e as { id?: unknown }).id : undefined;
  return typeof id === 'string' ? id : undefined;
}

// What #apply relies on before it changes anything; the verifier checks the rest.
function isEntryShaped(e: unknown): e is Entry {
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return false;
  const { hash, previous_hash: previous } = e as Record<string, unknown>;
  return typeof hash === 'string' && typeof previous === 'string';
}
