/**
 * The refresh grant's rotation with a retry grace, on the protocol core with an injected clock: the current
 * token rotates; the one it replaced, presented again by its client within the client's grace, gets the
 * same successor and a fresh access token; every other spent token revokes its family. Tokens stored one
 * item per token (legacy) keep working and move into the family model on first use.
 */
import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { DependencyUnavailableError } from '../../lambda/oauth/errors';
import type { HttpResponse } from '../../lambda/oauth/http';
import type { RefreshToken } from '../../lambda/oauth/ports';
import { handleTokenRequest } from '../../lambda/oauth/token-endpoint';
import { hashRefreshToken } from '../../lambda/tokens/refresh-token';
import {
  basic,
  CONFIDENTIAL_SECRET,
  familyOf,
  type MemoryDeps,
  memoryDeps,
  refreshTokenRecord,
  SETTINGS,
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
const jti = (accessToken: unknown) =>
  JSON.parse(Buffer.from(String(accessToken).split('.')[1]!, 'base64url').toString()).jti as string;
const events = (event: string) => deps.logger.entries.filter((entry) => entry.event === event);

async function login(): Promise<string> {
  const response = await handleTokenRequest(
    tokenRequest({ grant_type: 'password', username: 'alice', password: 'correct horse' }, appAuth),
    deps,
  );
  expect(response.status).toBe(200);
  return json(response).refresh_token as string;
}

const refresh = (token: string, extra: Record<string, string> = {}) =>
  handleTokenRequest(tokenRequest({ grant_type: 'refresh_token', refresh_token: token, ...extra }, appAuth), deps);

async function refreshed(token: string, extra: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const response = await refresh(token, extra);
  expect(response.status, response.body).toBe(200);
  return json(response);
}

function expectRefused(response: HttpResponse) {
  expect(response.status).toBe(400);
  expect(json(response)).toEqual({
    error: 'invalid_grant',
    error_description: 'the refresh token is invalid, expired or revoked',
  });
}

function setAppGrace(seconds: number | undefined) {
  const app = deps.clients.clients.get('app')!;
  deps.clients.clients.set('app', { ...app, refreshGraceSeconds: seconds });
}

describe('a retry within the grace', () => {
  it('gets the same successor and a freshly signed access token, and writes nothing', async () => {
    const first = await login();
    const answer = await refreshed(first);
    const family = familyOf(deps, first);
    deps.advance(29);
    const retry = await refreshed(first);
    expect(retry.refresh_token).toBe(answer.refresh_token);
    expect(retry.access_token).not.toBe(answer.access_token);
    expect(jti(retry.access_token)).not.toBe(jti(answer.access_token));
    expect(retry.scope).toBe('read write');
    expect(familyOf(deps, first)).toEqual(family);
    expect(events('refresh_grant_succeeded').at(-1)?.fields).toMatchObject({ retry: true, generation: 1 });
    expect(events('refresh_token_reuse_detected')).toHaveLength(0);
    // The successor still rotates as usual.
    expect((await refreshed(answer.refresh_token as string)).refresh_token).not.toBe(answer.refresh_token);
  });

  it('may narrow the access token, and the successor keeps the family scope', async () => {
    const first = await login();
    const answer = await refreshed(first);
    const retry = await refreshed(first, { scope: 'read' });
    expect(retry.scope).toBe('read');
    expect(retry.refresh_token).toBe(answer.refresh_token);
    expect((await refreshed(retry.refresh_token as string)).scope).toBe('read write');
  });

  it('ends at the grace: the same token a second later revokes the family', async () => {
    const first = await login();
    const second = (await refreshed(first)).refresh_token as string;
    deps.advance(30);
    expectRefused(await refresh(first));
    expect(events('refresh_token_reuse_detected').at(-1)?.fields).toMatchObject({
      userId: 'u-alice',
      newlyRevoked: true,
    });
    expect(tokenStanding(deps, second)).toBe('revoked');
    expectRefused(await refresh(second));
  });

  it("follows the client's own grace over the stack's", async () => {
    setAppGrace(5);
    const first = await login();
    const second = (await refreshed(first)).refresh_token as string;
    deps.advance(4);
    expect((await refreshed(first)).refresh_token).toBe(second);
    deps.advance(1);
    expectRefused(await refresh(first));
    expect(tokenStanding(deps, second)).toBe('revoked');
  });

  it('is strict one-time use with a grace of 0 (client or stack)', async () => {
    for (const configure of [
      () => setAppGrace(0),
      () => {
        deps = { ...deps, settings: { ...SETTINGS, refreshTokenGraceSeconds: 0 } };
        setAppGrace(undefined);
      },
    ]) {
      configure();
      const first = await login();
      const second = (await refreshed(first)).refresh_token as string;
      expectRefused(await refresh(first));
      expect(tokenStanding(deps, second)).toBe('revoked');
    }
  });

  it('does not reach two generations back: that token revokes the family even a second later', async () => {
    const first = await login();
    const second = (await refreshed(first)).refresh_token as string;
    const third = (await refreshed(second)).refresh_token as string;
    deps.advance(1);
    expectRefused(await refresh(first));
    expect(events('refresh_token_reuse_detected')).toHaveLength(1);
    expect(tokenStanding(deps, third)).toBe('revoked');
  });

  it('is not given to another client, and that attempt leaves the family alone', async () => {
    const first = await login();
    const second = (await refreshed(first)).refresh_token as string;
    const other = await handleTokenRequest(
      tokenRequest({ grant_type: 'refresh_token', refresh_token: first, client_id: 'mobile' }),
      deps,
    );
    expectRefused(other);
    expect(deps.logger.entries.at(-1)?.fields).toMatchObject({ reason: 'other_client' });
    expect(tokenStanding(deps, second)).toBe('current');
  });

  it('is refused for a disabled user, without revoking', async () => {
    const first = await login();
    const second = (await refreshed(first)).refresh_token as string;
    deps.users.users.set('alice', { ...deps.users.users.get('alice')!, disabled: true });
    expectRefused(await refresh(first));
    expect(deps.logger.entries.at(-1)?.fields).toMatchObject({ reason: 'user_unavailable' });
    expect(tokenStanding(deps, second)).toBe('current');
  });

  it('is refused once the family is revoked', async () => {
    const first = await login();
    await refreshed(first);
    const family = familyOf(deps, first)!;
    await deps.refreshTokens.revokeFamily(family.familyId, family.familyExpiresAt, nowSeconds());
    expectRefused(await refresh(first));
    expect(deps.logger.entries.at(-1)?.fields).toMatchObject({ reason: 'revoked' });
  });

  it('keeps nothing spent when signing fails: the retry works once signing does', async () => {
    const first = await login();
    const second = (await refreshed(first)).refresh_token as string;
    deps.signer.failure = new DependencyUnavailableError('kms');
    expect((await refresh(first)).status).toBe(503);
    deps.signer.failure = undefined;
    expect((await refreshed(first)).refresh_token).toBe(second);
  });
});

describe('concurrent uses of one token', () => {
  it('all succeed with one successor within the grace', async () => {
    const first = await login();
    const answers = await Promise.all(Array.from({ length: 20 }, () => refresh(first)));
    expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(200));
    expect(new Set(answers.map((answer) => json(answer).refresh_token)).size).toBe(1);
    expect(new Set(answers.map((answer) => jti(json(answer).access_token))).size).toBe(20);
    expect(familyOf(deps, first)?.generation).toBe(1);
    expect(events('refresh_token_reuse_detected')).toHaveLength(0);
  });

  it('give exactly one winner with a grace of 0, and the reuse revokes the family', async () => {
    setAppGrace(0);
    const first = await login();
    const answers = await Promise.all(Array.from({ length: 20 }, () => refresh(first)));
    const winners = answers.filter((answer) => answer.status === 200);
    expect(winners).toHaveLength(1);
    expect(answers.filter((answer) => answer.status === 400)).toHaveLength(19);
    expect(tokenStanding(deps, json(winners[0]!).refresh_token as string)).toBe('revoked');
  });
});

