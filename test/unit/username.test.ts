import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { attemptSubject, usernameKey } from '../../lambda/oauth/lockout';
import { lookUpUsername, prepareUsername } from '../../lambda/oauth/username';

const prepared = (raw: string) => {
  const result = prepareUsername(raw);
  return result.ok ? result.username : undefined;
};
const problem = (raw: string) => {
  const result = prepareUsername(raw);
  return result.ok ? undefined : result.problem;
};

describe('prepareUsername: RFC 8265 §3.5 examples', () => {
  it.each([
    ['juliet@example.com', 'juliet@example.com'],
    ['fussball', 'fussball'],
    ['fußball', 'fußball'],
    ['π', 'π'],
    ['Σ', 'σ'],
    ['σ', 'σ'],
    ['ς', 'ς'],
  ])('accepts %j as %j', (raw, username) => {
    expect(prepareUsername(raw)).toEqual({ ok: true, username });
  });

  it.each([
    ['', 'it is empty'],
    ['foo bar', 'it contains U+0020 (a space)'],
    ['henry\u2163', 'it contains "\u2163" (U+2163, a compatibility character for "IV")'],
    ['\u265a', 'it contains "\u265a" (U+265A, a symbol)'],
  ])('refuses %j: %s', (raw, message) => {
    expect(prepareUsername(raw)).toEqual({ ok: false, problem: message });
  });
});

