// The node-to-node envelope (docs/PROTOCOL.md §7) and a small client for gsio-relay, for programs
// that want to watch or take part in a network's P2P traffic: monitors, bridges, test tools.
import { Listeners, type Unsubscribe } from './emitter.js';
import { isHex } from './hex.js';
import { PROTOCOL_VERSION, type Entry } from './types.js';
import { nodeIdFromSeed, relayProof } from './verify.js';

export type MessageType =
  | 'NodeAnnounce'
  | 'NodeListRequest'
  | 'NodeListResponse'
  | 'EntryAnnounce'
  | 'EntryRequest'
  | 'EntryResponse'
  | 'LedgerSyncRequest'
  | 'LedgerSyncResponse';

export interface Envelope<P extends object = Record<string, unknown>> {
  message_type: string;
  /** Unique per message, 1-256 bytes; receivers drop ids they saw recently. */
  message_id: string;
  sender_id: string;
  /** A node id, or "" for a broadcast. */
  recipient_id: string;
  /** A private network's id (its charter's hash, docs/PROTOCOL.md §8); absent on an open network. */
  network_id?: string;
  payload: P;
}

/** NodeAnnounce (docs/PROTOCOL.md §7): sent on every new link, then as a heartbeat. */
export interface NodeAnnouncePayload {
  node_id: string;
  /** The sender's protocol version: 2. */
  protocol: number;
  /** The node's advertised http:// URL, or "". */
  address: string;
  height: number;
  tip_hash: string;
  /** Entries the node knows on all branches. */
  entries: number;
  /** On the first announce of a relay link: the proof of node_id (see relayProof). */
  relay_proof?: string;
  /** On a private network: the admission of node_id (docs/PROTOCOL.md §8, Relays). */
  membership?: string;
}

/** NodeListResponse: `nodes` are the ids, `peers` a record for each. */
export interface NodeListResponsePayload {
  nodes: string[];
  peers: { node_id: string; address: string; height: number; tip_hash: string }[];
}

/** EntryAnnounce: an entry its creator appended, with the creator's tip after it. */
export interface EntryAnnouncePayload {
  entry: Entry;
  height: number;
  tip_hash: string;
}

/** A frame that is not a well-formed envelope. */
export class EnvelopeError extends Error {
  override name = 'EnvelopeError';
}

const utf8Length = (s: string): number => new TextEncoder().encode(s).length;

function checkEnvelope(value: unknown): Envelope {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new EnvelopeError('not a JSON object');
  const v = value as Record<string, unknown>;
  for (const field of ['message_type', 'message_id', 'sender_id', 'recipient_id'] as const) {
    if (typeof v[field] !== 'string') throw new EnvelopeError(`${field} is not a string`);
  }
  const id = v.message_id as string;
  if (id.length === 0 || utf8Length(id) > 256) throw new EnvelopeError('message_id must be 1-256 bytes');
  if ((v.message_type as string).length === 0) throw new EnvelopeError('message_type is empty');
  if (v.network_id !== undefined && (typeof v.network_id !== 'string' || !/^[0-9a-f]{64}$/.test(v.network_id))) {
    throw new EnvelopeError('network_id must be 64 lowercase hex digits');
  }
  if (typeof v.payload !== 'object' || v.payload === null || Array.isArray(v.payload)) {
    throw new EnvelopeError('payload is not a JSON object');
  }
  return v as unknown as Envelope;
}

/** Parses one relay frame (or p2p_message argument); throws EnvelopeError when malformed. */
export function decodeEnvelope(text: string): Envelope {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new EnvelopeError(`not JSON: ${(err as Error).message}`);
  }
  return checkEnvelope(value);
}

/** The frame text for an envelope; throws EnvelopeError for one a relay would drop as malformed. */
export function encodeEnvelope(envelope: Envelope<object>): string {
  return JSON.stringify(checkEnvelope(envelope));
}

/** 128 random bits as hex: unique enough for the relay's and nodes' duplicate filters. */
export function newMessageId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function makeEnvelope<P extends object>(messageType: MessageType | string, senderId: string, payload: P,
                                               recipientId = '', networkId = ''): Envelope<P> {
  const envelope: Envelope<P> = { message_type: messageType, message_id: newMessageId(), sender_id: senderId,
                                  recipient_id: recipientId, payload };
  if (networkId) envelope.network_id = networkId;
  return envelope;
}

