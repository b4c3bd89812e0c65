import { performance } from 'node:perf_hooks';
import { scrypt as scryptJs } from 'scrypt-js';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SCRYPT_PARAMS,
  dummyHash,
  hashPassword,
  needsRehash,
  PasswordHashFormatError,
  parseScryptParams,
  type ScryptParams,
  validateScryptParams,
  verifyPassword,
} from '../../lambda/passwords';

// Small parameters keep the suite fast; the default policy is exercised once, in the scrypt-js cross-check.
const FAST: ScryptParams = { N: 2 ** 10, r: 8, p: 1 };
const PHC = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

function parts(encoded: string) {
  const m = PHC.exec(encoded);
  if (!m) throw new Error(`not a PHC scrypt string: ${encoded}`);
  return {
    ln: Number(m[1]),
    r: Number(m[2]),
    p: Number(m[3]),
    salt: Buffer.from(m[4] ?? '', 'base64'),
    hash: Buffer.from(m[5] ?? '', 'base64'),
  };
}

describe('hashPassword / verifyPassword', () => {
  it('round-trips and rejects a wrong password', async () => {
    const encoded = await hashPassword('correct horse battery staple', FAST);
    expect(await verifyPassword('correct horse battery staple', encoded)).toBe(true);
    expect(await verifyPassword('correct horse battery stapl', encoded)).toBe(false);
    expect(await verifyPassword('Correct horse battery staple', encoded)).toBe(false);
    expect(await verifyPassword('', encoded)).toBe(false);
  });

  it('writes a PHC string with the parameters, a 16-byte salt and a 32-byte key, unpadded base64', async () => {
    const encoded = await hashPassword('pw', FAST);
    const { ln, r, p, salt, hash } = parts(encoded);
    expect({ ln, r, p }).toEqual({ ln: 10, r: 8, p: 1 });
    expect(salt).toHaveLength(16);
    expect(hash).toHaveLength(32);
    // 16 bytes → 22 chars, 32 bytes → 43 chars, no "=".
    expect(
      encoded
        .split('$')
        .map((s) => s.length)
        .slice(3),
    ).toEqual([22, 43]);
  });

  it('salts randomly: the same password hashes differently each time, both verify', async () => {
    const [a, b] = await Promise.all([hashPassword('same', FAST), hashPassword('same', FAST)]);
    expect(a).not.toBe(b);
    expect(parts(a).salt.equals(parts(b).salt)).toBe(false);
    expect(await verifyPassword('same', a)).toBe(true);
    expect(await verifyPassword('same', b)).toBe(true);
  });

  it('uses the default policy when no params are given', async () => {
    expect(DEFAULT_SCRYPT_PARAMS).toEqual({ N: 131072, r: 8, p: 1 });
    expect(dummyHash().startsWith('$scrypt$ln=17,r=8,p=1$')).toBe(true);
  });

  it('NFC-normalizes: composed and decomposed forms of the same password verify against each other', async () => {
    const composed = 'caf\u00e9 na\u00efve'; // é, ï as single code points
    const decomposed = 'cafe\u0301 nai\u0308ve'; // e + U+0301, i + U+0308
    expect(composed).not.toBe(decomposed);
    const fromComposed = await hashPassword(composed, FAST);
    const fromDecomposed = await hashPassword(decomposed, FAST);
    expect(await verifyPassword(decomposed, fromComposed)).toBe(true);
    expect(await verifyPassword(composed, fromDecomposed)).toBe(true);
    expect(await verifyPassword('cafe naive', fromComposed)).toBe(false);
  });

  it('hashes the NFC form as UTF-8 (same key as scrypt-js over the NFC bytes)', async () => {
    const encoded = await hashPassword('e\u0301\u00df\u{1f511}', FAST);
    const { salt, hash } = parts(encoded);
    const nfcBytes = Buffer.from('\u00e9\u00df\u{1f511}', 'utf8');
    expect(nfcBytes).toHaveLength(2 + 2 + 4);
    expect(Buffer.from(await scryptJs(nfcBytes, salt, FAST.N, FAST.r, FAST.p, 32)).equals(hash)).toBe(true);
  });

  it('limits passwords to 1024 characters (code points): hash throws, verify returns false', async () => {
    const max = 'a'.repeat(1024);
    const encoded = await hashPassword(max, FAST);
    expect(await verifyPassword(max, encoded)).toBe(true);
    await expect(hashPassword('a'.repeat(1025), FAST)).rejects.toThrow(RangeError);
    await expect(hashPassword('a'.repeat(1025), FAST)).rejects.toThrow(/longer than 1024 characters/);
    expect(await verifyPassword('a'.repeat(1025), encoded)).toBe(false);
    // The overlong path derives from a placeholder; it must not then match the hash of that placeholder.
    expect(await verifyPassword('a'.repeat(1025), await hashPassword('', FAST))).toBe(false);
    // 1024 astral characters are 2048 UTF-16 units but 1024 characters: allowed.
    const astral = '\u{1f600}'.repeat(1024);
    expect(await verifyPassword(astral, await hashPassword(astral, FAST))).toBe(true);
  });

  it('rejects invalid params when hashing', async () => {
    await expect(hashPassword('pw', { N: 1000, r: 8, p: 1 })).rejects.toThrow(/power of two/);
    await expect(hashPassword('pw', { N: 2 ** 10, r: 0, p: 1 })).rejects.toThrow(/r must be a positive integer/);
  });
});

