// Canonical JSON per RFC 8785 (JCS), as docs/PROTOCOL.md §4 fixes it. Entry hashes are computed
// over these bytes, so this must agree with the node byte for byte; tests check it against the
// RFC's own vectors and the signed entry vectors in tests/vectors.
import type { JsonValue } from './types.js';

/** Thrown for values that have no canonical JSON form (NaN, lone surrogates, undefined, ...). */
export class CanonicalJsonError extends Error {
  override name = 'CanonicalJsonError';
}

// A UTF-16 string that cannot be encoded as UTF-8: a high surrogate not followed by a low one, or
// a low surrogate not preceded by a high one. RFC 8785 treats such strings as errors.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function serializeString(s: string): string {
  if (LONE_SURROGATE.test(s)) throw new CanonicalJsonError('string holds a lone UTF-16 surrogate');
  // Since ES2019 JSON.stringify escapes exactly what RFC 8785 escapes: `"`, `\`, \b \f \n \r \t,
  // and other control characters as \u00xx with lowercase hex; everything else stays raw.
  return JSON.stringify(s);
}

function serializeNumber(n: number): string {
  if (!Number.isFinite(n)) throw new CanonicalJsonError(`${n} is not a JSON number`);
  // RFC 8785 numbers are ECMAScript's Number.prototype.toString, which String() is; it already
  // writes -0 as "0".
  return String(n);
}

function serialize(value: unknown, parents: object[]): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return serializeNumber(value);
    case 'string':
      return serializeString(value);
    case 'object':
      break;
    default:
      throw new CanonicalJsonError(`a ${typeof value} is not a JSON value`);
  }
  const obj = value as object;
  if (parents.includes(obj)) throw new CanonicalJsonError('cyclic structure');
  parents.push(obj);
  let out: string;
  if (Array.isArray(obj)) {
    out = `[${obj.map((item) => serialize(item, parents)).join(',')}]`;
  } else {
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      throw new CanonicalJsonError(`a ${proto?.constructor?.name ?? 'non-plain'} object is not a JSON value`);
    }
    // The default sort compares UTF-16 code units, which is the order RFC 8785 prescribes.
    const keys = Object.keys(obj).sort();
    const record = obj as Record<string, unknown>;
    out = `{${keys.map((k) => `${serializeString(k)}:${serialize(record[k], parents)}`).join(',')}}`;
  }
  parents.pop();
  return out;
}

/**
 * The RFC 8785 canonical JSON text of `value`. Throws CanonicalJsonError for values JSON cannot
 * represent (NaN, Infinity, undefined, functions, lone surrogates, class instances, cycles).
 */
export function canonicalize(value: JsonValue): string {
  return serialize(value, []);
}

/** The canonical JSON of `value` as UTF-8 bytes: what gets hashed. */
export function canonicalBytes(value: JsonValue): Uint8Array {
  return new TextEncoder().encode(canonicalize(value));
}
