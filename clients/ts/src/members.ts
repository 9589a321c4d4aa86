// Private networks on the client side (docs/PROTOCOL.md §8): the answer to a node's challenge, an
// author's signed post, reading and redeeming invites, and the shapes of get_members. Checking a
// post's author block is verifyAuthorBlock (verify.ts); who may write at which point of the chain
// is the node's to judge (src/ledger/membership.cpp), as it needs the whole chain's membership.
import * as ed from '@noble/ed25519';
import { bytesToHex, hexToBytes, isHex } from './hex.js';
import { nowUnixUs } from './ids.js';
import { decodeUtf8Strict, parseStrictJson } from './json.js';
import type { JsonValue } from './types.js';
import { nodeIdFromSeed, signedDigest, verifySignature } from './verify.js';

/** What a private network's node sends on connect, before `auth`. */
export interface Challenge {
  network_id: string;
  network_name: string;
  node_id: string;
  /** 64 random hex digits, fresh for this connection. */
  challenge: string;
  /** The charter's read policy: `members` (prove a key to read) or `anyone`. */
  read: 'members' | 'anyone';
}

function signDigest(seed: string, digestHex: string): string {
  return bytesToHex(ed.sign(hexToBytes(digestHex), hexToBytes(seed)));
}

/**
 * The `authenticate` argument proving the key of `seed` to the node that sent `challenge`, on that
 * connection only: the signature of signedDigest("gsio-client-v1", network, {challenge, key, node}).
 */
export function clientProof(seed: string, challenge: Challenge): { key: string; sig: string } {
  const key = nodeIdFromSeed(seed);
  const digest = signedDigest('gsio-client-v1', challenge.network_id,
                              { challenge: challenge.challenge, key, node: challenge.node_id });
  return { key, sig: signDigest(seed, digest) };
}

/**
 * `data` with an author block signed by the key of `seed` for network `networkId`: what
 * add_ledger_entry takes from an author. `timeUs` defaults to now (unix microseconds).
 */
export function signAsAuthor(seed: string, networkId: string, data: Record<string, JsonValue>,
                             timeUs?: number): Record<string, JsonValue> {
  if ('author' in data || 'gsio' in data) throw new TypeError('signAsAuthor: data must not hold "author" or "gsio"');
  const key = nodeIdFromSeed(seed);
  const time = timeUs ?? Number(nowUnixUs());
  const sig = signDigest(seed, signedDigest('gsio-author-v1', networkId, { ...data, author: { key, time } }));
  return { ...data, author: { key, time, sig } };
}

// --- invites and redemptions -------------------------------------------------------------------

/** A role in a private network (docs/PROTOCOL.md §8, Roles). */
export type Role = 'admin' | 'node' | 'author' | 'reader';

/** An invite: a capability signed by an admin, carried as base64url of its canonical JSON. */
export interface Invite {
  gsio: 'invite';
  network: string;
  role: 'node' | 'author' | 'reader';
  /** Unix microseconds after which it can no longer be redeemed. */
  expires: number;
  /** 32 hex digits. */
  nonce: string;
  /** The admin who signed it. */
  by: string;
  sig: string;
}

/** Why readInvite refused a text. */
export type InviteProblem = 'malformed' | 'wrong_kind' | 'expired' | 'bad_signature' | 'wrong_network';

export class InviteError extends Error {
  override name = 'InviteError';
  constructor(readonly reason: InviteProblem, message: string) {
    super(message);
  }
}

/** The longest nick a node takes, in UTF-8 bytes. */
export const MAX_NICK_BYTES = 64;

const INVITE_FIELDS = ['by', 'expires', 'gsio', 'network', 'nonce', 'role', 'sig'];

