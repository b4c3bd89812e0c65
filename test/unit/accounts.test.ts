import { beforeEach, describe, expect, it } from 'vitest';
import {
  ClientExistsError,
  deleteClient,
  deleteUser,
  disableClient,
  disableUser,
  enableClient,
  enableUser,
  InvalidClientRegistrationError,
  listClients,
  listUsers,
  type NewClient,
  registerClient,
  registerUser,
  revokeUserTokens,
  setPassword,
  showClient,
  showUser,
  UnknownClientError,
  UnknownUserError,
  UserExistsError,
  type UserRefreshTokens,
  unlockUser,
  updateClient,
  updateUser,
} from '../../lambda/accounts';
import { hashClientSecret, verifyClientSecret } from '../../lambda/oauth/client-secret';
import { attemptSubject, usernameKey } from '../../lambda/oauth/lockout';
import type { RefreshFamily, RefreshToken } from '../../lambda/oauth/ports';
import { handleTokenRequest } from '../../lambda/oauth/token-endpoint';
import { needsRehash, verifyPassword } from '../../lambda/passwords';
import { hashRefreshToken } from '../../lambda/tokens/refresh-token';
import {
  basic,
  CONFIDENTIAL_SECRET,
  FAST_SCRYPT,
  MemoryClientStore,
  MemoryLoginAttemptStore,
  MemoryRefreshTokenStore,
  MemoryUserStore,
  memoryDeps,
  seed,
  tokenRequest,
} from '../support/memory';

const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);
const NOW_ISO = '2026-11-28T12:00:00.000Z';
const NOW_SECONDS = NOW / 1000;

/** The services' ports on fresh in-memory stores, a frozen clock and a counting random source. */
function ports() {
  let counter = 0;
  const clients = new MemoryClientStore();
  const users = new MemoryUserStore();
  const refreshTokens = new MemoryRefreshTokenStore();
  const loginAttempts = new MemoryLoginAttemptStore();
  return {
    clients,
    users,
    refreshTokens,
    loginAttempts,
    clock: () => NOW,
    random: {
      bytes: (length: number) => Uint8Array.from({ length }, (_, i) => (i + counter++) % 256),
      uuid: () => `00000000-0000-4000-8000-${String(++counter).padStart(12, '0')}`,
    },
  };
}

type Ports = ReturnType<typeof ports>;

const CONFIDENTIAL: NewClient = {
  clientId: 'app',
  isPublic: false,
  scopes: ['read', 'write'],
  grantTypes: ['password', 'refresh_token'],
};
const PUBLIC: NewClient = { clientId: 'mobile', isPublic: true, scopes: ['read'], grantTypes: ['password'] };

let minted = 0;
/** A refresh-token family of `userId`'s, issued now, stored as one item. */
function refreshFamily(userId: string, overrides: Partial<RefreshFamily> = {}): RefreshFamily {
  const currentHash = hashRefreshToken(`refresh-token-${++minted}`);
  return {
    familyId: `family-${currentHash.slice(0, 8)}`,
    clientId: 'app',
    userId,
    username: 'alice',
    scope: ['read'],
    generation: 0,
    currentHash,
    issuedAt: NOW_SECONDS,
    familyIssuedAt: NOW_SECONDS,
    idleExpiresAt: NOW_SECONDS + 3600,
    familyExpiresAt: NOW_SECONDS + 86_400,
    ...overrides,
  };
}

/** A refresh token of `userId`'s stored one item per token (legacy tokens). */
function legacyRefreshToken(userId: string, overrides: Partial<RefreshToken> = {}): RefreshToken {
  const tokenHash = hashRefreshToken(`refresh-token-${++minted}`);
  return {
    tokenHash,
    familyId: `family-${tokenHash.slice(0, 8)}`,
    clientId: 'app',
    userId,
    username: 'alice',
    scope: ['read'],
    generation: 0,
    issuedAt: NOW_SECONDS,
    familyIssuedAt: NOW_SECONDS,
    idleExpiresAt: NOW_SECONDS + 3600,
    familyExpiresAt: NOW_SECONDS + 86_400,
    state: 'active',
    ...overrides,
  };
}

