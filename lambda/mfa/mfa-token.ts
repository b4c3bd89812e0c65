import { createHash } from 'node:crypto';
import type { Random } from './ports';

/**
 * The mfa_token (Auth0's MFA API): what the password grant answers an enrolled user with instead of tokens
 * (403 mfa_required), and what the second step (grant types …/mfa-otp and …/mfa-recovery-code) presents
 * with the code. It proves that this client checked this user's password a moment ago, so it is a bearer
 * secret: 256 random bits, base64url, stored only as its SHA-256 (unguessable, so no slow hash), good for
 * five minutes and for fewer than MFA_TOKEN_MAX_FAILURES wrong codes, and spent by the login it completes.
 */
export const MFA_TOKEN_TTL_SECONDS = 300;

/**
 * Wrong codes one mfa_token survives: at the fifth it is dead, and a new one costs a password check (with
 * its lockout counters). Five guesses at a 6-digit code (three steps valid at a time) succeed about once
 * in 67 000 tokens.
 */
export const MFA_TOKEN_MAX_FAILURES = 5;

const TOKEN_BYTES = 32;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/**
 * One pending second factor, as stored under `tokenHash`. Times are epoch seconds. Besides who and which
 * client, it keeps what the password step decided, so the second step neither reads nor re-decides it: the
 * scope granted, and the user's sessionEpoch read with the password that was verified (a password change
 * or disabling before the second step raises it, and the login is then refused, as a refresh is).
 */
export interface MfaChallenge {
  /** SHA-256 of the mfa_token, base64url: the token itself is never stored. */
  readonly tokenHash: string;
  readonly clientId: string;
  readonly userId: string;
  readonly username: string;
  /** The scope the password step granted (already checked against the client and the user). */
  readonly scope: readonly string[];
  /** The user's sessionEpoch when the password was verified; absent: 0. */
  readonly sessionEpoch?: number;
  readonly issuedAt: number;
  /** Unusable from this instant (DynamoDB's TTL attribute too, but TTL deletes late: code checks it). */
  readonly expiresAt: number;
  /** Wrong codes presented with it so far. */
  readonly failures: number;
}

/** A new mfa_token: the bearer value for the client and the hash its record is stored under. */
export function generateMfaToken(random: Random): { readonly token: string; readonly hash: string } {
  const bytes = random.bytes(TOKEN_BYTES);
  if (bytes.length !== TOKEN_BYTES) throw new Error(`the random source gave ${bytes.length} bytes`);
  const token = Buffer.from(bytes).toString('base64url');
  return { token, hash: hashMfaToken(token) };
}

/** The hash to look a presented mfa_token up by, or undefined when it has not the shape of one (no read needed). */
export function parseMfaToken(presented: string): string | undefined {
  return TOKEN.test(presented) ? hashMfaToken(presented) : undefined;
}

export function hashMfaToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url');
}

/** The record of a token issued at `now` for this client and user. */
export function newMfaChallenge(
  tokenHash: string,
  login: Pick<MfaChallenge, 'clientId' | 'userId' | 'username' | 'scope' | 'sessionEpoch'>,
  now: number,
): MfaChallenge {
  return {
    tokenHash,
    clientId: login.clientId,
    userId: login.userId,
    username: login.username,
    scope: [...login.scope],
    ...(login.sessionEpoch === undefined ? {} : { sessionEpoch: login.sessionEpoch }),
    issuedAt: now,
    expiresAt: now + MFA_TOKEN_TTL_SECONDS,
    failures: 0,
  };
}

/** Why an mfa_token cannot be used now; every one of them is the same invalid_grant to the client. */
export type MfaChallengeRefusal = 'unknown' | 'expired' | 'exhausted' | 'other_client';

/**
 * Whether the stored challenge (undefined: none under the presented token's hash) may take a code from this
 * client at `now`. Expiry is checked here because DynamoDB's TTL deletes late (the record may outlive it by
 * days). Presented by another client it is refused and left as it is: the code it came with is not
 * checked, and no failure is counted, so nobody but the client it was issued to can wear it out. The order
 * of the checks is fixed so the audit reason is stable.
 */
export function mfaChallengeRefusal(
  challenge: MfaChallenge | undefined,
  clientId: string,
  now: number,
): MfaChallengeRefusal | undefined {
  if (challenge === undefined) return 'unknown';
  if (!issuedTo(challenge, clientId)) return 'other_client';
  if (!unexpiredAt(challenge, now)) return 'expired';
  if (challenge.failures >= MFA_TOKEN_MAX_FAILURES) return 'exhausted';
  return undefined;
}

/** Whether the challenge was issued to this client (the client id is no secret: a plain comparison). */
export function issuedTo(challenge: MfaChallenge, clientId: string): boolean {
  return challenge.clientId === clientId;
}

/** Whether the challenge is still within its five minutes at `now` (epoch seconds): the expiry instant is out. */
export function unexpiredAt(challenge: MfaChallenge, now: number): boolean {
  return now < challenge.expiresAt;
}

/**
 * The challenge after one more wrong code, and whether that killed it. A store applies it before the code
 * is checked, as a reservation: one conditional write that counts the attempt only while the challenge is
 * usable (mfaChallengeRefusal's rules, in the condition) and gives the record back when it is not. So
 * concurrent requests with one token test at most MFA_TOKEN_MAX_FAILURES codes between them; a right code
 * then deletes the challenge, and its reserved count goes with it.
 */
export function afterWrongCode(challenge: MfaChallenge): { readonly next: MfaChallenge; readonly dead: boolean } {
  const failures = challenge.failures + 1;
  return { next: { ...challenge, failures }, dead: failures >= MFA_TOKEN_MAX_FAILURES };
}
