import type { LogEvent } from '../../contract/audit-events';
import type { Random, SigningKey } from '../tokens/ports';
import type { GrantType } from './grants';
import type { AttemptSubject, LoginAttemptCounters } from './lockout';

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
}

export interface User {
  readonly username: string;
  /** Stable opaque identifier: the access token's `sub`. Never the username. */
  readonly userId: string;
  readonly passwordHash: string;
  readonly scopes: readonly string[];
  readonly disabled: boolean;
}

export type RefreshTokenState = 'active' | 'rotated' | 'revoked';

/** One refresh token of a family (RFC 9700 §4.14.2). Times are epoch seconds. */
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
   * When the family's first token was issued (by the password grant), copied on every rotation. Absent on
   * tokens stored before it was recorded: their family counts as issued at their own `issuedAt`
   * (familyIssuedAt in grants/issue.ts).
   */
  readonly familyIssuedAt?: number;
  /** The token is unusable from this instant if it was not used before (idle lifetime). */
  readonly idleExpiresAt: number;
  /** No token of the family is usable from this instant (absolute lifetime). */
  readonly familyExpiresAt: number;
  readonly state: RefreshTokenState;
  /** Set when rotated: the hash of the token that replaced it, so a family can be walked forward. */
  readonly successorHash?: string;
}

export interface ClientStore {
  getClient(clientId: string): Promise<Client | undefined>;
}

export interface UserStore {
  getUser(username: string): Promise<User | undefined>;
  /** Replaces the hash only if it is still `previousHash` (a concurrent password change wins). */
  replacePasswordHash(username: string, previousHash: string, nextHash: string): Promise<void>;
}

/** The token's successor could not be committed because the token is no longer active. */
export class RefreshTokenConflictError extends Error {
  constructor(readonly current: RefreshToken | undefined) {
    super('refresh token is no longer active');
    this.name = 'RefreshTokenConflictError';
  }
}

export interface RefreshTokenStore {
  /** A strongly consistent read. */
  get(tokenHash: string): Promise<RefreshToken | undefined>;
  /** Stores the first token of a new family. */
  create(token: RefreshToken): Promise<void>;
  /**
   * In one atomic write: marks `current` rotated (only if it is still active and unexpired at `now`, and
   * its family is not revoked) and stores `next`. Throws RefreshTokenConflictError with the token's
   * current state otherwise ("revoked" when its family is), so that exactly one of several concurrent
   * rotations wins and none wins after the family's revocation.
   */
  rotate(current: RefreshToken, next: RefreshToken, now: number): Promise<void>;
  /**
   * Revokes the token's whole family, every earlier and later token of it, in constant time: no token of
   * the family can be rotated from then on. Also marks this token revoked. False when the family was
   * revoked already.
   */
  revokeFamily(token: RefreshToken): Promise<boolean>;
}

/** Failure counters behind the lockout policy (lambda/oauth/lockout.ts). Times are epoch seconds. */
export interface LoginAttemptStore {
  /** The counters that concern an attempt by this subject at `now`; expired counters read as zero. */
  read(subject: AttemptSubject, now: number): Promise<LoginAttemptCounters>;
  /** Counts one failed (or refused) attempt; returns the counters after it. */
  recordFailure(subject: AttemptSubject, now: number): Promise<LoginAttemptCounters>;
  /** A successful login ends the (username, IP) failure streak. */
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