async function failure(attempt: Promise<unknown>): Promise<unknown> {
  return attempt.then(
    () => expect.unreachable('the action succeeded'),
    (error: unknown) => error,
  );
}

describe('registerClient', () => {
  let p: Ports;
  beforeEach(() => {
    p = ports();
  });

  it('gives a confidential client a generated 256-bit secret, returned once and stored only as its hash', async () => {
    const { clientId, clientSecret } = await registerClient(p, CONFIDENTIAL);
    expect(clientId).toBe('app');
    expect(Buffer.from(clientSecret!, 'base64url')).toHaveLength(32);
    const stored = p.clients.clients.get('app')!;
    expect(stored).toEqual({
      clientId: 'app',
      secretHash: hashClientSecret(clientSecret!),
      isPublic: false,
      scopes: ['read', 'write'],
      grantTypes: ['password', 'refresh_token'],
      disabled: false,
      createdAt: NOW_ISO,
    });
    expect(JSON.stringify(stored)).not.toContain(clientSecret);
    expect(verifyClientSecret(clientSecret!, stored.secretHash)).toBe(true);
  });

  it('generates a different secret for each client', async () => {
    const first = await registerClient(p, CONFIDENTIAL);
    const second = await registerClient(p, { ...CONFIDENTIAL, clientId: 'other' });
    expect(first.clientSecret).not.toBe(second.clientSecret);
  });

  it('registers a secret the caller brings instead of generating one', async () => {
    expect(await registerClient(p, { ...CONFIDENTIAL, secret: 'known' })).toEqual({
      clientId: 'app',
      clientSecret: 'known',
    });
    expect(p.clients.clients.get('app')?.secretHash).toBe(hashClientSecret('known'));
  });

  it('gives a public client no secret', async () => {
    expect(await registerClient(p, PUBLIC)).toEqual({ clientId: 'mobile' });
    expect(p.clients.clients.get('mobile')).toEqual({
      clientId: 'mobile',
      isPublic: true,
      scopes: ['read'],
      grantTypes: ['password'],
      disabled: false,
      createdAt: NOW_ISO,
    });
  });

  it('stores the audience and the trust in X-End-User-IP when given', async () => {
    await registerClient(p, { ...CONFIDENTIAL, audience: 'https://api.example.test', trustEndUserIp: true });
    expect(p.clients.clients.get('app')).toMatchObject({ audience: 'https://api.example.test', trustEndUserIp: true });
  });

  it.each([0, 60])('stores a refresh-token grace of its own, %d s, as a number', async (refreshGraceSeconds) => {
    await registerClient(p, { ...PUBLIC, refreshGraceSeconds });
    expect(p.clients.clients.get('mobile')?.refreshGraceSeconds).toBe(refreshGraceSeconds);
  });

  it("stores no refresh-token grace when none is given, so that the stack's applies", async () => {
    await registerClient(p, PUBLIC);
    expect(p.clients.clients.get('mobile')).not.toHaveProperty('refreshGraceSeconds');
  });

  it.each<[string, NewClient, RegExp]>([
    ['a public client with a secret', { ...PUBLIC, secret: 'nope' }, /a public client has no secret/] as const,
    [
      'a public client trusted with X-End-User-IP',
      { ...PUBLIC, trustEndUserIp: true },
      /only a confidential client/,
    ] as const,
    ...[61, -1, 1.5, Number.NaN].map((refreshGraceSeconds): [string, NewClient, RegExp] => [
      `a refresh-token grace of ${refreshGraceSeconds} s`,
      { ...PUBLIC, refreshGraceSeconds },
      /the refresh-token grace must be a whole number of seconds from 0 to 60/,
    ]),
  ])('refuses %s and registers nothing', async (_case, client, message) => {
    const error = await failure(registerClient(p, client));
    expect(error).toBeInstanceOf(InvalidClientRegistrationError);
    expect(error).toMatchObject({
      code: 'invalid_client_registration',
      clientId: 'mobile',
      message: expect.stringMatching(message),
    });
    expect(p.clients.clients.size).toBe(0);
  });

  it('refuses a taken client_id and keeps the registered client', async () => {
    const { clientSecret } = await registerClient(p, CONFIDENTIAL);
    const error = await failure(registerClient(p, { ...CONFIDENTIAL, isPublic: true }));
    expect(error).toBeInstanceOf(ClientExistsError);
    expect(error).toMatchObject({ code: 'client_exists', clientId: 'app' });
    expect(p.clients.clients.get('app')?.secretHash).toBe(hashClientSecret(clientSecret!));
  });
});