describe('parameters travel with the hash', () => {
  it('a hash verifies with its own parameters after the policy changes', async () => {
    const old = await hashPassword('pw', { N: 2 ** 11, r: 4, p: 2 });
    expect(old.startsWith('$scrypt$ln=11,r=4,p=2$')).toBe(true);
    // verifyPassword takes no policy: it reads N, r, p from the string.
    expect(await verifyPassword('pw', old)).toBe(true);
    expect(await verifyPassword('pW', old)).toBe(false);
    expect(needsRehash(old, FAST)).toBe(true);
  });

  it('needsRehash: true for a weaker or different hash, false for the same params', async () => {
    const n14 = await hashPassword('pw', { N: 2 ** 14, r: 8, p: 1 });
    expect(needsRehash(n14, DEFAULT_SCRYPT_PARAMS)).toBe(true);
    expect(needsRehash(n14, { N: 2 ** 14, r: 8, p: 1 })).toBe(false);
    expect(needsRehash(n14, { N: 2 ** 14, r: 16, p: 1 })).toBe(true);
    expect(needsRehash(n14, { N: 2 ** 14, r: 8, p: 2 })).toBe(true);
    // Stronger than the policy is still "different": the policy is what gets stored.
    expect(needsRehash(n14, { N: 2 ** 12, r: 8, p: 1 })).toBe(true);
    expect(needsRehash(await hashPassword('pw', FAST), FAST)).toBe(false);
  });

  it('needsRehash: true for the older format (other salt/key sizes), which still verifies', () => {
    // RFC 7914 §12 test vector 3: 14-byte salt, 64-byte key.
    const rfc = `$scrypt$ln=14,r=8,p=1$${b64('SodiumChloride')}$${b64(RFC_VECTOR_3, 'hex')}`;
    expect(needsRehash(rfc, { N: 2 ** 14, r: 8, p: 1 })).toBe(true);
  });

  it('verifies the RFC 7914 test vector 3 (scrypt("pleaseletmein", "SodiumChloride", 16384, 8, 1, 64))', async () => {
    const rfc = `$scrypt$ln=14,r=8,p=1$${b64('SodiumChloride')}$${b64(RFC_VECTOR_3, 'hex')}`;
    expect(await verifyPassword('pleaseletmein', rfc)).toBe(true);
    expect(await verifyPassword('pleaseletmeIn', rfc)).toBe(false);
  });
});

const RFC_VECTOR_3 =
  '7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2' +
  'd5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887';

function b64(text: string, encoding: BufferEncoding = 'utf8'): string {
  return Buffer.from(text, encoding).toString('base64').replace(/=+$/, '');
}

