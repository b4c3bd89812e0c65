import type { Client, ClientStore, Clock, User, UserStore } from '../oauth/ports';
import type { Random } from '../tokens/ports';

/**
 * What the operator's account services (lambda/accounts) need from the outside world, beside the protocol
 * core's read ports. The DynamoDB stores in lambda/adapters implement these; unit tests use the in-memory
 * stores (local/memory-stores.ts), which test/contract/ holds to the DynamoDB behaviour.
 */
export type { Clock, Random };

/** A client as registered (RFC 6749 §2), with when. */
export interface RegisteredClient extends Client {
  /**
   * ISO 8601, written once by registerClient (./clients.ts) and never changed: the refresh grant refuses
   * token families issued before it (those of a deleted client with the same id).
   */
  readonly createdAt: string;
}

/** A user as registered, with when, and when the password last changed. */
export interface RegisteredUser extends User {
  /** ISO 8601. */
  readonly createdAt: string;
  /** ISO 8601. */
  readonly passwordChangedAt: string;
}

/** What an operator may change of a registered client; each field given replaces the stored one. */
export interface ClientChanges {
  readonly scopes?: readonly string[];
  /** Whole seconds, 0 to 60; null removes the client's own grace, so that the stack's applies again. */
  readonly refreshGraceSeconds?: number | null;
  /** Replaces the client's allowed origins (CORS) as a whole; empty removes them all. */
  readonly allowedOrigins?: readonly string[];
}

/** What an operator may change of a registered user. */
export interface UserChanges {
  readonly scopes?: readonly string[];
}

/** A user as the operator sees them: everything but the password hash. */
export type UserProfile = Omit<RegisteredUser, 'passwordHash'>;

/** The registered clients, keyed by client_id. */
export interface ClientRegistry extends ClientStore {
  getClient(clientId: string): Promise<RegisteredClient | undefined>;
  /** Fails with ClientExistsError (./errors) if the id is taken. */
  createClient(client: RegisteredClient): Promise<void>;
  /** Every client, by client_id. */
  listClients(): Promise<RegisteredClient[]>;
  /** False when there is no such client. */
  setDisabled(clientId: string, disabled: boolean): Promise<boolean>;
  /** Applies the changes in one conditional write; the client as it is now, or undefined when there is no such client. */
  updateClient(clientId: string, changes: ClientChanges): Promise<RegisteredClient | undefined>;
  /** False when there is no such client. */
  deleteClient(clientId: string): Promise<boolean>;
}

/** The resource owners, keyed by username. */
export interface UserDirectory extends UserStore {
  getUser(username: string): Promise<RegisteredUser | undefined>;
  /**
   * Fails with UserExistsError (./errors) if the username is taken, and with ImportInProgressError while
   * an import holds its claim at `user.createdAt` (UserImport).
   */
  createUser(user: RegisteredUser): Promise<void>;
  /** Every user, by username, without password hashes (they are not even read). */
  listUsers(): Promise<UserProfile[]>;
  /** Applies the changes in one conditional write; the user as they are now, or undefined when there is no such user. */
  updateUser(username: string, changes: UserChanges): Promise<UserProfile | undefined>;
  /**
   * Sets the hash unconditionally (an operator's change), and when, and ends the user's sessions in the
   * same write (raises sessionEpoch); false when there is no such user.
   */
  setPassword(username: string, passwordHash: string, at: string): Promise<boolean>;
  /** False when there is no such user. Disabling also ends the user's sessions in the same write. */
  setDisabled(username: string, disabled: boolean): Promise<boolean>;
  /** Raises sessionEpoch: every refresh-token family begun before is refused from then on. False when there is no such user. */
  endSessions(username: string): Promise<boolean>;
  /** The user as it was, or undefined when there was none. */
  deleteUser(username: string): Promise<RegisteredUser | undefined>;
}

/** Revoking by user: only operators need it (the token endpoint never looks tokens up by user). */
export interface UserRefreshTokens {
  /**
   * Revokes every refresh-token family of `userId` that is neither revoked already nor past its absolute
   * expiry at `now` (epoch seconds), and marks its active tokens revoked; returns how many families it
   * revoked. Families issued after the call are not covered: callers stop new ones first (./users.ts).
   */
  revokeAllForUser(userId: string, now: number): Promise<number>;
}

/** The lockout's failure counters (lambda/oauth/lockout.ts), as an operator clears them. */
export interface LoginAttemptReset {
  /** Forgets every per-user and per-(user, IP) counter of one username key; returns how many it removed. */
  clearUser(userKey: string): Promise<number>;
}

/** What one batch of an import (./import.ts) did: every username of the batch is in exactly one list. */
export interface ImportBatchOutcome {
  /** Written by this batch. */
  readonly written: readonly string[];
  /** Taken already (before the import, or by a user created before it took its claim): left exactly as it was. */
  readonly existing: readonly string[];
}

/**
 * Writing many new users at once, for `ropc-admin users import` (./import.ts), under a claim on the users
 * table: while an import holds a live claim, no other import runs and no user is created any other way
 * (createUser refuses with ImportInProgressError, createMigratedUser answers 'paused'), so the import can
 * read which usernames are taken and then write the others without a condition on each write, at the rate
 * of plain batch writes, without ever overwriting a user. Times are epoch milliseconds.
 */
export interface UserImport {
  /**
   * Takes the claim for `holder` until `until`, unless another holds one that has not lapsed at `now`:
   * then ImportInProgressError, with when that one lapses and who holds it. `replacing` names a holder
   * known to be gone (an import killed on this machine) whose claim is taken over although it is live.
   */
  claimImport(holder: string, now: number, until: number, replacing?: string): Promise<void>;
  /** Extends `holder`'s claim to `until`; false when it lapsed before `now` or is no longer its own. */
  renewImport(holder: string, now: number, until: number): Promise<boolean>;
  /** Ends `holder`'s claim (another's is left alone): users can be created again at once. */
  releaseImport(holder: string): Promise<void>;
  /**
   * Under a live claim: writes each user of the batch (at most IMPORT_BATCH_SIZE, distinct usernames) whose
   * username is free and reports which it wrote and which existed. `live` is asked before each request
   * that writes; when it says false, the batch stops with ImportClaimLostError (./errors) and what it
   * wrote so far stands. `mayExist`, when given, is false only for usernames known to be free under this
   * claim (none of the table's usernames when the claim was taken): those are written without a read.
   */
  importUsers(
    users: readonly RegisteredUser[],
    live: () => boolean,
    mayExist?: (username: string) => boolean,
  ): Promise<ImportBatchOutcome>;
  /** Every username in the table (never a claim item), read consistently; for the import's index of them. */
  usernames(): AsyncIterable<string>;
}

/** The most users one importUsers call takes: BatchGetItem's limit of 100 keys. */
export const IMPORT_BATCH_SIZE = 100;
