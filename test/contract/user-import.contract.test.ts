import { randomUUID } from 'node:crypto';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { UserExistsError } from '../../lambda/accounts/errors';
import { type ImportSource, ImportSourceChangedError, importUsers } from '../../lambda/accounts/import';
import {
  IMPORT_BATCH_SIZE,
  type RegisteredUser,
  type UserDirectory,
  type UserImport,
} from '../../lambda/accounts/ports';
import { DynamoUserStore } from '../../lambda/adapters/user-store';
import { hashPassword } from '../../lambda/passwords';
import { MemoryUserStore } from '../support/memory';
import { dynamoDbLocal } from './dynamodb';

/**
 * The import's batch write (UserImport) on both stores: free usernames are written as given, taken ones
 * are reported and left exactly as they were, whoever took them and however recently. The hashes are
 * opaque strings here: the stores never look inside them.
 */
type Store = UserDirectory & UserImport;

const dynamo = dynamoDbLocal();
afterAll(() => dynamo.close());

async function makeDynamo(): Promise<Store> {
  const { db, tables } = await dynamo.get();
  return new DynamoUserStore(db, tables.users);
}

const IMPORTED_AT = '2026-12-01T09:00:00.000Z';
/** A real hash in the service's format: the service checks each line's hash before anything is written. */
const HASH = await hashPassword('imported password', { N: 2 ** 10, r: 8, p: 1 });

function imported(overrides: Partial<RegisteredUser> = {}): RegisteredUser {
  return {
    username: `imported-${randomUUID()}`,
    userId: `legacy-${randomUUID()}`,
    passwordHash: '$scrypt$imported',
    scopes: ['read'],
    disabled: false,
    createdAt: IMPORTED_AT,
    passwordChangedAt: IMPORTED_AT,
    ...overrides,
  };
}

/** A user as `users create` registers one: another id, another hash, another time. */
function registered(username: string): RegisteredUser {
  return {
    username,
    userId: randomUUID(),
    passwordHash: '$scrypt$registered',
    scopes: ['admin'],
    disabled: false,
    createdAt: '2026-11-28T12:00:00.000Z',
    passwordChangedAt: '2026-11-28T12:00:00.000Z',
  };
}

describe.each([
  ['memory', async (): Promise<Store> => new MemoryUserStore()],
  ['dynamodb', makeDynamo],
])('UserImport contract: %s', (_name, make) => {
  let store: Store;
  beforeEach(async () => {
    store = await make();
  });

  it('writes every user of a batch whose usernames are free, as given', async () => {
    const batch = [
      imported(),
      imported({ disabled: true, scopes: [] }),
      imported({ scopes: ['read', 'write', 'urn:example:admin'] }),
    ];
    const outcome = await store.importUsers(batch);
    expect(outcome).toEqual({ written: batch.map((user) => user.username), existing: [] });
    for (const user of batch) expect(await store.getUser(user.username)).toEqual(user);
  });

  it('skips a username that is taken within the same batch, leaves that user as it was and writes the rest', async () => {
    const taken = registered(`taken-${randomUUID()}`);
    await store.createUser(taken);
    const batch = [imported(), imported({ username: taken.username }), imported()];
    const outcome = await store.importUsers(batch);
    expect(outcome.existing).toEqual([taken.username]);
    expect([...outcome.written].sort()).toEqual([batch[0]!.username, batch[2]!.username].sort());
    expect(await store.getUser(taken.username)).toEqual(taken);
    expect(await store.getUser(batch[0]!.username)).toEqual(batch[0]);
    expect(await store.getUser(batch[2]!.username)).toEqual(batch[2]);
  });

  it('takes a full batch with taken usernames scattered through it', async () => {
    const batch = Array.from({ length: IMPORT_BATCH_SIZE }, () => imported());
    const takenIndexes = [0, 17, 50, 98, 99];
    const taken = takenIndexes.map((index) => registered(batch[index]!.username));
    for (const user of taken) await store.createUser(user);
    const outcome = await store.importUsers(batch);
    expect([...outcome.existing].sort()).toEqual(taken.map((user) => user.username).sort());
    expect(outcome.written).toHaveLength(IMPORT_BATCH_SIZE - taken.length);
    for (const user of taken) expect(await store.getUser(user.username)).toEqual(user);
    for (const username of outcome.written) {
      expect(await store.getUser(username)).toEqual(batch.find((user) => user.username === username));
    }
  });

  it('writes nothing the second time: a re-run counts every user as existing', async () => {
    const batch = [imported(), imported()];
    await store.importUsers(batch);
    const again = await store.importUsers(batch.map((user) => ({ ...user, passwordHash: '$scrypt$changed' })));
    expect(again).toEqual({ written: [], existing: batch.map((user) => user.username) });
    for (const user of batch) expect((await store.getUser(user.username))?.passwordHash).toBe('$scrypt$imported');
  });

  it('never overwrites a user created at the same moment: exactly one of the two writes wins', async () => {
    for (let round = 0; round < 10; round++) {
      const contested = `contested-${randomUUID()}`;
      const batch = [imported(), imported({ username: contested }), imported()];
      const rival = registered(contested);
      const [outcome, created] = await Promise.all([
        store.importUsers(batch),
        store.createUser(rival).then(
          () => true,
          (error: unknown) => {
            expect(error).toBeInstanceOf(UserExistsError);
            return false;
          },
        ),
      ]);
      const stored = await store.getUser(contested);
      if (created) {
        expect(outcome.existing).toEqual([contested]);
        expect(stored).toEqual(rival);
      } else {
        expect(outcome.written).toContain(contested);
        expect(stored).toEqual(batch[1]);
      }
      expect(outcome.written.length + outcome.existing.length).toBe(batch.length);
    }
  });
});