describe('prepareUsername: one account whatever form of the name is typed', () => {
  it('maps case: Alice, ALICE and alice are one name', () => {
    expect(prepared('Alice')).toBe('alice');
    expect(prepared('ALICE')).toBe('alice');
    expect(prepared('alice')).toBe('alice');
  });

  it('maps fullwidth and halfwidth forms to their decomposition', () => {
    expect(prepared('\uff21\uff4c\uff49\uff43\uff45')).toBe('alice');
    expect(prepared('\uff41\uff4c\uff49\uff43\uff45\uff20\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45')).toBe(
      'alice@example',
    );
    // Halfwidth KA and the halfwidth voiced mark compose to GA once normalized (NFC).
    expect(prepared('\uff76\uff9e')).toBe('\u30ac');
    // IDEOGRAPHIC SPACE is a wide space: mapped to U+0020, and then refused as a space.
    expect(problem('a\u3000b')).toBe('it contains U+0020 (a space)');
  });

  it('maps every <wide> and <narrow> character as its Unicode decomposition prepares (Python unicodedata)', () => {
    const fixture = JSON.parse(readFileSync(join(import.meta.dirname, 'username-width-map.json'), 'utf8')) as {
      map: Record<string, string>;
    };
    const entries = Object.entries(fixture.map);
    expect(entries.length).toBe(226);
    for (const [code, decomposition] of entries) {
      const character = String.fromCodePoint(Number.parseInt(code, 16));
      expect([code, prepareUsername(`x${character}`)]).toEqual([code, prepareUsername(`x${decomposition}`)]);
    }
  });

  it('normalizes to NFC: é precomposed and decomposed are one name', () => {
    expect(prepared('caf\u00e9')).toBe('caf\u00e9');
    expect(prepared('cafe\u0301')).toBe('caf\u00e9');
    expect(prepared('CAFE\u0301')).toBe('caf\u00e9');
  });

  it('lowers case as Unicode toLowerCase does, without Turkish rules: I is i, ı and İ stay apart from i', () => {
    expect(prepared('I')).toBe('i');
    expect(prepared('\u0131')).toBe('\u0131');
    expect(prepared('\u0130')).toBe('i\u0307');
    expect(new Set([prepared('i'), prepared('\u0131'), prepared('\u0130')]).size).toBe(3);
  });

  it('keeps ß: it is not folded to ss (RFC 8265 maps case, it does not fold it); ẞ lowers to ß', () => {
    expect(prepared('stra\u00dfe')).toBe('stra\u00dfe');
    expect(prepared('STRASSE')).toBe('strasse');
    expect(prepared('STRA\u1e9eE')).toBe('stra\u00dfe');
    expect(prepared('STRASSE')).not.toBe(prepared('stra\u00dfe'));
  });

  it('lowers a final capital sigma to ς, as Unicode toLowerCase does', () => {
    expect(prepared('ΟΔΥΣΣΕΥΣ')).toBe('οδυσσευς');
    expect(prepared('οδυσσευς')).toBe('οδυσσευς');
  });

  it('is idempotent: a prepared name prepares to itself', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 20 }), (raw) => {
        const once = prepareUsername(raw);
        if (once.ok) expect(prepareUsername(once.username)).toEqual(once);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('prepareUsername: the IdentifierClass (RFC 8264 §9.1)', () => {
  it.each([
    ['ali\u200bce', 'it contains U+200B (a format character)'],
    ['ali\u200cce', 'it contains U+200C (a format character)'],
    ['ali\u200dce', 'it contains U+200D (a format character)'],
    ['ali\u2060ce', 'it contains U+2060 (a format character)'],
    ['\ufeffalice', 'it contains U+FEFF (a format character)'],
    ['alice\u00ad', 'it contains U+00AD (a format character)'],
  ])('refuses zero-width characters: %j', (raw, message) => {
    expect(problem(raw)).toBe(message);
  });

  it.each([
    '\u200e',
    '\u200f',
    '\u202a',
    '\u202b',
    '\u202c',
    '\u202d',
    '\u202e',
    '\u2066',
    '\u2067',
    '\u2068',
    '\u2069',
    '\u061c',
  ])('refuses the bidirectional control %j', (control) => {
    const code = control.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    expect(problem(`admin${control}txt`)).toBe(`it contains U+${code} (a format character)`);
  });

  it.each([
    ['al\u0000ice', 'it contains U+0000 (a control character)'],
    ['al\tice', 'it contains U+0009 (a control character)'],
    ['alice\u0085', 'it contains U+0085 (a control character)'],
    [' alice', 'it contains U+0020 (a space)'],
    ['alice\u2028', 'it contains U+2028 (a line or paragraph separator)'],
    ['a\u00a0b', 'it contains U+00A0 (a compatibility character for " ")'],
    ['snow\u2603', 'it contains "\u2603" (U+2603, a symbol)'],
    ['\u{1f600}', 'it contains "\u{1f600}" (U+1F600, a symbol)'],
    ['euro\u20ac', 'it contains "\u20ac" (U+20AC, a symbol)'],
    ['a\u2014b', 'it contains "\u2014" (U+2014, a punctuation character)'],
    ['\u00bfqu\u00e9', 'it contains "\u00bf" (U+00BF, a punctuation character)'],
    ['x\u0378', 'it contains U+0378 (an unassigned code point)'],
    ['x\ue000', 'it contains U+E000 (a private-use character)'],
    ['x\ufdd0', 'it contains U+FDD0 (a noncharacter)'],
    ['x\ud800', 'it contains U+D800 (an unpaired surrogate)'],
    ['\u1100\u1161', 'it contains "\u1100" (U+1100, an old Hangul jamo)'],
    ['\u2126', 'it contains "\u2126" (U+2126, a compatibility character for "\u03a9")'],
    ['\u01c5', 'it contains "\u01c5" (U+01C5, a compatibility character for "Dž")'],
    ['\u0627\u0640\u0644', 'it contains "\u0640" (U+0640, a character the IdentifierClass excludes)'],
    ['x\u20dd', 'it contains U+20DD (an enclosing mark)'],
  ])('refuses %j: %s', (raw, message) => {
    expect(problem(raw)).toBe(message);
  });

  it('allows letters and digits of any script, combining marks, and ASCII 0x21-0x7E', () => {
    for (const raw of [
      '!#$%&*+-./:;<=>?@[]^_`{|}~',
      '"quoted"',
      'björn',
      'дмитрий',
      '山田',
      'さくら',
      '한국',
      'अनु१२',
    ]) {
      expect([raw, prepareUsername(raw).ok]).toEqual([raw, true]);
    }
  });

  it('allows the contextual characters only in their contexts (RFC 5892 Appendix A)', () => {
    expect(prepared('l\u00b7l')).toBe('l\u00b7l');
    expect(problem('a\u00b7b')).toMatch(/U\+00B7, a middle dot/);
    expect(prepared('\u0375\u03b1')).toBe('\u0375\u03b1');
    expect(problem('\u0375a')).toMatch(/U\+0375/);
    expect(prepared('\u05d0\u05f3')).toBe('\u05d0\u05f3');
    expect(problem('a\u05f3')).toMatch(/U\+05F3/);
    expect(prepared('\u30a2\u30fb\u30a4')).toBe('\u30a2\u30fb\u30a4');
    expect(problem('a\u30fbb')).toMatch(/U\+30FB/);
    expect(problem('\u0627\u0661\u06f1')).toMatch(/U\+0661/);
  });

  it('counts length in code points after preparation, 1 to 256, within the stores key limit', () => {
    expect(prepared('a'.repeat(256))).toBe('a'.repeat(256));
    expect(problem('a'.repeat(257))).toBe('use 1 to 256 characters (got 257)');
    // 256 four-byte letters: 1024 bytes, the stores' limit.
    const wide = '\u{20000}'.repeat(256);
    expect(prepared(wide)).toBe(wide);
    expect(problem('a'.repeat(100_000))).toBe('use 1 to 256 characters (got 100000)');
    // Decomposed input longer than 256 code points that composes to 256 is within the limit.
    expect(prepared('e\u0301'.repeat(200))).toBe('\u00e9'.repeat(200));
  });
});

describe('prepareUsername: the Bidi Rule (RFC 5893) for right-to-left names', () => {
  it.each([
    ['\u05e9\u05dc\u05d5\u05dd'],
    ['\u05e9\u05dc\u05d5\u05dd1'],
    ['\u0645\u062d\u0645\u062f'],
    ['\u0627\u0644\u0661'],
  ])('accepts the right-to-left name %j', (raw) => {
    expect(prepared(raw)).toBe(raw);
  });

  it.each([
    ['left-to-right then right-to-left', 'abc\u05e9'],
    ['right-to-left then left-to-right', '\u05e9abc'],
    ['a digit first', '1\u05e9\u05dc\u05d5\u05dd'],
    ['European and Arabic-Indic digits together', '\u0627\u0661\u0031'],
    ['ending in neutral punctuation', '\u05e9\u05dc\u05d5\u05dd!'],
  ])('refuses a name with %s', (_case, raw) => {
    expect(problem(raw)).toBe(
      'it mixes right-to-left and left-to-right text in a way the Bidi Rule (RFC 5893) forbids',
    );
  });

  it('leaves left-to-right names alone', () => {
    expect(prepared('alice-1!')).toBe('alice-1!');
  });
});

describe('lookUpUsername', () => {
  const directory = (names: readonly string[]) => {
    const asked: string[] = [];
    return {
      asked,
      get: async (name: string) => {
        asked.push(name);
        return names.includes(name) ? { username: name } : undefined;
      },
    };
  };

  it('finds a user by the prepared name, with one lookup when that is the name typed', async () => {
    const users = directory(['alice']);
    expect(await lookUpUsername('alice', users.get)).toEqual({ username: 'alice' });
    expect(users.asked).toEqual(['alice']);
  });

  it('finds a user by the prepared name when another form is typed', async () => {
    const users = directory(['alice']);
    expect(await lookUpUsername('ALICE', users.get)).toEqual({ username: 'alice' });
  });

  it('finds a user stored as typed before names were prepared, and prefers the prepared one', async () => {
    expect(await lookUpUsername('Carol', directory(['Carol']).get)).toEqual({ username: 'Carol' });
    expect(await lookUpUsername('Carol', directory(['Carol', 'carol']).get)).toEqual({ username: 'carol' });
    const legacy = directory(['Bob Smith']);
    expect(await lookUpUsername('Bob Smith', legacy.get)).toEqual({ username: 'Bob Smith' });
    expect(legacy.asked).toEqual(['Bob Smith']);
  });

  it('asks for both forms together, so the time taken does not show which exists', async () => {
    const pending: string[] = [];
    const found = lookUpUsername('ALICE', (name) => {
      pending.push(name);
      return Promise.resolve(undefined);
    });
    // Both lookups were started before either answered.
    expect(pending).toEqual(['alice', 'ALICE']);
    expect(await found).toBeUndefined();
  });
});

describe('the lockout counters key on the prepared name', () => {
  it('gives every form of a name one key, and legacy names their own', () => {
    expect(usernameKey('Alice')).toBe(usernameKey('alice'));
    expect(usernameKey('\uff21LICE')).toBe(usernameKey('alice'));
    expect(attemptSubject('ALICE', '198.51.100.1')).toEqual(attemptSubject('alice', '198.51.100.1'));
    expect(usernameKey('Bob Smith')).not.toBe(usernameKey('bob smith'));
    expect(usernameKey('bob')).not.toBe(usernameKey('alice'));
  });
});
