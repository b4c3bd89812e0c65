/**
 * Base32 (RFC 4648 §6), as authenticator apps read a TOTP secret: the alphabet A–Z 2–7 and no padding
 * (Key Uri Format: "the padding specified in RFC 3548 section 2.2 is not required and should be omitted").
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const VALUES: ReadonlyMap<string, number> = new Map([...ALPHABET].map((char, value) => [char, value]));

/** Lengths (mod 8) that whole bytes never encode to (RFC 4648 §6: 1, 3 or 6 characters left over). */
const IMPOSSIBLE_REMAINDERS = new Set([1, 3, 6]);

export function base32Encode(bytes: Uint8Array): string {
  let output = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      output += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) output += ALPHABET[(buffer << (5 - bits)) & 31];
  return output;
}

/**
 * The bytes a base32 string encodes, or undefined when it is not base32: case-insensitive, trailing `=`
 * padding tolerated (some tools add it), nothing else. A length no byte string encodes to, or leftover
 * bits that are not zero (RFC 4648 §3.5), is refused rather than silently truncated: a secret that does not
 * round-trip would give codes nobody's app shows.
 */
export function base32Decode(text: string): Uint8Array | undefined {
  const body = text.replace(/=+$/, '').toUpperCase();
  if (IMPOSSIBLE_REMAINDERS.has(body.length % 8)) return undefined;
  const bytes: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const char of body) {
    const value = VALUES.get(char);
    if (value === undefined) return undefined;
    buffer = ((buffer << 5) | value) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bytes.push((buffer >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  if ((buffer & ((1 << bits) - 1)) !== 0) return undefined;
  return Uint8Array.from(bytes);
}
