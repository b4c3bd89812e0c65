import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import * as OTPAuth from 'otpauth';
import { describe, expect, it } from 'vitest';
import { base32Decode, base32Encode } from '../../lambda/mfa/base32';
import { otpauthUri } from '../../lambda/mfa/otpauth-uri';
import {
  generateTotpSecret,
  hotp,
  normalizeTotpCode,
  TOTP_POLICY,
  type TotpAlgorithm,
  totpCode,
  totpStep,
  verifyTotp,
} from '../../lambda/mfa/totp';

const ascii = (text: string) => new Uint8Array(Buffer.from(text, 'ascii'));
const RUNS = { numRuns: 200 };

/** RFC 6238 Appendix B: one seed per hash, each its output length of the repeated "1234567890". */
const RFC6238_SEEDS: Record<TotpAlgorithm, Uint8Array> = {
  SHA1: ascii('12345678901234567890'),
  SHA256: ascii('12345678901234567890123456789012'),
  SHA512: ascii('1234567890123456789012345678901234567890123456789012345678901234'),
};

/** RFC 6238 Appendix B, Table: time (seconds), then the 8-digit TOTP for SHA-1, SHA-256, SHA-512. */
const RFC6238_VECTORS: [number, string, string, string][] = [
  [59, '94287082', '46119246', '90693936'],
  [1111111109, '07081804', '68084774', '25091201'],
  [1111111111, '14050471', '67062674', '99943326'],
  [1234567890, '89005924', '91819424', '93441116'],
  [2000000000, '69279037', '90698825', '38618901'],
  [20000000000, '65353130', '77737706', '47863826'],
];

/** RFC 4226 Appendix D: HOTP values for counters 0 to 9 with the secret "12345678901234567890". */
const RFC4226_VALUES = [
  '755224',
  '287082',
  '359152',
  '969429',
  '338314',
  '254676',
  '287922',
  '162583',
  '399871',
  '520489',
];

const SECRET = ascii('12345678901234567890');
/** A time in the middle of a step, far from the epoch. */
const STEP = 56_666_666;
const NOW = STEP * 30 + 12;
const codeAt = (step: number) => totpCode(SECRET, step);

describe('HOTP (RFC 4226)', () => {
  it.each(RFC4226_VALUES.map((value, counter) => [counter, value]))(
    'counter %i gives %s (Appendix D)',
    (counter, value) => {
      expect(hotp(SECRET, counter)).toBe(value);
    },
  );

  it('refuses counters and lengths outside the algorithm', () => {
    expect(() => hotp(SECRET, -1)).toThrow(RangeError);
    expect(() => hotp(SECRET, 1.5)).toThrow(RangeError);
    expect(() => hotp(SECRET, 0, 5)).toThrow(RangeError);
  });
});

describe('TOTP (RFC 6238)', () => {
  describe.each([
    ['SHA1', 1],
    ['SHA256', 2],
    ['SHA512', 3],
  ] as const)('Appendix B with %s', (algorithm, column) => {
    it.each(RFC6238_VECTORS.map((row) => [row[0], row[column]] as const))('at T = %i the code is %s', (time, code) => {
      const parameters = { algorithm, digits: 8, period: 30 };
      expect(totpCode(RFC6238_SEEDS[algorithm], totpStep(time), parameters)).toBe(code);
      expect(verifyTotp(RFC6238_SEEDS[algorithm], code, time, undefined, parameters)).toEqual({
        valid: true,
        step: totpStep(time),
      });
    });
  });

  it('is the service policy of every authenticator app: SHA-1, 6 digits, 30 seconds', () => {
    expect(TOTP_POLICY).toEqual({ algorithm: 'SHA1', digits: 6, period: 30 });
    expect(totpCode(SECRET, totpStep(59))).toBe('287082');
  });

  it('makes 160-bit secrets from the random source it is given, in unpadded base32', () => {
    const requested: number[] = [];
    const { secret, base32 } = generateTotpSecret({
      bytes: (length) => {
        requested.push(length);
        return new Uint8Array(length).fill(0xa5);
      },
    });
    expect(requested).toEqual([20]);
    expect(secret).toEqual(new Uint8Array(20).fill(0xa5));
    expect(base32).toMatch(/^[A-Z2-7]{32}$/);
    expect(base32Decode(base32)).toEqual(secret);
    expect(() => generateTotpSecret({ bytes: () => new Uint8Array(10) })).toThrow();
  });
});

