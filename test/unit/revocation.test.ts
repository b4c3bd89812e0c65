import { beforeEach, describe, expect, it } from 'vitest';
import type { HttpResponse } from '../../lambda/oauth/http';
import { handleRevocationRequest } from '../../lambda/oauth/revocation-endpoint';
import { handleTokenRequest } from '../../lambda/oauth/token-endpoint';
import {
  basic,
  CONFIDENTIAL_SECRET,
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

const appAuth = { authorization: basic('app', CONFIDENTIAL_SECRET) };
const revoke = (params: Record<string, string>, options: Parameters<typeof tokenRequest>[1] = appAuth) =>
  handleRevocationRequest({ ...tokenRequest(params, options), path: '/revoke' }, deps);

async function login(params: Record<string, string> = {}, options = appAuth): Promise<string> {
  const response = await handleTokenRequest(
    tokenRequest({ grant_type: 'password', username: 'alice', password: 'correct horse', ...params }, options),
    deps,
  );
  return JSON.parse(response.body).refresh_token;
}
const stateOf = (token: string) => tokenStanding(deps, token);

function expectOk(response: HttpResponse) {
  expect(response).toEqual({
    status: 200,
    headers: { 'Content-Type': 'application/json;charset=UTF-8', 'Cache-Control': 'no-store', Pragma: 'no-cache' },
    body: '{}',
  });
}

describe('POST /revoke (RFC 7009)', () => {
  it('revokes a refresh token and the rest of its family', async () => {
    const first = await login();
    const second = JSON.parse(
      (await handleTokenRequest(tokenRequest({ grant_type: 'refresh_token', refresh_token: first }, appAuth), deps))
        .body,
    ).refresh_token as string;
    expectOk(await revoke({ token: second, token_type_hint: 'refresh_token' }));
    expect(stateOf(second)).toBe('revoked');
    const refused = await handleTokenRequest(
      tokenRequest({ grant_type: 'refresh_token', refresh_token: second }, appAuth),
      deps,
    );
    expect(JSON.parse(refused.body).error).toBe('invalid_grant');
    expect(deps.logger.entries.find((e) => e.event === 'token_revoked')?.fields).toMatchObject({
      clientId: 'app',
      userId: 'u-alice',
    });
  });

  it('revoking the token a rotation replaced revokes the current one', async () => {
    const first = await login();
    const second = JSON.parse(
      (await handleTokenRequest(tokenRequest({ grant_type: 'refresh_token', refresh_token: first }, appAuth), deps))
        .body,
    ).refresh_token as string;
    expectOk(await revoke({ token: first }));
    const refused = await handleTokenRequest(
      tokenRequest({ grant_type: 'refresh_token', refresh_token: second }, appAuth),
      deps,
    );
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body).error).toBe('invalid_grant');
    expect(stateOf(second)).toBe('revoked');
  });

  it('revokes nothing for a token its family never had, even under a known family id', async () => {
    const token = await login();
    const forged = `${token.split('.')[0]}.${'A'.repeat(43)}`;
    expectOk(await revoke({ token: forged }));
    expect(stateOf(token)).toBe('current');
    expect(deps.logger.entries.some((e) => e.event === 'token_revoked')).toBe(false);
  });

  it('answers 200 for unknown tokens and for access tokens, whatever the hint says', async () => {
    expectOk(await revoke({ token: 'no-such-token' }));
    expectOk(await revoke({ token: 'eyJhbGciOiJSUzI1NiJ9.e30.sig', token_type_hint: 'access_token' }));
    expectOk(await revoke({ token: 'x', token_type_hint: 'something_else' }));
  });

  it("answers 200 for another client's token and leaves it alone", async () => {
    const mobileToken = await login({ client_id: 'mobile' }, {} as typeof appAuth);
    expectOk(await revoke({ token: mobileToken }));
    expect(stateOf(mobileToken)).toBe('current');
    expectOk(await revoke({ token: mobileToken, client_id: 'mobile' }, {} as typeof appAuth));
    expect(stateOf(mobileToken)).toBe('revoked');
  });

  it('authenticates the client like the token endpoint', async () => {
    const token = await login();
    const response = await revoke({ token }, { authorization: basic('app', 'wrong') });
    expect(response.status).toBe(401);
    expect(response.headers['WWW-Authenticate']).toMatch(/^Basic/);
    expect(JSON.parse(response.body).error).toBe('invalid_client');
    expect(stateOf(token)).toBe('current');
  });

  it('requires the token parameter and a POST', async () => {
    const missing = await revoke({});
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.body)).toEqual({ error: 'invalid_request', error_description: 'token is required' });
    const get = await revoke({ token: 'x' }, { ...appAuth, method: 'GET' });
    expect(get.status).toBe(405);
    expect(get.headers.Allow).toBe('POST');
  });
});
