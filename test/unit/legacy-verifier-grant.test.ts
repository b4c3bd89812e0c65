import { beforeEach, describe, expect, it } from 'vitest';
import { usernameKey } from '../../lambda/oauth/lockout';
import type { LegacyVerdict, LegacyVerifier, LegacyVerifierRequest } from '../../lambda/oauth/ports';
import { handleTokenRequest } from '../../lambda/oauth/token-endpoint';
import { basic, CONFIDENTIAL_SECRET, type MemoryDeps, memoryDeps, seed, tokenRequest } from '../support/memory';

/**
 * Lazy migration in the password grant: a username unknown here is asked of the legacy verifier, through the
 * token endpoint with in-memory stores and a verifier whose answers the test chooses.
 */
const PASSWORD = 'legacy password 1';
const WRONG_BODY = '{"error":"invalid_grant","error_description":"invalid username or password"}';
const appAuth = basic('app', CONFIDENTIAL_SECRET);

/** A verifier that records what it is asked and answers with `answer` (or throws what it throws). */
class ScriptedVerifier implements LegacyVerifier {
  readonly requests: LegacyVerifierRequest[] = [];
  constructor(public answer: (request: LegacyVerifierRequest) => Promise<LegacyVerdict>) {}
  verify(request: LegacyVerifierRequest): Promise<LegacyVerdict> {
    this.requests.push(request);
    return this.answer(request);
  }
}

/** The weakness the operator's policy sees: the test's rule, so that the grant's use of it shows. */
const policy = {
  judged: [] as string[],
  async problem(password: string) {
    this.judged.push(password);
    return password.length < 8 ? 'too short' : undefined;
  },
};

let deps: MemoryDeps & { legacyVerifier: ScriptedVerifier };
const verified = (extra: Omit<Extract<LegacyVerdict, { verified: true }>, 'verified'> = {}) =>
  new ScriptedVerifier(async () => ({ verified: true, ...extra }));

beforeEach(async () => {
  const base = memoryDeps();
  await seed(base);
  policy.judged = [];
  deps = Object.assign(base, {
    legacyVerifier: verified({ sub: 'legacy-42', scopes: ['read', 'write'] }),
    passwordPolicy: policy,
  });
});

function login(
  options: { username?: string; password?: string; ip?: string; scope?: string; verifier?: ScriptedVerifier } = {},
) {
  if (options.verifier !== undefined) deps.legacyVerifier = options.verifier;
  return handleTokenRequest(
    tokenRequest(
      {
        grant_type: 'password',
        username: options.username ?? 'carol',
        password: options.password ?? PASSWORD,
        ...(options.scope === undefined ? {} : { scope: options.scope }),
      },
      { authorization: appAuth, sourceIp: options.ip ?? '198.51.100.7' },
    ),
    deps,
  );
}

function claims(body: string): Record<string, unknown> {
  const token = JSON.parse(body).access_token as string;
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
}

const counters = (username = 'carol', ip = '198.51.100.7') =>
  deps.loginAttempts.read({ userKey: usernameKey(username), ip }, deps.clock() / 1000);
const events = (name: string) => deps.logger.entries.filter((entry) => entry.event === name);

