// Lowercase hex, the only encoding the protocol uses for keys, hashes and signatures.

const HEX_PAIR = /^(?:[0-9a-f]{2})*$/;

/** True for a lowercase hex string of exactly `bytes` bytes. */
export function isHex(s: unknown, bytes: number): s is string {
  return typeof s === 'string' && s.length === bytes * 2 && HEX_PAIR.test(s);
}

export function hexToBytes(hex: string): Uint8Array {
  if (!HEX_PAIR.test(hex)) throw new TypeError('not lowercase hex of whole bytes');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}
