import { generateKeyPairSync, type KeyObject, sign as rsaSign } from 'node:crypto';
import {
  ClientExistsError,
  ImportClaimLostError,
  ImportInProgressError,
  UserExistsError,
} from '../lambda/accounts/errors';
import type {
  ClientChanges,
  ClientRegistry,
  ImportBatchOutcome,
  LoginAttemptReset,
  RegisteredClient,
  RegisteredUser,
  UserChanges,
  UserDirectory,
  UserImport,
  UserProfile,
  UserRefreshTokens,
} from '../lambda/accounts/ports';
import { MFA_TOKEN_MAX_FAILURES, type MfaChallenge } from '../lambda/mfa/mfa-token';
import { isClientId } from '../lambda/oauth/client-id';
import type { OAuthSettings } from '../lambda/oauth/config';
import {
  type AttemptSubject,
  DAY,
  dayBucket,
  HOUR,
  hourBucket,
  KNOWN_ADDRESS_RENEW_SECONDS,
  KNOWN_ADDRESS_SECONDS,
  type LockoutPolicy,
  type LockoutReason,
  type LoginAttemptCounters,
} from '../lambda/oauth/lockout';
import {
  type AttemptReservation,
  type ChallengeReservation,
  type JwtSigner,
  type Logger,
  type LoginAttemptStore,
  type MfaChallengeStore,
  type RefreshFamily,
  type RefreshToken,
  RefreshTokenConflictError,
  type RefreshTokenStore,
  type ReleaseMode,
  type SecondFactorUse,
  type TotpSecretKey,
  type User,
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
    return isClientId(clientId) ? this.clients.get(clientId) : undefined;
  }
  async createClient(client: RegisteredClient) {
    if (this.clients.has(client.clientId)) throw new ClientExistsError(client.clientId);
    this.clients.set(client.clientId, {
      ...client,
      scopes: [...client.scopes],
      grantTypes: [...client.grantTypes],
      ...(client.allowedOrigins === undefined ? {} : { allowedOrigins: [...client.allowedOrigins] }),
    });
  }
  async listClients() {
    return [...this.clients.values()].sort((a, b) => a.clientId.localeCompare(b.clientId));
  }
  async setDisabled(clientId: string, disabled: boolean) {
    const client = this.clients.get(clientId);
    if (client !== undefined) this.clients.set(clientId, { ...client, disabled });
    return client !== undefined;
  }
  async updateClient(clientId: string, changes: ClientChanges) {
    const client = this.clients.get(clientId);
    if (client === undefined) return undefined;
    const { refreshGraceSeconds: _grace, allowedOrigins: _origins, ...rest } = client;
    const grace = changes.refreshGraceSeconds === undefined ? client.refreshGraceSeconds : changes.refreshGraceSeconds;
    const origins = changes.allowedOrigins ?? client.allowedOrigins ?? [];
    const updated: RegisteredClient = {
      ...rest,
      ...(changes.scopes === undefined ? {} : { scopes: [...changes.scopes] }),
      ...(grace === undefined || grace === null ? {} : { refreshGraceSeconds: grace }),
      ...(origins.length === 0 ? {} : { allowedOrigins: [...origins] }),
    };
    this.clients.set(clientId, updated);
    return updated;
  }
  async deleteClient(clientId: string) {
    return this.clients.delete(clientId);
  }
}

