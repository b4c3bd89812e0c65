/**
 * Password hashing with scrypt from node:crypto: native OpenSSL, about 3× faster than pure-JS scrypt and
 * byte-identical to it. Always the async crypto.scrypt: it runs on libuv's thread pool, off the event loop.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { DEFAULT_SCRYPT_PARAMS, type ScryptParams, validateScryptParams } from '../../contract/scrypt-params';
import { decodePhc, encodePhc } from './phc';

export const SALT_BYTES = 16;
export const KEY_BYTES = 32;
/** Longer passwords are refused: no user needs more, and it bounds the work an attacker can ask for per request. */
export const MAX_PASSWORD_LENGTH = 1024;

/** Hashes a password at `params` (default: the OWASP policy). Throws RangeError for bad params or an overlong password. */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): Promise<string> {
  validateScryptParams(params);
  const input = passwordBytes(password);
  if (input === undefined) {
    throw new RangeError(`password is longer than ${MAX_PASSWORD_LENGTH} characters`);
  }
  const salt = randomBytes(SALT_BYTES);
  return encodePhc(params, salt, await derive(input, salt, params, KEY_BYTES));
}

/**
 * Checks a password against a stored hash, using the parameters the hash carries.
 * A malformed stored hash throws PasswordHashFormatError instead of returning false: it is corrupt data or a bug,
 * which the caller must report as a server fault, not as a wrong password (that would lock the user out silently).
 */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const { params, salt, hash } = decodePhc(encoded);
  const input = passwordBytes(password);
  // An overlong password cannot match (none was ever stored), but still pays a full derivation so that
  // the response time does not tell it apart from a wrong password.
  const derived = await derive(input ?? Buffer.alloc(0), salt, params, hash.length);
  if (input === undefined) return false;
  // Lengths are equal by construction (derived to hash.length); timingSafeEqual throws otherwise.
  return derived.length === hash.length && timingSafeEqual(derived, hash);
}

/**
 * True when the stored hash was made with parameters other than the policy's (weaker, or just different), or with
 * another salt/key size: the caller rehashes after a successful login. Throws PasswordHashFormatError if malformed.
 */
export function needsRehash(encoded: string, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): boolean {
  const stored = decodePhc(encoded);
  return (
    stored.params.N !== params.N ||
    stored.params.r !== params.r ||
    stored.params.p !== params.p ||
    stored.salt.length !== SALT_BYTES ||
    stored.hash.length !== KEY_BYTES
  );
}

/**
 * A stored-hash stand-in at `params` for unknown users: verifying a password against it costs exactly what
 * verifying a real user's hash at `params` costs (one scrypt of the same N, r, p, salt and key sizes, the
 * same constant-time comparison), so response time does not reveal which usernames exist.
 *
 * It is a random salt and a random key, not the scrypt of anything: the verification is what must cost the
 * same, and nothing ever needs to match it. So it costs no scrypt to make, for any parameters, and is ready
 * as soon as it is asked for (computing a real hash on first use made the first
 * unknown-user attempt on an instance cost two scrypts). A random key matches no password but with
 * probability 2^-256; the caller answers false whatever the comparison says. Throws RangeError for bad params.
 */
export function dummyHash(params: ScryptParams = DEFAULT_SCRYPT_PARAMS): string {
  validateScryptParams(params);
  return encodePhc(params, randomBytes(SALT_BYTES), randomBytes(KEY_BYTES));
}

/** NFC first (NIST SP 800-63B §5.1.1.2): the same typed password, composed or decomposed, gives the same bytes. */
function passwordBytes(password: string): Buffer | undefined {
  const normalized = password.normalize('NFC');
  // Counted in code points, as a user would count characters (not UTF-16 units or UTF-8 bytes).
  let length = 0;
  for (const _ of normalized) {
    if (++length > MAX_PASSWORD_LENGTH) return undefined;
  }
  return Buffer.from(normalized, 'utf8');
}

function derive(password: Buffer, salt: Buffer, params: ScryptParams, keyLength: number): Promise<Buffer> {
  const { N, r, p } = params;
  // OpenSSL refuses unless maxmem covers V (128·r·(N+2)) plus B (128·r·p); Node's default cap is 32 MiB,
  // below the 128 MiB of N=2^17, r=8. Twice the need leaves headroom; it is a cap, not an allocation.
  const maxmem = 2 * 128 * r * (N + 2 + p);
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyLength, { N, r, p, maxmem }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}
