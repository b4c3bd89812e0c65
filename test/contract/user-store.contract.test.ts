import { randomUUID } from 'node:crypto';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoUserStore } from '../../lambda/adapters/user-store';
import type { User, UserStore } from '../../lambda/oauth/ports';
import { MemoryUserStore } from '../support/memory';
import { dynamoDbLocal } from './dynamodb';

/** A store behind the port, and a way to register users in it (the port only reads and rehashes). */
interface Harness {
  readonly store: UserStore;
  register(user: User): Promise<void>;
}

async function makeMemory(): Promise<Harness> {
  const store = new MemoryUserStore();
  return { store, register: async (user) => void store.users.set(user.username, user) };
}

const dynamo = dynamoDbLocal();
afterAll(() => dynamo.close());

async function makeDynamo(): Promise<Harness> {
  const { db, tables } = await dynamo.get();
  const store = new DynamoUserStore(db, tables.users);
  const at = new Date().toISOString();
  // As `ropc-admin users create` registers one; the hashes here are opaque strings, not scrypt runs.
  return { store, register: (user) => store.createUser({ ...user, createdAt: at, passwordChangedAt: at }) };
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
});