describe('lazy migration through the legacy verifier', () => {
  it('creates a verified user with its sub, its scopes and a scrypt hash of the password, and issues tokens', async () => {
    const response = await login({ scope: 'read write' });
    expect(response.status).toBe(200);
    const body = JSON.parse(response.body);
    expect(body).toMatchObject({ token_type: 'Bearer', scope: 'read write' });
    expect(body.refresh_token).toEqual(expect.any(String));
    expect(claims(response.body)).toMatchObject({ sub: 'legacy-42', client_id: 'app', scope: 'read write' });
    expect(deps.legacyVerifier.requests).toEqual([{ username: 'carol', password: PASSWORD, clientId: 'app' }]);

    const user = deps.users.users.get('carol')!;
    expect(user).toMatchObject({ username: 'carol', userId: 'legacy-42', scopes: ['read', 'write'], disabled: false });
    expect(user.passwordHash).toMatch(/^\$scrypt\$/);
    expect(user.createdAt).toBe(new Date(deps.clock()).toISOString());
    expect(user.passwordChangedAt).toBe(user.createdAt);
    expect(await deps.passwords.verify(PASSWORD, user.passwordHash)).toBe(true);
    expect(deps.passwords.needsRehash(user.passwordHash)).toBe(false);

    expect(events('user_migrated').map((entry) => entry.fields)).toEqual([
      expect.objectContaining({ userId: 'legacy-42', method: 'lazy', clientId: 'app' }),
    ]);
    expect(events('password_grant_succeeded')[0]?.fields).toMatchObject({ userId: 'legacy-42' });
    // A success, like any: the reservation is given back.
    expect((await counters()).userFailuresThisHour).toBe(0);
  });

  it('gives the user a fresh opaque id when the verifier names no sub, and keeps only valid scope tokens', async () => {
    const verifier = verified({ scopes: ['read', 'not a token', 'bad"quote', 'read', ''] });
    const response = await login({ verifier, scope: 'read' });
    expect(response.status).toBe(200);
    const user = deps.users.users.get('carol')!;
    expect(user.userId).toMatch(/^00000000-0000-4000-8000-\d{12}$/);
    expect(user.scopes).toEqual(['read']);
    expect(claims(response.body).sub).toBe(user.userId);
  });

  it('applies the usual scope rules to the migrated user: nothing grantable is invalid_grant, the user stays', async () => {
    const response = await login({ verifier: verified({ scopes: ['admin'] }), scope: 'read' });
    expect(response.body).toBe(WRONG_BODY);
    expect(events('password_grant_failed').at(-1)?.fields).toMatchObject({ reason: 'scope_not_granted' });
    expect(deps.users.users.get('carol')?.scopes).toEqual(['admin']);
  });

  it('asks with the name as typed and stores the user under its prepared form (RFC 8265)', async () => {
    expect((await login({ username: 'Carol' })).status).toBe(200);
    expect(deps.legacyVerifier.requests.map((request) => request.username)).toEqual(['Carol']);
    expect([...deps.users.users.keys()]).toContain('carol');
    expect(deps.users.users.has('Carol')).toBe(false);
    expect((await login({ username: 'CAROL' })).status).toBe(200);
    expect(deps.legacyVerifier.requests).toHaveLength(1);
  });

  it('does not ask about a name that cannot be one here, and answers as for an unknown user', async () => {
    const response = await login({ username: 'car\u0007ol' });
    expect(response.body).toBe(WRONG_BODY);
    expect(deps.legacyVerifier.requests).toEqual([]);
    expect(events('password_grant_failed').at(-1)?.fields).toMatchObject({ reason: 'unknown_user' });
  });

  it('never asks the verifier again about a user who now exists here', async () => {
    expect((await login()).status).toBe(200);
    expect((await login()).status).toBe(200);
    expect((await login({ password: 'another password' })).body).toBe(WRONG_BODY);
    expect(deps.legacyVerifier.requests).toHaveLength(1);
    expect(events('password_grant_failed').at(-1)?.fields).toMatchObject({ reason: 'wrong_password' });
  });

  it('never asks about a user registered here, whatever the password', async () => {
    expect((await login({ username: 'alice', password: 'correct horse' })).status).toBe(200);
    expect((await login({ username: 'alice', password: 'wrong' })).body).toBe(WRONG_BODY);
    expect((await login({ username: 'bob', password: 'bob password' })).body).toBe(WRONG_BODY);
    expect(deps.legacyVerifier.requests).toEqual([]);
  });

  it('answers a password the verifier does not vouch for as a wrong password, and counts it', async () => {
    const verifier = new ScriptedVerifier(async () => ({ verified: false }));
    const response = await login({ verifier });
    expect(response.status).toBe(400);
    expect(response.body).toBe(WRONG_BODY);
    expect(deps.users.users.has('carol')).toBe(false);
    expect(await counters()).toMatchObject({ pairFailures: 1, userFailuresThisHour: 1, ipFailuresToday: 1 });
    expect(events('password_grant_failed').at(-1)?.fields).toMatchObject({ reason: 'legacy_not_verified' });
    expect(events('user_migrated')).toEqual([]);
    // The same response as a wrong password of a user who exists.
    expect((await login({ username: 'alice', password: 'wrong' })).body).toBe(response.body);
  });

  it.each<[string, () => Promise<LegacyVerdict>]>([
    ['throws', async () => Promise.reject(new Error(`cannot bind for ${PASSWORD}`))],
    ['times out', async () => Promise.reject(Object.assign(new Error('no answer'), { name: 'LegacyVerifierTimeout' }))],
    [
      'answers something malformed',
      async () => Promise.reject(Object.assign(new Error('bad'), { name: 'LegacyVerifierMalformedAnswer' })),
    ],
  ])('answers 503 with Retry-After when the verifier %s: nothing created, nothing counted', async (_, answer) => {
    const response = await login({ verifier: new ScriptedVerifier(answer) });
    expect(response.status).toBe(503);
    expect(response.headers['Retry-After']).toBe('1');
    expect(JSON.parse(response.body)).toMatchObject({ error: 'temporarily_unavailable' });
    expect(deps.users.users.has('carol')).toBe(false);
    expect(await counters()).toMatchObject({ pairFailures: 0, userFailuresThisHour: 0, ipFailuresToday: 0 });
    expect(events('dependency_unavailable').at(-1)).toMatchObject({
      level: 'WARN',
      fields: { dependency: 'legacy_verifier' },
    });
    expect(events('password_grant_failed')).toEqual([]);
    expect(JSON.stringify(deps.logger.entries)).not.toContain(PASSWORD);
  });

  it('leaves a streak begun before a verifier fault as it was, and marks no address as known', async () => {
    // Two wrong guesses first: a streak of 2 from this address, and no login from it.
    const refuse = new ScriptedVerifier(async () => ({ verified: false }));
    for (let i = 0; i < 2; i++) expect((await login({ verifier: refuse })).status).toBe(400);
    const before = await counters();
    expect(before).toMatchObject({ pairFailures: 2, userFailuresThisHour: 2, ipFailuresToday: 2 });

    const response = await login({ verifier: new ScriptedVerifier(async () => Promise.reject(new Error('down'))) });
    expect(response.status).toBe(503);
    // Not counted, and no success either: a fault neither ends the streak nor lifts the hourly ceiling.
    const after = await counters();
    expect(after).toEqual(before);
    expect(after.knownAddressUntil).toBeUndefined();
  });

  it('ends two concurrent first logins of the same user with one user, both logged in as them', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    // No sub: each login would make its own id, so two users would show as two subjects.
    const verifier = new ScriptedVerifier(async () => {
      if (verifier.requests.length === 2) release();
      await gate;
      return { verified: true, scopes: ['read'] };
    });
    deps.legacyVerifier = verifier;
    const [first, second] = await Promise.all([login({ ip: '198.51.100.1' }), login({ ip: '198.51.100.2' })]);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(verifier.requests).toHaveLength(2);
    expect([...deps.users.users.keys()].filter((name) => name === 'carol')).toHaveLength(1);
    const stored = deps.users.users.get('carol')!;
    expect(claims(first.body).sub).toBe(stored.userId);
    expect(claims(second.body).sub).toBe(stored.userId);
    expect(events('user_migrated')).toHaveLength(1);
  });

  it('lets the loser of a concurrent first login in only with the password the winner stored', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    // A lenient old system vouches for both passwords; the first stored is the one that counts from then on.
    const verifier = new ScriptedVerifier(async () => {
      if (verifier.requests.length === 2) release();
      await gate;
      return { verified: true, scopes: ['read'] };
    });
    deps.legacyVerifier = verifier;
    const results = await Promise.all([
      login({ ip: '198.51.100.1', password: 'first password' }),
      login({ ip: '198.51.100.2', password: 'second password' }),
    ]);
    expect(results.map((result) => result.status).sort()).toEqual([200, 400]);
    const stored = deps.users.users.get('carol')!;
    const winner = results[0]!.status === 200 ? 'first password' : 'second password';
    expect(await deps.passwords.verify(winner, stored.passwordHash)).toBe(true);
  });

  it('never asks the verifier about an attempt the lockout refuses', async () => {
    const verifier = new ScriptedVerifier(async () => ({ verified: false }));
    for (let i = 0; i < 5; i++) expect((await login({ verifier })).body).toBe(WRONG_BODY);
    expect(verifier.requests).toHaveLength(5);
    // The sixth comes within the backoff: refused before any verification, and the verifier is not asked.
    deps.legacyVerifier = verified();
    expect((await login()).body).toBe(WRONG_BODY);
    expect(deps.legacyVerifier.requests).toEqual([]);
    expect(deps.users.users.has('carol')).toBe(false);
    expect(events('password_grant_failed').at(-1)?.fields).toMatchObject({ reason: 'locked', lockout: 'pair_backoff' });
  });

  it('accepts a weak migrated password and warns with weak_password_migrated', async () => {
    const response = await login({ password: 'short', scope: 'read' });
    expect(response.status).toBe(200);
    expect(policy.judged).toEqual(['short']);
    expect(events('weak_password_migrated').map(({ level, fields }) => ({ level, fields }))).toEqual([
      { level: 'WARN', fields: expect.objectContaining({ userId: 'legacy-42' }) },
    ]);
    // The next login is an ordinary one: no verifier, no second judgement.
    expect((await login({ password: 'short', scope: 'read' })).status).toBe(200);
    expect(policy.judged).toEqual(['short']);
  });

  it('does not warn about a migrated password the policy accepts', async () => {
    expect((await login()).status).toBe(200);
    expect(policy.judged).toEqual([PASSWORD]);
    expect(events('weak_password_migrated')).toEqual([]);
  });

  it('writes the password to no log line, whatever the outcome', async () => {
    await login({ password: 'short' });
    await login({ username: 'dave', verifier: new ScriptedVerifier(async () => ({ verified: false })) });
    await login({ username: 'erin', verifier: new ScriptedVerifier(async () => Promise.reject(new Error(PASSWORD))) });
    expect(deps.logger.entries.length).toBeGreaterThan(3);
    const logged = JSON.stringify(deps.logger.entries);
    expect(logged).not.toContain(PASSWORD);
    expect(logged).not.toContain('short');
  });

  it('treats an unknown username as before when no verifier is configured', async () => {
    const { legacyVerifier: _verifier, ...withoutVerifier } = deps;
    const response = await handleTokenRequest(
      tokenRequest(
        { grant_type: 'password', username: 'carol', password: PASSWORD },
        { authorization: appAuth, sourceIp: '198.51.100.7' },
      ),
      withoutVerifier,
    );
    expect(response.body).toBe(WRONG_BODY);
    expect(deps.users.users.has('carol')).toBe(false);
    expect(events('password_grant_failed').at(-1)?.fields).toMatchObject({ reason: 'unknown_user' });
  });
});
