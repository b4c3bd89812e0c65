/**
 * LDAP's salted SHA schemes (RFC 2307 userPassword values, as OpenLDAP's slappasswd and 389 DS write them):
 * `{SSHA}base64(SHA-1(password || salt) || salt)`, and the same with SHA-256 and SHA-512. The scheme name
 * is case-insensitive, as LDAP treats it. node:crypto computes one digest: microseconds, whatever the salt.
 */
import { createHash } from 'node:crypto';
import { PasswordHashFormatError } from '../phc';
import { base64, lengthWithin, sameBytes } from './encoding';
import type { LegacyFamily } from './family';

type Digest = 'sha1' | 'sha256' | 'sha512';
const SCHEMES: Record<string, { readonly digest: Digest; readonly bytes: number }> = {
  '{SSHA}': { digest: 'sha1', bytes: 20 },
  '{SSHA256}': { digest: 'sha256', bytes: 32 },
  '{SSHA512}': { digest: 'sha512', bytes: 64 },
};
/** slappasswd writes 4 bytes (8 since OpenLDAP 2.5), passlib 4 to 16: 64 is generous. */
const MIN_SALT_BYTES = 4;
const MAX_SALT_BYTES = 64;

export interface LdapSaltedHash {
  readonly digest: Digest;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

export const ldapSaltedFamily: LegacyFamily<LdapSaltedHash> = {
  claims: (encoded) => /^\{SSHA(256|512)?\}/i.test(encoded),

  parse(encoded) {
    const close = encoded.indexOf('}');
    const scheme = encoded.slice(0, close + 1).toUpperCase();
    const known = SCHEMES[scheme];
    if (known === undefined) throw new PasswordHashFormatError('LDAP value names no salted SHA scheme');
    const { digest, bytes } = known;
    const decoded = base64(encoded.slice(close + 1), `LDAP ${scheme} value`, true);
    const salt = decoded.subarray(bytes);
    lengthWithin(salt, `LDAP ${scheme} salt`, MIN_SALT_BYTES, MAX_SALT_BYTES);
    return { digest, salt, hash: decoded.subarray(0, bytes) };
  },

  async verify(password, { digest, salt, hash }) {
    return sameBytes(createHash(digest).update(password).update(salt).digest(), hash);
  },
};
