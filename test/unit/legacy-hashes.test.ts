import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import bcryptjs from 'bcryptjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashPassword, hashProblem, PasswordHashFormatError, scryptPasswordHasher } from '../../lambda/passwords';

/**
 * Imported legacy hashes, checked against hashes the reference implementations made
 * (test/fixtures/legacy-hashes/generate.py: python bcrypt, passlib, argon2-cffi), with bcryptjs as a second
 * bcrypt implementation, through the PasswordHasher the token endpoint uses and the import's hashProblem.
 */
interface Fixture {
  readonly kind: string;
  readonly password: string;
  readonly hash: string;
  readonly wrong: string;
  readonly params: Record<string, number | string>;
}

const FIXTURES = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', 'fixtures', 'legacy-hashes', 'hashes.json'), 'utf8'),
) as { verifiable: Fixture[]; refused: Omit<Fixture, 'wrong' | 'params'>[] };

const KINDS = [
  'bcrypt',
  'argon2id',
  'argon2i',
  'argon2d',
  'pbkdf2-sha1',
  'pbkdf2-sha256',
  'pbkdf2-sha512',
  'django-pbkdf2-sha256',
  'django-pbkdf2-sha1',
  'ldap-ssha',
  'ldap-ssha256',
  'ldap-ssha512',
];

// The dummy scrypt each legacy check runs beside costs nothing at these parameters.
const hasher = scryptPasswordHasher({ N: 2 ** 4, r: 8, p: 1 });
const utf8Length = (text: string) => Buffer.byteLength(text, 'utf8');

describe('the reference implementations’ hashes', () => {
  it('cover every format, several times, with non-ASCII passwords and bcrypt past 72 bytes', () => {
    const byKind = new Map<string, Fixture[]>();
    for (const fixture of FIXTURES.verifiable) byKind.set(fixture.kind, [...(byKind.get(fixture.kind) ?? []), fixture]);
    expect([...byKind.keys()].sort()).toEqual([...KINDS].sort());
    for (const [, fixtures] of byKind) {
      expect(fixtures.length).toBeGreaterThanOrEqual(3);
      expect(fixtures.some((fixture) => /[^\x20-\x7e]/.test(fixture.password))).toBe(true);
    }
    const bcrypts = byKind.get('bcrypt')!;
    expect(bcrypts.filter((fixture) => utf8Length(fixture.password) > 72).length).toBeGreaterThanOrEqual(4);
    expect(new Set(bcrypts.map((fixture) => fixture.hash.slice(0, 4)))).toEqual(new Set(['$2a$', '$2b$', '$2y$']));
  });

  it.each(FIXTURES.verifiable.map((fixture) => [fixture.kind, JSON.stringify(fixture.params), fixture] as const))(
    '%s %s: storable, the right password verifies and the wrong one does not',
    async (_kind, _params, { hash, password, wrong }) => {
      expect(hashProblem(hash)).toBeUndefined();
      expect(await hasher.verify(password, hash)).toBe(true);
      expect(await hasher.verify(wrong, hash)).toBe(false);
      expect(hasher.needsRehash(hash)).toBe(true);
    },
  );

  it('bcrypt reads the first 72 bytes only, as OpenBSD does: byte 72 counts, what follows does not', async () => {
    const long = FIXTURES.verifiable.filter(
      (fixture) =>
        fixture.kind === 'bcrypt' && /^[\x20-\x7e]{72}/.test(fixture.password) && fixture.password.length > 72,
    );
    expect(long.length).toBeGreaterThanOrEqual(2);
    for (const { hash, password } of long) {
      expect(await hasher.verify(`${password.slice(0, 72)}, then anything`, hash)).toBe(true);
      expect(await hasher.verify(password.slice(0, 72), hash)).toBe(true);
      expect(await hasher.verify(password.slice(0, 71), hash)).toBe(false);
      expect(await hasher.verify(`${password.slice(0, 71)}#${password.slice(72)}`, hash)).toBe(false);
    }
  });

  it.each(FIXTURES.refused.map((fixture) => [fixture.kind, fixture.hash.slice(0, 8), fixture] as const))(
    '%s (%s…) is refused, and verify throws PasswordHashFormatError',
    async (kind, _start, { hash, password }) => {
      const problem = hashProblem(hash);
      expect(problem).toMatch(kind === 'unsalted' ? /^unsalted .+ digest: too weak to import/ : /argon2 version/);
      expectNoEcho(problem!, hash);
      await expect(hasher.verify(password, hash)).rejects.toThrow(PasswordHashFormatError);
      expect(() => hasher.needsRehash(hash)).toThrow(PasswordHashFormatError);
    },
  );
});

