// GsioClient: the client API of a gsio-node (docs/PROTOCOL.md §2) over socket.io-client, with
// promises for acks, typed push events, and a connection state that UIs can show.
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import { Listeners, type Unsubscribe } from './emitter.js';
import { clientProof, signAsAuthor, type Challenge, type Members } from './members.js';
import type { Entry, HistoryPage, HistoryQuery, JsonValue, KnownNode, KnownNodes, NodeInfo, Reorg } from './types.js';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';
export type TransportName = 'polling' | 'websocket';

export interface ConnectionStatus {
  state: ConnectionState;
  /** The Engine.IO transport in use while connected (polling until the upgrade to websocket). */
  transport: TransportName | null;
  /** The current reconnection attempt, 0 when not reconnecting. */
  attempt: number;
  /** Successful connects so far: above 1 means pushes may have been missed, so refetch. */
  sessions: number;
  /** Why the last connection attempt failed or the connection ended, if it did. */
  lastError: string | null;
}

export interface GsioClientOptions {
  /** Sent with the Socket.IO CONNECT; the node echoes it back as the `auth` event. */
  auth?: Record<string, unknown>;
  /** Engine.IO transports to try, in order; polling first with an upgrade by default. */
  transports?: TransportName[];
  /** How long to wait for each ack, ms (default 10,000). */
  requestTimeoutMs?: number;
  /** How long the first connect may take before connect() rejects, ms (default 10,000). */
  connectTimeoutMs?: number;
  /** Reconnection backoff: first delay and cap, ms (defaults 500 and 5,000). */
  reconnectDelayMs?: number;
  reconnectDelayMaxMs?: number;
  /** Anything else for socket.io-client's io(); wins over the options above. */
  socket?: Partial<ManagerOptions & SocketOptions>;
}

/** A request the node refused: its `{error}` reply. */
export class GsioRequestError extends Error {
  override name = 'GsioRequestError';
  /** For a get_ledger page above the node's byte limit: how many entries fit in one answer. */
  readonly fits?: number;
  constructor(readonly event: string, readonly reason: string, fits?: unknown) {
    super(reason);
    if (typeof fits === 'number' && Number.isInteger(fits) && fits >= 1) this.fits = fits;
  }
}

/** A request whose ack did not arrive in time (the node may still have acted on it). */
export class GsioTimeoutError extends Error {
  override name = 'GsioTimeoutError';
  constructor(readonly event: string, ms: number) {
    super(`${event}: no answer within ${ms} ms`);
  }
}

type ClientEvents = {
  challenge: [Challenge];
  entry: [Entry];
  reorg: [Reorg];
  state: [ConnectionStatus];
  auth: [unknown];
};

function isErrorReply(reply: unknown): reply is { error: string } {
  return typeof reply === 'object' && reply !== null && !Array.isArray(reply) &&
    typeof (reply as { error?: unknown }).error === 'string';
}

export class GsioClient {
  readonly url: string;
  readonly #socket: Socket;
  readonly #events = new Listeners<ClientEvents>();
  readonly #requestTimeoutMs: number;
  #status: ConnectionStatus = { state: 'connecting', transport: null, attempt: 0, sessions: 0, lastError: null };
  #authReply: unknown = undefined;
  #challenge: Challenge | null = null;
  #seed: string | null = null;  // answers every challenge once authenticate() was called
  #answering: Promise<{ key: string; role: string }> | null = null;  // the answer to the latest challenge
  // Closed from a member's disconnect until the next connection's proof is answered: a request
  // sent before it (a reload after the reconnect, say) would reach the node unauthenticated.
  #proof: { settled: Promise<void>; open: () => void } | null = null;

