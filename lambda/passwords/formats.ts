/**
 * The stored password-hash formats the service verifies: its own scrypt PHC string, which it writes, and the
 * legacy formats an import brings (lambda/passwords/legacy/), which it only verifies: a login that verifies
 * one rehashes it to scrypt (PasswordHasher.needsRehash is true for each).
 */
import { argon2Family } from './legacy/argon2';
import { bcryptFamily } from './legacy/bcrypt';
import type { LegacyFamily } from './legacy/family';
import { ldapSaltedFamily } from './legacy/ldap';
import { djangoPbkdf2Family, passlibPbkdf2Family } from './legacy/pbkdf2';
import { unsaltedFamily } from './legacy/unsalted';
import { decodePhc, PasswordHashFormatError } from './phc';

export type StoredHash =
  | { readonly kind: 'scrypt' }
  | {
      readonly kind: 'legacy';
      /** Checks the password's bytes as the legacy system would have hashed them; see LegacyFamily.verify. */
      verify(password: Uint8Array): Promise<boolean>;
    };

/** Each family claims its strings by prefix; no two claim the same string. */
const LEGACY_FAMILIES: readonly LegacyFamily<unknown>[] = [
  bcryptFamily,
  argon2Family,
  passlibPbkdf2Family,
  djangoPbkdf2Family,
  ldapSaltedFamily,
  unsaltedFamily,
];

const UNKNOWN_FORMAT =
  'password hash is in no format the service verifies: scrypt ($scrypt$), bcrypt ($2a$, $2b$, $2y$), ' +
  'argon2 ($argon2id$, $argon2i$, $argon2d$, v=19), PBKDF2 as passlib ($pbkdf2$, $pbkdf2-sha256$, $pbkdf2-sha512$) ' +
  'or Django (pbkdf2_sha256$, pbkdf2_sha1$) writes it, or LDAP {SSHA}, {SSHA256}, {SSHA512}';

/**
 * Reads a stored hash strictly, its cost parameters within the service's bounds. Anything else throws
 * PasswordHashFormatError, whose message says why and never contains the hash.
 */
export function parseStoredHash(encoded: string): StoredHash {
  if (typeof encoded !== 'string') throw new PasswordHashFormatError('password hash is not a string');
  if (encoded.startsWith('$scrypt$')) {
    decodePhc(encoded);
    return { kind: 'scrypt' };
  }
  const family = LEGACY_FAMILIES.find((candidate) => candidate.claims(encoded));
  if (family === undefined) throw new PasswordHashFormatError(UNKNOWN_FORMAT);
  const parsed = family.parse(encoded);
  return { kind: 'legacy', verify: (password) => family.verify(password, parsed) };
}

/**
 * Why `encoded` cannot be stored as a user's password hash (a sentence for an import's line error, never
 * containing the hash), or undefined when the service can verify it within its parameter bounds.
 */
export function hashProblem(encoded: string): string | undefined {
  try {
    parseStoredHash(encoded);
    return undefined;
  } catch (error) {
    if (error instanceof PasswordHashFormatError) return error.message;
    throw error;
  }
}
