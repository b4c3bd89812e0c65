import { randomUUID } from 'node:crypto';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { UserExistsError } from '../../lambda/accounts/errors';
import type { RegisteredUser, UserDirectory } from '../../lambda/accounts/ports';
import { DynamoUserStore } from '../../lambda/adapters/user-store';
import type { User } from '../../lambda/oauth/ports';
import { MemoryUserStore } from '../support/memory';
import { dynamoDbLocal } from './dynamodb';

/**
 * A store behind the ports: the protocol core's (read, rehash) and the account services' (registration
 * and the operator's changes), and a way to register users in it as `ropc-admin users create` does
 * (through lambda/accounts); the hashes here are opaque strings, not scrypt runs.
 */
interface Harness {
  readonly store: UserDirectory;
  register(user: User): Promise<void>;
}

const CREATED_AT = '2026-11-28T12:00:00.000Z';

function harness(store: UserDirectory): Harness {
  return {
    store,
    register: (user) => store.createUser({ ...user, createdAt: CREATED_AT, passwordChangedAt: CREATED_AT }),
  };
}

async function makeMemory(): Promise<Harness> {
  return harness(new MemoryUserStore());
}

const dynamo = dynamoDbLocal();
afterAll(() => dynamo.close());

async function makeDynamo(): Promise<Harness> {
  const { db, tables } = await dynamo.get();
  return harness(new DynamoUserStore(db, tables.users));
}

function user(overrides: Partial<User> = {}): User {
  return {
    username: `user-${randomUUID()}`,
    userId: randomUUID(),
    passwordHash: '$scrypt$old',
    scopes: ['read', 'write'],
    disabled: false,
    ...overrides,
  };
}