describe('listClients, disableClient, deleteClient', () => {
  let p: Ports;
  beforeEach(async () => {
    p = ports();
    for (const clientId of ['web', 'app', 'mobile']) await registerClient(p, { ...PUBLIC, clientId });
  });

  it('lists the clients by client_id', async () => {
    expect((await listClients(p)).map((client) => client.clientId)).toEqual(['app', 'mobile', 'web']);
  });

  it('disables a client, which then fails client authentication', async () => {
    await disableClient(p, 'app');
    expect(p.clients.clients.get('app')?.disabled).toBe(true);
    expect(p.clients.clients.get('web')?.disabled).toBe(false);
  });

  it('deletes a client', async () => {
    await deleteClient(p, 'app');
    expect([...p.clients.clients.keys()].sort()).toEqual(['mobile', 'web']);
  });

  it.each([
    ['disableClient', disableClient],
    ['deleteClient', deleteClient],
  ])('%s of an unknown client fails with UnknownClientError', async (_name, action) => {
    const error = await failure(action(p, 'ghost'));
    expect(error).toBeInstanceOf(UnknownClientError);
    expect(error).toMatchObject({ code: 'unknown_client', clientId: 'ghost' });
    expect(p.clients.clients.size).toBe(3);
  });
});

describe('showClient, updateClient, enableClient', () => {
  let p: Ports;
  beforeEach(async () => {
    p = ports();
    await registerClient(p, { ...CONFIDENTIAL, refreshGraceSeconds: 10 });
  });

  it('shows the client as registered', async () => {
    expect(await showClient(p, 'app')).toEqual(p.clients.clients.get('app'));
  });

  it('replaces the scopes (duplicates dropped) and keeps the rest', async () => {
    const before = p.clients.clients.get('app')!;
    const updated = await updateClient(p, 'app', { scopes: ['admin', 'read', 'admin'] });
    expect(updated).toEqual({ ...before, scopes: ['admin', 'read'] });
    expect(p.clients.clients.get('app')).toEqual(updated);
  });

  it("sets the client's own grace, and null gives it the stack's again", async () => {
    expect((await updateClient(p, 'app', { refreshGraceSeconds: 0 })).refreshGraceSeconds).toBe(0);
    expect(await updateClient(p, 'app', { refreshGraceSeconds: null })).not.toHaveProperty('refreshGraceSeconds');
  });

  it.each([
    ['nothing to change', {}, /cannot be updated: there is nothing to change/],
    ['a grace above 60', { refreshGraceSeconds: 61 }, /cannot be updated: .*from 0 to 60, got 61/],
    ['a fractional grace', { refreshGraceSeconds: 1.5 }, /got 1\.5/],
  ])('refuses %s with InvalidClientRegistrationError and changes nothing', async (_case, changes, message) => {
    const before = p.clients.clients.get('app');
    const error = await failure(updateClient(p, 'app', changes));
    expect(error).toBeInstanceOf(InvalidClientRegistrationError);
    expect((error as Error).message).toMatch(message);
    expect(p.clients.clients.get('app')).toEqual(before);
  });

  it('enables a disabled client', async () => {
    await disableClient(p, 'app');
    await enableClient(p, 'app');
    expect(p.clients.clients.get('app')?.disabled).toBe(false);
  });

  it.each([
    ['showClient', (ports: Ports) => showClient(ports, 'ghost')],
    ['updateClient', (ports: Ports) => updateClient(ports, 'ghost', { scopes: [] })],
    ['enableClient', (ports: Ports) => enableClient(ports, 'ghost')],
  ])('%s of an unknown client fails with UnknownClientError and registers nothing', async (_name, action) => {
    expect(await failure(action(p))).toBeInstanceOf(UnknownClientError);
    expect([...p.clients.clients.keys()]).toEqual(['app']);
  });
});

