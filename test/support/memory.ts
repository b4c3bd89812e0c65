import { createHash, randomUUID } from 'node:crypto';
import { disableClient, disableUser, registerClient, registerUser } from '../../lambda/accounts';
import type { OAuthSettings } from '../../lambda/oauth/config';
import type { TokenEndpointDeps } from '../../lambda/oauth/grants/grant';
import type { HttpRequest } from '../../lambda/oauth/http';
import type { RefreshFamily, RefreshToken } from '../../lambda/oauth/ports';
import type { ScryptParams } from '../../lambda/passwords';
import { scryptPasswordHasher } from '../../lambda/passwords/hasher';
import { hashRefreshToken, parseRefreshToken } from '../../lambda/tokens/refresh-token';
import {
  LocalSigner,
  MemoryClientStore,
  MemoryLoginAttemptStore,
  MemoryRefreshTokenStore,
  MemoryUserStore,
  memoryLogger,
  SETTINGS,
} from '../../local/memory-stores';

/** The in-memory stores live beside the emulators (the benchmarks use them too); tests import them from here. */
export * from '../../local/memory-stores';

export const FAST_SCRYPT: ScryptParams = { N: 2 ** 10, r: 8, p: 1 };

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
      // Deterministic, and distinct for every draw (family ids and tokens never collide).
      bytes: (length) => {
        counter++;
        const bytes = Buffer.alloc(length);
        for (let offset = 0; offset < length; offset += 32)
          createHash('sha256').update(`${counter}:${offset}`).digest().copy(bytes, offset);
        return bytes;
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

/**
 * The unit tests' clients and users, registered through the account services (lambda/accounts) as an
 * operator would: fixed user ids, and the deps' clock but not their random source, so that the tokens a
 * test mints do not depend on the seed.
 */
export async function seed(deps: MemoryDeps): Promise<void> {
  const clients = { clients: deps.clients, clock: deps.clock, random: NO_RANDOM };
  const grants = ['password', 'refresh_token'] as const;
  await registerClient(clients, {
    clientId: 'app',
    secret: CONFIDENTIAL_SECRET,
    isPublic: false,
    scopes: ['read', 'write', 'admin'],
    grantTypes: grants,
  });
  await registerClient(clients, {
    clientId: 'mobile',
    isPublic: true,
    scopes: ['read'],
    audience: 'https://mobile-api.example.test',
    grantTypes: grants,
  });
  await registerClient(clients, { clientId: 'no-refresh', isPublic: true, scopes: ['read'], grantTypes: ['password'] });
  await registerClient(clients, {
    clientId: 'refresh-only',
    isPublic: true,
    scopes: ['read'],
    grantTypes: ['refresh_token'],
  });
  await registerClient(clients, { clientId: 'off', isPublic: true, scopes: ['read'], grantTypes: grants });
  await disableClient(clients, 'off');
  const users = (userId: string) => ({
    users: deps.users,
    refreshTokens: deps.refreshTokens,
    clock: deps.clock,
    random: { uuid: () => userId },
  });
  await registerUser(users('u-alice'), {
    username: 'alice',
    password: 'correct horse',
    scrypt: FAST_SCRYPT,
    scopes: ['read', 'write'],
  });
  await registerUser(users('u-bob'), {
    username: 'bob',
    password: 'bob password',
    scrypt: FAST_SCRYPT,
    scopes: ['read'],
  });
  await disableUser(users('u-bob'), 'bob');
}

/** Every client in the seed brings its secret or is public: nothing draws random bytes. */
const NO_RANDOM = {
  bytes: (): Uint8Array => {
    throw new Error('the seed generates no secret');
  },
};

/** A form POST to /token. */
export function tokenRequest(
  params: Record<string, string>,
  options: {
    authorization?: string;
    contentType?: string;
    method?: string;
    body?: Buffer;
    sourceIp?: string;
    headers?: Record<string, string>;
  } = {},
): HttpRequest {
  const headers: Record<string, string> = {
    'content-type': options.contentType ?? 'application/x-www-form-urlencoded',
    ...options.headers,
  };
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
  return `Basic ${Buffer.from(`${encode(id)}:${encode(secret)}`).toString('base64')}`;
}

/** A refresh-token record of a new family of alice's at the app client, issued at `issuedAt` (epoch seconds). */
export function refreshTokenRecord(issuedAt: number, overrides: Partial<RefreshToken> = {}): RefreshToken {
  return {
    tokenHash: hashRefreshToken(randomUUID()),
    familyId: randomUUID(),
    clientId: 'app',
    userId: 'u-alice',
    username: 'alice',
    scope: ['read'],
    generation: 0,
    issuedAt,
    idleExpiresAt: issuedAt + 3600,
    familyExpiresAt: issuedAt + 7200,
    state: 'active',
    ...overrides,
  };
}

/** The family a refresh token names, as the memory store holds it (undefined for a token of no family). */
export function familyOf(deps: MemoryDeps, token: string): RefreshFamily | undefined {
  const presented = parseRefreshToken(token);
  return presented?.format === 'family' ? deps.refreshTokens.families.get(presented.familyId) : undefined;
}

/**
 * Where a refresh token stands in its family: 'current' (usable), 'previous' (just replaced), 'spent'
 * (older, or never the family's), 'revoked' (its family is), or undefined when it names no stored family.
 */
export function tokenStanding(
  deps: MemoryDeps,
  token: string,
): 'current' | 'previous' | 'spent' | 'revoked' | undefined {
  const family = familyOf(deps, token);
  if (family === undefined) return undefined;
  if (family.revokedAt !== undefined) return 'revoked';
  const hash = hashRefreshToken(token);
  if (hash === family.currentHash) return 'current';
  return hash === family.previous?.hash ? 'previous' : 'spent';
}
