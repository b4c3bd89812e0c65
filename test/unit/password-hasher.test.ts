import * as crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  hashPassword,
  PasswordHashFormatError,
  type ScryptParams,
  scryptPasswordHasher,
  verifyPassword,
} from '../../lambda/passwords';

/**
 * The dummy hash an unknown user is checked against must not cost the first unknown-user
 * attempt a second scrypt (it used to be derived on first use), and a legacy hash costs a scrypt as well.
 * Counted, not timed: node:crypto's scrypt (and pbkdf2, for the legacy PBKDF2 hashes) is wrapped by a spy
 * that records each derivation and passes it on to the real one.
 */
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, scrypt: vi.fn(actual.scrypt), pbkdf2: vi.fn(actual.pbkdf2) };
});

const scrypt = vi.mocked(crypto.scrypt);
const pbkdf2 = vi.mocked(crypto.pbkdf2);

interface Derivation {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly keyLength: number;
  readonly saltLength: number;
  readonly maxmem: number;
}

/** The derivations the spy saw since the last reset. */
function derivations(): Derivation[] {
  return scrypt.mock.calls.map((call) => {
    const [, salt, keyLength, options] = call as unknown as [
      unknown,
      Buffer,
      number,
      { N: number; r: number; p: number; maxmem: number },
    ];
    return { N: options.N, r: options.r, p: options.p, keyLength, saltLength: salt.length, maxmem: options.maxmem };
  });
}

beforeEach(() => {
  scrypt.mockClear();
  pbkdf2.mockClear();
});

// Parameter sets no other test in this file uses: nothing could have been computed for them beforehand.
const CASES: ScryptParams[] = [
  { N: 2 ** 9, r: 8, p: 1 },
  { N: 2 ** 8, r: 4, p: 2 },
  { N: 2 ** 11, r: 1, p: 3 },
];

describe('scryptPasswordHasher: the dummy hash for unknown users', () => {
  it.each(CASES)('the first verifyDummy at %j runs exactly one scrypt, of the configured cost', async (params) => {
    const hasher = scryptPasswordHasher(params);
    // The dummy is ready at creation, and making it took no scrypt: nothing is left for the first attempt.
    expect(derivations()).toEqual([]);

    expect(await hasher.verifyDummy('first unknown-user attempt')).toBe(false);
    const first = derivations();
    expect(first).toHaveLength(1);

    // The same work as checking a real user whose hash has the configured parameters.
    const real = await hashPassword('a real password', params);
    scrypt.mockClear();
    await verifyPassword('a wrong password', real);
    expect(first).toEqual(derivations());
    expect(first[0]).toMatchObject({ ...params, keyLength: 32, saltLength: 16 });

    scrypt.mockClear();
    expect(await hasher.verifyDummy('second attempt')).toBe(false);
    expect(derivations()).toHaveLength(1);
  });

  it('makes the dummy when it is created, and never derives one later', async () => {
    const params: ScryptParams = { N: 2 ** 7, r: 8, p: 1 };
    const hasher = scryptPasswordHasher(params);
    expect(derivations()).toEqual([]);
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect(await hasher.verifyDummy(`attempt ${attempt}`)).toBe(false);
      expect(derivations()).toHaveLength(attempt);
    }
    // Concurrent first attempts on a fresh hasher: one scrypt each, none waiting on a shared computation.
    const fresh = scryptPasswordHasher(params);
    scrypt.mockClear();
    expect(await Promise.all([fresh.verifyDummy('a'), fresh.verifyDummy('b')])).toEqual([false, false]);
    expect(derivations()).toHaveLength(2);
  });

  it('hashers for different parameters each check against a dummy of their own parameters', async () => {
    const a = scryptPasswordHasher({ N: 2 ** 6, r: 8, p: 1 });
    const b = scryptPasswordHasher({ N: 2 ** 6, r: 2, p: 4 });
    await a.verifyDummy('x');
    await b.verifyDummy('x');
    expect(derivations().map(({ N, r, p }) => ({ N, r, p }))).toEqual([
      { N: 2 ** 6, r: 8, p: 1 },
      { N: 2 ** 6, r: 2, p: 4 },
    ]);
  });

  it('is false for every password, including empty, overlong and odd ones', async () => {
    const hasher = scryptPasswordHasher({ N: 2 ** 4, r: 8, p: 1 });
    for (const password of ['', 'password', 'a'.repeat(1024), 'a'.repeat(1025), '\u0000', 'cafe\u0301']) {
      expect(await hasher.verifyDummy(password)).toBe(false);
    }
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 64 }), async (password) => {
        expect(await hasher.verifyDummy(password)).toBe(false);
      }),
      { numRuns: 100 },
    );
  });

  it('refuses invalid parameters when it is created', () => {
    expect(() => scryptPasswordHasher({ N: 1000, r: 8, p: 1 })).toThrow(RangeError);
  });
});

interface LegacyFixture {
  readonly kind: string;
  readonly password: string;
  readonly hash: string;
  readonly wrong: string;
}

/** Hashes made by the reference implementations (test/fixtures/legacy-hashes/generate.py). */
const LEGACY: LegacyFixture[] = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', 'fixtures', 'legacy-hashes', 'hashes.json'), 'utf8'),
).verifiable;
/** The cheapest fixture of each kind. */
const ONE_OF_EACH_KIND = [...new Map(LEGACY.toReversed().map((fixture) => [fixture.kind, fixture])).values()].filter(
  (fixture) => !/"(cost": 10|m": 65536|rounds": [1-9]\d{4,})/.test(JSON.stringify(fixture)),
);