describe('verifying a code', () => {
  it('accepts the current step and one step of drift either way, and returns the step it matched', () => {
    for (const offset of [-1, 0, 1]) {
      expect(verifyTotp(SECRET, codeAt(STEP + offset), NOW, undefined)).toEqual({ valid: true, step: STEP + offset });
    }
  });

  it('refuses two steps of drift either way', () => {
    for (const offset of [-2, 2]) {
      expect(verifyTotp(SECRET, codeAt(STEP + offset), NOW, undefined)).toEqual({ valid: false, reason: 'mismatch' });
    }
  });

  it('refuses the code of the step last accepted, and of any earlier step, as a replay', () => {
    expect(verifyTotp(SECRET, codeAt(STEP), NOW, STEP)).toEqual({ valid: false, reason: 'replayed' });
    expect(verifyTotp(SECRET, codeAt(STEP - 1), NOW, STEP)).toEqual({ valid: false, reason: 'replayed' });
    // A code from one step ahead was accepted: the current step's code is now an earlier one.
    expect(verifyTotp(SECRET, codeAt(STEP), NOW, STEP + 1)).toEqual({ valid: false, reason: 'replayed' });
  });

  it('accepts a later step than the last accepted one', () => {
    expect(verifyTotp(SECRET, codeAt(STEP), NOW, STEP - 1)).toEqual({ valid: true, step: STEP });
    expect(verifyTotp(SECRET, codeAt(STEP + 1), NOW, STEP)).toEqual({ valid: true, step: STEP + 1 });
  });

  it('moves the window exactly at a step boundary', () => {
    const boundary = STEP * 30;
    // One second before the boundary the current step is STEP − 1; at it, STEP.
    expect(totpStep(boundary - 1)).toBe(STEP - 1);
    expect(totpStep(boundary)).toBe(STEP);
    expect(totpStep(boundary - 0.001)).toBe(STEP - 1);
    expect(verifyTotp(SECRET, codeAt(STEP - 2), boundary - 1, undefined)).toEqual({ valid: true, step: STEP - 2 });
    expect(verifyTotp(SECRET, codeAt(STEP + 1), boundary - 1, undefined)).toEqual({ valid: false, reason: 'mismatch' });
    expect(verifyTotp(SECRET, codeAt(STEP - 2), boundary, undefined)).toEqual({ valid: false, reason: 'mismatch' });
    expect(verifyTotp(SECRET, codeAt(STEP + 1), boundary, undefined)).toEqual({ valid: true, step: STEP + 1 });
  });

  it('never looks before the epoch', () => {
    expect(verifyTotp(SECRET, hotp(SECRET, 0), 0, undefined)).toEqual({ valid: true, step: 0 });
    expect(verifyTotp(SECRET, hotp(SECRET, 1), 0, undefined)).toEqual({ valid: true, step: 1 });
  });

  it('refuses a wrong code for a right-looking one', () => {
    const wrong = String((Number(codeAt(STEP)) + 1) % 1_000_000).padStart(6, '0');
    const window = [STEP - 1, STEP, STEP + 1].map(codeAt);
    expect(window).not.toContain(wrong);
    expect(verifyTotp(SECRET, wrong, NOW, undefined)).toEqual({ valid: false, reason: 'mismatch' });
    expect(verifyTotp(ascii('another secret......'), codeAt(STEP), NOW, undefined)).toEqual({
      valid: false,
      reason: 'mismatch',
    });
  });
});

describe('a code as typed', () => {
  const code = codeAt(STEP);
  const spaced = `${code.slice(0, 3)} ${code.slice(3)}`;

  it.each([code, spaced, ` ${code} `, `${code.slice(0, 3)}  ${code.slice(3)}`])(
    'accepts %j (spaces are dropped)',
    (typed) => {
      expect(normalizeTotpCode(typed)).toBe(code);
      expect(verifyTotp(SECRET, typed, NOW, undefined)).toEqual({ valid: true, step: STEP });
    },
  );

  it.each([
    ['a dash', `${code.slice(0, 3)}-${code.slice(3)}`],
    ['a tab', `${code.slice(0, 3)}\t${code.slice(3)}`],
    ['five digits', code.slice(0, 5)],
    ['seven digits', `${code}0`],
    ['a letter', `${code.slice(0, 5)}a`],
    ['Arabic-Indic digits', '١٢٣٤٥٦'],
    ['fullwidth digits', '１２３４５６'],
    ['nothing', ''],
    ['a very long field', ' '.repeat(10_000) + code],
  ])('refuses a code with %s as malformed', (_, typed) => {
    expect(normalizeTotpCode(typed)).toBeUndefined();
    expect(verifyTotp(SECRET, typed, NOW, undefined)).toEqual({ valid: false, reason: 'malformed' });
  });
});

