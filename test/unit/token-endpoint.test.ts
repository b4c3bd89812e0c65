import { createPublicKey, verify as rsaVerify } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { DependencyUnavailableError } from '../../lambda/oauth/errors';
import type { HttpResponse } from '../../lambda/oauth/http';
import { handleTokenRequest } from '../../lambda/oauth/token-endpoint';
import { hashPassword, needsRehash } from '../../lambda/passwords';
import { hashRefreshToken } from '../../lambda/tokens/refresh-token';
import {
  basic,
  CONFIDENTIAL_SECRET,
  FAST_SCRYPT,
  familyOf,
  type MemoryDeps,
  memoryDeps,
  seed,
  tokenRequest,
  tokenStanding,
} from '../support/memory';

let deps: MemoryDeps;
beforeEach(async () => {
  deps = memoryDeps();
  await seed(deps);
});

const call = (...args: Parameters<typeof tokenRequest>) => handleTokenRequest(tokenRequest(...args), deps);
const json = (response: HttpResponse) => JSON.parse(response.body) as Record<string, unknown>;
const appAuth = { authorization: basic('app', CONFIDENTIAL_SECRET) };
const alicePassword = { grant_type: 'password', username: 'alice', password: 'correct horse' };

function expectError(response: HttpResponse, status: number, error: string, description?: string) {
  expect(response.status).toBe(status);
  expect(response.headers['Content-Type']).toBe('application/json;charset=UTF-8');
  expect(response.headers['Cache-Control']).toBe('no-store');
  expect(response.headers.Pragma).toBe('no-cache');
  const body = json(response);
  expect(body.error).toBe(error);
  if (description !== undefined) expect(body.error_description).toBe(description);
  expect(Object.keys(body).sort()).toEqual(['error', 'error_description']);
}

function decodeJwt(jwt: string) {
  const [header, payload, signature] = jwt.split('.');
  return {
    header: JSON.parse(Buffer.from(header!, 'base64url').toString()),
    claims: JSON.parse(Buffer.from(payload!, 'base64url').toString()),
    valid: rsaVerify(
      'sha256',
      Buffer.from(`${header}.${payload}`),
      createPublicKey({ key: deps.signer.jwk as never, format: 'jwk' }),
      Buffer.from(signature!, 'base64url'),
    ),
  };
}

describe('POST /token: request checks', () => {
  it('answers other methods with 405 and Allow: POST', async () => {
    const response = await call({}, { method: 'GET' });
    expectError(response, 405, 'method_not_allowed');
    expect(response.headers.Allow).toBe('POST');
  });

  it.each([
    ['a JSON body', { contentType: 'application/json' }, 'content type must be application/x-www-form-urlencoded'],
    [
      'a repeated parameter',
      { body: Buffer.from('grant_type=password&grant_type=password') },
      'parameter grant_type is repeated',
    ],
    ['malformed percent-encoding', { body: Buffer.from('grant_type=pass%2word') }, 'malformed percent-encoding'],
    ['invalid UTF-8', { body: Buffer.from('username=%FF') }, 'parameters must be UTF-8'],
    ['an oversized body', { body: Buffer.from(`a=${'x'.repeat(17 * 1024)}`) }, 'request body too large'],
  ])('rejects %s with invalid_request', async (_name, options, description) => {
    expectError(await call({}, { ...appAuth, ...options }), 400, 'invalid_request', description);
  });

  it('requires grant_type', async () => {
    expectError(await call({ username: 'alice' }, appAuth), 400, 'invalid_request', 'grant_type is required');
  });

  it('refuses an unknown grant type after authenticating the client', async () => {
    expectError(await call({ grant_type: 'client_credentials' }, appAuth), 400, 'unsupported_grant_type');
    expectError(await call({ grant_type: 'constructor' }, appAuth), 400, 'unsupported_grant_type');
    expectError(await call({ grant_type: 'client_credentials' }), 401, 'invalid_client');
  });
});