describe('byte-identical to scrypt-js', () => {
  it('at N=2^10, r=8, p=1 and at N=2^4, r=2, p=3', async () => {
    for (const params of [FAST, { N: 16, r: 2, p: 3 }]) {
      const encoded = await hashPassword('pässwörd', params);
      const { salt, hash } = parts(encoded);
      const js = await scryptJs(Buffer.from('pässwörd'.normalize('NFC')), salt, params.N, params.r, params.p, 32);
      expect(Buffer.from(js).toString('hex')).toBe(hash.toString('hex'));
    }
  });

  it('at the default N=2^17, r=8, p=1', { timeout: 60_000 }, async () => {
    const password = 'correct horse battery staple';
    const t0 = performance.now();
    const encoded = await hashPassword(password);
    const nativeMs = performance.now() - t0;
    const { ln, r, p, salt, hash } = parts(encoded);
    expect({ ln, r, p }).toEqual({ ln: 17, r: 8, p: 1 });

    const t1 = performance.now();
    const js = await scryptJs(Buffer.from(password), salt, 2 ** 17, 8, 1, 32);
    const jsMs = performance.now() - t1;

    expect(Buffer.from(js).toString('hex')).toBe(hash.toString('hex'));
    console.log(`scrypt N=2^17 r=8 p=1: node:crypto ${nativeMs.toFixed(0)} ms, scrypt-js ${jsMs.toFixed(0)} ms`);
  });
});