describe('listUsers, showUser, updateUser', () => {
  let p: Ports;
  beforeEach(async () => {
    p = ports();
    for (const username of ['carol', 'alice', 'bob']) {
      await registerUser(p, { username, passwordHash: `$scrypt$${username}`, scopes: ['read'] });
    }
  });

  it('lists the users by username, without their password hashes', async () => {
    const users = await listUsers(p);
    expect(users.map((user) => user.username)).toEqual(['alice', 'bob', 'carol']);
    for (const user of users) expect(user).not.toHaveProperty('passwordHash');
  });

  it('shows a user without the password hash', async () => {
    const { passwordHash: _hash, ...profile } = p.users.users.get('bob')!;
    expect(await showUser(p, 'bob')).toEqual(profile);
  });

  it('replaces the scopes (duplicates dropped) and keeps the rest, the hash and the sessions included', async () => {
    const before = p.users.users.get('bob')!;
    const updated = await updateUser(p, 'bob', { scopes: ['write', 'admin', 'write'] });
    expect(updated).toMatchObject({ username: 'bob', scopes: ['write', 'admin'] });
    expect(updated).not.toHaveProperty('passwordHash');
    expect(p.users.users.get('bob')).toEqual({ ...before, scopes: ['write', 'admin'] });
  });

  it.each([
    ['showUser', (ports: Ports) => showUser(ports, 'ghost')],
    ['updateUser', (ports: Ports) => updateUser(ports, 'ghost', { scopes: ['read'] })],
  ])('%s of an unknown user fails with UnknownUserError and registers nothing', async (_name, action) => {
    expect(await failure(action(p))).toBeInstanceOf(UnknownUserError);
    expect(p.users.users.has('ghost')).toBe(false);
  });
});

describe('registerUser', () => {
  let p: Ports;
  beforeEach(() => {
    p = ports();
  });

  it('hashes the password with the given scrypt parameters and gives the user a fresh opaque sub', async () => {
    expect(
      await registerUser(p, { username: 'alice', password: 'correct horse', scrypt: FAST_SCRYPT, scopes: ['read'] }),
    ).toEqual({
      username: 'alice',
      userId: '00000000-0000-4000-8000-000000000001',
    });
    const stored = p.users.users.get('alice')!;
    expect(stored).toEqual({
      username: 'alice',
      userId: '00000000-0000-4000-8000-000000000001',
      passwordHash: expect.stringMatching(/^\$scrypt\$/),
      scopes: ['read'],
      disabled: false,
      createdAt: NOW_ISO,
      passwordChangedAt: NOW_ISO,
    });
    expect(await verifyPassword('correct horse', stored.passwordHash)).toBe(true);
    expect(needsRehash(stored.passwordHash, FAST_SCRYPT)).toBe(false);
    expect(stored.userId).not.toContain('alice');
  });

  it('asks for the password once, and only when the username is free', async () => {
    let asked = 0;
    const password = async () => {
      asked++;
      return 'correct horse';
    };
    await registerUser(p, { username: 'alice', password, scrypt: FAST_SCRYPT, scopes: [] });
    expect(asked).toBe(1);
    const error = await failure(
      registerUser(p, { username: 'alice', password, scrypt: FAST_SCRYPT, scopes: ['admin'] }),
    );
    expect(error).toBeInstanceOf(UserExistsError);
    expect(error).toMatchObject({ code: 'user_exists', username: 'alice' });
    expect(asked).toBe(1);
    expect(p.users.users.get('alice')?.scopes).toEqual([]);
  });

  it('stores a hash made already as given', async () => {
    await registerUser(p, { username: 'alice', passwordHash: '$scrypt$made-elsewhere', scopes: ['read'] });
    expect(p.users.users.get('alice')?.passwordHash).toBe('$scrypt$made-elsewhere');
  });
});