describe('POST /token: client authentication (RFC 6749 §2.3)', () => {
  it('accepts client_secret_basic with form-urlencoded id and secret', async () => {
    const response = await call(alicePassword, appAuth);
    expect(response.status).toBe(200);
  });

  it('decodes special characters inside Basic credentials (§2.3.1)', async () => {
    const { hashClientSecret } = await import('../../lambda/oauth/client-secret');
    deps.clients.clients.set('weird id:1', {
      ...deps.clients.clients.get('app')!,
      clientId: 'weird id:1',
      secretHash: hashClientSecret('s3cr+t/=%: é'),
    });
    expect((await call(alicePassword, { authorization: basic('weird id:1', 's3cr+t/=%: é') })).status).toBe(200);
  });

  it('accepts client_secret_post', async () => {
    const response = await call({ ...alicePassword, client_id: 'app', client_secret: CONFIDENTIAL_SECRET });
    expect(response.status).toBe(200);
  });

  it('accepts a public client that sends only its client_id', async () => {
    const response = await call({ ...alicePassword, client_id: 'mobile' });
    expect(response.status).toBe(200);
  });

  it('accepts a matching client_id beside Basic', async () => {
    expect((await call({ ...alicePassword, client_id: 'app' }, appAuth)).status).toBe(200);
  });

  it.each([
    ['a wrong Basic secret', {}, { authorization: basic('app', 'wrong') }],
    ['an unknown Basic client', {}, { authorization: basic('nobody', 'x') }],
    ['a Bearer header', {}, { authorization: 'Bearer abc' }],
    ['malformed base64', {}, { authorization: 'Basic ***' }],
    ['Basic without a colon', {}, { authorization: `Basic ${Buffer.from('app').toString('base64')}` }],
    ['Basic with a bad escape', {}, { authorization: `Basic ${Buffer.from('app:%zz').toString('base64')}` }],
    ['a public client using Basic', {}, { authorization: basic('mobile', 'anything') }],
  ])('answers %s with 401 and a Basic challenge', async (_name, extra, options) => {
    const response = await call({ ...alicePassword, ...extra }, options);
    expectError(response, 401, 'invalid_client', undefined);
    expect(response.headers['WWW-Authenticate']).toMatch(/^Basic realm="token"/);
  });

  it.each([
    ['a wrong posted secret', { client_id: 'app', client_secret: 'wrong' }, 'client authentication failed'],
    ['an unknown client', { client_id: 'nobody' }, 'client authentication failed'],
    ['no client at all', {}, 'client authentication is required'],
    ['a confidential client without its secret', { client_id: 'app' }, 'client authentication failed'],
    ['a public client with a secret', { client_id: 'mobile', client_secret: 'x' }, 'client authentication failed'],
    ['a disabled client', { client_id: 'off' }, 'client authentication failed'],
  ])('answers %s with 401 and no challenge', async (_name, extra, description) => {
    const response = await call({ ...alicePassword, ...extra });
    expectError(response, 401, 'invalid_client', description);
    expect(response.headers['WWW-Authenticate']).toBeUndefined();
  });

  it('refuses two authentication methods in one request', async () => {
    const response = await call({ ...alicePassword, client_id: 'app', client_secret: CONFIDENTIAL_SECRET }, appAuth);
    expectError(response, 400, 'invalid_request', 'use only one client authentication method');
  });

  it('refuses a client_id that contradicts the Basic header', async () => {
    expectError(await call({ ...alicePassword, client_id: 'mobile' }, appAuth), 400, 'invalid_request');
  });

  it('refuses a grant the client is not registered for', async () => {
    const response = await call({ ...alicePassword, client_id: 'refresh-only' });
    expectError(response, 400, 'unauthorized_client', 'this client may not use the password grant');
  });

  it('logs the failure without the secret', async () => {
    await call(alicePassword, { authorization: basic('app', 'wrong-secret-123') });
    const entry = deps.logger.entries.find((e) => e.event === 'client_authentication_failed');
    expect(entry?.fields).toMatchObject({ clientId: 'app', method: 'client_secret_basic', reason: 'bad_credentials' });
    expect(JSON.stringify(deps.logger.entries)).not.toContain('wrong-secret-123');
  });
});