describe('bcrypt, cross-checked with bcryptjs', () => {
  it.each(FIXTURES.verifiable.filter((fixture) => fixture.kind === 'bcrypt').map((fixture) => [fixture.hash, fixture]))(
    'bcryptjs agrees on %s',
    async (_hash, { hash, password, wrong }) => {
      expect(await bcryptjs.compare(password, hash)).toBe(true);
      expect(await bcryptjs.compare(wrong, hash)).toBe(false);
    },
  );

  it('verifies what bcryptjs hashes, and agrees with it on other passwords (any prefix, any length)', async () => {
    const password = fc.oneof(
      fc.string({ maxLength: 100 }),
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.string({ unit: 'grapheme-ascii', minLength: 70, maxLength: 90 }),
    );
    await fc.assert(
      fc.asyncProperty(password, password, fc.constantFrom('2a', '2b', '2y'), async (right, other, ident) => {
        const hash = `$${ident}$${bcryptjs.hashSync(right, 4).slice(4)}`;
        expect(await hasher.verify(right, hash)).toBe(true);
        expect(await hasher.verify(other, hash)).toBe(bcryptjs.compareSync(other, hash));
      }),
      { numRuns: 40 },
    );
  });
});

describe('passwords as the legacy system received them', () => {
  const nfd = FIXTURES.verifiable.filter((fixture) => fixture.password !== fixture.password.normalize('NFC'));
  const nfc = FIXTURES.verifiable
    .filter((fixture) => /[^\x20-\x7e]/.test(fixture.password))
    .filter(
      (fixture) =>
        fixture.password === fixture.password.normalize('NFC') &&
        fixture.password.normalize('NFD') !== fixture.password,
    );

  it('has hashes of decomposed and of composed spellings of every family', () => {
    expect(new Set(nfd.map((fixture) => fixture.kind))).toEqual(new Set(KINDS));
    expect(new Set(nfc.map((fixture) => fixture.kind))).toEqual(new Set(KINDS));
  });

  it.each(nfd.map((fixture) => [fixture.kind, fixture] as const))(
    '%s of a decomposed password: verifies as typed; the composed spelling is another password',
    async (_kind, { hash, password }) => {
      expect(await hasher.verify(password, hash)).toBe(true);
      expect(await hasher.verify(password.normalize('NFC'), hash)).toBe(false);
    },
  );

  it.each(nfc.map((fixture) => [fixture.kind, fixture] as const))(
    '%s of a composed password: verifies typed composed or decomposed (its NFC form)',
    async (_kind, { hash, password }) => {
      expect(await hasher.verify(password, hash)).toBe(true);
      expect(await hasher.verify(password.normalize('NFD'), hash)).toBe(true);
    },
  );

  it('an overlong password never matches, even a legacy hash of it', async () => {
    const long = 'a'.repeat(1025);
    const hash = `{SSHA}${Buffer.concat([
      createHash('sha1').update(long).update('salt').digest(),
      Buffer.from('salt'),
    ]).toString('base64')}`;
    expect(hashProblem(hash)).toBeUndefined();
    expect(await hasher.verify(long, hash)).toBe(false);
  });
});

