/**
 * bcrypt, `$2b$10$<22 salt chars><31 hash chars>` in bcrypt's base64, computed by hash-wasm (WebAssembly).
 * $2a$, $2b$ and $2y$ are the same computation for every password of at most 72 bytes (they differ only in
 * bugs of old implementations past that length or with 8-bit characters), and bcrypt reads no more than 72.
 */
import { bcrypt } from 'hash-wasm';
import { PasswordHashFormatError } from '../phc';
import { bcryptBase64, decimal, sameBytes } from './encoding';
import type { LegacyFamily } from './family';

/** 2^4 rounds is bcrypt's minimum; 2^16 takes several seconds on one vCPU: no higher cost is plausible. */
export const MIN_BCRYPT_COST = 4;
export const MAX_BCRYPT_COST = 16;
/** bcrypt keys Blowfish with at most 72 bytes of the password; the rest never counted. */
export const BCRYPT_KEY_BYTES = 72;

const SALT_BYTES = 16;
/** The encoded form keeps 23 of the 24 bytes bcrypt computes (OpenBSD's BCRYPT_HASHSPACE). */
const HASH_BYTES = 23;
const SHAPE = /^\$(2[aby])\$([0-9]{2})\$([./A-Za-z0-9]{22})([./A-Za-z0-9]{31})$/;
/** A single NUL: see verify. */
const EMPTY_KEY = new Uint8Array(1);

export interface BcryptHash {
  readonly cost: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

export const bcryptFamily: LegacyFamily<BcryptHash> = {
  claims: (encoded) => /^\$2[a-z]?\$/.test(encoded),

  parse(encoded) {
    const ident = /^\$(2[a-z]?)\$/.exec(encoded)?.[1];
    if (ident !== undefined && !['2a', '2b', '2y'].includes(ident)) {
      // $2$ (no NUL in the key) and $2x$ (crypt_blowfish's sign-extension bug kept on purpose) compute
      // something else than every implementation the service has: refused rather than never matching.
      throw new PasswordHashFormatError(
        `bcrypt variant $${ident}$ is not supported (only $2a$, $2b$ and $2y$ are): use the legacy verifier`,
      );
    }
    const match = SHAPE.exec(encoded);
    if (!match) {
      throw new PasswordHashFormatError(
        'bcrypt hash is not of the form $2b$<two-digit cost>$<22 salt characters><31 hash characters>',
      );
    }
    const [, , costText = '', saltText = '', hashText = ''] = match;
    // Two digits, zero-padded, as every implementation writes the cost.
    const cost = decimal(costText.replace(/^0(?=[0-9])/, ''), 'bcrypt cost', MIN_BCRYPT_COST, MAX_BCRYPT_COST);
    return {
      cost,
      salt: bcryptBase64(saltText, 'bcrypt salt', SALT_BYTES),
      hash: bcryptBase64(hashText, 'bcrypt hash', HASH_BYTES),
    };
  },

  async verify(password, { cost, salt, hash }) {
    // OpenBSD keys with the C string and its NUL, at most 72 bytes; a longer password is cut there, as the
    // reference implementations do (python bcrypt before 5.0 too), where hash-wasm would refuse it.
    const key = password.subarray(0, BCRYPT_KEY_BYTES);
    // hash-wasm refuses an empty password. Blowfish reads the key cyclically: the empty password's key (one
    // NUL) gives the same key stream as a one-byte NUL password's (two NULs), which hash-wasm computes.
    const derived = await bcrypt({
      password: key.length === 0 ? EMPTY_KEY : key,
      salt,
      costFactor: cost,
      outputType: 'binary',
    });
    return sameBytes(derived.subarray(0, HASH_BYTES), hash);
  },
};