export class MemoryUserStore implements UserDirectory, UserImport {
  readonly users = new Map<string, RegisteredUser>();
  async getUser(username: string) {
    return this.users.get(username);
  }
  async replacePasswordHash(username: string, previousHash: string, nextHash: string) {
    const user = this.users.get(username);
    if (user?.passwordHash === previousHash) this.users.set(username, { ...user, passwordHash: nextHash });
  }
  async createMigratedUser(user: User, at: string): Promise<'created' | 'taken' | 'paused'> {
    if (this.users.has(user.username)) return 'taken';
    if (this.claimedAt(Date.parse(at))) return 'paused';
    this.users.set(user.username, { ...user, scopes: [...user.scopes], createdAt: at, passwordChangedAt: at });
    return 'created';
  }
  async createUser(user: RegisteredUser) {
    if (this.users.has(user.username)) throw new UserExistsError(user.username);
    if (this.claimedAt(Date.parse(user.createdAt)))
      throw new ImportInProgressError(this.claim!.until, this.claim!.holder);
    this.users.set(user.username, { ...user, scopes: [...user.scopes] });
  }
  async listUsers(): Promise<UserProfile[]> {
    return [...this.users.values()]
      .map(({ passwordHash: _hash, ...profile }) => profile)
      .sort((a, b) => a.username.localeCompare(b.username));
  }
  async updateUser(username: string, changes: UserChanges): Promise<UserProfile | undefined> {
    if (changes.scopes !== undefined && !this.update(username, { scopes: [...changes.scopes] })) return undefined;
    const user = this.users.get(username);
    if (user === undefined) return undefined;
    const { passwordHash: _hash, ...profile } = user;
    return profile;
  }
  async setPassword(username: string, passwordHash: string, at: string) {
    return this.update(username, { passwordHash, passwordChangedAt: at, sessionEpoch: this.nextEpoch(username) });
  }
  async setDisabled(username: string, disabled: boolean) {
    return this.update(username, disabled ? { disabled, sessionEpoch: this.nextEpoch(username) } : { disabled });
  }
  async endSessions(username: string) {
    return this.update(username, { sessionEpoch: this.nextEpoch(username) });
  }
  private nextEpoch(username: string): number {
    return (this.users.get(username)?.sessionEpoch ?? 0) + 1;
  }
  async deleteUser(username: string) {
    const user = this.users.get(username);
    this.users.delete(username);
    return user;
  }
  /** The import claim, as DynamoUserStore's claim items (one here: its shards matter to DynamoDB alone). */
  claim: { readonly holder: string; readonly until: number } | undefined;
  private claimedAt(now: number): boolean {
    return this.claim !== undefined && this.claim.until > now;
  }
  async claimImport(holder: string, now: number, until: number, replacing?: string) {
    if (this.claimedAt(now) && this.claim!.holder !== replacing) {
      throw new ImportInProgressError(this.claim!.until, this.claim!.holder);
    }
    this.claim = { holder, until };
  }
  async renewImport(holder: string, now: number, until: number) {
    if (this.claim?.holder !== holder || !this.claimedAt(now)) return false;
    this.claim = { holder, until };
    return true;
  }
  async releaseImport(holder: string) {
    if (this.claim?.holder === holder) this.claim = undefined;
  }
  /** As DynamoUserStore's: a taken username is counted as existing and left as it is. */
  async *usernames() {
    yield* [...this.users.keys()];
  }
  /** As DynamoUserStore's: a taken username is counted as existing and left as it is, unless `mayExist` says it cannot be. */
  async importUsers(
    users: readonly RegisteredUser[],
    live: () => boolean,
    mayExist: (username: string) => boolean = () => true,
  ): Promise<ImportBatchOutcome> {
    if (!live()) throw new ImportClaimLostError();
    const taken = (user: RegisteredUser) => mayExist(user.username) && this.users.has(user.username);
    const existing = users.filter(taken).map((user) => user.username);
    const written = users.filter((user) => !taken(user));
    for (const user of written) this.users.set(user.username, { ...user, scopes: [...user.scopes] });
    return { written: written.map((user) => user.username), existing };
  }
  private update(username: string, changes: Partial<RegisteredUser>): boolean {
    const user = this.users.get(username);
    if (user !== undefined) this.users.set(username, { ...user, ...changes });
    return user !== undefined;
  }
}

/**
 * The same families, legacy tokens and conditions as the DynamoDB store (lambda/adapters/refresh-token-store.ts),
 * in maps; the contract tests run both.
 */