describe("the actions that end a user's sessions", () => {
  let p: Ports;
  let userId: string;
  /** Alice's live families: two family items and a legacy token's family. */
  let live: RefreshFamily[];
  let liveLegacy: RefreshToken;
  let others: RefreshFamily[];
  let otherLegacy: RefreshToken;
  let expired: RefreshFamily;
  beforeEach(async () => {
    p = ports();
    ({ userId } = await registerUser(p, {
      username: 'alice',
      password: 'correct horse',
      scrypt: FAST_SCRYPT,
      scopes: ['read'],
    }));
    const { userId: bobId } = await registerUser(p, {
      username: 'bob',
      password: 'bob password',
      scrypt: FAST_SCRYPT,
      scopes: ['read'],
    });
    live = [refreshFamily(userId), refreshFamily(userId)];
    others = [refreshFamily(bobId, { username: 'bob' })];
    // Past its absolute expiry at the clock's now: not counted.
    expired = refreshFamily(userId, { idleExpiresAt: NOW_SECONDS - 10, familyExpiresAt: NOW_SECONDS });
    for (const family of [...live, ...others, expired]) await p.refreshTokens.createFamily(family);
    liveLegacy = legacyRefreshToken(userId);
    otherLegacy = legacyRefreshToken(bobId, { username: 'bob' });
    for (const token of [liveLegacy, otherLegacy]) p.refreshTokens.tokens.set(token.tokenHash, token);
  });

  const revokedAtOf = (family: RefreshFamily) => p.refreshTokens.families.get(family.familyId)?.revokedAt;
  const stateOf = (token: RefreshToken) => p.refreshTokens.tokens.get(token.tokenHash)?.state;

  /** A revoker that notes what the user looked like when it was called, then revokes. */
  function observing(): UserRefreshTokens & { seen: unknown[] } {
    const seen: unknown[] = [];
    return {
      seen,
      revokeAllForUser: async (id, now) => {
        seen.push(await p.users.getUser('alice'));
        return p.refreshTokens.revokeAllForUser(id, now);
      },
    };
  }

  it.each([
    ['disableUser', () => disableUser(p, 'alice')],
    ['deleteUser', () => deleteUser(p, 'alice')],
    ['setPassword', () => setPassword(p, { username: 'alice', password: 'new password', scrypt: FAST_SCRYPT })],
    ['revokeUserTokens', () => revokeUserTokens(p, 'alice')],
  ])('%s revokes every live refresh-token family of the user, and only theirs', async (_name, action) => {
    expect(await action()).toEqual({ username: 'alice', userId, revokedRefreshTokens: 3 });
    expect(live.map(revokedAtOf)).toEqual([NOW_SECONDS, NOW_SECONDS]);
    expect(stateOf(liveLegacy)).toBe('revoked');
    expect(p.refreshTokens.revokedFamilies.has(liveLegacy.familyId)).toBe(true);
    expect(others.map(revokedAtOf)).toEqual([undefined]);
    expect(stateOf(otherLegacy)).toBe('active');
    expect(p.refreshTokens.revokedFamilies.has(otherLegacy.familyId)).toBe(false);
    expect(revokedAtOf(expired)).toBeUndefined();
  });

  it('disableUser disables the user before revoking, so a revocation cut short still leaves the user refused', async () => {
    const refreshTokens = observing();
    await disableUser({ ...p, refreshTokens }, 'alice');
    expect(refreshTokens.seen).toEqual([expect.objectContaining({ disabled: true })]);

    await enableUser(p, 'alice');
    const failing: UserRefreshTokens = { revokeAllForUser: () => Promise.reject(new Error('DynamoDB is gone')) };
    await expect(disableUser({ ...p, refreshTokens: failing }, 'alice')).rejects.toThrow('DynamoDB is gone');
    expect(p.users.users.get('alice')?.disabled).toBe(true);
  });

  it('deleteUser deletes the user before revoking', async () => {
    const refreshTokens = observing();
    expect(await deleteUser({ ...p, refreshTokens }, 'alice')).toEqual({
      username: 'alice',
      userId,
      revokedRefreshTokens: 3,
    });
    expect(refreshTokens.seen).toEqual([undefined]);
  });

  it('setPassword stores the new hash and when, before revoking', async () => {
    const refreshTokens = observing();
    await setPassword({ ...p, refreshTokens }, { username: 'alice', password: 'new password', scrypt: FAST_SCRYPT });
    const stored = p.users.users.get('alice')!;
    expect(await verifyPassword('new password', stored.passwordHash)).toBe(true);
    expect(await verifyPassword('correct horse', stored.passwordHash)).toBe(false);
    expect(stored.passwordChangedAt).toBe(NOW_ISO);
    expect(refreshTokens.seen).toEqual([expect.objectContaining({ passwordHash: stored.passwordHash })]);
  });

  it('enableUser enables the user and revokes nothing', async () => {
    await disableUser(p, 'alice');
    const replacement = refreshFamily(userId);
    await p.refreshTokens.createFamily(replacement);
    await enableUser(p, 'alice');
    expect(p.users.users.get('alice')?.disabled).toBe(false);
    expect(p.refreshTokens.families.get(replacement.familyId)).toEqual(replacement);
  });

  it('counts nothing the second time', async () => {
    await revokeUserTokens(p, 'alice');
    expect(await disableUser(p, 'alice')).toEqual({ username: 'alice', userId, revokedRefreshTokens: 0 });
  });

  it.each([
    ['disableUser', (q: Ports) => disableUser(q, 'ghost')],
    ['enableUser', (q: Ports) => enableUser(q, 'ghost')],
    ['deleteUser', (q: Ports) => deleteUser(q, 'ghost')],
    ['revokeUserTokens', (q: Ports) => revokeUserTokens(q, 'ghost')],
    ['unlockUser', (q: Ports) => unlockUser(q, 'ghost')],
  ])('%s of an unknown user fails with UnknownUserError and changes nothing', async (_name, action) => {
    const error = await failure(action(p));
    expect(error).toBeInstanceOf(UnknownUserError);
    expect(error).toMatchObject({ code: 'unknown_user', username: 'ghost' });
    expect(live.map(revokedAtOf)).toEqual([undefined, undefined]);
    expect(stateOf(liveLegacy)).toBe('active');
    expect(p.refreshTokens.revokedFamilies.size).toBe(0);
    expect(p.users.users.has('ghost')).toBe(false);
  });

  it('setPassword of an unknown user fails before asking for the password', async () => {
    let asked = false;
    const password = async () => {
      asked = true;
      return 'pw';
    };
    expect(await failure(setPassword(p, { username: 'ghost', password, scrypt: FAST_SCRYPT }))).toBeInstanceOf(
      UnknownUserError,
    );
    expect(asked).toBe(false);
  });
});

