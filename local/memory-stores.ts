import { generateKeyPairSync, type KeyObject, sign as rsaSign } from 'node:crypto';
import { ClientExistsError, UserExistsError } from '../lambda/accounts/errors';
import type {
  ClientRegistry,
  LoginAttemptReset,
  RegisteredClient,
  RegisteredUser,
  UserDirectory,
  UserRefreshTokens,
} from '../lambda/accounts/ports';
import type { OAuthSettings } from '../lambda/oauth/config';
import {
  type AttemptSubject,
  DAY,
  dayBucket,
  HOUR,
  hourBucket,
  type LoginAttemptCounters,
} from '../lambda/oauth/lockout';
import {
  type JwtSigner,
  type Logger,
  type LoginAttemptStore,
  type RefreshToken,
  RefreshTokenConflictError,
  type RefreshTokenStore,
} from '../lambda/oauth/ports';
import { type PublicJwk, rsaPublicJwk } from '../lambda/tokens/jwk';

/**
 * In-memory implementations of the core's ports and of the account services' (lambda/accounts): the unit
 * tests and the request-cost benchmark run against them, and test/contract/ holds them to the DynamoDB
 * adapters' behaviour.
 */
export class MemoryClientStore implements ClientRegistry {
  readonly clients = new Map<string, RegisteredClient>();
  async getClient(clientId: string) {
    return this.clients.get(clientId);
  }
  async createClient(client: RegisteredClient) {
    if (this.clients.has(client.clientId)) throw new ClientExistsError(client.clientId);
    this.clients.set(client.clientId, { ...client, scopes: [...client.scopes], grantTypes: [...client.grantTypes] });
  }
  async listClients() {
    return [...this.clients.values()].sort((a, b) => a.clientId.localeCompare(b.clientId));
  }
  async setDisabled(clientId: string, disabled: boolean) {
    const client = this.clients.get(clientId);
    if (client !== undefined) this.clients.set(clientId, { ...client, disabled });
    return client !== undefined;
  }
  async deleteClient(clientId: string) {
    return this.clients.delete(clientId);
  }
}

export class MemoryUserStore implements UserDirectory {
  readonly users = new Map<string, RegisteredUser>();
  async getUser(username: string) {
    return this.users.get(username);
  }
  async replacePasswordHash(username: string, previousHash: string, nextHash: string) {
    const user = this.users.get(username);
    if (user?.passwordHash === previousHash) this.users.set(username, { ...user, passwordHash: nextHash });
  }
  async createUser(user: RegisteredUser) {
    if (this.users.has(user.username)) throw new UserExistsError(user.username);
    this.users.set(user.username, { ...user, scopes: [...user.scopes] });
  }
  async setPassword(username: string, passwordHash: string, at: string) {
    return this.update(username, { passwordHash, passwordChangedAt: at });
  }
  async setDisabled(username: string, disabled: boolean) {
    return this.update(username, { disabled });
  }
  async deleteUser(username: string) {
    const user = this.users.get(username);
    this.users.delete(username);
    return user;
  }
  private update(username: string, changes: Partial<RegisteredUser>): boolean {
    const user = this.users.get(username);
    if (user !== undefined) this.users.set(username, { ...user, ...changes });
    return user !== undefined;
  }
}

export class MemoryRefreshTokenStore implements RefreshTokenStore, UserRefreshTokens {
  readonly tokens = new Map<string, RefreshToken>();
  /** Revoked families, as the DynamoDB store's markers. */
  readonly revokedFamilies = new Set<string>();
  async get(tokenHash: string) {
    return this.tokens.get(tokenHash);
  }
  async create(token: RefreshToken) {
    if (this.tokens.has(token.tokenHash)) throw new Error('duplicate');
    this.tokens.set(token.tokenHash, token);
  }
  async rotate(current: RefreshToken, next: RefreshToken, now: number) {
    const stored = this.tokens.get(current.tokenHash);
    if (
      stored === undefined ||
      stored.state !== 'active' ||
      stored.idleExpiresAt <= now ||
      stored.familyExpiresAt <= now
    ) {
      throw new RefreshTokenConflictError(stored);
    }
    if (this.revokedFamilies.has(current.familyId))
      throw new RefreshTokenConflictError({ ...stored, state: 'revoked' });
    // As the DynamoDB transaction's put: a successor never overwrites a stored token, and then nothing is written.
    if (this.tokens.has(next.tokenHash)) throw new Error('duplicate');
    this.tokens.set(current.tokenHash, { ...stored, state: 'rotated', successorHash: next.tokenHash });
    this.tokens.set(next.tokenHash, next);
  }
  async revokeFamily(token: RefreshToken) {
    const stored = this.tokens.get(token.tokenHash);
    if (stored !== undefined) this.tokens.set(token.tokenHash, { ...stored, state: 'revoked' });
    const newly = !this.revokedFamilies.has(token.familyId);
    this.revokedFamilies.add(token.familyId);
    return newly;
  }
  /** As the DynamoDB adapter: markers for the user's live families, and their active tokens marked revoked. */
  async revokeAllForUser(userId: string, now: number) {
    const live = [...this.tokens.values()].filter(
      (token) => token.userId === userId && token.state !== 'revoked' && token.familyExpiresAt > now,
    );
    for (const token of live)
      if (token.state === 'active') this.tokens.set(token.tokenHash, { ...token, state: 'revoked' });
    const families = new Set(
      live.map((token) => token.familyId).filter((familyId) => !this.revokedFamilies.has(familyId)),
    );
    for (const familyId of families) this.revokedFamilies.add(familyId);
    return families.size;
  }
}

