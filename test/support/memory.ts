import { generateKeyPairSync, sign as rsaSign, type KeyObject } from 'node:crypto';
import { hashClientSecret } from '../../lambda/oauth/client-secret';
import type { OAuthSettings } from '../../lambda/oauth/config';
import type { TokenEndpointDeps } from '../../lambda/oauth/grants/grant';
import type { HttpRequest } from '../../lambda/oauth/http';
import { DAY, dayBucket, HOUR, hourBucket, type AttemptSubject, type LoginAttemptCounters } from '../../lambda/oauth/lockout';
import {
  RefreshTokenConflictError,
  type LoginAttemptStore,
  type Client,
  type ClientStore,
  type JwtSigner,
  type Logger,
  type RefreshToken,
  type RefreshTokenStore,
  type User,
  type UserStore,
} from '../../lambda/oauth/ports';
import { scryptPasswordHasher } from '../../lambda/passwords/hasher';
import { hashPassword, type ScryptParams } from '../../lambda/passwords';
import { rsaPublicJwk, type PublicJwk } from '../../lambda/tokens/jwk';

/** In-memory implementations of the core's ports, for unit tests of the protocol core. */
export class MemoryClientStore implements ClientStore {
  readonly clients = new Map<string, Client>();
  async getClient(clientId: string) {
    return this.clients.get(clientId);
  }
}

export class MemoryUserStore implements UserStore {
  readonly users = new Map<string, User>();
  async getUser(username: string) {
    return this.users.get(username);
  }
  async replacePasswordHash(username: string, previousHash: string, nextHash: string) {
    const user = this.users.get(username);
    if (user?.passwordHash === previousHash) this.users.set(username, { ...user, passwordHash: nextHash });
  }
}

export class MemoryRefreshTokenStore implements RefreshTokenStore {
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
    if (stored === undefined || stored.state !== 'active' || stored.idleExpiresAt <= now || stored.familyExpiresAt <= now) {
      throw new RefreshTokenConflictError(stored);
    }
    if (this.revokedFamilies.has(current.familyId)) throw new RefreshTokenConflictError({ ...stored, state: 'revoked' });
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
}

/** The same counters and expiry rules as the DynamoDB store, in maps. */
export class MemoryLoginAttemptStore implements LoginAttemptStore {
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
  clearUser(userKey: string): void {
    for (const key of [...this.items.keys()]) if (key.startsWith(`user#${userKey}|`)) this.items.delete(key);
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
  const at = (level: string) => (event: string, fields: Record<string, unknown> = {}) => void entries.push({ level, event, fields });
  return { entries, info: at('INFO'), warn: at('WARN'), error: at('ERROR') };
}

export const FAST_SCRYPT: ScryptParams = { N: 2 ** 10, r: 8, p: 1 };

export const SETTINGS: OAuthSettings = {
  issuer: 'https://auth.example.test',
  defaultAudience: 'https://api.example.test',
  accessTokenTtl: 900,
  refreshTokenIdleTtl: 30 * 24 * 3600,
  refreshTokenAbsoluteTtl: 90 * 24 * 3600,
  scopesSupported: ['read', 'write', 'admin'],
};

export interface MemoryDeps extends TokenEndpointDeps {
  readonly clients: MemoryClientStore;
  readonly users: MemoryUserStore;
  readonly refreshTokens: MemoryRefreshTokenStore;
  readonly loginAttempts: MemoryLoginAttemptStore;
  readonly signer: LocalSigner;
  readonly logger: ReturnType<typeof memoryLogger>;
  /** Moves the injected clock. */
  advance(seconds: number): void;
}

let sharedSigner: LocalSigner | undefined;

/** A token endpoint wired to in-memory stores, a frozen clock and a counter-based random source. */
export function memoryDeps(settings: OAuthSettings = SETTINGS): MemoryDeps {
  let now = Date.UTC(2026, 10, 28, 12, 0, 0);
  let counter = 0;
  sharedSigner ??= new LocalSigner();
  sharedSigner.failure = undefined;
  return {
    settings,
    clients: new MemoryClientStore(),
    users: new MemoryUserStore(),
    refreshTokens: new MemoryRefreshTokenStore(),
    loginAttempts: new MemoryLoginAttemptStore(),
    signer: sharedSigner,
    passwords: scryptPasswordHasher(FAST_SCRYPT),
    clock: () => now,
    random: {
      bytes: (length) => {
        counter++;
        return Buffer.alloc(length, counter % 256).map((byte, index) => (byte + index * 7 + Math.floor(counter / 256)) % 256);
      },
      uuid: () => `00000000-0000-4000-8000-${String(++counter).padStart(12, '0')}`,
    },
    logger: memoryLogger(),
    advance(seconds) {
      now += seconds * 1000;
    },
  };
}

export const CONFIDENTIAL_SECRET = 'confidential-secret-value';

export async function seed(deps: MemoryDeps): Promise<void> {
  deps.clients.clients.set('app', {
    clientId: 'app',
    secretHash: hashClientSecret(CONFIDENTIAL_SECRET),
    isPublic: false,
    scopes: ['read', 'write', 'admin'],
    grantTypes: ['password', 'refresh_token'],
    disabled: false,
  });
  deps.clients.clients.set('mobile', {
    clientId: 'mobile',
    isPublic: true,
    scopes: ['read'],
    audience: 'https://mobile-api.example.test',
    grantTypes: ['password', 'refresh_token'],
    disabled: false,
  });
  deps.clients.clients.set('no-refresh', {
    clientId: 'no-refresh',
    isPublic: true,
    scopes: ['read'],
    grantTypes: ['password'],
    disabled: false,
  });
  deps.clients.clients.set('refresh-only', {
    clientId: 'refresh-only',
    isPublic: true,
    scopes: ['read'],
    grantTypes: ['refresh_token'],
    disabled: false,
  });
  deps.clients.clients.set('off', {
    clientId: 'off',
    isPublic: true,
    scopes: ['read'],
    grantTypes: ['password', 'refresh_token'],
    disabled: true,
  });
  deps.users.users.set('alice', {
    username: 'alice',
    userId: 'u-alice',
    passwordHash: await hashPassword('correct horse', FAST_SCRYPT),
    scopes: ['read', 'write'],
    disabled: false,
  });
  deps.users.users.set('bob', {
    username: 'bob',
    userId: 'u-bob',
    passwordHash: await hashPassword('bob password', FAST_SCRYPT),
    scopes: ['read'],
    disabled: true,
  });
}

/** A form POST to /token. */
export function tokenRequest(
  params: Record<string, string>,
  options: { authorization?: string; contentType?: string; method?: string; body?: Buffer; sourceIp?: string; headers?: Record<string, string> } = {},
): HttpRequest {
  const headers: Record<string, string> = { 'content-type': options.contentType ?? 'application/x-www-form-urlencoded', ...options.headers };
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  return {
    method: options.method ?? 'POST',
    path: '/token',
    headers,
    body: options.body ?? Buffer.from(new URLSearchParams(params).toString()),
    sourceIp: options.sourceIp ?? '203.0.113.7',
    requestId: 'req-1',
  };
}

export function basic(id: string, secret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return 'Basic ' + Buffer.from(`${encode(id)}:${encode(secret)}`).toString('base64');
}
