import { beforeEach, describe, expect, it } from 'vitest';
import type { HttpResponse } from '../../lambda/oauth/http';
import { attemptSubject } from '../../lambda/oauth/lockout';
import { handleTokenRequest } from '../../lambda/oauth/token-endpoint';
import {
  basic,
  CONFIDENTIAL_SECRET,
  familyOf,
  type MemoryDeps,
  memoryDeps,
  seed,
  tokenRequest,
  tokenStanding,
} from '../support/memory';

/**
 * The scope rules must not turn the password grant into a password oracle: whatever the scope, the answer
 * to a request (body, headers, log-visible side effects such as the lockout counters) must not depend on
 * whether the password was right, except that a right one may get a token.
 */
let deps: MemoryDeps;
let verifications: number;
beforeEach(async () => {
  deps = memoryDeps();
  await seed(deps);
  verifications = 0;
  const { verify, verifyDummy } = deps.passwords;
  (deps.passwords as { verify: typeof verify }).verify = (...args) => {
    verifications++;
    return verify.apply(deps.passwords, args);
  };
  (deps.passwords as { verifyDummy: typeof verifyDummy }).verifyDummy = (...args) => {
    verifications++;
    return verifyDummy.apply(deps.passwords, args);
  };
});

const IP = '203.0.113.7';
const appAuth = { authorization: basic('app', CONFIDENTIAL_SECRET) };
const call = (...args: Parameters<typeof tokenRequest>) => handleTokenRequest(tokenRequest(...args), deps);
const json = (response: HttpResponse) => JSON.parse(response.body) as Record<string, unknown>;
const password = (pw: string, extra: Record<string, string> = {}) => ({
  grant_type: 'password',
  username: 'alice',
  password: pw,
  ...extra,
});
const failures = (event: string) => deps.logger.entries.filter((entry) => entry.event === event);
const counters = (username = 'alice') =>
  deps.loginAttempts.read(attemptSubject(username, IP), Math.floor(deps.clock() / 1000));

const WRONG_BODY = '{"error":"invalid_grant","error_description":"invalid username or password"}';

describe('password grant: a scope the client may not have', () => {
  it.each([
    ['app', 'delete', appAuth, {}],
    ['app', 'read delete', appAuth, {}],
    // alice has write, the mobile client does not: the user's scopes never widen the client's.
    ['mobile', 'write', {}, { client_id: 'mobile' }],
    ['mobile', 'read write', {}, { client_id: 'mobile' }],
  ])(
    '%s asking %j gets one invalid_scope for the right, a wrong and no user',
    async (client, scope, options, extra) => {
      const right = await call(password('correct horse', { ...extra, scope }), options);
      const wrong = await call(password('wrong', { ...extra, scope }), options);
      const nobody = await call({ ...password('x', { ...extra, scope }), username: 'mallory' }, options);
      expect(right.status).toBe(400);
      expect(json(right).error).toBe('invalid_scope');
      expect(wrong).toEqual(right);
      expect(nobody).toEqual(right);

      // Decided before the password is read: no scrypt, no counted failure, nothing to learn from timing.
      expect(verifications).toBe(0);
      expect((await counters()).pairFailures).toBe(0);
      expect((await counters()).ipFailuresToday).toBe(0);

      const logged = failures('password_grant_failed');
      expect(logged).toHaveLength(3);
      for (const entry of logged) expect(entry.fields).toMatchObject({ reason: 'scope_not_allowed', clientId: client });
      expect(failures('password_grant_succeeded')).toHaveLength(0);
    },
  );

  it('refuses a client that may have no scope at all before the password', async () => {
    deps.clients.clients.set('mobile', { ...deps.clients.clients.get('mobile')!, scopes: [] });
    const right = await call(password('correct horse', { client_id: 'mobile' }));
    const wrong = await call(password('wrong', { client_id: 'mobile' }));
    expect(json(right).error).toBe('invalid_scope');
    expect(wrong).toEqual(right);
    expect(verifications).toBe(0);
    expect(failures('password_grant_failed').map((entry) => entry.fields.reason)).toEqual([
      'scope_empty',
      'scope_empty',
    ]);
  });
});

describe('password grant: a scope the client may have but the user does not', () => {
  it('answers the right password exactly as a wrong one, and counts it as a failure', async () => {
    // app may have admin; alice does not.
    const right = await call(password('correct horse', { scope: 'admin' }), appAuth);
    const afterRight = await counters();
    const wrong = await call(password('wrong', { scope: 'admin' }), appAuth);
    const afterWrong = await counters();
    expect(right.body).toBe(WRONG_BODY);
    expect(wrong).toEqual(right);
    // Same side effects, so the lockout state (which a later request can observe) does not tell them apart.
    expect(afterRight.pairFailures).toBe(1);
    expect(afterWrong.pairFailures).toBe(2);
    expect(afterRight.ipFailuresToday).toBe(1);
    expect(afterWrong.ipFailuresToday).toBe(2);
    expect(verifications).toBe(2);
    expect(failures('password_grant_failed').map((entry) => entry.fields.reason)).toEqual([
      'scope_not_granted',
      'wrong_password',
    ]);
    expect(deps.refreshTokens.families.size).toBe(0);
  });

  it('never issues a token with an empty scope when nothing was asked for', async () => {
    deps.users.users.set('alice', { ...deps.users.users.get('alice')!, scopes: [] });
    const right = await call(password('correct horse'), appAuth);
    const wrong = await call(password('wrong'), appAuth);
    expect(right.body).toBe(WRONG_BODY);
    expect(wrong).toEqual(right);
    expect(failures('password_grant_failed').at(0)?.fields).toMatchObject({
      reason: 'scope_not_granted',
      userId: 'u-alice',
    });
    expect(deps.refreshTokens.families.size).toBe(0);
  });

  it('still narrows a request of which part can be granted', async () => {
    const body = json(await call(password('correct horse', { scope: 'read admin' }), appAuth));
    expect(body.scope).toBe('read');
  });
});

describe('refresh grant: a scope that would be empty', () => {
  async function login() {
    const body = json(await call(password('correct horse'), appAuth));
    return body.refresh_token as string;
  }
  const refresh = (token: string, extra: Record<string, string> = {}) =>
    call({ grant_type: 'refresh_token', refresh_token: token, ...extra }, appAuth);

  it('answers invalid_scope when the client lost every scope of the token, and keeps the token', async () => {
    const token = await login();
    deps.clients.clients.set('app', { ...deps.clients.clients.get('app')!, scopes: ['admin'] });
    const response = await refresh(token);
    expect(response.status).toBe(400);
    expect(json(response).error).toBe('invalid_scope');
    expect(json(await refresh(token, { scope: 'read' })).error).toBe('invalid_scope');
    expect(tokenStanding(deps, token)).toBe('current');
    expect(failures('refresh_grant_failed').map((entry) => entry.fields.reason)).toEqual([
      'scope_empty',
      'scope_empty',
    ]);
  });

  it('answers invalid_scope for a stored token with an empty scope', async () => {
    const token = await login();
    const family = familyOf(deps, token)!;
    deps.refreshTokens.families.set(family.familyId, { ...family, scope: [] });
    const response = await refresh(token);
    expect(json(response).error).toBe('invalid_scope');
    expect(response.body).not.toContain('access_token');
  });

  it('logs a widening request with its reason', async () => {
    const token = await login();
    expect(json(await refresh(token, { scope: 'read admin' })).error).toBe('invalid_scope');
    expect(failures('refresh_grant_failed').at(-1)?.fields).toMatchObject({
      reason: 'scope_exceeds_grant',
      userId: 'u-alice',
    });
  });
});
