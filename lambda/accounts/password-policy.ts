/**
 * What a new password must be (NIST SP 800-63B §5.1.1.2): long enough, not too long to hash, and not one
 * that attackers try first. No composition rules. Lengths count code points after NFC, as the hasher
 * does. The list of common and breached passwords is the one zxcvbn-ts ships (49,233 entries, offline),
 * compared case-insensitively so that `Password` is refused like `password`.
 */
import { dictionary } from '@zxcvbn-ts/language-common';
import { MAX_PASSWORD_LENGTH } from '../passwords';

export const DEFAULT_MIN_PASSWORD_LENGTH = 8;
/** The environment variable that raises the minimum for `ropc-admin` (NIST's 8 is the floor). */
export const MIN_PASSWORD_LENGTH_ENV = 'PASSWORD_MIN_LENGTH';
const MIN_PASSWORD_LENGTH_RANGE = { min: DEFAULT_MIN_PASSWORD_LENGTH, max: 64 } as const;

/** The minimum from `PASSWORD_MIN_LENGTH` (8 to 64), 8 when unset; a message naming the variable otherwise. */
export function minPasswordLength(env: Readonly<Record<string, string | undefined>>): number | string {
  const raw = env[MIN_PASSWORD_LENGTH_ENV]?.trim();
  if (raw === undefined || raw === '') return DEFAULT_MIN_PASSWORD_LENGTH;
  const value = /^[0-9]+$/.test(raw) ? Number(raw) : Number.NaN;
  const { min, max } = MIN_PASSWORD_LENGTH_RANGE;
  if (!(value >= min && value <= max)) {
    return `${MIN_PASSWORD_LENGTH_ENV}=${JSON.stringify(raw)}: use a whole number of characters from ${min} to ${max}`;
  }
  return value;
}

let common: ReadonlySet<string> | undefined;

function commonPasswords(): ReadonlySet<string> {
  common ??= new Set((dictionary['passwords-common'] as readonly string[]).map((entry) => entry.toLowerCase()));
  return common;
}

/** Why a password is refused, in words for the operator; undefined when it may be used. */
export function passwordProblem(password: string, minLength = DEFAULT_MIN_PASSWORD_LENGTH): string | undefined {
  const length = [...password.normalize('NFC')].length;
  if (length < minLength) return `a password needs at least ${minLength} characters (this one has ${length})`;
  if (length > MAX_PASSWORD_LENGTH) return `a password may have at most ${MAX_PASSWORD_LENGTH} characters`;
  if (commonPasswords().has(password.normalize('NFC').toLowerCase())) {
    return 'this password is in a list of common and breached passwords; choose another';
  }
  return undefined;
}
