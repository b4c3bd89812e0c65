/**
 * Usernames as the service keys them. Every place a username enters (creation, import, login) prepares it
 * here, so that one person has one account whatever form of the name they type: the UsernameCaseMapped
 * profile of RFC 8265 §3.3 over the PRECIS IdentifierClass (RFC 8264 §4.2).
 *
 * The derived property of each code point (RFC 8264 §8) is computed from the JavaScript engine's Unicode
 * data (property escapes, String.prototype.normalize), so it follows the engine's Unicode version, as
 * RFC 8264 §11 expects of an implementation. Two categories cannot be read exactly that way and are
 * approximated, always on the strict side:
 * - OldHangulJamo (Hangul_Syllable_Type L, V or T) is taken as the three Hangul Jamo blocks;
 * - the CONTEXTJ characters (ZERO WIDTH NON-JOINER and JOINER, valid after a virama) are refused
 *   everywhere: the virama's combining class is not visible to a regular expression.
 * The Bidi Rule (RFC 5893 §2) uses an approximation of Bidi_Class that is exact for every character the
 * IdentifierClass lets through except right-to-left scripts beyond those listed in RTL_LETTER.
 */

const MAX_USERNAME_LENGTH = 256;
/** The stores refuse keys longer than this (lambda/adapters/items.ts isUsableKey; DynamoDB allows 2048). */
const MAX_USERNAME_BYTES = 1024;

export type PreparedUsername =
  | { readonly ok: true; readonly username: string }
  | { readonly ok: false; readonly problem: string };

/**
 * The username as stored and looked up, or why `raw` cannot be one (a sentence naming no secret). RFC 8265
 * §3.3.2 and §3.3.3: width mapping, the IdentifierClass, lower case (Unicode toLowerCase, so "ß" stays
 * "ß", "I" becomes "i" and never "ı", and a final "Σ" becomes "ς"), NFC, the IdentifierClass again, the
 * Bidi Rule for names with right-to-left characters, then 1 to 256 code points.
 */
export function prepareUsername(raw: string): PreparedUsername {
  if (raw === '') return { ok: false, problem: 'it is empty' };
  const rawLength = [...raw].length;
  // Bounded work whatever arrives: nothing longer than this can prepare to 256 code points or fewer.
  if (rawLength > 4 * MAX_USERNAME_LENGTH) return tooLong(rawLength);
  const widthMapped = mapWidth(raw);
  const refusedBefore = firstDisallowed(widthMapped);
  if (refusedBefore !== undefined) return { ok: false, problem: refusedBefore };
  const username = widthMapped.toLowerCase().normalize('NFC');
  const refusedAfter = firstDisallowed(username);
  if (refusedAfter !== undefined) return { ok: false, problem: refusedAfter };
  const bidi = bidiProblem(username);
  if (bidi !== undefined) return { ok: false, problem: bidi };
  const length = [...username].length;
  if (length > MAX_USERNAME_LENGTH) return tooLong(length);
  if (Buffer.byteLength(username, 'utf8') > MAX_USERNAME_BYTES)
    return { ok: false, problem: `it is longer than ${MAX_USERNAME_BYTES} bytes in UTF-8` };
  return { ok: true, username };
}

function tooLong(length: number): PreparedUsername {
  return { ok: false, problem: `use 1 to ${MAX_USERNAME_LENGTH} characters (got ${length})` };
}

/**
 * Finds the user a typed name means: its prepared form first; then, for users registered before names
 * were prepared (kept as they were typed: mixed case, spaces), the name exactly as typed. The second
 * lookup is made only when the typed name is not its own prepared form, and then together with the first,
 * so that how long the answer takes does not tell whether the prepared name exists.
 */
export async function lookUpUsername<User>(
  raw: string,
  getUser: (username: string) => Promise<User | undefined>,
): Promise<User | undefined> {
  const prepared = prepareUsername(raw);
  if (!prepared.ok) return getUser(raw);
  if (prepared.username === raw) return getUser(raw);
  const [found, asTyped] = await Promise.all([getUser(prepared.username), getUser(raw)]);
  return found ?? asTyped;
}

// ---- Width mapping (RFC 8265 §3.3.1 rule 1) -------------------------------------------------------------

/**
 * Fullwidth and halfwidth characters (decomposition type <wide> or <narrow>: U+3000 and U+FF01 to U+FFEE,
 * nothing else) to their decomposition. NFKC gives it for all but those whose decomposition decomposes
 * further: the halfwidth Hangul letters (to compatibility jamo, U+3164 to U+318E) and FULLWIDTH MACRON.
 */
function mapWidth(value: string): string {
  return value.replace(/[\u3000\uff01-\uffee]/gu, (character) => {
    const code = character.codePointAt(0)!;
    if (code === 0xffe3) return '\u00af';
    const hangul = HALFWIDTH_HANGUL.find(([first, last]) => code >= first && code <= last);
    if (hangul !== undefined) return String.fromCodePoint(hangul[2] + code - hangul[0]);
    return character.normalize('NFKC');
  });
}