export class MemoryRefreshTokenStore implements RefreshTokenStore, UserRefreshTokens {
  readonly families = new Map<string, RefreshFamily>();
  /** Tokens stored one item per token, by hash (tests seed them as an earlier version stored them). */
  readonly tokens = new Map<string, RefreshToken>();
  /** Revoked families that have no item (families of legacy tokens), as the DynamoDB store's bare revocation items. */
  readonly revokedFamilies = new Set<string>();

  async getFamily(familyId: string) {
    return this.families.get(familyId);
  }
  async createFamily(family: RefreshFamily) {
    if (this.families.has(family.familyId) || this.revokedFamilies.has(family.familyId)) throw new Error('duplicate');
    this.families.set(family.familyId, family);
  }
  async rotate(current: RefreshFamily, next: RefreshFamily, now: number) {
    const stored = this.families.get(current.familyId);
    if (
      stored === undefined ||
      stored.currentHash !== current.currentHash ||
      stored.revokedAt !== undefined ||
      stored.idleExpiresAt <= now ||
      stored.familyExpiresAt <= now
    ) {
      // As the DynamoDB store's refused write: revoked also when only the family's revocation is recorded.
      throw new RefreshTokenConflictError(
        stored,
        stored?.revokedAt !== undefined || this.revokedFamilies.has(current.familyId),
      );
    }
    this.families.set(current.familyId, { ...stored, ...rotatedFields(next) });
  }
  async revokeFamily(familyId: string, _familyExpiresAt: number, now: number) {
    const family = this.families.get(familyId);
    if (family !== undefined) {
      if (family.revokedAt !== undefined) return false;
      this.families.set(familyId, { ...family, revokedAt: now });
      return true;
    }
    const newly = !this.revokedFamilies.has(familyId);
    this.revokedFamilies.add(familyId);
    return newly;
  }
  async getLegacyToken(tokenHash: string) {
    return this.tokens.get(tokenHash);
  }
  async migrate(legacy: RefreshToken, family: RefreshFamily, now: number) {
    if (this.revokedFamilies.has(family.familyId)) throw new RefreshTokenConflictError(undefined, true);
    const existing = this.families.get(family.familyId);
    if (existing !== undefined) throw new RefreshTokenConflictError(existing);
    const stored = this.tokens.get(legacy.tokenHash);
    if (
      stored === undefined ||
      stored.state !== 'active' ||
      stored.idleExpiresAt <= now ||
      stored.familyExpiresAt <= now
    ) {
      throw new RefreshTokenConflictError(undefined, false);
    }
    this.tokens.set(legacy.tokenHash, { ...stored, state: 'rotated' });
    this.families.set(family.familyId, family);
  }
  /** As the DynamoDB adapter: the user's live families revoked, and their active legacy tokens marked revoked. */
  async revokeAllForUser(userId: string, now: number) {
    let revoked = 0;
    for (const family of this.families.values()) {
      if (family.userId !== userId || family.revokedAt !== undefined || family.familyExpiresAt <= now) continue;
      this.families.set(family.familyId, { ...family, revokedAt: now });
      revoked++;
    }
    const live = [...this.tokens.values()].filter(
      (token) => token.userId === userId && token.state !== 'revoked' && token.familyExpiresAt > now,
    );
    for (const token of live)
      if (token.state === 'active') this.tokens.set(token.tokenHash, { ...token, state: 'revoked' });
    for (const familyId of new Set(live.map((token) => token.familyId))) {
      if (await this.revokeFamily(familyId, 0, now)) revoked++;
    }
    return revoked;
  }
}

/** What a rotation writes: everything that changes from one token of the family to the next. */
function rotatedFields(next: RefreshFamily): Partial<RefreshFamily> {
  const { generation, currentHash, issuedAt, previous, idleExpiresAt } = next;
  return { generation, currentHash, issuedAt, previous, idleExpiresAt };
}