describe('scryptPasswordHasher: imported legacy hashes', () => {
  const params: ScryptParams = { N: 2 ** 6, r: 8, p: 1 };

  it('has a cheap fixture of every kind to check', () => {
    expect(new Set(ONE_OF_EACH_KIND.map((fixture) => fixture.kind)).size).toBe(new Set(LEGACY.map((f) => f.kind)).size);
  });

  it('needs a rehash for every legacy format, and not for a scrypt hash at the policy', async () => {
    const hasher = scryptPasswordHasher(params);
    for (const { hash } of LEGACY) expect(hasher.needsRehash(hash)).toBe(true);
    expect(hasher.needsRehash(await hashPassword('pw', params))).toBe(false);
    expect(hasher.needsRehash(await hashPassword('pw', { ...params, N: params.N * 2 }))).toBe(true);
  });

  it.each(ONE_OF_EACH_KIND.map((fixture) => [fixture.kind, fixture] as const))(
    '%s: right or wrong, before any scrypt check was timed, the check runs one scrypt beside it, as a scrypt user costs',
    async (_kind, { hash, password, wrong }) => {
      const scryptUser = await hashPassword('a real password', params);
      scrypt.mockClear();
      await verifyPassword('a wrong password', scryptUser);
      const scryptUsersCost = derivations();
      expect(scryptUsersCost).toHaveLength(1);

      for (const [attempt, expected] of [
        [password, true],
        [wrong, false],
      ] as const) {
        const fresh = scryptPasswordHasher(params);
        scrypt.mockClear();
        expect(await fresh.verify(attempt, hash)).toBe(expected);
        expect(derivations()).toEqual(scryptUsersCost);
      }
    },
  );

  it.each(ONE_OF_EACH_KIND.map((fixture) => [fixture.kind, fixture] as const))(
    '%s: once scrypt checks were timed, the check runs no scrypt and waits out what is left of their median',
    async (_kind, { hash, password, wrong }) => {
      // A clock the test moves: each scrypt check "takes" the next of these durations, a legacy check 10 ms.
      let time = 0;
      const slept: number[] = [];
      const clock = {
        now: () => time,
        sleep: async (milliseconds: number) => {
          slept.push(milliseconds);
        },
      };
      const hasher = scryptPasswordHasher(params, clock);
      for (const duration of [400, 500, 900]) {
        const check = hasher.verifyDummy('a guess');
        time += duration;
        await check;
      }
      for (const [attempt, expected] of [
        [password, true],
        [wrong, false],
      ] as const) {
        scrypt.mockClear();
        slept.length = 0;
        const check = hasher.verify(attempt, hash);
        time += 10;
        expect(await check).toBe(expected);
        expect(derivations()).toEqual([]);
        // The median of 400, 500 and 900 ms, less the 10 ms the legacy check took.
        expect(slept).toEqual([490]);
      }
    },
  );

  it("a scrypt user's check runs one scrypt, at the hash's own parameters", async () => {
    const hasher = scryptPasswordHasher(params);
    const older = await hashPassword('pw', { N: 2 ** 5, r: 4, p: 2 });
    scrypt.mockClear();
    expect(await hasher.verify('pw', older)).toBe(true);
    expect(derivations()).toEqual([expect.objectContaining({ N: 2 ** 5, r: 4, p: 2 })]);
  });

  it('checks a password not in NFC as typed and in NFC, whichever matches: the same work either way', async () => {
    const hasher = scryptPasswordHasher(params);
    const [asTyped, composed] = [
      LEGACY.find((f) => f.kind === 'pbkdf2-sha256' && f.password !== f.password.normalize('NFC'))!,
      LEGACY.find((f) => f.kind === 'pbkdf2-sha256' && f.password.normalize('NFD') !== f.password)!,
    ];
    const derivationsOf = async (password: string, hash: string, expected: boolean) => {
      pbkdf2.mockClear();
      expect(await hasher.verify(password, hash)).toBe(expected);
      return pbkdf2.mock.calls.length;
    };
    // A decomposed password: both spellings are derived, whether the typed one, its NFC form or neither matches.
    const decomposed = composed.password.normalize('NFD');
    expect(await derivationsOf(asTyped.password, asTyped.hash, true)).toBe(2);
    expect(await derivationsOf(decomposed, composed.hash, true)).toBe(2);
    expect(await derivationsOf(decomposed, asTyped.hash, false)).toBe(2);
    // A password in NFC has one spelling: one derivation, right or wrong.
    expect(await derivationsOf(composed.password, composed.hash, true)).toBe(1);
    expect(await derivationsOf(asTyped.password.normalize('NFC'), asTyped.hash, false)).toBe(1);
  });

  it('an overlong password costs a legacy check too, and never matches', async () => {
    const hasher = scryptPasswordHasher(params);
    const { hash } = LEGACY.find((f) => f.kind === 'pbkdf2-sha512')!;
    expect(await hasher.verify('a'.repeat(1025), hash)).toBe(false);
    expect(pbkdf2.mock.calls).toHaveLength(1);
    expect(derivations()).toHaveLength(1);
  });

  it('a malformed or refused stored hash is a PasswordHashFormatError, before any derivation', async () => {
    const hasher = scryptPasswordHasher(params);
    for (const hash of ['', 'not a hash', '5f4dcc3b5aa765d61d8327deb882cf99', '$2b$03$abc', '$pbkdf2-sha256$0$$']) {
      await expect(hasher.verify('pw', hash)).rejects.toThrow(PasswordHashFormatError);
      expect(() => hasher.needsRehash(hash)).toThrow(PasswordHashFormatError);
    }
    expect(derivations()).toEqual([]);
    expect(pbkdf2).not.toHaveBeenCalled();
  });
});
