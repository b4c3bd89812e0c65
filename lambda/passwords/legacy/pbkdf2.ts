/**
 * PBKDF2-HMAC (RFC 8018) in the two spellings that imports bring, computed by node:crypto's async pbkdf2
 * (OpenSSL, on libuv's thread pool):
 * - passlib's: `$pbkdf2$rounds$salt$checksum` (SHA-1), `$pbkdf2-sha256$…`, `$pbkdf2-sha512$…`, salt and
 *   checksum in adapted base64 ("." for "+", unpadded), the salt used as its bytes;
 * - Django's: `pbkdf2_sha256$iterations$salt$hash` and `pbkdf2_sha1$…`, the salt used as its text (UTF-8),
 *   the hash in padded standard base64.
 * The derived key is as long as the digest (both write it so), and is compared in constant time.
 */
import { pbkdf2 } from 'node:crypto';
import { PasswordHashFormatError } from '../phc';
import { adaptedBase64, base64, decimal, lengthWithin, sameBytes } from './encoding';
import type { LegacyFamily } from './family';

type Digest = 'sha1' | 'sha256' | 'sha512';

/**
 * Django 5.2 writes 1,000,000 iterations. 10 million took about 3 s with SHA-256 and 11 s with SHA-512 on one
 * busy x86 core of 2026 (bench/timing.bench.ts measures the common settings). A check may run twice (as typed
 * and in NFC, see hasher.ts) before the rehash, all within the token function's 10 s: SHA-512, a 64-bit
 * digest that is about three times as slow a round, gets a third of the rounds.
 */
export const MAX_PBKDF2_ROUNDS: Readonly<Record<Digest, number>> = {
  sha1: 10_000_000,
  sha256: 10_000_000,
  sha512: 3_000_000,
};
const MIN_SALT_BYTES = 4;
const MAX_SALT_BYTES = 256;

const DIGEST_BYTES: Record<Digest, number> = { sha1: 20, sha256: 32, sha512: 64 };

export interface Pbkdf2Hash {
  readonly digest: Digest;
  readonly rounds: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

const PASSLIB_DIGESTS: Record<string, Digest> = {
  pbkdf2: 'sha1',
  'pbkdf2-sha256': 'sha256',
  'pbkdf2-sha512': 'sha512',
};
const DJANGO_DIGESTS: Record<string, Digest> = { pbkdf2_sha1: 'sha1', pbkdf2_sha256: 'sha256' };

export const passlibPbkdf2Family: LegacyFamily<Pbkdf2Hash> = {
  claims: (encoded) => /^\$pbkdf2[-$]/.test(encoded),

  parse(encoded) {
    const parts = encoded.split('$');
    // "$pbkdf2-sha256$rounds$salt$checksum" splits into ["", "pbkdf2-sha256", rounds, salt, checksum].
    const digest = PASSLIB_DIGESTS[parts[1] ?? ''];
    if (digest === undefined) {
      throw new PasswordHashFormatError(
        'passlib PBKDF2 hash names no digest the service verifies (sha1, sha256, sha512)',
      );
    }
    const name = `passlib pbkdf2-${digest}`;
    if (parts.length !== 5) {
      throw new PasswordHashFormatError(`${name} hash is not of the form $${parts[1]}$<rounds>$<salt>$<checksum>`);
    }
    const [, , roundsText = '', saltText = '', hashText = ''] = parts;
    const rounds = decimal(roundsText, `${name} rounds`, 1, MAX_PBKDF2_ROUNDS[digest]);
    const salt = adaptedBase64(saltText, `${name} salt`);
    lengthWithin(salt, `${name} salt`, MIN_SALT_BYTES, MAX_SALT_BYTES);
    const hash = adaptedBase64(hashText, `${name} checksum`);
    lengthWithin(hash, `${name} checksum`, DIGEST_BYTES[digest], DIGEST_BYTES[digest]);
    return { digest, rounds, salt, hash };
  },

  verify: verifyPbkdf2,
};

/** Django salts are text without "$" (its own are alphanumeric); printable ASCII keeps the form unambiguous. */
const DJANGO_SALT = /^[!-#%-~]{1,128}$/;

export const djangoPbkdf2Family: LegacyFamily<Pbkdf2Hash> = {
  claims: (encoded) => /^pbkdf2_[a-z0-9]*\$/.test(encoded),

  parse(encoded) {
    const parts = encoded.split('$');
    // "pbkdf2_sha256$iterations$salt$hash" splits into ["pbkdf2_sha256", iterations, salt, hash].
    const digest = DJANGO_DIGESTS[parts[0] ?? ''];
    if (digest === undefined) {
      throw new PasswordHashFormatError('Django PBKDF2 hash names no digest the service verifies (sha1, sha256)');
    }
    const name = `Django pbkdf2_${digest}`;
    if (parts.length !== 4) {
      throw new PasswordHashFormatError(`${name} hash is not of the form ${parts[0]}$<iterations>$<salt>$<hash>`);
    }
    const [, roundsText = '', saltText = '', hashText = ''] = parts;
    const rounds = decimal(roundsText, `${name} iterations`, 1, MAX_PBKDF2_ROUNDS[digest]);
    if (!DJANGO_SALT.test(saltText)) {
      throw new PasswordHashFormatError(`${name} salt is not 1 to 128 printable ASCII characters`);
    }
    const hash = base64(hashText, `${name} hash`, true);
    lengthWithin(hash, `${name} hash`, DIGEST_BYTES[digest], DIGEST_BYTES[digest]);
    return { digest, rounds, salt: Buffer.from(saltText, 'utf8'), hash };
  },

  verify: verifyPbkdf2,
};

async function verifyPbkdf2(password: Uint8Array, { digest, rounds, salt, hash }: Pbkdf2Hash): Promise<boolean> {
  const derived = await new Promise<Buffer>((resolve, reject) =>
    pbkdf2(password, salt, rounds, hash.length, digest, (err, key) => (err ? reject(err) : resolve(key))),
  );
  return sameBytes(derived, hash);
}