describe('tokens the family never issued', () => {
  it('an unknown secret under a known family id revokes the family', async () => {
    const first = await login();
    const forged = `${first.split('.')[0]}.${randomBytes(32).toString('base64url')}`;
    expectRefused(await refresh(forged));
    expect(events('refresh_token_reuse_detected')).toHaveLength(1);
    expect(tokenStanding(deps, first)).toBe('revoked');
  });

  it.each([
    ['garbage', 'not-a-token'],
    ['a family id alone', 'AAAAAAAAAAAAAAAAAAAAAA'],
    ['a short secret', 'AAAAAAAAAAAAAAAAAAAAAA.abc'],
    ['characters outside base64url', `AAAAAAAAAAAAAAAAAAAAAA.${'+'.repeat(43)}`],
    ['an unknown family', `${randomBytes(16).toString('base64url')}.${randomBytes(32).toString('base64url')}`],
    ['an unknown legacy token', randomBytes(32).toString('base64url')],
  ])('%s is refused as unknown, with no revocation', async (_case, token) => {
    expectRefused(await refresh(token));
    expect(deps.logger.entries.at(-1)?.fields).toMatchObject({ reason: 'unknown_token' });
    expect(events('refresh_token_reuse_detected')).toHaveLength(0);
  });
});

describe('expiry', () => {
  it('refuses the current token past its idle lifetime though the item is still stored, and revokes nothing', async () => {
    const first = await login();
    deps.advance(SETTINGS.refreshTokenIdleTtl);
    expectRefused(await refresh(first));
    expect(deps.logger.entries.at(-1)?.fields).toMatchObject({ reason: 'expired' });
    expect(tokenStanding(deps, first)).toBe('current');
  });
});

