import type { ScryptParams } from '../../contract/scrypt-params';
import type { PasswordHasher } from '../oauth/ports';
import { parseStoredHash, type StoredHash } from './formats';
import { dummyHash, hashPassword, MAX_PASSWORD_LENGTH, needsRehash, verifyPassword } from './scrypt';

/** How the hasher tells time and waits; tests inject their own. */
export interface HasherClock {
  /** Milliseconds, monotonic. */
  now(): number;
  sleep(milliseconds: number): Promise<void>;
}

const REAL_CLOCK: HasherClock = {
  now: () => performance.now(),
  sleep: (milliseconds) => new Promise((resolve) => setTimeout(resolve, milliseconds)),
};

/** How many recent scrypt checks the estimate of one check's duration is the median of. */
const SCRYPT_SAMPLES = 9;

/**
 * The protocol core's PasswordHasher, with the configured scrypt policy. The dummy hash unknown users are
 * checked against is made here, when the hasher is created (it costs no scrypt: see dummyHash), so every
 * verifyDummy, the first on an instance included, runs exactly one scrypt at `params`, as checking a real
 * user does. Invalid parameters throw RangeError here, at creation, rather than at the first login.
 *
 * Imported legacy hashes (bcrypt, argon2, PBKDF2, LDAP salted SHA: see formats.ts) verify too, and always
 * need a rehash, which the password grant does after the first successful login. A legacy check must not
 * answer sooner than a scrypt user's (a faster answer would tell which accounts exist, were imported, and
 * are cheap to attack). Running a dummy scrypt beside it is not enough where the function has one vCPU: the
 * thread pool's scrypt and hash-wasm's bcrypt or argon2 on the event loop then add up instead of
 * overlapping (argon2id at 64 MiB measured 1.7 times a scrypt user's time). So the hasher keeps the median
 * duration of its recent scrypt checks, and a legacy check that finishes sooner waits out the rest: it takes
 * as long as the longer of itself and a scrypt, and costs no second derivation. Until a scrypt check was
 * timed on this instance, the first legacy checks run a dummy scrypt beside them, which also times one.
 */
export function scryptPasswordHasher(params: ScryptParams, clock: HasherClock = REAL_CLOCK): PasswordHasher {
  const dummy = dummyHash(params);
  const samples: number[] = [];
  async function timedScrypt(password: string, encoded: string): Promise<boolean> {
    const started = clock.now();
    const matches = await verifyPassword(password, encoded);
    // Only checks at the policy's parameters say what a scrypt user's check costs.
    if (encoded === dummy || !needsRehash(encoded, params)) {
      samples.push(clock.now() - started);
      if (samples.length > SCRYPT_SAMPLES) samples.shift();
    }
    return matches;
  }
  return {
    async verify(password, encoded) {
      // Throws PasswordHashFormatError for a malformed hash: a fault to report, not a wrong password.
      const stored = parseStoredHash(encoded);
      if (stored.kind === 'scrypt') return timedScrypt(password, encoded);
      const scryptDuration = median(samples);
      if (scryptDuration === undefined) {
        // The scrypt is started first: it runs on libuv's thread pool while hash-wasm holds the event loop.
        const [, matches] = await Promise.all([timedScrypt(password, dummy), verifyLegacy(stored, password)]);
        return matches;
      }
      const started = clock.now();
      const matches = await verifyLegacy(stored, password);
      const remaining = scryptDuration - (clock.now() - started);
      if (remaining > 0) await clock.sleep(remaining);
      return matches;
    },
    async verifyDummy(password) {
      await timedScrypt(password, dummy);
      return false;
    },
    needsRehash: (encoded) => parseStoredHash(encoded).kind === 'legacy' || needsRehash(encoded, params),
    hash: (password) => hashPassword(password, params),
  };
}

function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Stands in for an overlong password, which is checked (for the same work) and never matches. */
const OVERLONG_STAND_IN = new Uint8Array(1);

/**
 * The service NFC-normalizes passwords for scrypt, but a legacy system hashed the bytes it was given: a
 * password matches as given or in its NFC form. Both are checked whenever they differ, whichever matches:
 * the work depends on the password typed alone, never on the stored hash's secret.
 */
async function verifyLegacy(stored: Extract<StoredHash, { kind: 'legacy' }>, password: string): Promise<boolean> {
  if (longerThan(password, MAX_PASSWORD_LENGTH)) {
    await stored.verify(OVERLONG_STAND_IN);
    return false;
  }
  const normalized = password.normalize('NFC');
  const candidates = normalized === password ? [password] : [password, normalized];
  let matches = false;
  // One after another: two argon2 runs at once would hold twice its memory.
  for (const candidate of candidates) {
    if (await stored.verify(Buffer.from(candidate, 'utf8'))) matches = true;
  }
  return matches;
}

/** Counted in code points, as scrypt's passwords are (scrypt.ts), without walking a huge string to its end. */
function longerThan(text: string, limit: number): boolean {
  let length = 0;
  for (const _ of text) {
    if (++length > limit) return true;
  }
  return false;
}
