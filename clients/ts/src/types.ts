// Shapes that cross the wire between a gsio-node and its clients (docs/PROTOCOL.md §2, §3).

/** The protocol this client speaks: 2 (microsecond ids; `known_nodes` as `{nodes, peers}`). */
export const PROTOCOL_VERSION = 2;

/** Any JSON value: what an entry's `data` may hold. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** One ledger entry, exactly as the node sends it (PROTOCOL.md §3). */
export interface Entry {
  /**
   * `<creator_node_id>-<unix_us>`: microseconds since the epoch, decimal without leading zeros,
   * strictly increasing per creator.
   */
  id: string;
  /** The same instant as the id's unix_us, RFC 3339 UTC with six fractional digits (`2026-01-02T03:04:05.678901Z`). */
  timestamp: string;
  data: JsonValue;
  /** Hash of the entry before; 64 zeros for the first entry. */
  previous_hash: string;
  /** Lowercase hex SHA-256 of the canonical JSON of [id, timestamp, data, previous_hash, creator_node_id]. */
  hash: string;
  /** Lowercase hex Ed25519 public key of the node that created the entry. */
  creator_node_id: string;
  /** Node id → lowercase hex Ed25519 signature of the 32 raw hash bytes; the creator's is required. */
  signatures: Record<string, string>;
}

/** What find_entries looks for (docs/PROTOCOL.md §2); every field given must match. */
export interface HistoryQuery {
  /** The creator's node id, exactly. */
  author?: string;
  /** A substring of the data's string field `nickname`, ignoring ASCII case. */
  nickname?: string;
  /** A substring of the entry's text (a string's data; else its `text`, `note` or `message`; else its JSON), ignoring ASCII case. */
  text?: string;
  /** Bounds on the id's microsecond, inclusive. */
  from_us?: number;
  to_us?: number;
  /** Search below this chain index (exclusive); the tip when absent. */
  before?: number;
  /** Matches in one answer: default 50, at most 200. */
  limit?: number;
}

/** One find_entries answer. */
export interface HistoryPage {
  /** Matches, newest first. */
  entries: Entry[];
  /** Each entry's index on the canonical chain. */
  heights: number[];
  /** The `before` to go on with; null once the search reached the first entry. */
  next: number | null;
  /** Entries looked at for this answer. */
  scanned: number;
  /** Chain height when the search ran. */
  height: number;
}

/** One node in the `peers` of `known_nodes`. */
export interface KnownNode {
  node_id: string;
  /** True for the node this client is connected to. */
  is_self: boolean;
  /** `self`, `relay`, `direct`, `inbound`, or `via <node id>` for nodes only heard of. */
  link: string;
  /** The node's advertised http:// URL ("" when unknown). */
  address: string;
  /** When the node was last heard from, unix ms on the answering node's clock. */
  last_seen: number;
  height: number;
  tip_hash: string;
}

/**
 * The `known_nodes` answer to `get_known_nodes` (protocol 2): `nodes` lists the node ids, as the
 * original system documented; `peers` has a record with the details for each of them.
 */
export interface KnownNodes {
  nodes: string[];
  peers: KnownNode[];
}

/** `ledger_reorg`: the canonical chain switched branches. */
export interface Reorg {
  /** Entries below this index are unchanged; `added` replaces everything from it on. */
  fork_height: number;
  /** Ids of the entries that left the canonical chain. */
  removed: string[];
  /** The entries now at fork_height, fork_height + 1, ... */
  added: Entry[];
  height: number;
  tip_hash: string;
  /**
   * Set when the switch was too large to push (over 1 MiB): `removed` and `added` are then empty
   * and the entries from fork_height on must be fetched with getLedger.
   */
  partial?: boolean;
}

/** `node_info`. */
export interface NodeInfo {
  node_id: string;
  /** The node's protocol version: 2. */
  protocol: number;
  height: number;
  tip_hash: string;
  entries: number;
  forks: number;
  held: number;
  [more: string]: unknown;
}

/** A node's `GET /health`. */
export interface NodeHealth {
  status: string;
  node_id: string;
  /** The node's protocol version: 2. */
  protocol: number;
  height: number;
  tip_hash: string;
  [more: string]: unknown;
}

/** The node's `{error}` reply, e.g. for a refused entry. */
export interface ErrorReply {
  error: string;
}
