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
  /** Fails with UserExistsError (./errors) if the username is taken. */
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
  /** Taken already (before the import, or by a user created meanwhile): left exactly as it was. */
  readonly existing: readonly string[];
}

/** Writing many new users at once, for `ropc-admin users import` (./import.ts). */
export interface UserImport {
  /**
   * Writes each user of the batch (at most IMPORT_BATCH_SIZE, distinct usernames) whose username is free,
   * never over one that is taken, however recently; reports which it wrote and which existed.
   */
  importUsers(users: readonly RegisteredUser[]): Promise<ImportBatchOutcome>;
}

/** The most users one importUsers call takes: TransactWriteItems' limit of 100 actions. */
export const IMPORT_BATCH_SIZE = 100;