describe('legacy tokens (stored one item per token)', () => {
  /** A legacy token of alice's at the app client, as the store held them; returns the token. */
  function legacyToken(overrides: Partial<RefreshToken> = {}): string {
    const token = randomBytes(32).toString('base64url');
    const record = refreshTokenRecord(nowSeconds(), {
      tokenHash: hashRefreshToken(token),
      generation: 4,
      scope: ['read'],
      familyIssuedAt: nowSeconds(),
      idleExpiresAt: nowSeconds() + 3600,
      familyExpiresAt: nowSeconds() + 7200,
      ...overrides,
    });
    deps.refreshTokens.tokens.set(record.tokenHash, record);
    return token;
  }
  const legacyState = (token: string) => deps.refreshTokens.tokens.get(hashRefreshToken(token))?.state;

  it('moves its family into one item on first use, keeping the family and its scope', async () => {
    const token = legacyToken();
    const { familyId, familyExpiresAt, familyIssuedAt } = deps.refreshTokens.tokens.get(hashRefreshToken(token))!;
    deps.advance(60);
    const answer = await refreshed(token);
    const next = answer.refresh_token as string;
    expect(next.startsWith(`${familyId}.`)).toBe(true);
    expect(answer.scope).toBe('read');
    expect(legacyState(token)).toBe('rotated');
    expect(familyOf(deps, next)).toMatchObject({
      familyId,
      generation: 5,
      scope: ['read'],
      familyIssuedAt,
      familyExpiresAt,
      issuedAt: nowSeconds(),
      previous: { hash: hashRefreshToken(token), rotatedAt: nowSeconds() },
    });
    expect(events('refresh_grant_succeeded').at(-1)?.fields).toMatchObject({ migrated: true });
    expect((await refreshed(next)).refresh_token).not.toBe(next);
  });

  it('gets the same successor when retried within the grace, concurrently too', async () => {
    const token = legacyToken();
    const answers = await Promise.all(Array.from({ length: 10 }, () => refresh(token)));
    expect(answers.map((answer) => answer.status)).toEqual(Array(10).fill(200));
    expect(new Set(answers.map((answer) => json(answer).refresh_token)).size).toBe(1);
    deps.advance(10);
    expect((await refreshed(token)).refresh_token).toBe(json(answers[0]!).refresh_token);
  });

  it('revokes the moved family when retried after the grace', async () => {
    const token = legacyToken();
    const next = (await refreshed(token)).refresh_token as string;
    deps.advance(30);
    expectRefused(await refresh(token));
    expect(events('refresh_token_reuse_detected')).toHaveLength(1);
    expect(tokenStanding(deps, next)).toBe('revoked');
  });

  it('an older token of its chain, rotated before the move, revokes the moved family', async () => {
    const current = legacyToken();
    const { familyId } = deps.refreshTokens.tokens.get(hashRefreshToken(current))!;
    const older = legacyToken({ familyId, generation: 3, state: 'rotated', successorHash: hashRefreshToken(current) });
    const next = (await refreshed(current)).refresh_token as string;
    expectRefused(await refresh(older));
    expect(events('refresh_token_reuse_detected')).toHaveLength(1);
    expect(tokenStanding(deps, next)).toBe('revoked');
  });

  it('a rotated token of a family that never moved revokes the family, whose current token is then refused', async () => {
    const current = legacyToken();
    const { familyId } = deps.refreshTokens.tokens.get(hashRefreshToken(current))!;
    const older = legacyToken({ familyId, generation: 3, state: 'rotated', successorHash: hashRefreshToken(current) });
    expectRefused(await refresh(older));
    expect(events('refresh_token_reuse_detected')).toHaveLength(1);
    expectRefused(await refresh(current));
    expect(deps.logger.entries.at(-1)?.fields).toMatchObject({ reason: 'revoked' });
    expect(deps.refreshTokens.families.get(familyId)).toBeUndefined();
  });

  it('is refused, and does not move, when expired, revoked, or another client’s', async () => {
    const expired = legacyToken({ idleExpiresAt: nowSeconds() - 1 });
    expectRefused(await refresh(expired));
    expect(deps.logger.entries.at(-1)?.fields).toMatchObject({ reason: 'expired' });

    const revoked = legacyToken({ state: 'revoked' });
    expectRefused(await refresh(revoked));
    expect(deps.logger.entries.at(-1)?.fields).toMatchObject({ reason: 'revoked' });

    const ofMobile = legacyToken({ clientId: 'mobile' });
    expectRefused(await refresh(ofMobile));
    expect(deps.logger.entries.at(-1)?.fields).toMatchObject({ reason: 'other_client' });
    expect(legacyState(ofMobile)).toBe('active');

    expect(deps.refreshTokens.families.size).toBe(0);
    expect(events('refresh_token_reuse_detected')).toHaveLength(0);
  });

  it('an active token of a family revoked before it moved is refused', async () => {
    const token = legacyToken();
    const { familyId, familyExpiresAt } = deps.refreshTokens.tokens.get(hashRefreshToken(token))!;
    await deps.refreshTokens.revokeFamily(familyId, familyExpiresAt, nowSeconds());
    expectRefused(await refresh(token));
    expect(deps.logger.entries.at(-1)?.fields).toMatchObject({ reason: 'revoked' });
    expect(deps.refreshTokens.families.get(familyId)).toBeUndefined();
  });
});
