import { randomUUID } from 'node:crypto';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as openid from 'openid-client';
import { ResourceOwnerPassword } from 'simple-oauth2';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/stack';
import { LogAudit } from '../support/log-audit';
import { FAST_SCRYPT } from '../support/memory';
import { seedStack } from '../support/seed';

let stack: LocalStack;
const audit = new LogAudit();
const SECRET = `e2e-secret-${randomUUID()}`;
const PASSWORD = `e2e password ${randomUUID()}`;

beforeAll(async () => {
  stack = await startLocalStack({
    dynamodbEndpoint: inject('dynamodbEndpoint'),
    tablePrefix: `e2e-${randomUUID().slice(0, 8)}`,
    config: { scrypt: FAST_SCRYPT, scopesSupported: ['read', 'write'] },
    logSink: audit.sink,
  });
  await seedStack(stack, {
    clients: [{ clientId: 'e2e-app', secret: SECRET, scopes: ['read', 'write'], audience: 'https://api.example.test' }],
    users: [
      {
        username: 'erin',
        password: PASSWORD,
        userId: '0b7c51d2-6a3e-4f7e-9d1c-2f3a4b5c6d7e',
        scopes: ['read', 'write'],
      },
    ],
  });
});

afterAll(async () => {
  await stack?.stop();
});

afterAll(() => {
  // Every line this file's stack logged, over every test above.
  audit.secret(SECRET, PASSWORD, Buffer.from(`e2e-app:${SECRET}`).toString('base64'));
  audit.expectClean();
});

async function verify(accessToken: string) {
  const jwks = createRemoteJWKSet(new URL(`${stack.url}/.well-known/jwks.json`));
  return jwtVerify(accessToken, jwks, {
    issuer: stack.issuer,
    audience: 'https://api.example.test',
    typ: 'at+jwt',
    algorithms: ['RS256'],
  });
}

describe('the local stack over HTTP with real OAuth clients', () => {
  it('simple-oauth2: password grant, JWKS verification with jose, refresh with rotation', async () => {
    const client = new ResourceOwnerPassword({
      client: { id: 'e2e-app', secret: SECRET },
      auth: { tokenHost: stack.url, tokenPath: '/token', revokePath: '/revoke' },
    });
    const token = await client.getToken({ username: 'erin', password: PASSWORD, scope: 'read write' });
    audit.tokens(token.token);
    expect(token.token).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'read write' });

    const { payload, protectedHeader } = await verify(String(token.token.access_token));
    expect(protectedHeader).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
    expect(payload).toMatchObject({
      sub: '0b7c51d2-6a3e-4f7e-9d1c-2f3a4b5c6d7e',
      client_id: 'e2e-app',
      scope: 'read write',
    });
    expect(payload.exp! - payload.iat!).toBe(900);

    const refreshed = await token.refresh({ scope: 'read' });
    audit.tokens(refreshed.token);
    expect(refreshed.token.refresh_token).not.toBe(token.token.refresh_token);
    expect(refreshed.token.scope).toBe('read');
    expect((await verify(String(refreshed.token.access_token))).payload.scope).toBe('read');

    // RFC 7009 revocation through the client library: the family is dead afterwards.
    await refreshed.revoke('refresh_token');
    await expect(refreshed.refresh()).rejects.toMatchObject({ output: { statusCode: 400 } });
    // The first refresh token was rotated: presenting it again is refused too.
    await expect(token.refresh()).rejects.toMatchObject({ output: { statusCode: 400 } });
  });

  it('openid-client: RFC 8414 discovery, client_secret_post, password and refresh grants', async () => {
    const config = await openid.discovery(new URL(stack.issuer), 'e2e-app', SECRET, undefined, {
      algorithm: 'oauth2',
      execute: [openid.allowInsecureRequests],
    });
    const metadata = config.serverMetadata();
    expect(metadata).toMatchObject({
      issuer: stack.issuer,
      token_endpoint: stack.tokenEndpoint,
      jwks_uri: `${stack.url}/.well-known/jwks.json`,
      revocation_endpoint: `${stack.url}/revoke`,
      grant_types_supported: [
        'password',
        'refresh_token',
        'http://auth0.com/oauth/grant-type/mfa-otp',
        'http://auth0.com/oauth/grant-type/mfa-recovery-code',
      ],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
      scopes_supported: ['read', 'write'],
    });

    const tokens = await openid.genericGrantRequest(config, 'password', { username: 'erin', password: PASSWORD });
    audit.tokens(tokens);
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.scope).toBe('read write');
    expect((await verify(tokens.access_token)).payload.sub).toBe('0b7c51d2-6a3e-4f7e-9d1c-2f3a4b5c6d7e');

    const refreshed = await openid.refreshTokenGrant(config, tokens.refresh_token!);
    audit.tokens(refreshed);
    expect(refreshed.refresh_token).toBeDefined();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    await verify(refreshed.access_token);

    await openid.tokenRevocation(config, refreshed.refresh_token!);
    await expect(openid.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });

    const wrong = await openid
      .genericGrantRequest(config, 'password', { username: 'erin', password: 'nope' })
      .catch((e: unknown) => e);
    expect(wrong).toMatchObject({ error: 'invalid_grant', status: 400 });
  });

  it('serves a JWKS with the signing key and cache headers', async () => {
    const response = await fetch(`${stack.url}/.well-known/jwks.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('public, max-age=300');
    const etag = response.headers.get('etag');
    expect(etag).toMatch(/^".+"$/);
    const { keys } = (await response.json()) as { keys: Record<string, string>[] };
    expect(keys).toHaveLength(1);
    expect(Object.keys(keys[0]!).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
    const revalidated = await fetch(`${stack.url}/.well-known/jwks.json`, { headers: { 'If-None-Match': etag! } });
    expect(revalidated.status).toBe(304);

    const token = await (await postToken({ grant_type: 'password', username: 'erin', password: PASSWORD })).json();
    expect(decodeProtectedHeader((token as { access_token: string }).access_token).kid).toBe(keys[0]!.kid);
  });

  it('answers protocol errors with RFC 6749 bodies and no-store headers', async () => {
    const get = await fetch(stack.tokenEndpoint);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');

    const unauthenticated = await fetch(stack.tokenEndpoint, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: `Basic ${Buffer.from('e2e-app:wrong').toString('base64')}`,
      },
      body: 'grant_type=password&username=erin&password=x',
    });
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect(await unauthenticated.json()).toEqual({
      error: 'invalid_client',
      error_description: 'client authentication failed',
    });

    const json = await fetch(stack.tokenEndpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });
    expect(json.status).toBe(400);
    expect(json.headers.get('cache-control')).toBe('no-store');
    expect(json.headers.get('pragma')).toBe('no-cache');
    expect(((await json.json()) as { error: string }).error).toBe('invalid_request');

    const invalidUtf8 = await fetch(stack.tokenEndpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: Buffer.from([0x61, 0x3d, 0xff, 0xfe]),
    });
    expect(await invalidUtf8.json()).toEqual({
      error: 'invalid_request',
      error_description: 'parameters must be UTF-8',
    });

    const unknown = await fetch(`${stack.url}/nowhere`);
    expect(unknown.status).toBe(403);
  });
});

async function postToken(params: Record<string, string>) {
  const response = await fetch(stack.tokenEndpoint, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Authorization: `Basic ${Buffer.from(`e2e-app:${SECRET}`).toString('base64')}`,
    },
    body: new URLSearchParams(params),
  });
  audit.tokens((await response.clone().json()) as { access_token?: string; refresh_token?: string });
  return response;
}