/** What RelayConnection needs of a WebSocket: the `ws` package's (Node 22's global one works too, without proofs). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'close' | 'error' | 'message', listener: (event: any) => void): void;
}
export type WebSocketConstructor = new (url: string, protocolsOrOptions?: any) => WebSocketLike;

export interface RelayConnectOptions {
  /** The id this connection speaks for (64 hex); the relay requires every sender_id to match it. */
  nodeId: string;
  /** The relay's shared network token (`gsio-relay --token`), if it requires one. */
  token?: string;
  /**
   * Where to send the token: `query` (`?token=`, works everywhere, including browsers, which
   * cannot set headers on a WebSocket) or `header` (`Authorization: Bearer`, needs a constructor
   * taking `{headers}`, like the `ws` package's). Default: query.
   */
  tokenIn?: 'query' | 'header';
  /**
   * The Ed25519 seed (64 hex) of `nodeId`: announce() then proves the id to the relay, which a relay
   * with `--require-proof` insists on and which keeps other connections from taking the id over.
   * Needs a WebSocket that reports the upgrade response (the `ws` package's 'upgrade' event).
   */
  seed?: string;
  /**
   * The private network this connection takes part in (docs/PROTOCOL.md §8): `id` is its charter's
   * hash, `membership` the admission that announce() shows the relay (the data of the entry that
   * admitted `nodeId` as a node; absent when the charter did). Every message then carries the
   * network's id, and connect() refuses a relay whose upgrade response does not list it in
   * `X-Gsio-Networks`, as the nodes do, so the network's traffic never goes to a relay that would
   * pass it to anyone. Needs `seed` and a WebSocket that reports the upgrade response.
   */
  network?: { id: string; membership?: string };
  /** The WebSocket implementation; globalThis.WebSocket by default (pass `ws` on Node 20). */
  WebSocket?: WebSocketConstructor;
  /** How long the upgrade may take, ms (default 10,000). */
  openTimeoutMs?: number;
}

type RelayEvents = {
  message: [Envelope];
  malformed: [string, EnvelopeError];
  close: [number, string];
};

/** How many message ids to remember for duplicate suppression, as the nodes' relay link does. */
const RECENT_IDS = 8192;

/**
 * One connection to a gsio-relay. The relay forwards nothing to a connection until it has
 * announced itself, so call announce() first. Incoming messages are delivered once each: repeats
 * of a recent message_id, our own messages and messages directed to another node are dropped, as
 * the nodes do.
 */
export class RelayConnection {
  readonly nodeId: string;
  readonly #ws: WebSocketLike;
  readonly #events = new Listeners<RelayEvents>();
  readonly #recent = new Set<string>();
  readonly #proof: string | undefined;
  readonly #network: { id: string; membership?: string } | undefined;
  #closed = false;

