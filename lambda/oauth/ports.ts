import type { LogEvent } from '../../contract/audit-events';
import type { MfaChallenge } from '../mfa/mfa-token';
import type { Random, SigningKey } from '../tokens/ports';
import type { GrantType } from './grants';
import type { AttemptSubject, LockoutPolicy, LockoutReason, LoginAttemptCounters } from './lockout';

/**
 * What the protocol core needs from the outside world. Adapters in lambda/adapters implement these
 * against DynamoDB and KMS; unit tests use in-memory versions.
 */
// The grant types are the registry's (grants/index.ts).
export type { GrantType };

export interface Client {
  readonly clientId: string;
  /** Absent for public clients (token_endpoint_auth_method "none"). */
  readonly secretHash?: string;
  readonly isPublic: boolean;
  readonly scopes: readonly string[];
  /** `aud` of the access tokens this client gets; the configured default when absent. */
  readonly audience?: string;
  readonly grantTypes: readonly GrantType[];
  readonly disabled: boolean;
  /** A confidential back-end client whose X-End-User-IP header the lockout counters trust. */
  readonly trustEndUserIp?: boolean;
  /**
   * When this registration of the client id was made (ISO 8601, as the account services write it): refresh
   * tokens whose family is older belong to an earlier, deleted client with the same id and are refused.
   * Absent: registered at time 0.
   */
  readonly createdAt?: string;
  /**
   * Seconds after a rotation during which the token it replaced, presented again by this client, gets the
   * same successor (0 to 60; 0 is strict one-time use). The stack's refreshTokenGraceSeconds when absent.
   */
  readonly refreshGraceSeconds?: number;
  /**
   * The browser origins (./origin.ts, in their serialization) whose pages may read this client's token and
   * revocation responses (CORS, ./cors.ts). Absent or empty: none.
   */
  readonly allowedOrigins?: readonly string[];
}

export interface User {
  readonly username: string;
  /** Stable opaque identifier: the access token's `sub`. Never the username. */
  readonly userId: string;
  readonly passwordHash: string;
  readonly scopes: readonly string[];
  readonly disabled: boolean;
  /**
   * Counts the times the user's sessions were ended: a new password, disabling, the operator's revocation
   * all raise it in the same write. A refresh-token family remembers the count its login read with the
   * password it verified, and the refresh grant refuses a family whose count is not the user's (no clock
   * is compared, and no extra read: the grant reads the user anyway). Absent: 0.
   */
  readonly sessionEpoch?: number;
  /** Set while the user is enrolled in the second factor (`ropc-admin users mfa enroll`). */
  readonly mfa?: UserMfa;
}

/**
 * A user's second factor as stored on the user: the TOTP secret only as KMS ciphertext, the recovery codes
 * only as hashes (lambda/mfa/recovery-codes.ts).
 */
export interface UserMfa {
  /** KMS ciphertext of the TOTP secret, encrypted with the encryption context {userId}. */
  readonly secretCiphertext: Uint8Array;
  /** When the user was enrolled (ISO 8601): a second step commits only while this enrollment stands. */
  readonly enrolledAt: string;
  /** The TOTP step of the last accepted code (RFC 6238 §5.2: no code is accepted twice); absent before the first. */
  readonly lastAcceptedStep?: number;
  /** The unused recovery codes' hashes. */
  readonly recoveryCodeHashes: readonly string[];
}

export type RefreshTokenState = 'active' | 'rotated' | 'revoked';

/**
 * A refresh token stored one item per token, as the service issued them before a family was one item
 * (RefreshFamily). Such a token still works: its first use moves its family into one item. Times are epoch
 * seconds.
 */
