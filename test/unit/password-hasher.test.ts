import * as crypto from 'node:crypto';
import fc from 'fast-check';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { hashPassword, type ScryptParams, scryptPasswordHasher, verifyPassword } from '../../lambda/passwords';

/**
 * The dummy hash an unknown user is checked against must not cost the first unknown-user
 * attempt a second scrypt (it used to be derived on first use). Counted, not timed: node:crypto's scrypt is
 * wrapped by a spy that records each derivation's parameters and passes it on to the real one.
 */
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, scrypt: vi.fn(actual.scrypt) };
});

const scrypt = vi.mocked(crypto.scrypt);

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