  static connect(url: string, options: RelayConnectOptions): Promise<RelayConnection> {
    if (!isHex(options.nodeId, 32)) return Promise.reject(new TypeError('nodeId must be 64 lowercase hex'));
    if (options.seed !== undefined && (!isHex(options.seed, 32) || nodeIdFromSeed(options.seed) !== options.nodeId))
      return Promise.reject(new TypeError('seed must be the 64-hex Ed25519 seed of nodeId'));
    const network = options.network;
    if (network !== undefined && (!isHex(network.id, 32) || options.seed === undefined))
      return Promise.reject(new TypeError('network needs a 64-hex id, and a seed: its relays require proofs'));
    const Impl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!Impl) return Promise.reject(new Error('no WebSocket implementation: pass options.WebSocket (e.g. the ws package)'));
    let target = url;
    let init: unknown;
    if (options.token !== undefined) {
      if (options.tokenIn === 'header') {
        init = { headers: { Authorization: `Bearer ${options.token}` } };
      } else {
        const u = new URL(url);
        u.searchParams.set('token', options.token);
        target = u.toString();
      }
    }
    const ws = init === undefined ? new Impl(target) : new Impl(target, init);
    // The relay's challenge comes in its 101 response, which only some implementations show.
    let challenge: string | undefined;
    // So does the list of private networks it serves.
    let served: string[] | undefined;
    const withUpgrade = ws as unknown as { on?: (event: string, listener: (res: any) => void) => void };
    if (network !== undefined && typeof withUpgrade.on !== 'function') {
      ws.close();
      return Promise.reject(new TypeError('network needs a WebSocket that reports the upgrade response (the ws package)'));
    }
    if (options.seed !== undefined && typeof withUpgrade.on === 'function')
      withUpgrade.on('upgrade', (res: { headers?: Record<string, string | string[] | undefined> }) => {
        const value = res?.headers?.['x-gsio-challenge'];
        if (typeof value === 'string') challenge = value;
        const networks = res?.headers?.['x-gsio-networks'];
        served = typeof networks === 'string' ? networks.split(',').map((id) => id.trim()) : [];
      });
    const timeoutMs = options.openTimeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const timer = setTimeout(() => settle(() => {
        ws.close();
        reject(new Error(`relay ${url}: no connection within ${timeoutMs} ms`));
      }), timeoutMs);
      ws.addEventListener('open', () => settle(() => {
        if (network !== undefined && !served?.includes(network.id)) {
          ws.close(1000, 'not this network');
          reject(new Error(`relay ${url} does not serve private network ${network.id}` +
                           (served?.length ? ` (it serves ${served.join(', ')})` : ' (it serves no private network)') +
                           ': its broadcasts would reach anyone who connects'));
          return;
        }
        const proof = options.seed !== undefined && challenge !== undefined
          ? relayProof(options.seed, challenge, options.nodeId) : undefined;
        resolve(new RelayConnection(options.nodeId, ws, proof, network));
      }));
      // Browsers tell nothing about why an upgrade failed (e.g. 401 for a wrong token).
      ws.addEventListener('error', (ev: { message?: string }) =>
        settle(() => reject(new Error(`relay ${url}: ${ev?.message ?? 'connection failed'}`))));
      ws.addEventListener('close', (ev: { code?: number }) =>
        settle(() => reject(new Error(`relay ${url}: closed before open (code ${ev?.code ?? '?'})`))));
    });
  }

  private constructor(nodeId: string, ws: WebSocketLike, proof: string | undefined,
                      network: { id: string; membership?: string } | undefined) {
    this.nodeId = nodeId;
    this.#ws = ws;
    this.#proof = proof;
    this.#network = network;
    ws.addEventListener('message', (ev: { data: unknown }) => this.#receive(ev.data));
    ws.addEventListener('close', (ev: { code?: number; reason?: string }) => {
      this.#closed = true;
      this.#events.emit('close', ev?.code ?? 0, ev?.reason ?? '');
    });
  }

  #remember(id: string): boolean {
    if (this.#recent.has(id)) return false;
    this.#recent.add(id);
    // A Set iterates in insertion order, so the first key is the oldest.
    if (this.#recent.size > RECENT_IDS) this.#recent.delete(this.#recent.values().next().value as string);
    return true;
  }

  #receive(data: unknown): void {
    if (typeof data !== 'string') return; // the relay only sends text frames
    let env: Envelope;
    try {
      env = decodeEnvelope(data);
    } catch (err) {
      this.#events.emit('malformed', data, err as EnvelopeError);
      return;
    }
    if (env.sender_id === this.nodeId) return;
    if (env.recipient_id !== '' && env.recipient_id !== this.nodeId) return;
    if (!this.#remember(env.message_id)) return;
    this.#events.emit('message', env);
  }

  get open(): boolean {
    return !this.#closed && this.#ws.readyState === 1;
  }

  /** Sends a message from this connection's node id; returns the envelope sent. */
  send<P extends object>(messageType: MessageType | string, payload: P, recipientId = ''): Envelope<P> {
    const env = makeEnvelope(messageType, this.nodeId, payload, recipientId, this.#network?.id ?? '');
    this.#remember(env.message_id); // an echo of our own message is never news
    this.#ws.send(encodeEnvelope(env));
    return env;
  }

  /** Whether announce() proves the id to the relay (options.seed, and the relay sent a challenge). */
  get proving(): boolean {
    return this.#proof !== undefined;
  }

  /**
   * NodeAnnounce: how the relay learns this connection's id (and how nodes learn of us). It says
   * `protocol: 2`; with a seed it carries `relay_proof`, and on a private network the admission
   * (`membership`) when one was given.
   */
  announce(payload: { address?: string; height?: number; tip_hash?: string; entries?: number } = {}): Envelope {
    const membership = this.#network?.membership;
    return this.send('NodeAnnounce', {
      node_id: this.nodeId, protocol: PROTOCOL_VERSION, address: '', height: 0, tip_hash: '0'.repeat(64), entries: 0,
      ...payload,
      ...(this.#proof !== undefined ? { relay_proof: this.#proof } : {}),
      ...(membership !== undefined ? { membership } : {}),
    });
  }

  /** Delivered messages, at most once per message_id. */
  onMessage(listener: (envelope: Envelope) => void): Unsubscribe {
    return this.#events.on('message', listener);
  }

  /** Frames that are not envelopes (the relay forwards nothing malformed, so this means a bug). */
  onMalformed(listener: (text: string, error: EnvelopeError) => void): Unsubscribe {
    return this.#events.on('malformed', listener);
  }

  onClose(listener: (code: number, reason: string) => void): Unsubscribe {
    return this.#events.on('close', listener);
  }

  /** Resolves with the first delivered message that `match` accepts, or rejects after `timeoutMs`. */
  waitFor(match: (envelope: Envelope) => boolean, timeoutMs = 10_000): Promise<Envelope> {
    return new Promise((resolve, reject) => {
      const stop = this.onMessage((env) => {
        if (!match(env)) return;
        clearTimeout(timer);
        stop();
        resolve(env);
      });
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`no matching P2P message within ${timeoutMs} ms`));
      }, timeoutMs);
    });
  }

  close(): void {
    this.#ws.close(1000, 'bye');
  }
}