describe.each([
  ['memory', makeMemory],
  ['dynamodb', makeDynamo],
])('UserStore contract: %s', (_name, make) => {
  let harness: Harness;
  beforeEach(async () => {
    harness = await make();
  });

  it.each([
    ['an enabled user', user()],
    ['a disabled user without scopes', user({ disabled: true, scopes: [] })],
  ])('reads back %s as registered', async (_case, registered) => {
    await harness.register(registered);
    expect(await harness.store.getUser(registered.username)).toMatchObject(registered);
  });

  // The username comes from the request: whatever a client sends is a miss, never a failure of the store.
  it.each([
    ['an unknown username', () => `user-${randomUUID()}`],
    ['the username in another case', (registered: string) => registered.toUpperCase()],
    ['an empty username', () => ''],
    ['a username longer than any key', () => 'x'.repeat(3000)],
  ])('reads %s as missing', async (_case, lookup) => {
    const registered = user();
    await harness.register(registered);
    expect(await harness.store.getUser(lookup(registered.username))).toBeUndefined();
  });

  // The password grant rehashes with the hash it read; a password changed meanwhile must win, silently.
  it.each([
    ['the previous hash still stored', '$scrypt$old', '$scrypt$new'],
    ['another hash stored since (a concurrent change)', '$scrypt$stale', '$scrypt$old'],
  ])('replacePasswordHash with %s', async (_case, previous, expected) => {
    const registered = user();
    await harness.register(registered);
    await harness.store.replacePasswordHash(registered.username, previous, '$scrypt$new');
    expect(await harness.store.getUser(registered.username)).toMatchObject({ ...registered, passwordHash: expected });
  });

  it('replacePasswordHash applies once: a second rehash from the same previous hash changes nothing', async () => {
    const registered = user();
    await harness.register(registered);
    await harness.store.replacePasswordHash(registered.username, '$scrypt$old', '$scrypt$first');
    await harness.store.replacePasswordHash(registered.username, '$scrypt$old', '$scrypt$second');
    expect((await harness.store.getUser(registered.username))?.passwordHash).toBe('$scrypt$first');
  });

  it('replacePasswordHash of a user deleted meanwhile creates no user', async () => {
    const username = `gone-${randomUUID()}`;
    await harness.store.replacePasswordHash(username, '$scrypt$old', '$scrypt$new');
    expect(await harness.store.getUser(username)).toBeUndefined();
  });
  describe("the operator's changes", () => {
    const registered = (overrides: Partial<RegisteredUser> = {}): RegisteredUser => ({
      ...user(),
      createdAt: CREATED_AT,
      passwordChangedAt: CREATED_AT,
      ...overrides,
    });
    const LATER = '2026-11-29T08:30:00.000Z';

    it('reads back when a user was registered and last changed their password', async () => {
      const created = registered({ passwordChangedAt: LATER });
      await harness.store.createUser(created);
      expect(await harness.store.getUser(created.username)).toEqual(created);
    });

    it('refuses to register a taken username, with UserExistsError, and keeps the registered user', async () => {
      const created = registered();
      await harness.store.createUser(created);
      const error = await harness.store
        .createUser({ ...created, userId: randomUUID(), passwordHash: '$scrypt$other' })
        .catch((reason: unknown) => reason);
      expect(error).toBeInstanceOf(UserExistsError);
      expect(await harness.store.getUser(created.username)).toEqual(created);
    });

    it('setPassword replaces the hash whatever it was, records when, and ends the sessions in the same write', async () => {
      const created = registered();
      await harness.store.createUser(created);
      expect(await harness.store.setPassword(created.username, '$scrypt$new', LATER)).toBe(true);
      expect(await harness.store.getUser(created.username)).toEqual({
        ...created,
        passwordHash: '$scrypt$new',
        passwordChangedAt: LATER,
        sessionEpoch: 1,
      });
      expect(await harness.store.setPassword(created.username, '$scrypt$newer', LATER)).toBe(true);
      expect((await harness.store.getUser(created.username))?.sessionEpoch).toBe(2);
    });

    it('disables (ending the sessions) and enables a user (ending nothing), and changes nothing else', async () => {
      const created = registered();
      await harness.store.createUser(created);
      expect(await harness.store.setDisabled(created.username, true)).toBe(true);
      expect(await harness.store.getUser(created.username)).toEqual({ ...created, disabled: true, sessionEpoch: 1 });
      expect(await harness.store.setDisabled(created.username, false)).toBe(true);
      expect(await harness.store.getUser(created.username)).toEqual({ ...created, sessionEpoch: 1 });
    });

    it('endSessions raises the count of ended sessions and changes nothing else', async () => {
      const created = registered();
      await harness.store.createUser(created);
      expect(created.sessionEpoch).toBeUndefined();
      expect(await harness.store.endSessions(created.username)).toBe(true);
      expect(await harness.store.getUser(created.username)).toEqual({ ...created, sessionEpoch: 1 });
      // Concurrent calls each count: none is lost.
      await Promise.all(Array.from({ length: 5 }, () => harness.store.endSessions(created.username)));
      expect((await harness.store.getUser(created.username))?.sessionEpoch).toBe(6);
    });

    it('deleteUser returns the user as it was, once', async () => {
      const created = registered({ disabled: true });
      await harness.store.createUser(created);
      expect(await harness.store.deleteUser(created.username)).toEqual(created);
      expect(await harness.store.getUser(created.username)).toBeUndefined();
      expect(await harness.store.deleteUser(created.username)).toBeUndefined();
    });

    it('lists every user by username, without the password hash', async () => {
      const prefix = `list-${randomUUID()}`;
      for (const suffix of ['b', 'c', 'a']) {
        await harness.store.createUser(registered({ username: `${prefix}-${suffix}`, sessionEpoch: 2 }));
      }
      const listed = (await harness.store.listUsers()).filter((listedUser) => listedUser.username.startsWith(prefix));
      expect(listed.map((listedUser) => listedUser.username)).toEqual([`${prefix}-a`, `${prefix}-b`, `${prefix}-c`]);
      const { passwordHash: _hash, ...profile } = (await harness.store.getUser(`${prefix}-a`))!;
      expect(listed[0]).toEqual(profile);
      for (const listedUser of listed) expect(listedUser).not.toHaveProperty('passwordHash');
    });

    it('updateUser replaces the scopes, returns the user without the hash, and changes nothing else', async () => {
      const created = registered({ sessionEpoch: 3 });
      await harness.store.createUser(created);
      const { passwordHash: _hash, ...profile } = created;
      expect(await harness.store.updateUser(created.username, { scopes: ['admin'] })).toEqual({
        ...profile,
        scopes: ['admin'],
      });
      expect(await harness.store.getUser(created.username)).toEqual({ ...created, scopes: ['admin'] });
      expect(await harness.store.updateUser(created.username, { scopes: [] })).toMatchObject({ scopes: [] });
    });

    it('updateUser of an unknown user returns undefined and registers nothing', async () => {
      const username = `unknown-${randomUUID()}`;
      expect(await harness.store.updateUser(username, { scopes: ['read'] })).toBeUndefined();
      expect(await harness.store.getUser(username)).toBeUndefined();
    });

    it.each([
      ['setPassword', (store: UserDirectory, username: string) => store.setPassword(username, '$scrypt$new', LATER)],
      ['setDisabled', (store: UserDirectory, username: string) => store.setDisabled(username, true)],
      ['endSessions', (store: UserDirectory, username: string) => store.endSessions(username)],
    ])('%s of an unknown user returns false and registers nothing', async (_method, change) => {
      const username = `unknown-${randomUUID()}`;
      expect(await change(harness.store, username)).toBe(false);
      expect(await harness.store.getUser(username)).toBeUndefined();
    });
  });
});

describe('DynamoUserStore: listUsers', () => {
  it('follows the Scan across pages', async () => {
    const { db, tables } = await dynamo.get();
    const store = new DynamoUserStore(db, tables.users, 2);
    const prefix = `paged-${randomUUID()}`;
    const names = ['e', 'd', 'c', 'b', 'a'].map((suffix) => `${prefix}-${suffix}`);
    for (const username of names) {
      await store.createUser({ ...user({ username }), createdAt: CREATED_AT, passwordChangedAt: CREATED_AT });
    }
    const listed = (await store.listUsers()).filter((listedUser) => listedUser.username.startsWith(prefix));
    expect(listed.map((listedUser) => listedUser.username)).toEqual([...names].sort());
  });
});