/** [first, last, what first maps to]: the halfwidth Hangul runs and the compatibility jamo they map to. */
const HALFWIDTH_HANGUL: readonly (readonly [number, number, number])[] = [
  [0xffa0, 0xffa0, 0x3164],
  [0xffa1, 0xffbe, 0x3131],
  [0xffc2, 0xffc7, 0x314f],
  [0xffca, 0xffcf, 0x3155],
  [0xffd2, 0xffd7, 0x315b],
  [0xffda, 0xffdc, 0x3161],
];

// ---- The IdentifierClass (RFC 8264 §4.2, §8, §9) -----------------------------------------------------

/** RFC 8264 §9.6 (from RFC 5892 §2.6): code points whose value is fixed whatever their category. */
const EXCEPTIONS_PVALID = new Set([0x00df, 0x03c2, 0x06fd, 0x06fe, 0x0f0b, 0x3007]);
const EXCEPTIONS_DISALLOWED = new Set([0x0640, 0x07fa, 0x302e, 0x302f, 0x3031, 0x3032, 0x3033, 0x3034, 0x3035, 0x303b]);
const ARABIC_INDIC_DIGIT = /[\u0660-\u0669]/u;
const EXTENDED_ARABIC_INDIC_DIGIT = /[\u06f0-\u06f9]/u;

const ASCII7 = /^[\x21-\x7e]$/u;
const LETTER_DIGIT = /^[\p{Ll}\p{Lu}\p{Lo}\p{Nd}\p{Lm}\p{Mn}\p{Mc}]$/u;
/** Approximation: Hangul_Syllable_Type L, V, T are the Hangul Jamo blocks' letters. */
const OLD_HANGUL_JAMO = /^[\u1100-\u11ff\ua960-\ua97f\ud7b0-\ud7ff]$/u;

/**
 * The first code point of `value` that the IdentifierClass does not allow, described; undefined when
 * every one is allowed. The categories are tested in RFC 8264 §8's order, the first that matches decides.
 */
function firstDisallowed(value: string): string | undefined {
  const characters = [...value];
  for (const [index, character] of characters.entries()) {
    const code = character.codePointAt(0)!;
    if (EXCEPTIONS_PVALID.has(code)) continue;
    if (EXCEPTIONS_DISALLOWED.has(code)) return contains(character, 'a character the IdentifierClass excludes');
    const contextual = contextProblem(character, index, characters);
    if (contextual !== null) {
      if (contextual === undefined) continue;
      return contextual;
    }
    const reason = disallowedReason(character);
    if (reason !== undefined) return contains(character, reason);
  }
  return undefined;
}

/** Why a code point outside the exceptions is not allowed, or undefined when it is (RFC 8264 §8 steps 3-15). */
function disallowedReason(character: string): string | undefined {
  if (/^\p{Cn}$/u.test(character) && !/^\p{Noncharacter_Code_Point}$/u.test(character))
    return 'an unassigned code point';
  if (ASCII7.test(character)) return undefined;
  if (/^\p{Join_Control}$/u.test(character)) return 'a format character';
  if (OLD_HANGUL_JAMO.test(character)) return 'an old Hangul jamo';
  if (/^\p{Noncharacter_Code_Point}$/u.test(character)) return 'a noncharacter';
  if (/^\p{Cc}$/u.test(character)) return 'a control character';
  if (/^\p{Cf}$/u.test(character)) return 'a format character';
  if (/^\p{Default_Ignorable_Code_Point}$/u.test(character)) return 'a default-ignorable code point';
  if (/^\p{Cs}$/u.test(character)) return 'an unpaired surrogate';
  if (character.normalize('NFKC') !== character)
    return `a compatibility character for "${character.normalize('NFKC')}"`;
  if (LETTER_DIGIT.test(character)) return undefined;
  if (/^\p{Zs}$/u.test(character)) return 'a space';
  if (/^\p{S}$/u.test(character)) return 'a symbol';
  if (/^\p{P}$/u.test(character)) return 'a punctuation character';
  if (/^\p{Lt}$/u.test(character)) return 'a titlecase letter';
  if (/^\p{Nl}$/u.test(character)) return 'a letter number';
  if (/^\p{No}$/u.test(character)) return 'a number that is not a decimal digit';
  if (/^\p{Me}$/u.test(character)) return 'an enclosing mark';
  if (/^\p{Co}$/u.test(character)) return 'a private-use character';
  if (/^[\p{Zl}\p{Zp}]$/u.test(character)) return 'a line or paragraph separator';
  return 'a character the IdentifierClass excludes';
}

/**
 * The CONTEXTO rules (RFC 5892 Appendix A.3 to A.9, which RFC 8264 §9.17 adopts): null when `character`
 * is not contextual, undefined when its context allows it, otherwise the problem.
 */
