import { hashClientSecret } from '../../lambda/oauth/client-secret';
import type { OAuthSettings } from '../../lambda/oauth/config';
import type { TokenEndpointDeps } from '../../lambda/oauth/grants/grant';
import type { HttpRequest } from '../../lambda/oauth/http';
import { scryptPasswordHasher } from '../../lambda/passwords/hasher';
import { hashPassword, type ScryptParams } from '../../lambda/passwords';
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
