/**
 * The stored form, a PHC string: `$scrypt$ln=17,r=8,p=1$<salt>$<hash>`, salt and hash in standard base64
 * without padding. Carrying the parameters in every hash lets the policy change without invalidating old hashes.
 */
import { log2N, type ScryptParams, validateScryptParams } from '../../contract/scrypt-params';

/** A stored hash that is not a well-formed scrypt PHC string: data corruption or a bug, never a wrong password. */
export class PasswordHashFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PasswordHashFormatError';
  }
}

export interface DecodedHash {
  readonly params: ScryptParams;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

// Accepted lengths for hashes read back; we write 16-byte salts and 32-byte keys (see SALT_BYTES, KEY_BYTES).
const MIN_SALT_BYTES = 8;
const MAX_SALT_BYTES = 64;
const MIN_KEY_BYTES = 16;
const MAX_KEY_BYTES = 64;

// PHC decimal: no sign, no leading zeros, so each hash has exactly one spelling.
const DECIMAL = '(0|[1-9][0-9]{0,8})';
const PARAMS = new RegExp(`^ln=${DECIMAL},r=${DECIMAL},p=${DECIMAL}$`);
const B64 = /^[A-Za-z0-9+/]+$/;

export function encodePhc(params: ScryptParams, salt: Uint8Array, hash: Uint8Array): string {
  return `$scrypt$ln=${log2N(params.N)},r=${params.r},p=${params.p}$${toB64(salt)}$${toB64(hash)}`;
}

/** Parses strictly; anything else throws PasswordHashFormatError (the message never contains the hash itself). */
export function decodePhc(encoded: string): DecodedHash {
  if (typeof encoded !== 'string') throw new PasswordHashFormatError('password hash is not a string');
  const parts = encoded.split('$');
  // "$scrypt$params$salt$hash" splits into ["", "scrypt", params, salt, hash].
  if (parts.length !== 5 || parts[0] !== '' || parts[1] !== 'scrypt') {
    throw new PasswordHashFormatError(
      'password hash is not of the form $scrypt$ln=<int>,r=<int>,p=<int>$<salt>$<hash>',
    );
  }
  const [, , paramText = '', saltText = '', hashText = ''] = parts;
  const match = PARAMS.exec(paramText);
  if (!match) throw new PasswordHashFormatError('password hash parameters are not "ln=<int>,r=<int>,p=<int>"');
  const ln = Number(match[1]);
  const params: ScryptParams = { N: ln >= 1 && ln <= 52 ? 2 ** ln : NaN, r: Number(match[2]), p: Number(match[3]) };
  try {
    validateScryptParams(params);
  } catch (err) {
    throw new PasswordHashFormatError(`password hash parameters out of range: ${(err as Error).message}`);
  }
  const salt = fromB64(saltText, 'salt');
  const hash = fromB64(hashText, 'hash');
  if (salt.length < MIN_SALT_BYTES || salt.length > MAX_SALT_BYTES) {
    throw new PasswordHashFormatError(
      `password hash salt is ${salt.length} bytes, expected ${MIN_SALT_BYTES} to ${MAX_SALT_BYTES}`,
    );
  }
  if (hash.length < MIN_KEY_BYTES || hash.length > MAX_KEY_BYTES) {
    throw new PasswordHashFormatError(
      `password hash key is ${hash.length} bytes, expected ${MIN_KEY_BYTES} to ${MAX_KEY_BYTES}`,
    );
  }
  return { params, salt, hash };
}

function toB64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64').replace(/=+$/, '');
}

/** Buffer.from(…, 'base64') skips junk silently; re-encoding and comparing rejects junk, padding and non-canonical tails. */
function fromB64(text: string, what: string): Buffer {
  const bytes = Buffer.from(text, 'base64');
  if (!B64.test(text) || text.length % 4 === 1 || toB64(bytes) !== text) {
    throw new PasswordHashFormatError(`password hash ${what} is not unpadded standard base64`);
  }
  return bytes;
}
