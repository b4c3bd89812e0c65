import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Random } from '../../lambda/mfa/ports';
import {
  formatRecoveryCode,
  generateRecoveryCodes,
  hashRecoveryCode,
  matchRecoveryCode,
  normalizeRecoveryCode,
  RECOVERY_CODE_COUNT,
} from '../../lambda/mfa/recovery-codes';

const USER = 'c0b6d9b4-6a43-4c3e-9d55-1f0f2c1e9a11';
const FORMAT = /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/;

/** Crockford's base32 alphabet, written out here rather than taken from the module. */
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** An independent encoding: the 80-bit big-endian number in base 32 (BigInt#toString), mapped to Crockford. */
function oracleCode(bytes: Uint8Array): string {
  const digits = BigInt(`0x${Buffer.from(bytes).toString('hex')}`)
    .toString(32)
    .padStart(16, '0');
  const mapped = [...digits].map((digit) => CROCKFORD[Number.parseInt(digit, 32)]).join('');
  return `${mapped.slice(0, 4)}-${mapped.slice(4, 8)}-${mapped.slice(8, 12)}-${mapped.slice(12)}`;
}

/** A random source that records what it was asked for. */
function recordingRandom(): Random & { requests: number[] } {
  const requests: number[] = [];
  return {
    requests,
    bytes: (length) => {
      requests.push(length);
      return new Uint8Array(randomBytes(length));
    },
  };
}

describe('generating recovery codes', () => {
  it('makes ten distinct codes a person can type, four dash-separated groups of four', () => {
    const { codes, hashes } = generateRecoveryCodes(recordingRandom(), USER);
    expect(codes).toHaveLength(RECOVERY_CODE_COUNT);
    expect(RECOVERY_CODE_COUNT).toBe(10);
    for (const code of codes) expect(code).toMatch(FORMAT);
    expect(new Set(codes).size).toBe(10);
    expect(hashes).toHaveLength(10);
    expect(new Set(hashes).size).toBe(10);
  });

  it('spends 80 random bits on each code, all of which show in it', () => {
    const random = recordingRandom();
    generateRecoveryCodes(random, USER);
    expect(random.requests).toEqual(Array(10).fill(10));
    // Injective: flipping any one of the 80 input bits gives another code, so the code carries all 80.
    const base = new Uint8Array(10);
    const variants = new Set([formatRecoveryCode(base)]);
    for (let bit = 0; bit < 80; bit += 1) {
      const flipped = base.slice();
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      variants.add(formatRecoveryCode(flipped));
    }
    expect(variants.size).toBe(81);
  });

  it('encodes bytes as an independent base-32 conversion does', () => {
    expect(formatRecoveryCode(new Uint8Array(10))).toBe('0000-0000-0000-0000');
    expect(formatRecoveryCode(new Uint8Array(10).fill(0xff))).toBe('ZZZZ-ZZZZ-ZZZZ-ZZZZ');
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 10, maxLength: 10 }), (bytes) => {
        expect(formatRecoveryCode(bytes)).toBe(oracleCode(bytes));
      }),
      { numRuns: 300 },
    );
    expect(() => formatRecoveryCode(new Uint8Array(9))).toThrow();
  });

  it('still makes ten distinct codes from a source that repeats itself', () => {
    let calls = 0;
    const repeating: Random = { bytes: (length) => new Uint8Array(length).fill(calls++ % 3 === 0 ? 0 : calls) };
    const { codes } = generateRecoveryCodes(repeating, USER);
    expect(new Set(codes).size).toBe(10);
  });

  it('stores hashes bound to the user, never the codes', () => {
    const { codes, hashes } = generateRecoveryCodes(recordingRandom(), USER);
    for (const [index, hash] of hashes.entries()) {
      expect(hash).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(hash).toBe(hashRecoveryCode(USER, normalizeRecoveryCode(codes[index]!)!));
      expect(hash).not.toBe(hashRecoveryCode('another-user', normalizeRecoveryCode(codes[index]!)!));
      expect(hash).not.toContain(codes[index]!.replaceAll('-', ''));
    }
  });
});

describe('normalizing a typed code', () => {
  const code = '7KQ2-M9XD-0HV4-CR31';

  it.each([
    code,
    code.toLowerCase(),
    code.replaceAll('-', ''),
    code.replaceAll('-', ' '),
    ` ${code}\n`,
    '7kq2 m9xd 0hv4 cr31',
    // Crockford's look-alikes: O for 0, I and L for 1.
    '7KQ2-M9XD-OHV4-CR3I',
    '7KQ2-M9XD-ohv4-cr3l',
  ])('reads %j as the code', (typed) => {
    expect(normalizeRecoveryCode(typed)).toBe('7KQ2M9XD0HV4CR31');
  });

  it.each([
    ['a character outside the alphabet', '7KQ2-M9XD-0HV4-CR3U'],
    ['a character outside base32', '7KQ2-M9XD-0HV4-CR3_'],
    ['one character too few', '7KQ2-M9XD-0HV4-CR3'],
    ['one character too many', '7KQ2-M9XD-0HV4-CR311'],
    ['nothing', ''],
    ['a very long field', `${'-'.repeat(10_000)}7KQ2M9XD0HV4CR31`],
  ])('refuses %s', (_, typed) => {
    expect(normalizeRecoveryCode(typed)).toBeUndefined();
  });
});

describe('matching a code', () => {
  const { codes, hashes } = generateRecoveryCodes(recordingRandom(), USER);

  it('says which stored code it is, in whatever form it was typed', () => {
    for (const [index, code] of codes.entries()) {
      expect(matchRecoveryCode(code, USER, hashes)).toEqual({ index, hash: hashes[index] });
      expect(matchRecoveryCode(code.toLowerCase().replaceAll('-', ' '), USER, hashes)?.index).toBe(index);
    }
  });

  it('is single use through the index it returns: once that hash is removed, the code matches nothing', () => {
    let stored = [...hashes];
    const used = matchRecoveryCode(codes[3]!, USER, stored)!;
    stored = stored.filter((_, index) => index !== used.index);
    expect(matchRecoveryCode(codes[3]!, USER, stored)).toBeUndefined();
    // The others still work, at their new positions.
    expect(matchRecoveryCode(codes[4]!, USER, stored)).toEqual({ index: 3, hash: hashes[4] });
    expect(matchRecoveryCode(codes[9]!, USER, stored)).toEqual({ index: 8, hash: hashes[9] });
  });

  it('matches nothing for a code that is not among them, another user, or nothing stored', () => {
    const other = generateRecoveryCodes(recordingRandom(), USER).codes[0]!;
    expect(matchRecoveryCode(other, USER, hashes)).toBeUndefined();
    expect(matchRecoveryCode(codes[0]!, 'another-user', hashes)).toBeUndefined();
    expect(matchRecoveryCode(codes[0]!, USER, [])).toBeUndefined();
    expect(matchRecoveryCode('not a code', USER, hashes)).toBeUndefined();
  });
});