/** The same counters and expiry rules as the DynamoDB store, in maps. */
export class MemoryLoginAttemptStore implements LoginAttemptStore, LoginAttemptReset {
  readonly items = new Map<string, { failures: number; lastFailureAt: number; expiresAt: number }>();
  private keys(subject: AttemptSubject, now: number) {
    return {
      pair: `user#${subject.userKey}|ip#${subject.ip}`,
      hour: `user#${subject.userKey}|hour#${hourBucket(now)}`,
      day: `ip#${subject.ip}|day#${dayBucket(now)}`,
      known: `user#${subject.userKey}|known#${subject.ip}`,
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
      ...(this.live(keys.known, now) === undefined ? {} : { knownAddressUntil: this.live(keys.known, now)!.expiresAt }),
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
  /** As the DynamoDB store: the pair only if unchanged since `before`, the windows only under their limits. */
  async reserve(
    subject: AttemptSubject,
    before: LoginAttemptCounters,
    now: number,
    policy: LockoutPolicy,
  ): Promise<AttemptReservation> {
    const keys = this.keys(subject, now);
    const pair = this.live(keys.pair, now);
    const pairUnchanged =
      before.pairFailures === 0
        ? pair === undefined
        : pair?.failures === before.pairFailures && pair.lastFailureAt === before.pairLastFailureAt;
    const hour = this.live(keys.hour, now)?.failures ?? 0;
    const day = this.live(keys.day, now)?.failures ?? 0;
    if (day >= policy.ipFailuresPerDay) return { granted: false, reason: 'ip_budget' };
    if (before.knownAddressUntil === undefined && hour >= policy.userFailuresPerHour)
      return { granted: false, reason: 'user_ceiling' };
    if (!pairUnchanged) return { granted: false, reason: 'concurrent_attempt' };
    this.items.set(keys.pair, { failures: before.pairFailures + 1, lastFailureAt: now, expiresAt: now + DAY });
    this.items.set(keys.hour, { failures: hour + 1, lastFailureAt: now, expiresAt: (hourBucket(now) + 1) * HOUR });
    this.items.set(keys.day, { failures: day + 1, lastFailureAt: now, expiresAt: (dayBucket(now) + 1) * DAY });
    return {
      granted: true,
      after: {
        pairFailures: before.pairFailures + 1,
        pairLastFailureAt: now,
        userFailuresThisHour: hour + 1,
        ipFailuresToday: day + 1,
      },
    };
  }
  async release(
    subject: AttemptSubject,
    before: LoginAttemptCounters,
    now: number,
    mode: ReleaseMode = 'success',
  ): Promise<void> {
    const keys = this.keys(subject, now);
    // A second factor still due: only the hour and day counters give the attempt back. A fault: the streak
    // goes back to what it was, if it is still the reservation's.
    if (mode === 'success') this.items.delete(keys.pair);
    if (mode === 'fault') {
      const pair = this.items.get(keys.pair);
      if (pair?.failures === before.pairFailures + 1 && pair.lastFailureAt === now) {
        if (before.pairFailures === 0) this.items.delete(keys.pair);
        else
          this.items.set(keys.pair, {
            ...pair,
            failures: before.pairFailures,
            lastFailureAt: before.pairLastFailureAt,
          });
      }
    }
    if (
      mode === 'success' &&
      (before.knownAddressUntil === undefined || before.knownAddressUntil - now < KNOWN_ADDRESS_RENEW_SECONDS)
    )
      this.items.set(keys.known, { failures: 0, lastFailureAt: 0, expiresAt: now + KNOWN_ADDRESS_SECONDS });
    for (const key of [keys.hour, keys.day]) {
      const item = this.items.get(key);
      if (item !== undefined && item.failures > 0) this.items.set(key, { ...item, failures: item.failures - 1 });
    }
  }
  async recordRefusal(subject: AttemptSubject, reason: LockoutReason, now: number): Promise<void> {
    const keys = this.keys(subject, now);
    const bump = (key: string, expiresAt: number) => {
      const failures = (this.live(key, now)?.failures ?? 0) + 1;
      this.items.set(key, { failures, lastFailureAt: now, expiresAt });
    };
    if (reason === 'pair_backoff') bump(keys.pair, now + DAY);
    else if (reason === 'user_ceiling') bump(keys.hour, (hourBucket(now) + 1) * HOUR);
    else bump(keys.day, (dayBucket(now) + 1) * DAY);
  }
  async clearUser(userKey: string) {
    const keys = [...this.items.keys()].filter(
      (key) => key.startsWith(`user#${userKey}|`) && !key.startsWith(`user#${userKey}|known#`),
    );
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
  refreshTokenGraceSeconds: 30,
  scopesSupported: ['read', 'write', 'admin'],
};

/**
 * The second factor's challenges, and its commit against the users of `users` (a MemoryUserStore): the same
 * conditions as DynamoMfaChallengeStore (lambda/adapters/mfa-challenge-store.ts); the contract tests run both.
 */
export class MemoryMfaChallengeStore implements MfaChallengeStore {
  readonly challenges = new Map<string, MfaChallenge>();
  constructor(private readonly users: MemoryUserStore) {}
  async create(challenge: MfaChallenge) {
    if (this.challenges.has(challenge.tokenHash)) throw new Error('duplicate');
    this.challenges.set(challenge.tokenHash, { ...challenge, scope: [...challenge.scope] });
  }
  async get(tokenHash: string) {
    return this.challenges.get(tokenHash);
  }
  async reserveAttempt(challenge: MfaChallenge, now: number): Promise<ChallengeReservation> {
    const stored = this.challenges.get(challenge.tokenHash);
    if (
      stored === undefined ||
      stored.clientId !== challenge.clientId ||
      stored.expiresAt <= now ||
      stored.failures >= MFA_TOKEN_MAX_FAILURES
    )
      return { granted: false, stored };
    const next = { ...stored, failures: stored.failures + 1 };
    this.challenges.set(challenge.tokenHash, next);
    return { granted: true, challenge: next };
  }
  async complete(challenge: MfaChallenge, enrolledAt: string, use: SecondFactorUse): Promise<'completed' | 'conflict'> {
    const user = this.users.users.get(challenge.username);
    const mfa = user?.mfa;
    if (!this.challenges.has(challenge.tokenHash) || user === undefined || mfa?.enrolledAt !== enrolledAt)
      return 'conflict';
    if (use.kind === 'totp') {
      if (mfa.lastAcceptedStep !== undefined && mfa.lastAcceptedStep >= use.step) return 'conflict';
      this.users.users.set(user.username, { ...user, mfa: { ...mfa, lastAcceptedStep: use.step } });
    } else {
      if (!mfa.recoveryCodeHashes.includes(use.hash)) return 'conflict';
      const recoveryCodeHashes = mfa.recoveryCodeHashes.filter((hash) => hash !== use.hash);
      this.users.users.set(user.username, { ...user, mfa: { ...mfa, recoveryCodeHashes } });
    }
    this.challenges.delete(challenge.tokenHash);
    return 'completed';
  }
}

/** TOTP secrets "encrypted" for their user without KMS: the unit tests' stand-in for KmsTotpSecretKey. */
export class MemoryTotpSecretKey implements TotpSecretKey {
  encrypt(userId: string, secret: Uint8Array): Uint8Array {
    return Buffer.concat([Buffer.from(`${userId}\0`, 'utf8'), secret]);
  }
  async decrypt(userId: string, ciphertext: Uint8Array): Promise<Uint8Array> {
    const prefix = Buffer.from(`${userId}\0`, 'utf8');
    const bytes = Buffer.from(ciphertext);
    // As KMS with the wrong encryption context: InvalidCiphertextException.
    if (!bytes.subarray(0, prefix.length).equals(prefix))
      throw Object.assign(new Error('wrong context'), { name: 'InvalidCiphertextException' });
    return Uint8Array.from(bytes.subarray(prefix.length));
  }
}
