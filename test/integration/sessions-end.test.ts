/**
 * Ending a user's sessions, through the real stores on DynamoDB Local: once `users set-password`,
 * `users disable` or `tokens revoke --username` returns, no refresh-token family begun before works, even
 * one whose login was still running, and even one the eventually consistent index does not show.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disableUser, enableUser, revokeUserTokens, setPassword } from '../../lambda/accounts';
import { DynamoUserRefreshTokens } from '../../lambda/adapters/user-refresh-tokens';
import { DynamoUserStore } from '../../lambda/adapters/user-store';
import type { ServiceConfig } from '../../lambda/config';
import { createTokenEndpointDeps } from '../../lambda/handlers/runtime';
import type { TokenEndpointDeps } from '../../lambda/oauth/grants/grant';
import { handleTokenRequest } from '../../lambda/oauth/token-endpoint';
import type { KmsEmulator } from '../../local/kms-emulator';
import { LOCAL_CREDENTIALS } from '../../local/state';
import { documentClient, emulatedServices } from '../support/aws';
import { basic, FAST_SCRYPT, tokenRequest } from '../support/memory';
import { seed } from '../support/seed';

let kms: KmsEmulator;
let config: ServiceConfig;
let deps: TokenEndpointDeps;
let db: ReturnType<typeof documentClient>;
let lines: string[];

beforeAll(async () => {
  ({ kms, config } = await emulatedServices('alias/ropc-token-service/sessions'));
  lines = [];
  deps = createTokenEndpointDeps(config, { credentials: LOCAL_CREDENTIALS, logSink: (line) => lines.push(line) });
  db = documentClient(config.dynamodbEndpoint!);
  await seed(db, config.tables, { clients: [{ clientId: 'app', secret: 'app-secret', scopes: ['read'] }], users: [] });
});

afterAll(async () => {
  db?.destroy();
  await kms?.stop();
});

const auth = { authorization: basic('app', 'app-secret') };
/** The account services as `ropc-admin` runs them, over the same tables. */
const accounts = (overrides: Partial<Parameters<typeof revokeUserTokens>[0]> = {}) => ({
  users: new DynamoUserStore(db, config.tables.users),
  refreshTokens: new DynamoUserRefreshTokens(db, config.tables.refreshTokens),
  clock: Date.now,
  ...overrides,
});

async function newUser(password: string): Promise<string> {
  const username = `u-${randomUUID().slice(0, 8)}`;
  await seed(db, config.tables, {
    clients: [],
    users: [{ username, password, userId: randomUUID(), scopes: ['read'] }],
  });
  return username;
}

function login(username: string, password: string, through: TokenEndpointDeps = deps) {
  return handleTokenRequest(tokenRequest({ grant_type: 'password', username, password }, auth), through);
}
const refresh = (token: string) =>
  handleTokenRequest(tokenRequest({ grant_type: 'refresh_token', refresh_token: token }, auth), deps);
const refreshToken = (response: { body: string }) => JSON.parse(response.body).refresh_token as string;
const lastFailure = () =>
  lines.map((line) => JSON.parse(line)).findLast((entry) => entry.event === 'refresh_grant_failed');

describe('the sessions a password change ends', () => {
  it('no family opened with the old password works once set-password returns, while 16 logins race it', async () => {
    const username = await newUser('old password');
    const first = await login(username, 'old password');
    expect(first.status).toBe(200);
    const logins = Array.from({ length: 16 }, () => login(username, 'old password'));
    await setPassword(accounts(), { username, password: 'new password', scrypt: FAST_SCRYPT });
    const raced = await Promise.all(logins);
    const opened = [first, ...raced].filter((response) => response.status === 200).map(refreshToken);
    expect(opened.length).toBeGreaterThan(0);
    for (const token of opened) {
      const response = await refresh(token);
      expect(response.status).toBe(400);
      expect(JSON.parse(response.body).error).toBe('invalid_grant');
    }
    // The new password's sessions work.
    const fresh = await login(username, 'new password');
    expect(fresh.status).toBe(200);
    expect((await refresh(refreshToken(fresh))).status).toBe(200);
  });

  it('refuses a family whose login read the user before the change and stored it after', async () => {
    const username = await newUser('old password');
    // A login held between reading the user (old hash) and the rest of its work.
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let read: () => void = () => undefined;
    const hasRead = new Promise<void>((resolve) => {
      read = resolve;
    });
    const held: TokenEndpointDeps = {
      ...deps,
      users: {
        getUser: async (name) => {
          const user = await deps.users.getUser(name);
          read();
          await gate;
          return user;
        },
        replacePasswordHash: (name, previous, next) => deps.users.replacePasswordHash(name, previous, next),
        createMigratedUser: (user, at) => deps.users.createMigratedUser(user, at),
      },
    };
    const pending = login(username, 'old password', held);
    await hasRead;
    await setPassword(accounts(), { username, password: 'new password', scrypt: FAST_SCRYPT });
    release();
    const response = await pending;
    expect(response.status).toBe(200);
    const refused = await refresh(refreshToken(response));
    expect(refused.status).toBe(400);
    expect(lastFailure()).toMatchObject({ reason: 'sessions_ended' });
  });
});

describe('the sessions the operator ends', () => {
  it('tokens revoke --username ends families the index does not show yet', async () => {
    const username = await newUser('password one');
    const token = refreshToken(await login(username, 'password one'));
    // An index that lags: it shows none of the user's families, so nothing is revoked through it.
    const lagging = accounts({ refreshTokens: { revokeAllForUser: async () => 0 } });
    expect((await revokeUserTokens(lagging, username)).revokedRefreshTokens).toBe(0);
    expect((await refresh(token)).status).toBe(400);
    expect(lastFailure()).toMatchObject({ reason: 'sessions_ended' });
    // The user logs in again and that session works.
    expect((await refresh(refreshToken(await login(username, 'password one')))).status).toBe(200);
  });

  it('a disabled user stays logged out when enabled again; a new login works', async () => {
    const username = await newUser('password two');
    const token = refreshToken(await login(username, 'password two'));
    const lagging = accounts({ refreshTokens: { revokeAllForUser: async () => 0 } });
    await disableUser(lagging, username);
    await enableUser(lagging, username);
    expect((await refresh(token)).status).toBe(400);
    expect(lastFailure()).toMatchObject({ reason: 'sessions_ended' });
    expect((await refresh(refreshToken(await login(username, 'password two')))).status).toBe(200);
  });

  it('a login that upgrades the stored hash to new scrypt parameters ends nothing', async () => {
    const username = await newUser('password three');
    const token = refreshToken(await login(username, 'password three'));
    const before = (await deps.users.getUser(username))!.passwordHash;
    const upgrading = createTokenEndpointDeps(
      { ...config, scrypt: { ...FAST_SCRYPT, N: FAST_SCRYPT.N * 2 } },
      { credentials: LOCAL_CREDENTIALS, logSink: () => undefined },
    );
    const second = refreshToken(await login(username, 'password three', upgrading));
    expect((await deps.users.getUser(username))!.passwordHash).not.toBe(before);
    expect((await refresh(token)).status).toBe(200);
    expect((await refresh(second)).status).toBe(200);
  });
});