describe('malformed stored hashes throw PasswordHashFormatError', () => {
  const SALT = 'c2FsdHNhbHRzYWx0c2FsdA'; // "saltsaltsaltsalt", 16 bytes
  const KEY = 'a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U'; // 32 bytes
  const ok = `$scrypt$ln=10,r=8,p=1$${SALT}$${KEY}`;

  it('the well-formed baseline parses (wrong password, so false)', async () => {
    expect(await verifyPassword('pw', ok)).toBe(false);
    expect(needsRehash(ok, FAST)).toBe(false);
  });

  const cases: Array<[string, string]> = [
    ['empty', ''],
    ['plain text', 'hunter2'],
    ['other algorithm', `$argon2id$v=19$m=65536,t=3,p=4$${SALT}$${KEY}`],
    ['prefix case', `$Scrypt$ln=10,r=8,p=1$${SALT}$${KEY}`],
    ['no leading $', `scrypt$ln=10,r=8,p=1$${SALT}$${KEY}`],
    ['missing hash', `$scrypt$ln=10,r=8,p=1$${SALT}`],
    ['missing salt and hash', '$scrypt$ln=10,r=8,p=1'],
    ['empty hash', `$scrypt$ln=10,r=8,p=1$${SALT}$`],
    ['empty salt', `$scrypt$ln=10,r=8,p=1$$${KEY}`],
    ['extra field', `$scrypt$ln=10,r=8,p=1$${SALT}$${KEY}$x`],
    ['trailing $', `${ok}$`],
    ['N= instead of ln=', `$scrypt$N=1024,r=8,p=1$${SALT}$${KEY}`],
    ['params reordered', `$scrypt$r=8,ln=10,p=1$${SALT}$${KEY}`],
    ['missing p', `$scrypt$ln=10,r=8$${SALT}$${KEY}`],
    ['extra param', `$scrypt$ln=10,r=8,p=1,x=1$${SALT}$${KEY}`],
    ['space in params', `$scrypt$ln=10, r=8,p=1$${SALT}$${KEY}`],
    ['non-integer ln', `$scrypt$ln=10.5,r=8,p=1$${SALT}$${KEY}`],
    ['negative r', `$scrypt$ln=10,r=-8,p=1$${SALT}$${KEY}`],
    ['hex p', `$scrypt$ln=10,r=8,p=0x1$${SALT}$${KEY}`],
    ['leading zero', `$scrypt$ln=010,r=8,p=1$${SALT}$${KEY}`],
    ['ln=0 (N=1)', `$scrypt$ln=0,r=8,p=1$${SALT}$${KEY}`],
    ['r=0', `$scrypt$ln=10,r=0,p=1$${SALT}$${KEY}`],
    ['p=0', `$scrypt$ln=10,r=8,p=0$${SALT}$${KEY}`],
    ['p above 16', `$scrypt$ln=10,r=8,p=17$${SALT}$${KEY}`],
    ['memory above 1 GiB (ln=24, r=8)', `$scrypt$ln=24,r=8,p=1$${SALT}$${KEY}`],
    ['ln absurd', `$scrypt$ln=999999999,r=8,p=1$${SALT}$${KEY}`],
    ['padded base64', `$scrypt$ln=10,r=8,p=1$${SALT}==$${KEY}`],
    ['url-safe base64', `$scrypt$ln=10,r=8,p=1$${SALT}$${KEY.replace(/a/g, '-')}`],
    ['junk char in base64', `$scrypt$ln=10,r=8,p=1$${SALT}$${KEY.slice(0, 20)}!${KEY.slice(21)}`],
    ['impossible base64 length', `$scrypt$ln=10,r=8,p=1$${SALT}ABC$${KEY}`],
    ['non-canonical base64 tail', `$scrypt$ln=10,r=8,p=1$${SALT.slice(0, -1)}B$${KEY}`],
    ['salt too short (4 bytes)', `$scrypt$ln=10,r=8,p=1$c2FsdA$${KEY}`],
    ['key too short (8 bytes)', `$scrypt$ln=10,r=8,p=1$${SALT}$a2V5a2V5a2U`],
    ['whitespace around', ` ${ok} `],
  ];

  it.each(cases)('%s', async (_name, encoded) => {
    await expect(verifyPassword('pw', encoded)).rejects.toThrow(PasswordHashFormatError);
    expect(() => needsRehash(encoded, FAST)).toThrow(PasswordHashFormatError);
  });

  it('is an Error subclass with its own name, and does not echo the hash', async () => {
    const err = await verifyPassword('pw', '$scrypt$ln=10,r=8,p=1$secret-ish$x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PasswordHashFormatError);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('PasswordHashFormatError');
    expect((err as Error).message).not.toContain('secret-ish');
  });
});

describe('parseScryptParams', () => {
  const good: Array<[string, ScryptParams]> = [
    ['N=131072,r=8,p=1', { N: 131072, r: 8, p: 1 }],
    ['ln=17,r=8,p=1', { N: 131072, r: 8, p: 1 }],
    ['ln=10,r=8,p=1', { N: 1024, r: 8, p: 1 }],
    ['p=2,r=4,N=16384', { N: 16384, r: 4, p: 2 }],
    [' N=2 , r=1 , p=1 ', { N: 2, r: 1, p: 1 }],
    ['ln=20,r=8,p=1', { N: 2 ** 20, r: 8, p: 1 }],
    ['N=1048576,r=8,p=4', { N: 2 ** 20, r: 8, p: 4 }],
  ];
  it.each(good)('parses %j', (text, expected) => {
    expect(parseScryptParams(text)).toEqual(expected);
  });

  const bad: Array<[string, RegExp]> = [
    ['', /bad entry ""/],
    ['N=131072,r=8', /p is missing/],
    ['N=131072,p=1', /r is missing/],
    ['r=8,p=1', /N \(or ln\) is missing/],
    ['N=131072,ln=17,r=8,p=1', /either N or ln, not both/],
    ['N=131072,r=8,p=1,p=1', /"p" given twice/],
    ['n=131072,r=8,p=1', /unknown key "n"/],
    ['N=131072,r=8,p=1,x=2', /unknown key "x"/],
    ['N=100000,r=8,p=1', /N must be a power of two/],
    ['N=1,r=8,p=1', /N must be a power of two greater than 1/],
    ['ln=0,r=8,p=1', /ln must be from 1 to 52/],
    ['ln=99,r=8,p=1', /ln must be from 1 to 52/],
    ['N=131072,r=0,p=1', /r must be a positive integer/],
    ['N=131072,r=8,p=0', /p must be an integer from 1 to 16/],
    ['N=131072,r=8,p=17', /p must be an integer from 1 to 16/],
    ['N=131072,r=-8,p=1', /bad entry "r=-8"/],
    ['N=131072,r=8.5,p=1', /bad entry "r=8.5"/],
    ['N=1e5,r=8,p=1', /bad entry "N=1e5"/],
    ['N=0x20000,r=8,p=1', /bad entry/],
    ['N=,r=8,p=1', /bad entry "N="/],
    ['N=131072;r=8;p=1', /bad entry/],
    ['N=131072,r=8,p=1,', /bad entry ""/],
    ['N=99999999999999999999,r=8,p=1', /too large/],
    ['ln=21,r=8,p=1', /needs 2147483648 bytes \(128·N·r\), above the 1073741824-byte limit/],
    ['ln=20,r=8,p=16', /costs 128·N·r·p = 17179869184, above the limit/],
  ];
  it.each(bad)('rejects %j', (text, message) => {
    expect(() => parseScryptParams(text)).toThrow(message);
    expect(() => parseScryptParams(text)).toThrow(`invalid scrypt parameters "${text}"`);
  });
});

describe('validateScryptParams', () => {
  it('accepts the default and the limits', () => {
    expect(() => validateScryptParams(DEFAULT_SCRYPT_PARAMS)).not.toThrow();
    expect(() => validateScryptParams({ N: 2 ** 20, r: 8, p: 1 })).not.toThrow(); // exactly 1 GiB
    expect(() => validateScryptParams({ N: 2, r: 1, p: 16 })).not.toThrow();
  });

  it.each<[ScryptParams, RegExp]>([
    [{ N: 0, r: 8, p: 1 }, /N must be a power of two greater than 1, got 0/],
    [{ N: 3, r: 8, p: 1 }, /N must be a power of two/],
    [{ N: 1024.5, r: 8, p: 1 }, /N must be a power of two/],
    [{ N: NaN, r: 8, p: 1 }, /got NaN/],
    [{ N: -1024, r: 8, p: 1 }, /N must be a power of two/],
    [{ N: 1024, r: 1.5, p: 1 }, /r must be a positive integer, got 1.5/],
    [{ N: 1024, r: 8, p: -1 }, /p must be an integer from 1 to 16, got -1/],
    [{ N: 2 ** 21, r: 8, p: 1 }, /above the 1073741824-byte limit/],
  ])('rejects %j', (params, message) => {
    expect(() => validateScryptParams(params)).toThrow(RangeError);
    expect(() => validateScryptParams(params)).toThrow(message);
  });
});

describe('dummyHash', () => {
  it('is a valid hash at the given params that the tried password does not match', async () => {
    const d = dummyHash(FAST);
    expect(d.startsWith('$scrypt$ln=10,r=8,p=1$')).toBe(true);
    expect(parts(d).salt).toHaveLength(16);
    expect(parts(d).hash).toHaveLength(32);
    expect(needsRehash(d, FAST)).toBe(false);
    expect(await verifyPassword('', d)).toBe(false);
    expect(await verifyPassword('password', d)).toBe(false);
  });

  it('is ready at once for any params: a random salt and key, fresh each time', () => {
    const small: ScryptParams = { N: 2 ** 9, r: 8, p: 1 };
    const a = dummyHash(small);
    const b = dummyHash({ ...small });
    expect(typeof a).toBe('string');
    expect(b).not.toBe(a);
    expect(parts(a).salt.equals(parts(b).salt)).toBe(false);
    expect(dummyHash({ N: 2 ** 9, r: 4, p: 1 }).startsWith('$scrypt$ln=9,r=4,p=1$')).toBe(true);
    expect(dummyHash(DEFAULT_SCRYPT_PARAMS).startsWith('$scrypt$ln=17,r=8,p=1$')).toBe(true);
  });

  it('rejects invalid params', () => {
    expect(() => dummyHash({ N: 1000, r: 8, p: 1 })).toThrow(RangeError);
    expect(() => dummyHash({ N: 1000, r: 8, p: 1 })).toThrow(/power of two/);
  });
});