describe('unlockUser', () => {
  it("clears the user's per-user and per-(user, IP) counters, and leaves the IP's daily budget", async () => {
    const p = ports();
    await registerUser(p, { username: 'alice', passwordHash: '$scrypt$x', scopes: [] });
    const now = NOW_SECONDS;
    for (const ip of ['198.51.100.1', '198.51.100.2'])
      await p.loginAttempts.recordFailure(attemptSubject('alice', ip), now);
    await p.loginAttempts.recordFailure(attemptSubject('bob', '198.51.100.1'), now);

    expect(await unlockUser(p, 'alice')).toEqual({ username: 'alice', clearedCounters: 3 });
    expect(await p.loginAttempts.read(attemptSubject('alice', '198.51.100.1'), now)).toEqual({
      pairFailures: 0,
      pairLastFailureAt: 0,
      userFailuresThisHour: 0,
      ipFailuresToday: 2,
    });
    expect((await p.loginAttempts.read(attemptSubject('bob', '198.51.100.1'), now)).pairFailures).toBe(1);
    expect([...p.loginAttempts.items.keys()].some((key) => key.includes(usernameKey('alice')))).toBe(false);
  });
});

// The services and the protocol core over the same stores: what an operator does, a client sees.
describe('through the token endpoint', () => {
  it.each([
    ['disabling the user', 'disable'],
    ['deleting the user', 'delete'],
    ['changing the password', 'password'],
    ["revoking the user's tokens", 'revoke'],
  ] as const)('%s makes the refresh token the user held fail', async (_case, action) => {
    const deps = memoryDeps();
    await seed(deps);
    const auth = { authorization: basic('app', CONFIDENTIAL_SECRET) };
    const login = await handleTokenRequest(
      tokenRequest({ grant_type: 'password', username: 'alice', password: 'correct horse' }, auth),
      deps,
    );
    const { refresh_token: token } = JSON.parse(login.body) as { refresh_token: string };

    if (action === 'disable') await disableUser(deps, 'alice');
    if (action === 'delete') await deleteUser(deps, 'alice');
    if (action === 'password')
      await setPassword(deps, { username: 'alice', password: 'new password', scrypt: FAST_SCRYPT });
    if (action === 'revoke') await revokeUserTokens(deps, 'alice');

    const refresh = await handleTokenRequest(
      tokenRequest({ grant_type: 'refresh_token', refresh_token: token }, auth),
      deps,
    );
    expect(refresh.status).toBe(400);
    expect(JSON.parse(refresh.body)).toMatchObject({ error: 'invalid_grant' });
  });

  it("narrowing a client's scopes narrows the access tokens its refresh tokens get from then on", async () => {
    const deps = memoryDeps();
    await seed(deps);
    const auth = { authorization: basic('app', CONFIDENTIAL_SECRET) };
    const login = await handleTokenRequest(
      tokenRequest({ grant_type: 'password', username: 'alice', password: 'correct horse' }, auth),
      deps,
    );
    const { refresh_token: token, scope } = JSON.parse(login.body) as { refresh_token: string; scope: string };
    expect(scope).toBe('read write');

    await updateClient(deps, 'app', { scopes: ['read'] });
    const refresh = await handleTokenRequest(
      tokenRequest({ grant_type: 'refresh_token', refresh_token: token }, auth),
      deps,
    );
    expect(refresh.status).toBe(200);
    expect(JSON.parse(refresh.body)).toMatchObject({ scope: 'read' });
  });

  it("a user's new scopes apply to their next password grant", async () => {
    const deps = memoryDeps();
    await seed(deps);
    await updateUser(deps, 'alice', { scopes: ['admin'] });
    const login = await handleTokenRequest(
      tokenRequest(
        { grant_type: 'password', username: 'alice', password: 'correct horse' },
        { authorization: basic('app', CONFIDENTIAL_SECRET) },
      ),
      deps,
    );
    expect(login.status).toBe(200);
    expect(JSON.parse(login.body)).toMatchObject({ scope: 'admin' });
  });

  it('a user registered through the services can log in, with their sub in the access token', async () => {
    const deps = memoryDeps();
    await seed(deps);
    const { userId } = await registerUser(
      { ...deps, random: { uuid: () => 'u-carol' } },
      { username: 'carol', password: 'carol password', scrypt: FAST_SCRYPT, scopes: ['read'] },
    );
    const response = await handleTokenRequest(
      tokenRequest(
        { grant_type: 'password', username: 'carol', password: 'carol password' },
        { authorization: basic('app', CONFIDENTIAL_SECRET) },
      ),
      deps,
    );
    expect(response.status).toBe(200);
    const payload = JSON.parse(
      Buffer.from((JSON.parse(response.body).access_token as string).split('.')[1]!, 'base64url').toString(),
    );
    expect(payload.sub).toBe(userId);
  });
});
