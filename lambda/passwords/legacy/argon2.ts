/**
 * Argon2 (RFC 9106) in the PHC string form the reference implementation writes,
 * `$argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>` (unpadded standard base64), computed by hash-wasm
 * (WebAssembly). hash-wasm's own argon2Verify compares strings; the digest is compared here in constant time.
 */
import { argon2d, argon2i, argon2id } from 'hash-wasm';
import { PasswordHashFormatError } from '../phc';
import { base64, decimal, lengthWithin, sameBytes } from './encoding';
import type { LegacyFamily } from './family';

/** KiB. 256 MiB: twice RFC 9106's second recommendation (64 MiB), and twice the memory scrypt's default takes. */
export const MAX_ARGON2_MEMORY_KIB = 262_144;
export const MAX_ARGON2_TIME = 10;
/** hash-wasm computes the lanes one after another: p adds no speed, so a large p is not legitimate either. */
export const MAX_ARGON2_PARALLELISM = 16;
/** Argon2 version 1.3 (0x13), the only one hash-wasm computes. */
const VERSION = 19;
const MIN_SALT_BYTES = 8;
const MAX_SALT_BYTES = 64;
const MIN_HASH_BYTES = 16;
const MAX_HASH_BYTES = 64;

const VARIANTS = { argon2id, argon2i, argon2d } as const;
type Variant = keyof typeof VARIANTS;

const SHAPE = /^\$(argon2id|argon2i|argon2d)\$v=([0-9]+)\$m=([0-9]+),t=([0-9]+),p=([0-9]+)\$([^$]*)\$([^$]*)$/;
/** Stands in for the empty password: see verify. */
const PLACEHOLDER = new Uint8Array(1);

export interface Argon2Hash {
  readonly variant: Variant;
  readonly memoryKiB: number;
  readonly time: number;
  readonly parallelism: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

export const argon2Family: LegacyFamily<Argon2Hash> = {
  claims: (encoded) => encoded.startsWith('$argon2'),

  parse(encoded) {
    const variant = /^\$(argon2id|argon2i|argon2d)\$/.exec(encoded)?.[1] as Variant | undefined;
    if (variant === undefined) {
      throw new PasswordHashFormatError(
        'argon2 hash names no variant the service verifies (argon2id, argon2i, argon2d)',
      );
    }
    // Argon2 1.0 hashes carry no version field (or v=16): a different computation, which hash-wasm lacks.
    const version = /^\$argon2[a-z]+\$v=([0-9]+)\$/.exec(encoded)?.[1];
    if (version !== String(VERSION)) {
      throw new PasswordHashFormatError(
        `argon2 version ${version === undefined ? '1.0 (no v= field)' : 'other than v=19'} is not supported: use the legacy verifier`,
      );
    }
    const match = SHAPE.exec(encoded);
    if (!match) {
      throw new PasswordHashFormatError(
        `${variant} hash is not of the form $${variant}$v=19$m=<int>,t=<int>,p=<int>$<salt>$<hash> (no keyid or data fields)`,
      );
    }
    const [, , , mText = '', tText = '', pText = '', saltText = '', hashText = ''] = match;
    const parallelism = decimal(pText, `${variant} parallelism p`, 1, MAX_ARGON2_PARALLELISM);
    // Argon2 needs at least 8 KiB per lane (RFC 9106 §3.1).
    const memoryKiB = decimal(mText, `${variant} memory m (KiB)`, 8 * parallelism, MAX_ARGON2_MEMORY_KIB);
    const time = decimal(tText, `${variant} time t`, 1, MAX_ARGON2_TIME);
    const salt = base64(saltText, `${variant} salt`, false);
    const hash = base64(hashText, `${variant} hash`, false);
    lengthWithin(salt, `${variant} salt`, MIN_SALT_BYTES, MAX_SALT_BYTES);
    lengthWithin(hash, `${variant} hash`, MIN_HASH_BYTES, MAX_HASH_BYTES);
    return { variant, memoryKiB, time, parallelism, salt, hash };
  },

  async verify(password, { variant, memoryKiB, time, parallelism, salt, hash }) {
    // hash-wasm refuses an empty password, and Argon2 hashes the password's length into its first block, so
    // no other input stands in for it: the empty password pays the same work and never matches.
    const empty = password.length === 0;
    const derived = await VARIANTS[variant]({
      password: empty ? PLACEHOLDER : password,
      salt,
      iterations: time,
      parallelism,
      memorySize: memoryKiB,
      hashLength: hash.length,
      outputType: 'binary',
    });
    return sameBytes(derived, hash) && !empty;
  },
};