function contextProblem(character: string, index: number, characters: readonly string[]): string | null | undefined {
  const before = characters[index - 1];
  const after = characters[index + 1];
  switch (character) {
    case '\u00b7':
      return before === 'l' && after === 'l' ? undefined : contains(character, 'a middle dot, allowed only in "l·l"');
    case '\u0375':
      return after !== undefined && /^\p{Script=Greek}$/u.test(after)
        ? undefined
        : contains(character, 'a Greek keraia, allowed only before a Greek letter');
    case '\u05f3':
    case '\u05f4':
      return before !== undefined && /^\p{Script=Hebrew}$/u.test(before)
        ? undefined
        : contains(character, 'a Hebrew punctuation mark, allowed only after a Hebrew letter');
    case '\u30fb':
      return characters.some((other) => /^[\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Han}]$/u.test(other))
        ? undefined
        : contains(character, 'a katakana middle dot, allowed only with kana or Han characters');
  }
  if (ARABIC_INDIC_DIGIT.test(character)) {
    return characters.some((other) => EXTENDED_ARABIC_INDIC_DIGIT.test(other))
      ? contains(character, 'an Arabic-Indic digit beside Extended Arabic-Indic ones')
      : undefined;
  }
  if (EXTENDED_ARABIC_INDIC_DIGIT.test(character)) {
    return characters.some((other) => ARABIC_INDIC_DIGIT.test(other))
      ? contains(character, 'an Extended Arabic-Indic digit beside Arabic-Indic ones')
      : undefined;
  }
  return null;
}

/** `it contains "é" (U+00E9, …)`, or without the character itself when it would not show. */
function contains(character: string, what: string): string {
  const codePoint = `U+${character.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  const invisible = /^[\p{C}\p{Z}\p{M}\p{Default_Ignorable_Code_Point}]$/u.test(character);
  return invisible ? `it contains ${codePoint} (${what})` : `it contains "${character}" (${codePoint}, ${what})`;
}

// ---- The Bidi Rule (RFC 5893 §2), for names with right-to-left characters ----------------------------

type BidiClass = 'L' | 'R' | 'AL' | 'AN' | 'EN' | 'ES' | 'CS' | 'ET' | 'ON' | 'NSM';

/** Scripts written right to left: their letters, digits and the punctuation the IdentifierClass allows are R or AL. */
const RTL_LETTER =
  /^[\p{Script=Hebrew}\p{Script=Samaritan}\p{Script=Mandaic}\p{Script=Nko}\p{Script=Adlam}\p{Script=Mende_Kikakui}\p{Script=Imperial_Aramaic}\p{Script=Phoenician}\p{Script=Kharoshthi}\p{Script=Old_South_Arabian}\p{Script=Avestan}\p{Script=Old_Hungarian}]$/u;
const ARABIC_LETTER =
  /^[\p{Script=Arabic}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Hanifi_Rohingya}\p{Script=Sogdian}]$/u;

/** Bidi_Class of the characters the IdentifierClass allows (approximated for letters: see the module note). */
function bidiClass(character: string): BidiClass {
  if (/^[\p{Mn}\p{Me}]$/u.test(character)) return 'NSM';
  if (/^[0-9\u06f0-\u06f9]$/u.test(character)) return 'EN';
  if (/^[\u0660-\u0669\u066b\u066c]$/u.test(character)) return 'AN';
  if (/^[+-]$/u.test(character)) return 'ES';
  if (/^[,./:]$/u.test(character)) return 'CS';
  if (/^[#$%]$/u.test(character)) return 'ET';
  if (/^[\x21-\x7e]$/u.test(character) && !/^[A-Za-z]$/u.test(character)) return 'ON';
  if (ARABIC_LETTER.test(character)) return 'AL';
  if (RTL_LETTER.test(character)) return 'R';
  return 'L';
}

/**
 * RFC 8265 §3.3.1 rule 5: a name with a right-to-left character (R, AL or AN) must satisfy all six
 * conditions of the Bidi Rule, which in effect keeps it in one direction; other names are not checked.
 */
function bidiProblem(value: string): string | undefined {
  const classes = [...value].map(bidiClass);
  if (!classes.some((bidi) => bidi === 'R' || bidi === 'AL' || bidi === 'AN')) return undefined;
  const problem = 'it mixes right-to-left and left-to-right text in a way the Bidi Rule (RFC 5893) forbids';
  const first = classes[0];
  // 1. The first character is L, R or AL; an RTL-labelled name starting with L breaks condition 5.
  if (first !== 'R' && first !== 'AL') return problem;
  // 2. Only these classes in a right-to-left name.
  if (classes.some((bidi) => bidi === 'L')) return problem;
  // 3. It ends with R, AL, EN or AN, then any NSM.
  const last = classes.filter((bidi) => bidi !== 'NSM').at(-1);
  if (last !== 'R' && last !== 'AL' && last !== 'EN' && last !== 'AN') return problem;
  // 4. Not both European and Arabic-Indic digits.
  if (classes.includes('EN') && classes.includes('AN')) return problem;
  return undefined;
}