/** The import service over each store: batches of IMPORT_BATCH_SIZE, counted across batches. */
describe.each([
  ['memory', async (): Promise<Store> => new MemoryUserStore()],
  ['dynamodb', makeDynamo],
])('importUsers over the %s store', (_name, make) => {
  const deps = (users: Store) => ({ users, clock: () => Date.parse(IMPORTED_AT), random: { uuid: randomUUID } });
  const lines = (records: readonly Record<string, unknown>[]): ImportSource =>
    async function* () {
      for (const record of records) yield { text: JSON.stringify(record) };
    };

  it('imports more users than one batch holds, skipping and counting those that exist', async () => {
    const store = await make();
    const prefix = `bulk-${randomUUID().slice(0, 8)}`;
    const records = Array.from({ length: 2 * IMPORT_BATCH_SIZE + 37 }, (_, index) => ({
      username: `${prefix}-${index}`,
      password_hash: HASH,
      sub: `${prefix}-sub-${index}`,
      scopes: ['read'],
    }));
    const taken = [3, 150, 236].map((index) => registered(`${prefix}-${index}`));
    for (const user of taken) await store.createUser(user);
    const progress: number[] = [];
    const outcome = await importUsers(deps(store), lines(records), { onProgress: ({ done }) => progress.push(done) });
    expect(outcome).toEqual({ kind: 'imported', imported: records.length - taken.length, skipped: taken.length });
    expect(progress.at(-1)).toBe(records.length);
    for (const user of taken) expect(await store.getUser(user.username)).toEqual(user);
    expect(await store.getUser(`${prefix}-200`)).toEqual({
      username: `${prefix}-200`,
      userId: `${prefix}-sub-200`,
      passwordHash: HASH,
      scopes: ['read'],
      disabled: false,
      createdAt: IMPORTED_AT,
      passwordChangedAt: IMPORTED_AT,
    });
  });

  it('stops when the input no longer reads as it did when it was checked', async () => {
    const store = await make();
    const prefix = `changed-${randomUUID().slice(0, 8)}`;
    const good = Array.from({ length: IMPORT_BATCH_SIZE + 1 }, (_, index) => ({
      username: `${prefix}-${index}`,
      password_hash: HASH,
    }));
    let reads = 0;
    const source: ImportSource = async function* () {
      reads++;
      for (const [index, record] of good.entries()) {
        yield { text: reads > 1 && index === IMPORT_BATCH_SIZE ? '{"username": ' : JSON.stringify(record) };
      }
    };
    const error = await importUsers(deps(store), source).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(ImportSourceChangedError);
    expect(error).toMatchObject({ line: IMPORT_BATCH_SIZE + 1, imported: IMPORT_BATCH_SIZE, skipped: 0 });
    expect(await store.getUser(`${prefix}-${IMPORT_BATCH_SIZE}`)).toBeUndefined();
  });
});