export interface RefreshToken {
  /** SHA-256 of the token, base64url: the token itself is never stored. */
  readonly tokenHash: string;
  readonly familyId: string;
  readonly clientId: string;
  readonly userId: string;
  readonly username: string;
  readonly scope: readonly string[];
  /** 0 for the token a password grant issued, +1 for each rotation. */
  readonly generation: number;
  readonly issuedAt: number;
  /**
   * When the family's first token was issued, copied on every rotation. Absent on tokens stored before it
   * was recorded: their family counts as issued at their own `issuedAt`.
   */
  readonly familyIssuedAt?: number;
  /** The token is unusable from this instant if it was not used before (idle lifetime). */
  readonly idleExpiresAt: number;
  /** No token of the family is usable from this instant (absolute lifetime). */
  readonly familyExpiresAt: number;
  readonly state: RefreshTokenState;
  /** Set when rotated: the hash of the token that replaced it. */
  readonly successorHash?: string;
}

/**
 * One refresh-token family (RFC 9700 §4.14.2), everything a password grant's refresh token and its
 * rotations need, in one item that each rotation rewrites: storage does not grow with refreshes. Only the
 * current token is usable; the one it replaced may come back within its client's grace and gets the same
 * successor, sealed for it. Times are epoch seconds.
 */
export interface RefreshFamily {
  readonly familyId: string;
  readonly clientId: string;
  readonly userId: string;
  readonly username: string;
  /** The refresh token's scope: the same for every token of the family (RFC 6749 §6). */
  readonly scope: readonly string[];
  /** 0 for the token a password grant issued, +1 for each rotation. */
  readonly generation: number;
  /** SHA-256 of the one usable token, base64url. */
  readonly currentHash: string;
  /** When the current token was issued. */
  readonly issuedAt: number;
  /** The token the current one replaced; absent before the first rotation. */
  readonly previous?: {
    readonly hash: string;
    /** When it was rotated: its grace runs from here. */
    readonly rotatedAt: number;
    /** The current token, sealed so that only a holder of the previous one can open it (tokens/refresh-token.ts). */
    readonly sealedSuccessor: string;
  };
  /** When the password grant issued the family's first token. */
  readonly familyIssuedAt: number;
  /** The user's sessionEpoch when the login that began the family read the user; absent: 0. */
  readonly sessionEpoch?: number;
  /** The current token is unusable from this instant if it was not used before (idle lifetime). */
  readonly idleExpiresAt: number;
  /** No token of the family is usable from this instant (absolute lifetime). */
  readonly familyExpiresAt: number;
  /** Set once the family is revoked: no token of it works again. */
  readonly revokedAt?: number;
}

export interface ClientStore {
  getClient(clientId: string): Promise<Client | undefined>;
}

export interface UserStore {
  getUser(username: string): Promise<User | undefined>;
  /** Replaces the hash only if it is still `previousHash` (a concurrent password change wins). */
  replacePasswordHash(username: string, previousHash: string, nextHash: string): Promise<void>;
  /**
   * Creates a user the legacy verifier vouched for (lazy migration), created and last given a password at
   * `at` (ISO 8601), with one conditional write: 'taken' when the username exists already (a concurrent
   * first login of the same user won, or an operator created it), and nothing is written then; 'paused'
   * while a `users import` holds its claim on the users table at `at` (no user is created then, for the
   * import writes without conditions), and nothing is written either.
   */
  createMigratedUser(user: User, at: string): Promise<'created' | 'taken' | 'paused'>;
}

/**
 * Lazy migration (contract/settings.ts LEGACY_VERIFIER_FUNCTION_ARN): the system the users come from checks
 * the password of a username unknown here, once; a verified user is created here with a hash of it.
 */
export interface LegacyVerifierRequest {
  readonly username: string;
  readonly password: string;
  readonly clientId: string;
}

/** The verifier's answer; `sub` and `scopes` (valid scope tokens only) are the new user's when given. */
export type LegacyVerdict =
  | { readonly verified: true; readonly sub?: string; readonly scopes?: readonly string[] }
  | { readonly verified: false };

export interface LegacyVerifier {
  /**
   * The verdict, within LEGACY_VERIFIER_TIMEOUT_SECONDS. Rejects on any fault: the verifier failed, answered
   * something that is not a verdict, or did not answer in time. The grant answers 503 then.
   */
  verify(request: LegacyVerifierRequest): Promise<LegacyVerdict>;
}

