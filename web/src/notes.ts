// How the UI reads entries: notes are `{type: "note", text, nickname?}`, but any JSON is shown
// sensibly, since the CLI and other apps add whatever data they like. No DOM here.
import { unixMsFromId, type Entry, type JsonValue } from '@gsio/client';

/** The data of a note added from this UI: `{type: "note", text, nickname?}`. */
export function makeNote(text: string, nickname: string): { [key: string]: JsonValue } {
  return nickname ? { type: 'note', text, nickname } : { type: 'note', text };
}

function field(data: JsonValue, name: string): string | undefined {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  const value = data[name];
  return typeof value === 'string' ? value : undefined;
}

/** The nickname stored in an entry's data, if any. */
export function nicknameOf(entry: Entry): string | undefined {
  return field(entry.data, 'nickname');
}

// A private network's own entries (docs/PROTOCOL.md §8) in words; the details dialog has the JSON.
function membershipText(d: JsonValue): string | undefined {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return undefined;
  const who = (o: JsonValue) => field(o, 'nick') ?? shortId(field(o, 'key') ?? '?', 16);
  if (d.gsio === 'charter') {
    const members = Array.isArray(d.members) ? d.members.length : 0;
    return `Charter of the network "${field(d, 'name') ?? '?'}": ${members} first members; read by ${field(d, 'read') ?? '?'}`;
  }
  if (d.gsio === 'redeem' && d.invite !== undefined) return `${who(d)} joined with an invite as ${field(d.invite, 'role') ?? '?'}`;
  if (d.gsio === 'member') {
    return field(d, 'op') === 'remove' ? `An admin removed ${who(d)}` : `An admin admitted ${who(d)} as ${field(d, 'role') ?? '?'}`;
  }
  return undefined;
}

/**
 * The human text of an entry: a note's text, a `message`, a bare string, a membership entry in
 * words, or the JSON itself.
 */
export function textOf(entry: Entry): string {
  const d = entry.data;
  if (typeof d === 'string') return d;
  return field(d, 'text') ?? field(d, 'note') ?? field(d, 'message') ?? membershipText(d) ?? JSON.stringify(d);
}

export function shortId(id: string, n = 10): string {
  return id.length > n ? `${id.slice(0, n)}…` : id;
}

/**
 * When an entry was made, in unix ms (rounded down), for Dates and the history filter. Read from
 * the id, whose microseconds are exact (`<creator>-<unix_us>`); Date.parse would have to read
 * the timestamp's six fractional digits, which not every browser does. NaN for a malformed id.
 */
export function unixMs(entry: Entry): number {
  return unixMsFromId(entry.id);
}

/**
 * An entry's instant for an HTML `datetime` attribute, which allows at most three fractional
 * digits: the timestamp cut to milliseconds (the full one goes in a title).
 */
export function datetimeAttribute(entry: Entry): string {
  const ms = unixMs(entry);
  return Number.isNaN(ms) ? '' : new Date(ms).toISOString();
}

export interface HistoryFilter {
  /** Exact creator node id, or "" for anyone. */
  author: string;
  /** Case-insensitive substring of the nickname. */
  nickname: string;
  /** Case-insensitive substring of the text (or of the JSON for other data). */
  text: string;
  /** Unix ms bounds, inclusive; NaN for none. */
  from: number;
  to: number;
}

export function matches(entry: Entry, f: HistoryFilter): boolean {
  if (f.author && entry.creator_node_id !== f.author) return false;
  if (f.nickname && !(nicknameOf(entry) ?? '').toLowerCase().includes(f.nickname.toLowerCase())) return false;
  if (f.text && !textOf(entry).toLowerCase().includes(f.text.toLowerCase())) return false;
  const t = unixMs(entry);
  if (!Number.isNaN(f.from) && t < f.from) return false;
  if (!Number.isNaN(f.to) && t > f.to) return false;
  return true;
}