describe('POST /token: password grant (§4.3)', () => {
  it('issues an RS256 at+jwt access token and a refresh token', async () => {
    const response = await call(alicePassword, appAuth);
    expect(response.status).toBe(200);
    expect(response.headers['Cache-Control']).toBe('no-store');
    expect(response.headers.Pragma).toBe('no-cache');
    const body = json(response);
    expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type']);
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'read write' });
    // The family id (128 random bits) that names its one item, then the secret (256 random bits).
    expect(body.refresh_token).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);

    const { header, claims, valid } = decodeJwt(body.access_token as string);
    expect(valid).toBe(true);
    expect(header).toEqual({ alg: 'RS256', typ: 'at+jwt', kid: deps.signer.jwk.kid });
    const now = Math.floor(deps.clock() / 1000);
    expect(claims).toEqual({
      iss: 'https://auth.example.test',
      sub: 'u-alice',
      aud: 'https://api.example.test',
      exp: now + 900,
      iat: now,
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
      client_id: 'app',
      scope: 'read write',
    });
  });

  it("uses the client's own audience", async () => {
    const body = json(await call({ ...alicePassword, client_id: 'mobile' }));
    expect(decodeJwt(body.access_token as string).claims.aud).toBe('https://mobile-api.example.test');
    expect(body.scope).toBe('read');
  });

  it('stores only the hash of the refresh token, with its family data', async () => {
    const body = json(await call(alicePassword, appAuth));
    const token = body.refresh_token as string;
    const record = familyOf(deps, token);
    const now = Math.floor(deps.clock() / 1000);
    expect(record).toEqual({
      familyId: token.split('.')[0],
      clientId: 'app',
      userId: 'u-alice',
      username: 'alice',
      scope: ['read', 'write'],
      generation: 0,
      currentHash: hashRefreshToken(token),
      issuedAt: now,
      familyIssuedAt: now,
      idleExpiresAt: now + 30 * 24 * 3600,
      familyExpiresAt: now + 90 * 24 * 3600,
    });
    // The family id names the item; the secret after it is stored only as part of the hash.
    expect(token).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify([...deps.refreshTokens.families.values()])).not.toContain(token.split('.')[1]);
  });

  it('gives no refresh token to a client not registered for refresh_token', async () => {
    const body = json(await call({ ...alicePassword, client_id: 'no-refresh' }));
    expect(body.refresh_token).toBeUndefined();
    expect(body.access_token).toBeTypeOf('string');
    expect(deps.refreshTokens.families.size).toBe(0);
  });

  it.each([
    ['a wrong password', { password: 'wrong' }, 'wrong_password'],
    ['an unknown user', { username: 'mallory' }, 'unknown_user'],
    ['a disabled user with the right password', { username: 'bob', password: 'bob password' }, 'disabled_user'],
    ['an absurdly long username', { username: 'x'.repeat(5000) }, 'unknown_user'],
  ])('answers %s with the one invalid_grant body', async (_name, override, reason) => {
    const response = await call({ ...alicePassword, ...override }, appAuth);
    expect(response).toEqual({
      status: 400,
      headers: { 'Content-Type': 'application/json;charset=UTF-8', 'Cache-Control': 'no-store', Pragma: 'no-cache' },
      body: '{"error":"invalid_grant","error_description":"invalid username or password"}',
    });
    expect(deps.logger.entries.find((e) => e.event === 'password_grant_failed')?.fields.reason).toBe(reason);
  });

  it('requires username and password', async () => {
    expectError(await call({ grant_type: 'password', username: 'alice' }, appAuth), 400, 'invalid_request');
    expectError(await call({ grant_type: 'password', password: 'x' }, appAuth), 400, 'invalid_request');
  });

  it.each([
    [undefined, 'read write'],
    ['read', 'read'],
    ['write read', 'write read'],
    ['read admin', 'read'],
  ])('scope %j grants %j', async (scope, granted) => {
    const body = json(await call({ ...alicePassword, ...(scope ? { scope } : {}) }, appAuth));
    expect(body.scope).toBe(granted);
    expect(decodeJwt(body.access_token as string).claims.scope).toBe(granted);
  });

  it.each([
    ['unknown', 'read delete'],
    ['a scope the client may not have', 'profile'],
    ['malformed', 'read "x"'],
  ])('refuses a %s scope with invalid_scope', async (_name, scope) => {
    expectError(await call({ ...alicePassword, scope }, appAuth), 400, 'invalid_scope');
  });

  it('rehashes a password stored with outdated parameters', async () => {
    const old = await hashPassword('correct horse', { N: 2 ** 4, r: 8, p: 1 });
    deps.users.users.set('alice', { ...deps.users.users.get('alice')!, passwordHash: old });
    expect((await call(alicePassword, appAuth)).status).toBe(200);
    const stored = deps.users.users.get('alice')!.passwordHash;
    expect(stored).not.toBe(old);
    expect(needsRehash(stored, FAST_SCRYPT)).toBe(false);
    expect((await call(alicePassword, appAuth)).status).toBe(200);
  });

  it('answers 503 with Retry-After when a store is unavailable', async () => {
    deps.users.getUser = async () => {
      throw new DependencyUnavailableError('dynamodb', { cause: new Error('ECONNREFUSED') });
    };
    const response = await call(alicePassword, appAuth);
    expectError(response, 503, 'temporarily_unavailable');
    expect(response.headers['Retry-After']).toBe('1');
  });

  it('answers 500 without detail on an unexpected failure', async () => {
    deps.users.getUser = async () => {
      throw new Error('secret internal detail');
    };
    const response = await call(alicePassword, appAuth);
    expectError(response, 500, 'server_error', 'internal server error');
    expect(response.body).not.toContain('secret internal detail');
    expect(deps.logger.entries.at(-1)?.event).toBe('unexpected_error');
  });

  it('never lets a failed lookup of a rejected client escape as an unhandled rejection', async () => {
    deps.users.getUser = async () => {
      throw new Error('boom');
    };
    const response = await call(alicePassword, { authorization: basic('app', 'wrong') });
    expectError(response, 401, 'invalid_client');
    await new Promise((resolve) => setTimeout(resolve, 10));
  });
});