describe('against an independent implementation (the otpauth package)', () => {
  const secrets = fc.uint8Array({ minLength: 20, maxLength: 20 });
  // Any second between the epoch and 2100.
  const times = fc.integer({ min: 0, max: 4_102_444_800 });

  it('verifies the codes otpauth generates for random secrets and times', () => {
    fc.assert(
      fc.property(secrets, times, (secret, time) => {
        const oracle = new OTPAuth.TOTP({
          secret: OTPAuth.Secret.fromBase32(base32Encode(secret)),
          algorithm: 'SHA1',
          digits: 6,
          period: 30,
        });
        const code = oracle.generate({ timestamp: time * 1000 });
        expect(verifyTotp(secret, code, time, undefined)).toEqual({ valid: true, step: totpStep(time) });
        expect(oracle.validate({ token: totpCode(secret, totpStep(time)), timestamp: time * 1000, window: 0 })).toBe(0);
      }),
      RUNS,
    );
  });

  it('agrees on base32 both ways, for secrets of any length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }), (bytes) => {
        const ours = base32Encode(bytes);
        expect(ours).toBe(new OTPAuth.Secret({ buffer: Uint8Array.from(bytes).buffer }).base32);
        expect(base32Decode(ours)).toEqual(bytes);
        expect(base32Decode(ours.toLowerCase())).toEqual(bytes);
      }),
      RUNS,
    );
  });

  it('parses our otpauth URI back to the same secret, issuer, label and parameters', () => {
    const accounts = fc.oneof(
      fc.constantFrom('alice', 'bob@example.com', 'o:brien', 'zoë', 'a b&c=d?e#f/g%h+i', '名前'),
      fc.string({ minLength: 1, maxLength: 40 }),
    );
    const issuers = fc.oneof(
      fc.constantFrom('ropc-token-service', 'Example Corp', 'A&B=C?#/%+'),
      fc.string({ minLength: 1, maxLength: 30 }).filter((issuer) => !issuer.includes(':')),
    );
    fc.assert(
      fc.property(secrets, issuers, accounts, (secret, issuer, account) => {
        const uri = otpauthUri({ issuer, account, secret });
        expect(uri.startsWith('otpauth://totp/')).toBe(true);
        const parsed = OTPAuth.URI.parse(uri);
        expect(parsed).toBeInstanceOf(OTPAuth.TOTP);
        const totp = parsed as OTPAuth.TOTP;
        expect(totp.secret.base32).toBe(base32Encode(secret));
        expect(totp.issuer).toBe(issuer);
        expect(totp.label).toBe(account);
        expect([totp.algorithm, totp.digits, totp.period]).toEqual(['SHA1', 6, 30]);
        // The label is one path segment: nothing in it is left unencoded but unreserved characters.
        expect(uri.slice('otpauth://totp/'.length, uri.indexOf('?'))).toMatch(
          /^[A-Za-z0-9\-_.!~*'()%]+:[A-Za-z0-9\-_.!~*'()%]+$/,
        );
      }),
      RUNS,
    );
  });

  it('spells the URI out as the Key Uri Format shows it', () => {
    const secret = base32Decode('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP')!;
    expect(otpauthUri({ issuer: 'Example Co', account: 'alice@example.com', secret })).toBe(
      'otpauth://totp/Example%20Co:alice%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Example%20Co&algorithm=SHA1&digits=6&period=30',
    );
  });

  it('refuses an issuer the label cannot carry', () => {
    expect(() => otpauthUri({ issuer: 'a:b', account: 'alice', secret: SECRET })).toThrow();
    expect(() => otpauthUri({ issuer: '', account: 'alice', secret: SECRET })).toThrow();
    expect(() => otpauthUri({ issuer: 'x', account: '', secret: SECRET })).toThrow();
  });
});

describe('base32 (RFC 4648 §10 test vectors, unpadded)', () => {
  it.each([
    ['', ''],
    ['f', 'MY'],
    ['fo', 'MZXQ'],
    ['foo', 'MZXW6'],
    ['foob', 'MZXW6YQ'],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI'],
  ])('%j is %j', (text, encoded) => {
    expect(base32Encode(ascii(text))).toBe(encoded);
    expect(base32Decode(encoded)).toEqual(ascii(text));
  });

  it('tolerates trailing padding and refuses what is not base32', () => {
    expect(base32Decode('MZXW6YQ=')).toEqual(ascii('foob'));
    expect(base32Decode('MZXW6YTBOI======')).toEqual(ascii('foobar'));
    for (const bad of ['MZXW6YQ1', 'MZ=XW6YQ', 'M', 'MZX', 'MZXW6Y', 'MZ XW', 'MZXW6YR']) {
      expect(base32Decode(bad), bad).toBeUndefined();
    }
  });

  it('round-trips random secrets', () => {
    const secret = randomBytes(20);
    expect(base32Decode(base32Encode(secret))).toEqual(new Uint8Array(secret));
  });
});