function base64UrlBytes(text: string): Uint8Array {
  // No padding and nothing outside the URL alphabet: the one spelling `gsio invite` prints.
  if (!/^[A-Za-z0-9_-]+$/.test(text) || text.length % 4 === 1) {
    throw new InviteError('malformed', 'an invite is base64url text (A-Z a-z 0-9 - _, no padding)');
  }
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/**
 * Reads an invite from its string or from a link holding `#invite=<string>` (what `gsio invite`
 * prints), and checks it as far as a client can: its shape, that it is an invite, its admin's
 * signature, and that it has not expired (`nowUs`, unix microseconds, defaults to now); with
 * `networkId`, that it is for that network. Whether its signer is an admin and its nonce unspent
 * is the node's to judge. Throws InviteError with a reason and a message for people.
 */
export function readInvite(text: string,
                           options: { nowUs?: number | bigint | undefined; networkId?: string | undefined } = {}): Invite {
  let encoded = text.trim();
  const inLink = /[#?&]invite=([^&#\s]*)/.exec(encoded);
  if (inLink) encoded = inLink[1] ?? '';
  else if (/[/#:?]/.test(encoded)) throw new InviteError('malformed', 'the link holds no "#invite="');
  if (!encoded) throw new InviteError('malformed', 'the invite is empty');
  let value: unknown;
  try {
    value = parseStrictJson(decodeUtf8Strict(base64UrlBytes(encoded)));
  } catch (err) {
    if (err instanceof InviteError) throw err;
    throw new InviteError('malformed', `the invite is not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InviteError('malformed', 'an invite is a JSON object');
  }
  const o = value as Record<string, unknown>;
  if (o.gsio !== 'invite') {
    throw new InviteError('wrong_kind', `this is not an invite (gsio: ${JSON.stringify(o.gsio ?? null)})`);
  }
  if (Object.keys(o).sort().join(',') !== INVITE_FIELDS.join(',')) {
    throw new InviteError('malformed', `an invite has exactly the members ${INVITE_FIELDS.join(', ')}`);
  }
  const { network, role, expires, nonce, by, sig } = o;
  if (typeof network !== 'string' || !isHex(network, 32) || typeof by !== 'string' || !isHex(by, 32) ||
      typeof sig !== 'string' || !isHex(sig, 64) || typeof nonce !== 'string' || !isHex(nonce, 16) ||
      typeof expires !== 'number' || !Number.isSafeInteger(expires) || expires < 0 ||
      (role !== 'node' && role !== 'author' && role !== 'reader')) {
    throw new InviteError('malformed', 'invite fields: 64-hex network and by, a role (node, author or reader), ' +
                          'an integer expires, a 32-hex nonce, a 128-hex sig');
  }
  const invite: Invite = { gsio: 'invite', network, role, expires, nonce, by, sig };
  if (!verifySignature(by, signedDigest('gsio-invite-v1', network, { ...invite }), sig)) {
    throw new InviteError('bad_signature', "the invite's signature does not hold: it was changed or cut short");
  }
  if (options.networkId !== undefined && network !== options.networkId) {
    throw new InviteError('wrong_network', `the invite is for network ${network.slice(0, 16)}…, not this one`);
  }
  const now = BigInt(options.nowUs ?? nowUnixUs());
  if (BigInt(expires) < now) {
    throw new InviteError('expired', `the invite expired on ${new Date(Math.floor(expires / 1000)).toISOString()}`);
  }
  return invite;
}

/**
 * Why `nick` cannot be a member's nick, or null when it can: 1 to MAX_NICK_BYTES bytes of UTF-8,
 * no control characters, not starting or ending with a space (the node takes any string up to
 * 64 bytes; the rest keeps nicks readable in a list).
 */
export function nickProblem(nick: string): string | null {
  if (nick.length === 0) return 'a nickname needs at least one character';
  if (new TextEncoder().encode(nick).length > MAX_NICK_BYTES) return `a nickname is at most ${MAX_NICK_BYTES} bytes`;
  if (/\p{Cc}/u.test(nick)) return 'a nickname holds no control characters';
  if (nick.trim() !== nick) return 'a nickname does not start or end with a space';
  return null;
}

/**
 * The data of the entry by which the key of `seed` redeems `invite` (docs/PROTOCOL.md §8):
 * `{gsio: "redeem", invite, key, nick?, sig}`, signed with the domain gsio-redeem-v1 for the
 * invite's network. Any connection may send it with add_ledger_entry. Throws on a bad nick.
 */
export function redeemInvite(seed: string, invite: Invite, nick?: string): Record<string, JsonValue> {
  if (nick !== undefined) {
    const bad = nickProblem(nick);
    if (bad) throw new TypeError(`redeemInvite: ${bad}`);
  }
  const key = nodeIdFromSeed(seed);
  const unsigned: Record<string, JsonValue> = {
    gsio: 'redeem', invite: { ...invite }, key, ...(nick !== undefined ? { nick } : {}),
  };
  return { ...unsigned, sig: signDigest(seed, signedDigest('gsio-redeem-v1', invite.network, unsigned)) };
}

/** A fresh Ed25519 seed (64 hex) from the platform's cryptographic random source. */
export function newSeed(): string {
  return bytesToHex(globalThis.crypto.getRandomValues(new Uint8Array(32)));
}

/**
 * A key's fingerprint for people: its first 16 hex digits in groups of four (`66cd:608b:928b:88e5`),
 * enough to tell keys apart at a glance; compare whole keys where it matters.
 */
export function fingerprint(key: string): string {
  return (key.slice(0, 16).match(/.{1,4}/g) ?? []).join(':');
}

// --- get_members -------------------------------------------------------------------------------

/** A current member, as get_members lists it. */
export interface MemberRecord {
  key: string;
  role: Role;
  nick?: string;
  /** When it was admitted (unix µs of the admitting entry). */
  since_us: number;
  /** The key that admitted it: an admin, or the charter's creator. */
  admitted_by: string;
}

/** One admission or removal along the canonical chain. */
export interface MembershipChange {
  /** The entry's index on the chain. */
  index: number;
  entry_id: string;
  time_us: number;
  op: 'admitted' | 'removed';
  key: string;
  role: Role;
  nick?: string;
  /** The admin who signed the statement or the invite. */
  by: string;
}

/** The get_members answer; `network` is null on an open network. */
export interface Members {
  network: { id: string; name: string; read: 'members' | 'anyone' } | null;
  members: MemberRecord[];
  /** Oldest first. */
  changes: MembershipChange[];
}