describe('POST /token: refresh_token grant (§6, RFC 9700 §4.14.2)', () => {
  async function login(client: 'app' | 'mobile' = 'app', scope?: string) {
    const auth = client === 'app' ? appAuth : {};
    const params: Record<string, string> = { ...alicePassword };
    if (client === 'mobile') params.client_id = 'mobile';
    if (scope !== undefined) params.scope = scope;
    const body = json(await call(params, auth));
    return body.refresh_token as string;
  }
  const refresh = (token: string, extra: Record<string, string> = {}, options = appAuth) =>
    call({ grant_type: 'refresh_token', refresh_token: token, ...extra }, options);

  it('rotates: a new refresh token each time, and the access token is fresh', async () => {
    const first = await login();
    deps.advance(60);
    const response = await refresh(first);
    expect(response.status).toBe(200);
    const body = json(response);
    expect(body.refresh_token).not.toBe(first);
    expect(body.scope).toBe('read write');
    const { claims, valid } = decodeJwt(body.access_token as string);
    expect(valid).toBe(true);
    expect(claims.sub).toBe('u-alice');
    expect(claims.iat).toBe(Math.floor(deps.clock() / 1000));

    const next = body.refresh_token as string;
    expect(next.split('.')[0]).toBe(first.split('.')[0]);
    expect(tokenStanding(deps, first)).toBe('previous');
    expect(tokenStanding(deps, next)).toBe('current');
    expect(familyOf(deps, next)).toMatchObject({
      generation: 1,
      issuedAt: Math.floor(deps.clock() / 1000),
      previous: { hash: hashRefreshToken(first), rotatedAt: Math.floor(deps.clock() / 1000) },
    });
    expect((await refresh(next)).status).toBe(200);
  });

  it('revokes the whole family when a token two rotations old comes back', async () => {
    const first = await login();
    const second = json(await refresh(first)).refresh_token as string;
    const third = json(await refresh(second)).refresh_token as string;

    expectError(await refresh(first), 400, 'invalid_grant', 'the refresh token is invalid, expired or revoked');
    expect(deps.logger.entries.find((e) => e.event === 'refresh_token_reuse_detected')?.fields).toMatchObject({
      userId: 'u-alice',
      newlyRevoked: true,
    });
    // The legitimate holder's current token is dead too: refused at its commit, logged as revoked (no new alarm).
    const alarms = deps.logger.entries.filter((e) => e.event === 'refresh_token_reuse_detected').length;
    expectError(await refresh(third), 400, 'invalid_grant');
    expect(deps.logger.entries.filter((e) => e.event === 'refresh_token_reuse_detected')).toHaveLength(alarms);
    expect(deps.logger.entries.at(-1)).toMatchObject({ event: 'refresh_grant_failed', fields: { reason: 'revoked' } });
    // The family is revoked: presenting the token again is refused at once, without a second alarm.
    expectError(await refresh(first), 400, 'invalid_grant');
    expect(deps.logger.entries.filter((e) => e.event === 'refresh_token_reuse_detected')).toHaveLength(alarms);
  });

  it("refuses another client's token without touching it", async () => {
    const token = await login('mobile');
    expectError(await refresh(token), 400, 'invalid_grant');
    expect(tokenStanding(deps, token)).toBe('current');
    expect((await call({ grant_type: 'refresh_token', refresh_token: token, client_id: 'mobile' })).status).toBe(200);
  });

  it('refuses unknown and missing tokens', async () => {
    expectError(await refresh('not-a-token'), 400, 'invalid_grant');
    expectError(
      await call({ grant_type: 'refresh_token' }, appAuth),
      400,
      'invalid_request',
      'refresh_token is required',
    );
  });

  it('rejects a token past its idle lifetime even though the record still exists', async () => {
    const token = await login();
    deps.advance(30 * 24 * 3600);
    expectError(await refresh(token), 400, 'invalid_grant');
    expect(tokenStanding(deps, token)).toBe('current');
  });

  it('keeps the family alive while it is used, but not past its absolute lifetime', async () => {
    let token = await login();
    for (let day = 0; day < 89; day += 20) {
      deps.advance(20 * 24 * 3600);
      const response = await refresh(token);
      if (day + 20 < 90) {
        expect(response.status).toBe(200);
        token = json(response).refresh_token as string;
      }
    }
    const record = familyOf(deps, token)!;
    expect(record.idleExpiresAt).toBe(record.familyExpiresAt);
    deps.advance(20 * 24 * 3600);
    expectError(await refresh(token), 400, 'invalid_grant');
  });

  it("lets scope narrow the access token, never widen it, and never change the refresh token's scope", async () => {
    const token = await login();
    const narrowed = json(await refresh(token, { scope: 'read' }));
    expect(narrowed.scope).toBe('read');
    expect(decodeJwt(narrowed.access_token as string).claims.scope).toBe('read');
    // RFC 6749 §6: the new refresh token carries the presented one's scope, so the next refresh may ask for all of it.
    expect(familyOf(deps, narrowed.refresh_token as string)?.scope).toEqual(['read', 'write']);
    const full = json(await refresh(narrowed.refresh_token as string));
    expect(full.scope).toBe('read write');
    expect(decodeJwt(full.access_token as string).claims.scope).toBe('read write');
    expectError(await refresh(full.refresh_token as string, { scope: 'read admin' }), 400, 'invalid_scope');
    expectError(await refresh(full.refresh_token as string, { scope: 'admin' }), 400, 'invalid_scope');
  });

  it('refuses a token whose user was disabled or deleted', async () => {
    const token = await login();
    deps.users.users.set('alice', { ...deps.users.users.get('alice')!, disabled: true });
    expectError(await refresh(token), 400, 'invalid_grant');
    deps.users.users.delete('alice');
    expectError(await refresh(token), 400, 'invalid_grant');
    expect(tokenStanding(deps, token)).toBe('current');
  });

  it('does not consume the token when signing fails', async () => {
    const token = await login();
    deps.signer.failure = new DependencyUnavailableError('kms');
    expectError(await refresh(token), 503, 'temporarily_unavailable');
    expect(tokenStanding(deps, token)).toBe('current');
    deps.signer.failure = undefined;
    expect((await refresh(token)).status).toBe(200);
  });

  it('gives two concurrent uses of one token the same successor within the grace', async () => {
    const token = await login();
    const [a, b] = await Promise.all([refresh(token), refresh(token)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(json(a).refresh_token).toBe(json(b).refresh_token);
    expect(json(a).access_token).not.toBe(json(b).access_token);
    expect(deps.logger.entries.some((e) => e.event === 'refresh_token_reuse_detected')).toBe(false);
  });

  it('refuses a client that lost the refresh_token grant', async () => {
    const token = await login('mobile');
    deps.clients.clients.set('mobile', { ...deps.clients.clients.get('mobile')!, grantTypes: ['password'] });
    expectError(
      await call({ grant_type: 'refresh_token', refresh_token: token, client_id: 'mobile' }),
      400,
      'unauthorized_client',
    );
  });
});