/** The same counters and expiry rules as the DynamoDB store, in maps. */
export class MemoryLoginAttemptStore implements LoginAttemptStore, LoginAttemptReset {
  readonly items = new Map<string, { failures: number; lastFailureAt: number; expiresAt: number }>();
  private keys(subject: AttemptSubject, now: number) {
    return {
      pair: `user#${subject.userKey}|ip#${subject.ip}`,
      hour: `user#${subject.userKey}|hour#${hourBucket(now)}`,
      day: `ip#${subject.ip}|day#${dayBucket(now)}`,
    };
  }
  private live(key: string, now: number) {
    const item = this.items.get(key);
    return item !== undefined && item.expiresAt > now ? item : undefined;
  }
  async read(subject: AttemptSubject, now: number): Promise<LoginAttemptCounters> {
    const keys = this.keys(subject, now);
    const pair = this.live(keys.pair, now);
    return {
      pairFailures: pair?.failures ?? 0,
      pairLastFailureAt: pair?.lastFailureAt ?? 0,
      userFailuresThisHour: this.live(keys.hour, now)?.failures ?? 0,
      ipFailuresToday: this.live(keys.day, now)?.failures ?? 0,
    };
  }
  async recordFailure(subject: AttemptSubject, now: number): Promise<LoginAttemptCounters> {
    const keys = this.keys(subject, now);
    const bump = (key: string, expiresAt: number) => {
      const failures = (this.live(key, now)?.failures ?? 0) + 1;
      this.items.set(key, { failures, lastFailureAt: now, expiresAt });
      return failures;
    };
    return {
      pairFailures: bump(keys.pair, now + DAY),
      pairLastFailureAt: now,
      userFailuresThisHour: bump(keys.hour, (hourBucket(now) + 1) * HOUR),
      ipFailuresToday: bump(keys.day, (dayBucket(now) + 1) * DAY),
    };
  }
  async recordSuccess(subject: AttemptSubject): Promise<void> {
    this.items.delete(this.keys(subject, 0).pair);
  }
  async clearUser(userKey: string) {
    const keys = [...this.items.keys()].filter((key) => key.startsWith(`user#${userKey}|`));
    for (const key of keys) this.items.delete(key);
    return keys.length;
  }
}

/** Signs locally with an RSA key: the same RS256 bytes KMS would produce. */
export class LocalSigner implements JwtSigner {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly jwk: PublicJwk;
  failure?: Error;
  constructor() {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKey = pair.privateKey;
    this.publicKey = pair.publicKey;
    this.jwk = rsaPublicJwk(pair.publicKey.export({ format: 'der', type: 'spki' }));
  }
  /** How many times a request asked the signer to get ready (the token endpoint does, once per grant). */
  prepared = 0;
  prepare() {
    this.prepared++;
  }
  async signingKey() {
    return {
      kid: this.jwk.kid,
      alg: 'RS256' as const,
      sign: async (data: Uint8Array) => {
        if (this.failure) throw this.failure;
        return rsaSign('sha256', data, this.privateKey);
      },
    };
  }
}

export interface LogEntry {
  level: string;
  event: string;
  fields: Record<string, unknown>;
}

export function memoryLogger(): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at =
    (level: string) =>
    (event: string, fields: Record<string, unknown> = {}) =>
      void entries.push({ level, event, fields });
  return { entries, info: at('INFO'), warn: at('WARN'), error: at('ERROR') };
}

/** Settings for a core wired to these stores. */
export const SETTINGS: OAuthSettings = {
  issuer: 'https://auth.example.test',
  defaultAudience: 'https://api.example.test',
  accessTokenTtl: 900,
  refreshTokenIdleTtl: 30 * 24 * 3600,
  refreshTokenAbsoluteTtl: 90 * 24 * 3600,
  scopesSupported: ['read', 'write', 'admin'],
};