  /** Connects and resolves once the first connection is up; rejects if it fails (and closes). */
  static connect(url: string, options: GsioClientOptions = {}): Promise<GsioClient> {
    const client = new GsioClient(url, options);
    const timeoutMs = options.connectTimeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      let stop: Unsubscribe = () => {};
      const timer = setTimeout(() => fail(`no connection within ${timeoutMs} ms`), timeoutMs);
      const fail = (why: string) => {
        clearTimeout(timer);
        stop();
        client.close();
        reject(new Error(`cannot connect to ${url}: ${why}`));
      };
      stop = client.onState((status) => {
        if (status.state === 'connected') {
          clearTimeout(timer);
          stop();
          resolve(client);
        } else if (status.state === 'reconnecting' || status.state === 'disconnected') {
          fail(status.lastError ?? status.state);
        }
      });
    });
  }

  /** Starts connecting right away; prefer GsioClient.connect(), which waits for the connection. */
  constructor(url: string, options: GsioClientOptions = {}) {
    this.url = url;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.#socket = io(url, {
      transports: options.transports ?? ['polling', 'websocket'],
      forceNew: true, // one Manager per client: closing one must not close another's connection
      reconnection: true,
      reconnectionDelay: options.reconnectDelayMs ?? 500,
      reconnectionDelayMax: options.reconnectDelayMaxMs ?? 5_000,
      timeout: options.connectTimeoutMs ?? 10_000,
      ...(options.auth ? { auth: options.auth } : {}),
      ...options.socket,
    });
    this.#wire();
  }

  #setStatus(change: Partial<ConnectionStatus>): void {
    this.#status = { ...this.#status, ...change };
    this.#events.emit('state', this.status);
  }

  #wire(): void {
    const socket = this.#socket;
    const manager = socket.io;
    socket.on('connect', () => {
      const engine = manager.engine;
      // The engine is new for every connection; follow its upgrade from polling to websocket.
      engine.once('upgrade', (transport: { name: string }) => {
        if (socket.connected) this.#setStatus({ transport: transport.name as TransportName });
      });
      this.#setStatus({
        state: 'connected', transport: engine.transport.name as TransportName, attempt: 0,
        sessions: this.#status.sessions + 1, lastError: null,
      });
    });
    socket.on('connect_error', (err: Error) => {
      // socket.active: socket.io-client keeps retrying by itself (a refused middleware
      // connect_error would leave it inactive, and then we are really disconnected).
      this.#setStatus({ state: socket.active ? 'reconnecting' : 'disconnected', transport: null, lastError: err.message });
    });
    socket.on('disconnect', (reason: string) => {
      if (reason === 'io client disconnect') {
        this.#setStatus({ state: 'disconnected', transport: null, attempt: 0, lastError: null });
        return;
      }
      if (this.#seed && !this.#proof) {
        let open = () => {};
        const settled = new Promise<void>((resolve) => { open = resolve; });
        this.#proof = { settled, open };
      }
      this.#setStatus({ state: 'reconnecting', transport: null, lastError: reason });
      // socket.io-client does not reconnect after a server-side disconnect; a member's client
      // should, since the node may have dropped us for a passing reason (e.g. a slow link).
      if (reason === 'io server disconnect') socket.connect();
    });
    manager.on('reconnect_attempt', (attempt: number) => this.#setStatus({ state: 'reconnecting', attempt }));
    // A private network's node: a fresh challenge on every (re)connect. With a key given to
    // authenticate(), it is answered right away, so a reconnected client is a member again.
    socket.on('challenge', (challenge: Challenge) => {
      this.#challenge = challenge;
      this.#answering = null;
      if (this.#seed) {
        this.#answering = this.#answer();
        const proof = this.#proof;
        this.#proof = null;
        this.#answering.then(() => proof?.open(), () => proof?.open());
      }
      this.#events.emit('challenge', challenge);
    });
    socket.on('auth', (payload: unknown) => {
      // The challenge comes before `auth`: without one there is nothing to wait for.
      this.#proof?.open();
      this.#proof = null;
      this.#authReply = payload;
      this.#events.emit('auth', payload);
    });
    socket.on('ledger_entry_added', (entry: Entry) => this.#events.emit('entry', entry));
    socket.on('ledger_reorg', (reorg: Reorg) => this.#events.emit('reorg', reorg));
  }

  /** The latest challenge of a private network's node; null on an open network (or before it came). */
  get challenge(): Challenge | null {
    return this.#challenge;
  }

  #answer(): Promise<{ key: string; role: string }> {
    return this.#send('authenticate', clientProof(this.#seed as string, this.#challenge as Challenge));
  }

  /**
   * Proves the key of `seed` (64 hex) to a private network's node, on this connection and on every
   * reconnect. Resolves with the key and its role; rejects (GsioRequestError) when the node refuses
   * the key, or when no challenge comes within the request timeout (an open network).
   */
  async authenticate(seed: string): Promise<{ key: string; role: string }> {
    this.#seed = seed;
    if (this.#challenge) {
      this.#answering = this.#answer();
      return this.#answering;
    }
    // The challenge handler answers it (the node takes one proof at a time); wait for that answer.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { stop(); reject(new GsioRequestError('authenticate', 'the node sent no challenge: an open network')); },
                               this.#requestTimeoutMs);
      const stop = this.#events.on('challenge', () => { clearTimeout(timer); stop(); resolve(); });
    });
    return this.#answering ?? this.#answer();
  }

  /**
   * Posts `data` signed as the author authenticate() proved (a private network): resolves with the
   * stored entry. Rejects when authenticate() was not called first.
   */
  addAuthoredEntry(data: Record<string, JsonValue>): Promise<Entry> {
    if (!this.#seed || !this.#challenge) return Promise.reject(new Error('addAuthoredEntry: authenticate() first'));
    return this.addEntry(signAsAuthor(this.#seed, this.#challenge.network_id, data));
  }

  /** A snapshot of the connection state. */
  get status(): ConnectionStatus {
    return { ...this.#status };
  }

  get connected(): boolean {
    return this.#socket.connected;
  }

  /** The node's echo of the auth payload from the latest connect (`{}` when none was sent). */
  get authReply(): unknown {
    return this.#authReply;
  }

  /** The underlying socket.io-client socket, for events this class does not wrap. */
  get socket(): Socket {
    return this.#socket;
  }

  /**
   * Sends `event` and resolves with the ack. While disconnected the request waits in
   * socket.io-client's buffer and goes out on reconnect, unless the timeout passes first (then it
   * is dropped from the buffer, so a late reconnect never sends it behind the caller's back).
   */
  async request<T>(event: string, ...args: unknown[]): Promise<T> {
    const proof = this.#proof;
    if (proof) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), this.#requestTimeoutMs); });
      const waited = await Promise.race([proof.settled, late]);
      clearTimeout(timer);
      if (waited === 'late') throw new GsioTimeoutError(event, this.#requestTimeoutMs);
    }
    return this.#send<T>(event, ...args);
  }

  async #send<T>(event: string, ...args: unknown[]): Promise<T> {
    let reply: unknown;
    try {
      reply = await this.#socket.timeout(this.#requestTimeoutMs).emitWithAck(event, ...args);
    } catch (err) {
      if (err instanceof Error && /timed out/.test(err.message)) throw new GsioTimeoutError(event, this.#requestTimeoutMs);
      throw err;
    }
    if (isErrorReply(reply)) throw new GsioRequestError(event, reply.error, (reply as { fits?: unknown }).fits);
    return reply as T;
  }

  /**
   * Appends `data` (any JSON) to the ledger. Resolves with the entry once the node has stored it
   * durably (the ack); rejects with GsioRequestError when the node refuses it (e.g. too large).
   */
  addEntry(data: JsonValue): Promise<Entry> {
    return this.request<Entry>('add_ledger_entry', data);
  }

  /** One page of the canonical chain: `limit` (1..1000, default 1000) entries from index `from`. */
  getLedger({ from = 0, limit = 1000 }: { from?: number; limit?: number } = {}): Promise<Entry[]> {
    return this.request<Entry[]>('get_ledger', { from, limit });
  }

  /**
   * The canonical chain from `from`, page by page (each at most `pageSize` entries, fewer when the
   * node says fewer fit), without keeping them: for walking a long chain in bounded memory. Ends
   * after the first page shorter than asked for.
   */
  async *ledgerPages({ from = 0, pageSize = 1000 }: { from?: number; pageSize?: number } = {}): AsyncGenerator<Entry[], void, undefined> {
    let limit = pageSize;  // lowered for good once the node says fewer fit: entries are alike
    let next = from;
    for (;;) {
      let page: Entry[];
      for (;;) {
        try {
          page = await this.getLedger({ from: next, limit });
          break;
        } catch (err) {
          if (!(err instanceof GsioRequestError) || err.fits === undefined || err.fits >= limit) throw err;
          limit = err.fits;
        }
      }
      if (!Array.isArray(page)) throw new GsioRequestError('get_ledger', 'the answer is not an array');
      if (page.length > 0) yield page;
      if (page.length < limit) return;
      next += page.length;
    }
  }

  /**
   * The whole canonical chain from `from`, fetched page by page. A reorg while paging can make
   * the pages disagree; verifyChain() notices (a bad link) and the caller can fetch again. Pages
   * of large entries may be above what the node puts in one answer: they are asked for again
   * with as many entries as the node says fit.
   */
  async getFullLedger({ from = 0, pageSize = 1000 }: { from?: number; pageSize?: number } = {}): Promise<Entry[]> {
    const all: Entry[] = [];
    let limit = pageSize;  // lowered for good once the node says fewer fit: entries are alike
    for (;;) {
      let page: Entry[];
      for (;;) {
        try {
          page = await this.getLedger({ from: from + all.length, limit });
          break;
        } catch (err) {
          if (!(err instanceof GsioRequestError) || err.fits === undefined || err.fits >= limit) throw err;
          limit = err.fits;
        }
      }
      all.push(...page);
      if (page.length < limit) return all;
    }
  }

  /**
   * The `known_nodes` answer as it is: `nodes` (the ids) and `peers` (a record per node: link,
   * address, last seen, tip).
   */
  async knownNodes(): Promise<KnownNodes> {
    const reply = await this.request<Partial<KnownNodes>>('get_known_nodes');
    const peers = Array.isArray(reply?.peers) ? reply.peers : null;
    if (!peers) throw new Error('get_known_nodes: the answer has no peers list (a node of protocol 2 sends one)');
    return { nodes: Array.isArray(reply.nodes) ? reply.nodes : peers.map((p) => p.node_id), peers };
  }

  /** The nodes this node knows of, itself included (`is_self`): the `peers` of knownNodes(). */
  async getKnownNodes(): Promise<KnownNode[]> {
    return (await this.knownNodes()).peers;
  }

  /**
   * A history search on the node (find_entries): canonical entries matching every field given,
   * newest first, from the tip or below index `before`. One answer looks at a bounded stretch of
   * the chain; go on with `before: answer.next` until `next` is null.
   */
  findEntries(query: HistoryQuery = {}): Promise<HistoryPage> {
    return this.request<HistoryPage>('find_entries', query);
  }

  /** The canonical entry with this id; rejects when the chain has none. */
  getEntry(id: string): Promise<Entry> {
    return this.request<Entry>('get_entry', id);
  }

  /**
   * A private network's members and the admissions and removals along its chain (get_members);
   * `network` is null on an open network.
   */
  getMembers(): Promise<Members> {
    return this.request<Members>('get_members');
  }

  /** The node's id, protocol version, height, tip and counters. */
  nodeInfo(): Promise<NodeInfo> {
    return this.request<NodeInfo>('node_info');
  }

  /** Asks the node to re-check its own chain. To check it without trusting the node, use verifyChain(). */
  async verifyOnNode(): Promise<{ valid: boolean; error?: string }> {
    // Not request(): a failed check is a normal answer here, carrying `error` next to `valid`.
    return this.#socket.timeout(this.#requestTimeoutMs).emitWithAck('verify_ledger');
  }

  /** Every entry that joins this node's canonical chain (added here or received from a peer). */
  onEntry(listener: (entry: Entry) => void): Unsubscribe {
    return this.#events.on('entry', listener);
  }

  /** Branch switches of the canonical chain: drop everything from `fork_height`, append `added`. */
  onReorg(listener: (reorg: Reorg) => void): Unsubscribe {
    return this.#events.on('reorg', listener);
  }

  /** Every change of the connection state (connecting, connected, transport upgrade, reconnecting, ...). */
  onState(listener: (status: ConnectionStatus) => void): Unsubscribe {
    return this.#events.on('state', listener);
  }

  /** The node's `auth` echo, on every (re)connect. */
  onAuth(listener: (payload: unknown) => void): Unsubscribe {
    return this.#events.on('auth', listener);
  }

  /** Closes the connection for good; pending requests reject. */
  close(): void {
    this.#socket.disconnect();
    this.#events.clear();
  }
}

/** Shorthand for GsioClient.connect(url, options). */
export function connect(url: string, options: GsioClientOptions = {}): Promise<GsioClient> {
  return GsioClient.connect(url, options);
}
