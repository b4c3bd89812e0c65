import { createHmac } from 'node:crypto';
import { base32Encode } from './base32';
import { constantTimeEqual } from './constant-time';
import type { Random } from './ports';

/**
 * Time-based one-time passwords (RFC 6238) over HOTP (RFC 4226). The service's policy is what every
 * authenticator app implements: HMAC-SHA-1, 6 digits, 30-second steps. The digits and the hash are
 * parameters only so that the RFCs' test vectors (8 digits; SHA-256 and SHA-512) can be checked.
 */
export type TotpAlgorithm = 'SHA1' | 'SHA256' | 'SHA512';

export interface TotpParameters {
  readonly algorithm: TotpAlgorithm;
  readonly digits: number;
  /** Seconds per step (RFC 6238 §4.1 X). */
  readonly period: number;
}

export const TOTP_POLICY: TotpParameters = { algorithm: 'SHA1', digits: 6, period: 30 };

/**
 * Steps either side of the current one that still verify (RFC 6238 §5.2 recommends at most one): a code
 * typed as its step ends, or a phone whose clock is up to one step off, still works.
 */
export const TOTP_DRIFT_STEPS = 1;

/**
 * RFC 4226 §4 R6 asks for at least 128 bits and recommends 160, SHA-1's output length and what
 * authenticator apps generate themselves. Base32 of 20 bytes is 32 characters, with no padding.
 */
export const TOTP_SECRET_BYTES = 20;

const HMAC_NAMES: Record<TotpAlgorithm, string> = { SHA1: 'sha1', SHA256: 'sha256', SHA512: 'sha512' };

/** A new shared secret: the raw bytes (to encrypt and store) and their base32 (for the app). */
export function generateTotpSecret(random: Random): { readonly secret: Uint8Array; readonly base32: string } {
  const secret = random.bytes(TOTP_SECRET_BYTES);
  if (secret.length !== TOTP_SECRET_BYTES) throw new Error(`the random source gave ${secret.length} bytes`);
  return { secret, base32: base32Encode(secret) };
}

/** RFC 4226 §5.3: HMAC of the 8-byte big-endian counter, dynamic truncation, the low `digits` decimal digits. */
export function hotp(
  secret: Uint8Array,
  counter: number,
  digits = TOTP_POLICY.digits,
  algorithm: TotpAlgorithm = 'SHA1',
): string {
  if (!Number.isSafeInteger(counter) || counter < 0) throw new RangeError('the counter is a non-negative integer');
  if (!Number.isInteger(digits) || digits < 6 || digits > 10) throw new RangeError('digits is 6 to 10');
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac(HMAC_NAMES[algorithm], secret).update(message).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

/** The step `now` (epoch seconds) falls in: RFC 6238 §4.2 T = floor((now − T0) / X), T0 = 0. */
export function totpStep(now: number, period = TOTP_POLICY.period): number {
  return Math.floor(now / period);
}

/** The code for one step. */
export function totpCode(secret: Uint8Array, step: number, parameters: TotpParameters = TOTP_POLICY): string {
  return hotp(secret, step, parameters.digits, parameters.algorithm);
}

/**
 * A code as a person types it, or undefined when it cannot be one. Spaces are dropped: authenticator apps
 * show the code as "123 456", and a pasted copy may keep the gap, which changes nothing about what was
 * meant. Anything else (a dash, a letter, a non-ASCII digit, a code of another length) is refused rather
 * than guessed at, so a malformed code never costs an HMAC and is never half-matched.
 */
export function normalizeTotpCode(input: string, digits = TOTP_POLICY.digits): string | undefined {
  // Bounded before any work: a form field can be long.
  if (input.length > digits * 4) return undefined;
  const code = input.replaceAll(' ', '');
  return code.length === digits && /^[0-9]+$/.test(code) ? code : undefined;
}

export type TotpVerification =
  | { readonly valid: true; readonly step: number }
  | { readonly valid: false; readonly reason: 'malformed' | 'mismatch' | 'replayed' };

/**
 * Whether `input` is the code of a step within TOTP_DRIFT_STEPS of `now` (epoch seconds) that is later than
 * `lastAcceptedStep`, the step of this user's last accepted code (undefined before the first). RFC 6238
 * §5.2: a code is accepted once; refusing every step up to the last accepted one also refuses a code
 * older than one already used, which an eavesdropper could otherwise still replay within the window.
 * The step returned is what the caller stores (with a condition that the stored step is still the one it
 * read, so that of two concurrent uses of one code only one wins).
 *
 * Every step in the window is computed and compared in constant time, whatever matched first: the time
 * taken says nothing about which step, if any, matched.
 */
export function verifyTotp(
  secret: Uint8Array,
  input: string,
  now: number,
  lastAcceptedStep: number | undefined,
  parameters: TotpParameters = TOTP_POLICY,
): TotpVerification {
  const code = normalizeTotpCode(input, parameters.digits);
  if (code === undefined) return { valid: false, reason: 'malformed' };
  const current = totpStep(now, parameters.period);
  let accepted: number | undefined;
  let replayed = false;
  for (let step = current - TOTP_DRIFT_STEPS; step <= current + TOTP_DRIFT_STEPS; step += 1) {
    if (step < 0) continue;
    const matches = constantTimeEqual(totpCode(secret, step, parameters), code);
    if (!matches) continue;
    // Two steps' codes may coincide (one chance in a million): the earliest usable step is taken, so the
    // later one stays usable.
    if (lastAcceptedStep !== undefined && step <= lastAcceptedStep) replayed = true;
    else accepted ??= step;
  }
  if (accepted !== undefined) return { valid: true, step: accepted };
  return { valid: false, reason: replayed ? 'replayed' : 'mismatch' };
}