/** The problem never contains the hash, nor any 10 characters of its salt or digest. */
function expectNoEcho(problem: string, hash: string): void {
  if (hash !== '') expect(problem).not.toContain(hash);
  const body = hash.replace(/^(\{[^}]*\}|\$[^$]*\$|[^$]*\$)/, '');
  for (const field of body.split(/[$,]/)) {
    for (let start = 0; start + 10 <= field.length; start++)
      expect(problem).not.toContain(field.slice(start, start + 10));
  }
}

const b64 = (bytes: number, fill = 7) => Buffer.alloc(bytes, fill).toString('base64').replace(/=+$/, '');
const ab64 = (bytes: number) => b64(bytes, 0xfb).replaceAll('+', '.');
const padded = (bytes: number, fill = 7) => Buffer.alloc(bytes, fill).toString('base64');
const bcryptTail = FIXTURES.verifiable.find((fixture) => fixture.hash.startsWith('$2b$'))!.hash.slice(7);
const argon2 = (params: string, salt = 16, hash = 32, head = '$argon2id$v=19') =>
  `${head}$${params}$${b64(salt)}$${b64(hash)}`;
const passlib = (name: string, rounds: string, salt = 16, checksum = 32) =>
  `$${name}$${rounds}$${ab64(salt)}$${ab64(checksum)}`;
const django = (name: string, iterations: string, salt = 'AbCdEfGhIjKlMnOpQrStUv', hash = 32) =>
  `${name}$${iterations}$${salt}$${padded(hash)}`;
const ldap = (scheme: string, digest: number, salt: number) => `${scheme}${padded(digest + salt, 9)}`;

const UNKNOWN = /^password hash is in no format the service verifies/;