/** The operator's password policy (lambda/accounts/password-policy.ts), for passwords the service did not choose. */
export interface PasswordPolicy {
  /** Why the password would be refused as a new one, or undefined when it would not. */
  problem(password: string): Promise<string | undefined>;
}

/**
 * A conditional write of a family lost: the family is no longer as the writer read it. Carries the family
 * as stored when the write was refused (undefined if there is none), and whether it is revoked.
 */
export class RefreshTokenConflictError extends Error {
  constructor(
    readonly family: RefreshFamily | undefined,
    readonly revoked: boolean = family?.revokedAt !== undefined,
  ) {
    super('the refresh-token family changed');
    this.name = 'RefreshTokenConflictError';
  }
}

export interface RefreshTokenStore {
  /**
   * The family, read strongly consistent; undefined when there is none (also when only the revocation of a
   * family of legacy tokens is recorded under its id). DynamoDB deletes expired items late: a family past
   * its expiry may still be returned.
   */
  getFamily(familyId: string): Promise<RefreshFamily | undefined>;
  /** Stores a new family; fails if its id is taken. */
  createFamily(family: RefreshFamily): Promise<void>;
  /**
   * One conditional write: `next` replaces the family only if its current token is still `current`'s, it is
   * not revoked and it is unexpired at `now`. Throws RefreshTokenConflictError with the stored family
   * otherwise, so that exactly one of several concurrent rotations of a token wins.
   */
  rotate(current: RefreshFamily, next: RefreshFamily, now: number): Promise<void>;
  /**
   * Revokes the family with one write, whatever its length and whichever model its tokens are stored in;
   * false when it was revoked already. `familyExpiresAt` bounds how long the record of it is kept.
   */
  revokeFamily(familyId: string, familyExpiresAt: number, now: number): Promise<boolean>;
  /** A token stored one item per token (RefreshToken), strongly consistent. */
  getLegacyToken(tokenHash: string): Promise<RefreshToken | undefined>;
  /**
   * Moves a legacy token's family into one item, atomically: `legacy` becomes rotated (only if it is still
   * active and unexpired at `now`) and `family` is stored (only if the family has no item, revoked or not).
   * Throws RefreshTokenConflictError otherwise, carrying the family's item if it has one.
   */
  migrate(legacy: RefreshToken, family: RefreshFamily, now: number): Promise<void>;
}

/** Failure counters behind the lockout policy (lambda/oauth/lockout.ts). Times are epoch seconds. */
/** What reserving an attempt gave: the counters with it counted, or what refused it. */
export type AttemptReservation =
  | { readonly granted: true; readonly after: LoginAttemptCounters }
  | { readonly granted: false; readonly reason: Exclude<LockoutReason, 'pair_backoff'> | 'concurrent_attempt' };

export interface LoginAttemptStore {
  /** The counters that concern an attempt by this subject at `now`; expired counters read as zero. */
  read(subject: AttemptSubject, now: number): Promise<LoginAttemptCounters>;
  /**
   * Counts the attempt as a failure before its password is checked, one conditional write per counter:
   * the (username, IP) streak only if it is still what `before` read, so that of concurrent attempts one
   * goes ahead; the user's hour and the IP's day only while under the policy's limits. When any counter
   * refuses, the others are taken back and the attempt is refused. A write that fails throws, after the
   * others are taken back where possible: the attempt is never evaluated uncounted.
   */
  reserve(
    subject: AttemptSubject,
    before: LoginAttemptCounters,
    now: number,
    policy: LockoutPolicy,
  ): Promise<AttemptReservation>;
  /**
   * The reserved attempt succeeded: the hour and day counters give it back, the streak ends, and the
   * address becomes (or stays) one the username logged in from (renewed only when its mark runs low).
   * 'second_factor_pending' (a right password of an enrolled user): only the hour and day counters give it
   * back; the streak stays counted and the address is not marked, so having the password alone neither
   * ends a streak nor lifts the user's hourly ceiling from that address. 'fault' (a dependency failed, so
   * no password was judged): every counter gives the attempt back, the streak as `before` read it (if it is
   * still the reservation's), and the address is not marked. 'success' when absent.
   */
  release(subject: AttemptSubject, before: LoginAttemptCounters, now: number, mode?: ReleaseMode): Promise<void>;
  /** An attempt a limit refused counts on that limit's counter only, never on another. */
  recordRefusal(subject: AttemptSubject, reason: LockoutReason, now: number): Promise<void>;
  /** Counts one failed attempt on every counter, unconditionally; returns the counters after it. */
  recordFailure(subject: AttemptSubject, now: number): Promise<LoginAttemptCounters>;
  /** Ends the (username, IP) failure streak. */
  recordSuccess(subject: AttemptSubject): Promise<void>;
}

