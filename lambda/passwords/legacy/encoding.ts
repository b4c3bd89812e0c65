/**
 * The strict readers the legacy formats share. Each accepts exactly one spelling of a value (no leading zeros,
 * canonical base64), so that a stored hash has one meaning, and every refusal is a PasswordHashFormatError
 * whose message names the field, never its content.
 */
import { timingSafeEqual } from 'node:crypto';
import { PasswordHashFormatError } from '../phc';

/** A decimal as the reference implementations write one: no sign, no leading zero, at most 9 digits. */
export function decimal(text: string, what: string, min: number, max: number): number {
  if (!/^(0|[1-9][0-9]{0,8})$/.test(text)) throw new PasswordHashFormatError(`${what} is not a decimal number`);
  const value = Number(text);
  if (value < min || value > max) {
    throw new PasswordHashFormatError(`${what} is ${value}, outside the accepted ${min} to ${max}`);
  }
  return value;
}

/** Byte-length bounds for a decoded field (salt or digest). */
export function lengthWithin(bytes: Uint8Array, what: string, min: number, max: number): void {
  if (bytes.length < min || bytes.length > max) {
    const expected = min === max ? `${min}` : `${min} to ${max}`;
    throw new PasswordHashFormatError(`${what} is ${bytes.length} bytes, expected ${expected}`);
  }
}

/** bcrypt's own alphabet (OpenBSD bcrypt.c): standard base64's 64 characters in another order, no padding. */
const BCRYPT = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * Standard base64. `padded`: with its "=" padding (Django, LDAP) or without (PHC strings). Decoding and
 * re-encoding must give the text back: Buffer.from(…, 'base64') skips junk and ignores the unused bits
 * of the last character, which would give one hash several spellings.
 */
export function base64(text: string, what: string, padded: boolean): Buffer {
  const shape = padded ? /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/ : /^[A-Za-z0-9+/]*$/;
  const bytes = Buffer.from(text, 'base64');
  const again = bytes.toString('base64');
  if (text === '' || !shape.test(text) || (padded ? again : again.replace(/=+$/, '')) !== text) {
    throw new PasswordHashFormatError(`${what} is not ${padded ? 'padded' : 'unpadded'} standard base64`);
  }
  return bytes;
}

/** passlib's "adapted base64" (passlib.utils.binary.ab64_decode): standard base64 with "." for "+", unpadded. */
export function adaptedBase64(text: string, what: string): Buffer {
  if (text.includes('+')) throw new PasswordHashFormatError(`${what} is not adapted base64`);
  try {
    return base64(text.replaceAll('.', '+'), what, false);
  } catch {
    throw new PasswordHashFormatError(`${what} is not adapted base64`);
  }
}

/**
 * bcrypt's base64: `text` holds exactly `length` bytes, and the bits of its last character past them are zero
 * (OpenBSD's encoder writes them so; a hash with other bits there is not one it made, and never verifies there).
 */
export function bcryptBase64(text: string, what: string, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  let accumulator = 0;
  let bits = 0;
  let written = 0;
  for (const char of text) {
    const value = BCRYPT.indexOf(char);
    if (value < 0) throw new PasswordHashFormatError(`${what} is not bcrypt base64`);
    accumulator = ((accumulator << 6) | value) & 0xffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (written === length) throw new PasswordHashFormatError(`${what} is longer than ${length} bytes`);
      bytes[written++] = (accumulator >> bits) & 0xff;
    }
  }
  if (written !== length) throw new PasswordHashFormatError(`${what} is shorter than ${length} bytes`);
  if ((accumulator & ((1 << bits) - 1)) !== 0)
    throw new PasswordHashFormatError(`${what} is not canonical bcrypt base64`);
  return bytes;
}

/** Equal-length comparison in constant time; the caller derives to the stored length, so lengths always match. */
export function sameBytes(derived: Uint8Array, stored: Uint8Array): boolean {
  return derived.length === stored.length && timingSafeEqual(derived, stored);
}