/** [what, stored hash, the problem (a pattern) or undefined for storable]. */
const PROBLEMS: [string, string, RegExp | undefined][] = [
  ['bcrypt cost 4 (lowest)', `$2b$04$${bcryptTail}`, undefined],
  ['bcrypt cost 3', `$2b$03$${bcryptTail}`, /^bcrypt cost is 3, outside the accepted 4 to 16$/],
  ['bcrypt cost 16 (highest)', `$2y$16$${bcryptTail}`, undefined],
  ['bcrypt cost 17', `$2a$17$${bcryptTail}`, /^bcrypt cost is 17, outside the accepted 4 to 16$/],
  ['bcrypt cost 31', `$2b$31$${bcryptTail}`, /bcrypt cost is 31/],
  ['bcrypt one-digit cost', `$2b$4$${bcryptTail}`, /^bcrypt hash is not of the form/],
  ['bcrypt $2x$', `$2x$10$${bcryptTail}`, /^bcrypt variant \$2x\$ is not supported/],
  ['bcrypt $2$', `$2$10$${bcryptTail}`, /^bcrypt variant \$2\$ is not supported/],
  ['bcrypt one character short', `$2b$10$${bcryptTail.slice(1)}`, /^bcrypt hash is not of the form/],
  ['bcrypt one character long', `$2b$10$${bcryptTail}a`, /^bcrypt hash is not of the form/],
  [
    'bcrypt invalid character',
    `$2b$10$${bcryptTail.slice(0, 30)}+${bcryptTail.slice(31)}`,
    /^bcrypt hash is not of the form/,
  ],
  // The 22nd salt character carries 4 bits past the 16 bytes (P, 17, sets one), the 31st hash character 2 (z, 53).
  [
    'bcrypt non-canonical salt',
    `$2b$10$${bcryptTail.slice(0, 21)}P${bcryptTail.slice(22)}`,
    /^bcrypt salt is not canonical/,
  ],
  ['bcrypt non-canonical hash', `$2b$10$${bcryptTail.slice(0, 52)}z`, /^bcrypt hash is not canonical/],

  ['argon2id m=262144 (highest)', argon2('m=262144,t=3,p=4'), undefined],
  [
    'argon2id m=262145',
    argon2('m=262145,t=3,p=4'),
    /^argon2id memory m \(KiB\) is 262145, outside the accepted 32 to 262144$/,
  ],
  ['argon2id m=8·p (lowest)', argon2('m=16,t=1,p=2'), undefined],
  ['argon2id m below 8·p', argon2('m=15,t=1,p=2'), /memory m \(KiB\) is 15, outside the accepted 16/],
  ['argon2id t=10 (highest)', argon2('m=1024,t=10,p=1'), undefined],
  ['argon2id t=11', argon2('m=1024,t=11,p=1'), /^argon2id time t is 11, outside the accepted 1 to 10$/],
  ['argon2id t=0', argon2('m=1024,t=0,p=1'), /time t is 0/],
  ['argon2id p=16 (highest)', argon2('m=1024,t=1,p=16'), undefined],
  ['argon2id p=17', argon2('m=1024,t=1,p=17'), /^argon2id parallelism p is 17, outside the accepted 1 to 16$/],
  ['argon2id p=0', argon2('m=1024,t=1,p=0'), /parallelism p is 0/],
  ['argon2i salt 8 bytes (shortest)', argon2('m=64,t=1,p=1', 8, 32, '$argon2i$v=19'), undefined],
  [
    'argon2i salt 7 bytes',
    argon2('m=64,t=1,p=1', 7, 32, '$argon2i$v=19'),
    /^argon2i salt is 7 bytes, expected 8 to 64$/,
  ],
  ['argon2d salt 64 bytes (longest)', argon2('m=64,t=1,p=1', 64, 32, '$argon2d$v=19'), undefined],
  ['argon2d salt 65 bytes', argon2('m=64,t=1,p=1', 65, 32, '$argon2d$v=19'), /salt is 65 bytes/],
  ['argon2id hash 16 bytes (shortest)', argon2('m=64,t=1,p=1', 16, 16), undefined],
  ['argon2id hash 15 bytes', argon2('m=64,t=1,p=1', 16, 15), /^argon2id hash is 15 bytes, expected 16 to 64$/],
  ['argon2id hash 65 bytes', argon2('m=64,t=1,p=1', 16, 65), /hash is 65 bytes/],
  ['argon2 v=16', argon2('m=64,t=1,p=1', 16, 32, '$argon2i$v=16'), /^argon2 version other than v=19 is not supported/],
  ['argon2 without a version', `$argon2i$m=64,t=1,p=1$${b64(16)}$${b64(32)}`, /^argon2 version 1\.0 \(no v= field\)/],
  ['argon2 unknown variant', argon2('m=64,t=1,p=1', 16, 32, '$argon2x$v=19'), /^argon2 hash names no variant/],
  ['argon2id parameters reordered', argon2('t=1,m=64,p=1'), /^argon2id hash is not of the form/],
  ['argon2id keyid field', argon2('m=64,t=1,p=1,keyid=abc'), /^argon2id hash is not of the form/],
  ['argon2id leading zero', argon2('m=064,t=1,p=1'), /^argon2id memory m \(KiB\) is not a decimal number$/],
  ['argon2id padded salt', `$argon2id$v=19$m=64,t=1,p=1$${padded(16)}$${b64(32)}`, /^argon2id salt is not unpadded/],
  ['argon2id empty salt', `$argon2id$v=19$m=64,t=1,p=1$$${b64(32)}`, /^argon2id salt is not unpadded/],
  ['argon2id missing hash', `$argon2id$v=19$m=64,t=1,p=1$${b64(16)}`, /^argon2id hash is not of the form/],

  ['passlib pbkdf2-sha256 10,000,000 rounds (highest)', passlib('pbkdf2-sha256', '10000000'), undefined],
  [
    'passlib pbkdf2-sha256 10,000,001 rounds',
    passlib('pbkdf2-sha256', '10000001'),
    /^passlib pbkdf2-sha256 rounds is 10000001, outside the accepted 1 to 10000000$/,
  ],
  ['passlib pbkdf2-sha512 3,000,000 rounds (highest)', passlib('pbkdf2-sha512', '3000000', 16, 64), undefined],
  [
    'passlib pbkdf2-sha512 3,000,001 rounds',
    passlib('pbkdf2-sha512', '3000001', 16, 64),
    /^passlib pbkdf2-sha512 rounds is 3000001, outside the accepted 1 to 3000000$/,
  ],
  ['passlib pbkdf2-sha512 1 round (lowest)', passlib('pbkdf2-sha512', '1', 16, 64), undefined],
  ['passlib pbkdf2-sha512 0 rounds', passlib('pbkdf2-sha512', '0', 16, 64), /rounds is 0/],
  ['passlib pbkdf2 (sha1) 20-byte checksum', passlib('pbkdf2', '131000', 16, 20), undefined],
  [
    'passlib pbkdf2 (sha1) 32-byte checksum',
    passlib('pbkdf2', '131000', 16, 32),
    /^passlib pbkdf2-sha1 checksum is 32 bytes, expected 20$/,
  ],
  ['passlib pbkdf2-sha256 salt 4 bytes (shortest)', passlib('pbkdf2-sha256', '1000', 4), undefined],
  ['passlib pbkdf2-sha256 salt 3 bytes', passlib('pbkdf2-sha256', '1000', 3), /salt is 3 bytes, expected 4 to 256$/],
  ['passlib pbkdf2-sha256 rounds with a leading zero', passlib('pbkdf2-sha256', '029000'), /rounds is not a decimal/],
  ['passlib pbkdf2-sha256 with "+"', passlib('pbkdf2-sha256', '1000').replace('.', '+'), /is not adapted base64$/],
  ['passlib pbkdf2-sha256 padded', `${passlib('pbkdf2-sha256', '1000', 16)}=`, /checksum is not adapted base64$/],
  ['passlib pbkdf2-sha384', passlib('pbkdf2-sha384', '1000', 16, 48), /^passlib PBKDF2 hash names no digest/],
  [
    'passlib pbkdf2-sha256 extra field',
    `${passlib('pbkdf2-sha256', '1000')}$x`,
    /is not of the form \$pbkdf2-sha256\$/,
  ],

  ['Django pbkdf2_sha256 10,000,000 iterations', django('pbkdf2_sha256', '10000000'), undefined],
  [
    'Django pbkdf2_sha256 10,000,001 iterations',
    django('pbkdf2_sha256', '10000001'),
    /^Django pbkdf2_sha256 iterations is 10000001/,
  ],
  ['Django pbkdf2_sha1 20-byte hash', django('pbkdf2_sha1', '600000', 'abc', 20), undefined],
  [
    'Django pbkdf2_sha1 32-byte hash',
    django('pbkdf2_sha1', '600000', 'abc', 32),
    /^Django pbkdf2_sha1 hash is 32 bytes, expected 20$/,
  ],
  ['Django salt of 1 character', django('pbkdf2_sha256', '1000', 'a'), undefined],
  ['Django empty salt', django('pbkdf2_sha256', '1000', ''), /salt is not 1 to 128 printable ASCII/],
  ['Django salt with a space', django('pbkdf2_sha256', '1000', 'a b'), /salt is not 1 to 128 printable ASCII/],
  ['Django salt of 129 characters', django('pbkdf2_sha256', '1000', 'a'.repeat(129)), /salt is not 1 to 128/],
  ['Django unpadded hash', django('pbkdf2_sha256', '1000').replace(/=$/, ''), /hash is not padded standard base64$/],
  ['Django pbkdf2_sha512', django('pbkdf2_sha512', '1000', 'abc', 64), /^Django PBKDF2 hash names no digest/],
  ['Django extra field', `${django('pbkdf2_sha256', '1000')}$x`, /is not of the form pbkdf2_sha256\$/],

  ['{SSHA} salt 4 bytes (shortest)', ldap('{SSHA}', 20, 4), undefined],
  ['{SSHA} salt 3 bytes', ldap('{SSHA}', 20, 3), /^LDAP \{SSHA\} salt is 3 bytes, expected 4 to 64$/],
  ['{SSHA256} salt 64 bytes (longest)', ldap('{SSHA256}', 32, 64), undefined],
  ['{SSHA256} salt 65 bytes', ldap('{SSHA256}', 32, 65), /salt is 65 bytes/],
  ['{ssha512} in lower case', ldap('{ssha512}', 64, 8), undefined],
  ['{SSHA512} digest alone', ldap('{SSHA512}', 64, 0), /salt is 0 bytes/],
  ['{SSHA} unpadded', ldap('{SSHA}', 20, 5).replace(/=+$/, ''), /^LDAP \{SSHA\} value is not padded standard base64$/],
  ['{SSHA} junk', `${ldap('{SSHA}', 20, 4)}!`, /value is not padded standard base64$/],
  ['{SMD5}', ldap('{SMD5}', 16, 4), UNKNOWN],
  ['{CRYPT}', '{CRYPT}$1$salt$hash', UNKNOWN],

  ['hex MD5', 'd41d8cd98f00b204e9800998ecf8427e', /^unsalted hex MD5 digest: too weak to import/],
  ['hex SHA-1', 'DA39A3EE5E6B4B0D3255BFEF95601890AFD80709', /^unsalted hex SHA-1 digest: too weak to import/],
  ['hex SHA-256', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', /^unsalted hex SHA-256 digest/],
  ['hex SHA-512', 'cf83'.repeat(32), /^unsalted hex SHA-512 digest/],
  ['{SHA}', '{SHA}2jmj7l5rSw0yVb/vlWAYkK/YBwk=', /^unsalted LDAP \{SHA\} digest: too weak to import/],
  ['{md5}', '{md5}1B2M2Y8AsgTpgAmY7PhCfg==', /^unsalted LDAP \{MD5\} digest/],
  ['{SHA256}', `{SHA256}${padded(32)}`, /^unsalted LDAP \{SHA256\} digest/],
  ['33 hex digits', 'd41d8cd98f00b204e9800998ecf8427e0', UNKNOWN],

  ['scrypt', '$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U', undefined],
  ['scrypt malformed', '$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA', /^password hash is not of the form \$scrypt\$/],
  [
    'scrypt out of bounds',
    '$scrypt$ln=24,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U',
    /out of range/,
  ],
  ['empty', '', UNKNOWN],
  ['plain text', 'correct horse battery staple', UNKNOWN],
  ['md5-crypt', '$1$saltsalt$qjXMvbEw8oaL.CzflDugX/', UNKNOWN],
  ['sha512-crypt', `$6$rounds=5000$saltsaltsalt$${'a'.repeat(86)}`, UNKNOWN],
  ['Django sha1', 'sha1$salt$da39a3ee5e6b4b0d3255bfef95601890afd80709', UNKNOWN],
  ['leading space', ` $2b$10$${bcryptTail}`, UNKNOWN],
];

describe('hashProblem', () => {
  it.each(PROBLEMS)('%s', (_what, hash, expected) => {
    const problem = hashProblem(hash);
    if (expected === undefined) {
      expect(problem).toBeUndefined();
      return;
    }
    expect(problem).toMatch(expected);
    expectNoEcho(problem!, hash);
  });

  it('what it refuses, the hasher refuses to verify (a fault, not a wrong password); what it accepts, it checks', async () => {
    for (const [, hash, expected] of PROBLEMS) {
      if (expected === undefined) continue;
      await expect(hasher.verify('pw', hash)).rejects.toThrow(PasswordHashFormatError);
      expect(() => hasher.needsRehash(hash)).toThrow(PasswordHashFormatError);
    }
    const cheap = PROBLEMS.filter(
      ([what, , expected]) => expected === undefined && /lowest|shortest|salt of 1/.test(what),
    );
    expect(cheap.length).toBeGreaterThan(5);
    for (const [, hash] of cheap) expect(await hasher.verify('pw', hash)).toBe(false);
  });

  it('accepts the service’s own hashes', async () => {
    expect(hashProblem(await hashPassword('pw', { N: 2 ** 4, r: 8, p: 1 }))).toBeUndefined();
  });
});
