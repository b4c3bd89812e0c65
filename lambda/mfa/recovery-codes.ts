import { createHash } from 'node:crypto';
import { constantTimeEqual } from './constant-time';
import type { Random } from './ports';

/**
 * Recovery codes: the second factor of a user who lost the authenticator, each good for one login.
 *
 * A code is 80 random bits in Crockford's base32 (16 characters, in four dash-separated groups:
 * "7KQ2-M9XD-0HV4-CR3T"): no I, L, O or U, so nothing reads as another character, and typing is forgiving
 * (case, dashes and spaces are ignored, and O, I and L are read as 0, 1 and 1, as Crockford specifies).
 *
 * Stored only as SHA-256, not as a password hash: a password hash is slow to make guessing a low-entropy
 * secret expensive, and these secrets are not guessable. 2^80 uniformly random values leave an attacker
 * who has the table 2^79 hashes on average per code; the user id is hashed with the code, so one guess
 * tests one user's codes, not every stored code at once (no multi-target speed-up). Online, the
 * mfa_token's failure limit and the login lockout bound guessing long before that matters. A slow hash
 * would buy nothing and cost every recovery login a scrypt run.
 */
export const RECOVERY_CODE_COUNT = 10;

/** 80 bits: 16 Crockford base32 characters, 5 bits each, from exactly 10 random bytes. */
export const RECOVERY_CODE_BYTES = 10;

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CHARACTERS = (RECOVERY_CODE_BYTES * 8) / 5;
const GROUP = 4;
/** Crockford's decoding: the characters left out of the alphabet read as the digits they resemble. */
const ALIASES: Readonly<Record<string, string>> = { O: '0', I: '1', L: '1' };
const CODE = new RegExp(`^[${CROCKFORD}]{${CHARACTERS}}$`);
const HASH_DOMAIN = 'ropc-token-service recovery code v1';

/** A set of new codes: what the user is shown once, and the hashes the user's record keeps. */
export interface RecoveryCodeSet {
  readonly codes: readonly string[];
  readonly hashes: readonly string[];
}

export function generateRecoveryCodes(random: Random, userId: string): RecoveryCodeSet {
  const codes = new Set<string>();
  // A repeat among ten 80-bit values would take a broken random source; the set guards the invariant that
  // each stored hash is one code.
  while (codes.size < RECOVERY_CODE_COUNT) codes.add(formatRecoveryCode(random.bytes(RECOVERY_CODE_BYTES)));
  const list = [...codes];
  return { codes: list, hashes: list.map((code) => hashRecoveryCode(userId, normalizeRecoveryCode(code)!)) };
}

/** 10 bytes as "XXXX-XXXX-XXXX-XXXX". */
export function formatRecoveryCode(bytes: Uint8Array): string {
  if (bytes.length !== RECOVERY_CODE_BYTES) throw new Error(`a recovery code is ${RECOVERY_CODE_BYTES} bytes`);
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  let characters = '';
  for (let index = CHARACTERS - 1; index >= 0; index -= 1)
    characters += CROCKFORD[Number((value >> BigInt(index * 5)) & 31n)];
  return characters.match(new RegExp(`.{${GROUP}}`, 'g'))!.join('-');
}

/**
 * The code as typed, in the canonical form its hash is made of (16 characters, upper case, no separators),
 * or undefined when it cannot be a recovery code. Dashes and white space anywhere are dropped, case is
 * ignored, O/I/L read as 0/1/1.
 */
export function normalizeRecoveryCode(input: string): string | undefined {
  // Bounded before any work: a form field can be long.
  if (input.length > CHARACTERS * 3) return undefined;
  const code = input
    .replace(/[\s-]/g, '')
    .toUpperCase()
    .replace(/[OIL]/g, (char) => ALIASES[char]!);
  return CODE.test(code) ? code : undefined;
}

/** SHA-256 of the canonical code bound to its user, base64url (see the module comment for why no more). */
export function hashRecoveryCode(userId: string, normalizedCode: string): string {
  return createHash('sha256').update(`${HASH_DOMAIN}\0${userId}\0${normalizedCode}`, 'utf8').digest('base64url');
}

/**
 * Which of the user's unused codes `input` is: its index in `storedHashes` and its hash (the caller removes
 * exactly that element, on the condition that it is still there, so that of two concurrent uses of one code
 * only one wins), or undefined when it is none of them. Every stored hash is compared, in constant time,
 * whichever matches.
 */
export function matchRecoveryCode(
  input: string,
  userId: string,
  storedHashes: readonly string[],
): { readonly index: number; readonly hash: string } | undefined {
  const code = normalizeRecoveryCode(input);
  if (code === undefined) return undefined;
  const hash = hashRecoveryCode(userId, code);
  let found: number | undefined;
  storedHashes.forEach((stored, index) => {
    if (constantTimeEqual(stored, hash)) found ??= index;
  });
  return found === undefined ? undefined : { index: found, hash };
}