// Token assembly sits below the protocol core: the ports it needs are its own.
export type { Random, SigningKey };

export interface JwtSigner {
  /**
   * Starts reading whatever signingKey() will need, without waiting for it, so that the read overlaps a
   * request's first lookups instead of adding a stage before signing. Never throws or rejects.
   */
  prepare(): void;
  /** The key that signs now. */
  signingKey(): Promise<SigningKey>;
}

/** Milliseconds since the epoch. */
export type Clock = () => number;

export interface PasswordHasher {
  verify(password: string, encoded: string): Promise<boolean>;
  /** Runs a verification of equal cost against a hash no password matches (unknown users). */
  verifyDummy(password: string): Promise<false>;
  needsRehash(encoded: string): boolean;
  hash(password: string): Promise<string>;
}

/** Named events only (contract/audit-events.ts): the stack's alarms and metric filters match on them. */
export interface Logger {
  info(event: LogEvent, fields?: Record<string, unknown>): void;
  warn(event: LogEvent, fields?: Record<string, unknown>): void;
  error(event: LogEvent, fields?: Record<string, unknown>): void;
}

/** How a reserved login attempt is given back (LoginAttemptStore.release). */
export type ReleaseMode = 'success' | 'second_factor_pending' | 'fault';

/**
 * The second factor's state (lambda/adapters/mfa-challenge-store.ts): pending challenges, and the one
 * transaction that completes a login. Times are epoch seconds.
 */
export type ChallengeReservation =
  | { readonly granted: true; readonly challenge: MfaChallenge }
  | { readonly granted: false; readonly stored: MfaChallenge | undefined };

/** What a right code spends: the TOTP step it was the code of, or the recovery code (by its hash). */
export type SecondFactorUse =
  | { readonly kind: 'totp'; readonly step: number }
  | { readonly kind: 'recovery_code'; readonly hash: string };

export interface MfaChallengeStore {
  /** Stores a new challenge; fails if its hash is taken. */
  create(challenge: MfaChallenge): Promise<void>;
  /** The challenge, strongly consistent; TTL deletes late, so it may be past its expiry. */
  get(tokenHash: string): Promise<MfaChallenge | undefined>;
  /**
   * Counts one code against the challenge before the code is checked, with one conditional write: only
   * while it exists, belongs to the client, is unexpired at `now` and has fewer than the allowed failures.
   * Granted: the challenge with the attempt counted; refused: the challenge as stored (undefined: none).
   */
  reserveAttempt(challenge: MfaChallenge, now: number): Promise<ChallengeReservation>;
  /**
   * Completes the login with one transaction: the challenge is deleted (only if it still exists) and the
   * user's use is recorded (only while the enrollment `enrolledAt` stands: a TOTP step later than the last
   * accepted one, or a recovery code still unused). 'conflict' when any condition failed: nothing is written.
   */
  complete(challenge: MfaChallenge, enrolledAt: string, use: SecondFactorUse): Promise<'completed' | 'conflict'>;
}

/** The KMS key TOTP secrets are encrypted with, for the token function: decryption only. */
export interface TotpSecretKey {
  /** The secret of `userId`; rejects when the ciphertext is not one made for that user under the key. */
  decrypt(userId: string, ciphertext: Uint8Array): Promise<Uint8Array>;
}
