// Entry ids and timestamps (docs/PROTOCOL.md §3, protocol 2): an id is
// `<creator_node_id>-<unix_us>`, microseconds since the epoch in decimal without leading zeros,
// and the timestamp is the same instant in RFC 3339 UTC with exactly six fractional digits,
// e.g. `2026-01-02T03:04:05.678901Z`. Microseconds go beyond what a Date or Date.parse holds
// (milliseconds) and, from the year 2255 on, beyond a double's exact integers, so the instant is
// handled as a BigInt and the timestamp is compared as a string.

/** The latest instant a timestamp can name: 9999-12-31T23:59:59.999999Z, in unix microseconds. */
export const MAX_UNIX_US = 253_402_300_799_999_999n;

const ID = /^([0-9a-f]{64})-(0|[1-9][0-9]*)$/;

function toBigUs(unixUs: bigint | number): bigint {
  if (typeof unixUs === 'bigint') return unixUs;
  if (typeof unixUs === 'number' && Number.isSafeInteger(unixUs)) return BigInt(unixUs);
  throw new RangeError(`unix microseconds must be an integer (a safe one, or a BigInt), not ${String(unixUs)}`);
}

/**
 * The timestamp of an instant given in unix microseconds: RFC 3339 UTC with six fractional
 * digits. Throws RangeError outside 1970-01-01T00:00:00.000000Z .. 9999-12-31T23:59:59.999999Z.
 */
export function timestampFromUnixUs(unixUs: bigint | number): string {
  const us = toBigUs(unixUs);
  if (us < 0n || us > MAX_UNIX_US) throw new RangeError(`${us} µs is outside the years 1970-9999`);
  // toISOString writes "YYYY-MM-DDTHH:MM:SS.mmmZ" for these years; the fraction is replaced by
  // the six digits of the microseconds.
  const iso = new Date(Number(us / 1000n)).toISOString();
  return `${iso.slice(0, 20)}${(us % 1_000_000n).toString().padStart(6, '0')}Z`;
}

/**
 * The instant of an id `<64 lowercase hex>-<unix_us>` in unix microseconds, or undefined when the
 * id is not of that form (a leading zero, a sign, anything after the digits) or names an
 * instant no timestamp can (past the year 9999).
 */
export function unixUsFromId(id: string): bigint | undefined {
  if (typeof id !== 'string') return undefined;
  const m = ID.exec(id);
  if (!m) return undefined;
  const us = BigInt(m[2] as string);
  return us <= MAX_UNIX_US ? us : undefined;
}

/** The instant of an entry's id in unix milliseconds (rounded down), e.g. for a Date; NaN when the id is malformed. */
export function unixMsFromId(id: string): number {
  const us = unixUsFromId(id);
  return us === undefined ? Number.NaN : Number(us / 1000n);
}

let lastNowUs = 0n;

/**
 * The current time in unix microseconds, strictly increasing from one call to the next within
 * this program, as a node makes its ids: when the clock has not moved on (Date.now() counts
 * milliseconds) or stepped back, the next microsecond is taken.
 */
export function nowUnixUs(): bigint {
  const now = BigInt(Date.now()) * 1000n;
  lastNowUs = now > lastNowUs ? now : lastNowUs + 1n;
  return lastNowUs;
}
