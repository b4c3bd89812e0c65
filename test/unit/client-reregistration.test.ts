import { randomBytes } from 'node:crypto';
/**
 * A client id deleted and registered again is a new client: the refresh tokens of the deleted one must not
 * come back to life. Each family carries when it was issued
 * (`familyIssuedAt`), each client when it was registered (`createdAt`), and the refresh grant refuses a
 * family older than the client's registration, with no extra read.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { deleteClient, disableClient, registerClient } from '../../lambda/accounts';
import type { TokenEndpointDeps } from '../../lambda/oauth/grants/grant';
import type { HttpResponse } from '../../lambda/oauth/http';
import { handleTokenRequest } from '../../lambda/oauth/token-endpoint';
import { hashRefreshToken } from '../../lambda/tokens/refresh-token';
import {
  basic,
  CONFIDENTIAL_SECRET,
  familyOf,
  type MemoryDeps,
  memoryDeps,
  refreshTokenRecord,
  seed,
  tokenRequest,
  tokenStanding,
} from '../support/memory';

let deps: MemoryDeps;
beforeEach(async () => {
  deps = memoryDeps();
  await seed(deps);
});

const appAuth = { authorization: basic('app', CONFIDENTIAL_SECRET) };
const json = (response: HttpResponse) => JSON.parse(response.body) as Record<string, unknown>;
const nowSeconds = () => Math.floor(deps.clock() / 1000);

async function login(): Promise<string> {
  const response = await handleTokenRequest(
    tokenRequest({ grant_type: 'password', username: 'alice', password: 'correct horse' }, appAuth),
    deps,
  );
  expect(response.status).toBe(200);
  return json(response).refresh_token as string;
}
const refresh = (token: string) =>
  handleTokenRequest(tokenRequest({ grant_type: 'refresh_token', refresh_token: token }, appAuth), deps);

/** `ropc-admin clients delete app` then `clients create app` with the same secret, as an operator would. */
async function reregisterApp(): Promise<void> {
  const { scopes, grantTypes } = deps.clients.clients.get('app')!;
  await deleteClient(deps, 'app');
  await registerClient(
    { clients: deps.clients, clock: deps.clock, random: { bytes: () => new Uint8Array() } },
    { clientId: 'app', secret: CONFIDENTIAL_SECRET, isPublic: false, scopes, grantTypes },
  );
}

function expectRefused(response: HttpResponse, reason: string) {
  expect(response.status).toBe(400);
  expect(json(response)).toEqual({
    error: 'invalid_grant',
    error_description: 'the refresh token is invalid, expired or revoked',
  });
  expect(deps.logger.entries.at(-1)).toMatchObject({ event: 'refresh_grant_failed', fields: { reason } });
}

describe('refresh tokens of a deleted client, after a client with the same id is registered', () => {
  it('refuses the first token of a family issued to the deleted client, without touching it', async () => {
    const token = await login();
    deps.advance(1);
    await reregisterApp();
    expectRefused(await refresh(token), 'client_reregistered');
    expect(deps.logger.entries.at(-1)?.fields).toMatchObject({ clientId: 'app', userId: 'u-alice' });
    expect(tokenStanding(deps, token)).toBe('current');
  });

  it('refuses a later token of such a family: the family, not the token, is older than the client', async () => {
    const first = await login();
    deps.advance(3600);
    const second = json(await refresh(first)).refresh_token as string;
    expect(familyOf(deps, second)).toMatchObject({
      generation: 1,
      issuedAt: nowSeconds(),
      familyIssuedAt: nowSeconds() - 3600,
    });
    deps.advance(1);
    await reregisterApp();
    expectRefused(await refresh(second), 'client_reregistered');
  });

  it('refuses a spent token of such a family without a reuse alarm', async () => {
    const first = await login();
    await refresh(first);
    deps.advance(1);
    await reregisterApp();
    expectRefused(await refresh(first), 'client_reregistered');
    expect(deps.logger.entries.some((entry) => entry.event === 'refresh_token_reuse_detected')).toBe(false);
  });

  it("keeps the new registration's own sessions working, in the second of its registration too", async () => {
    deps.advance(1);
    await reregisterApp();
    const token = await login();
    const response = await refresh(token);
    expect(response.status).toBe(200);
    deps.advance(60);
    expect((await refresh(json(response).refresh_token as string)).status).toBe(200);
  });

  it('judges a legacy token stored before families carried their issue time by its own issue time', async () => {
    // A token stored one item per token, without familyIssuedAt, as the earliest versions stored them.
    const token = randomBytes(32).toString('base64url');
    const legacy = refreshTokenRecord(nowSeconds(), {
      tokenHash: hashRefreshToken(token),
      generation: 3,
      scope: ['read'],
      idleExpiresAt: nowSeconds() + 3600,
      familyExpiresAt: nowSeconds() + 7200,
    });
    deps.refreshTokens.tokens.set(legacy.tokenHash, legacy);
    // Its first use moves the family into one item, which counts it as issued when the legacy token was.
    deps.advance(60);
    const next = json(await refresh(token)).refresh_token as string;
    expect(familyOf(deps, next)?.familyIssuedAt).toBe(legacy.issuedAt);
    deps.advance(1);
    await reregisterApp();
    expectRefused(await refresh(next), 'client_reregistered');
  });

  it('keeps the tokens of a client with no registration time working (registered at time 0)', async () => {
    deps.advance(1);
    await reregisterApp();
    const token = await login();
    deps.advance(60);
    // The core's Client has no createdAt: a store of clients registered without one.
    const undated: TokenEndpointDeps = {
      ...deps,
      clients: {
        async getClient(clientId) {
          const registered = await deps.clients.getClient(clientId);
          if (registered === undefined) return undefined;
          const { createdAt: _createdAt, ...client } = registered;
          return client;
        },
      },
    };
    const response = await handleTokenRequest(
      tokenRequest({ grant_type: 'refresh_token', refresh_token: token }, appAuth),
      undated,
    );
    expect(response.status).toBe(200);
  });
});

describe('refresh tokens of a disabled client', () => {
  it('are refused through client authentication (invalid_client) and kept', async () => {
    const token = await login();
    await disableClient(deps, 'app');
    const response = await refresh(token);
    expect(response.status).toBe(401);
    expect(json(response).error).toBe('invalid_client');
    expect(tokenStanding(deps, token)).toBe('current');
  });
});
