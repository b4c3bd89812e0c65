import { randomUUID } from 'node:crypto';
import { afterAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { IMPORT_CLAIM } from '../../contract/tables';
import { ImportClaimLostError, ImportInProgressError, UserExistsError } from '../../lambda/accounts/errors';
import { type ImportSource, ImportSourceChangedError, importUsers } from '../../lambda/accounts/import';
import {
  IMPORT_BATCH_SIZE,
  type RegisteredUser,
  type UserDirectory,
  type UserImport,
} from '../../lambda/accounts/ports';
import { DynamoUserStore } from '../../lambda/adapters/user-store';
import { hashPassword } from '../../lambda/passwords';
import { documentClient, freshTables } from '../support/aws';
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

/** Import lines `<prefix>-0` to `<prefix>-<count - 1>`, each with the one scrypt hash. */
function numbered(prefix: string, count: number): { username: string; password_hash: string }[] {
  return Array.from({ length: count }, (_, index) => ({ username: `${prefix}-${index}`, password_hash: HASH }));
}

/** Runs `work` under a claim of its own, released afterwards. */
async function underClaim<T>(store: Store, work: (live: () => boolean) => Promise<T>): Promise<T> {
  const holder = randomUUID();
  await store.claimImport(holder, Date.now(), Date.now() + 60_000);
  try {
    return await work(() => true);
  } finally {
    await store.releaseImport(holder);
  }
}

/** A user as `users create` registers one now (the claim is judged at createdAt). */
function createdNow(username: string): RegisteredUser {
  const at = new Date().toISOString();
  return { ...registered(username), createdAt: at, passwordChangedAt: at };
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
    const outcome = await underClaim(store, (live) => store.importUsers(batch, live));
    expect(outcome).toEqual({ written: batch.map((user) => user.username), existing: [] });
    for (const user of batch) expect(await store.getUser(user.username)).toEqual(user);
  });

  it('skips a username that is taken within the same batch, leaves that user as it was and writes the rest', async () => {
    const taken = registered(`taken-${randomUUID()}`);
    await store.createUser(taken);
    const batch = [imported(), imported({ username: taken.username }), imported()];
    const outcome = await underClaim(store, (live) => store.importUsers(batch, live));
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
    const outcome = await underClaim(store, (live) => store.importUsers(batch, live));
    expect([...outcome.existing].sort()).toEqual(taken.map((user) => user.username).sort());
    expect(outcome.written).toHaveLength(IMPORT_BATCH_SIZE - taken.length);
    for (const user of taken) expect(await store.getUser(user.username)).toEqual(user);
    for (const username of outcome.written) {
      expect(await store.getUser(username)).toEqual(batch.find((user) => user.username === username));
    }
  });

  it('writes nothing the second time: a re-run counts every user as existing', async () => {
    const batch = [imported(), imported()];
    await underClaim(store, (live) => store.importUsers(batch, live));
    const again = await underClaim(store, (live) =>
      store.importUsers(
        batch.map((user) => ({ ...user, passwordHash: '$scrypt$changed' })),
        live,
      ),
    );
    expect(again).toEqual({ written: [], existing: batch.map((user) => user.username) });
    for (const user of batch) expect((await store.getUser(user.username))?.passwordHash).toBe('$scrypt$imported');
  });

  it('trusts mayExist: a username it says cannot exist is written without a read, one it says may is read', async () => {
    const taken = registered(`hinted-${randomUUID()}`);
    await store.createUser(taken);
    const free = imported();
    const overwriting = imported({ username: taken.username });
    // A wrong hint is the caller's fault, and this shows what it costs: the store writes over the user.
    const outcome = await underClaim(store, (live) =>
      store.importUsers([free, overwriting], live, (username) => username === free.username),
    );
    expect(outcome).toEqual({ written: [free.username, overwriting.username], existing: [] });
    expect(await store.getUser(taken.username)).toEqual(overwriting);
    expect(await store.getUser(free.username)).toEqual(free);
  });

  it('sends no write once the claim is no longer live, and says so', async () => {
    const batch = [imported(), imported()];
    const error = await underClaim(store, () => store.importUsers(batch, () => false)).catch((reason) => reason);
    expect(error).toBeInstanceOf(ImportClaimLostError);
    for (const user of batch) expect(await store.getUser(user.username)).toBeUndefined();
  });

  it('while an import holds the claim, creates no user: users create is refused, a first login paused', async () => {
    const holder = randomUUID();
    const until = Date.now() + 60_000;
    await store.claimImport(holder, Date.now(), until);
    const name = `during-${randomUUID()}`;
    try {
      const refusal = await store.createUser(createdNow(name)).catch((reason: unknown) => reason);
      expect(refusal).toBeInstanceOf(ImportInProgressError);
      expect((refusal as ImportInProgressError).until).toBe(until);
      const migrated = { username: name, userId: 'legacy-1', passwordHash: HASH, scopes: [], disabled: false };
      expect(await store.createMigratedUser(migrated, new Date().toISOString())).toBe('paused');
      expect(await store.getUser(name)).toBeUndefined();
      // A name that exists is still judged as taken: a first login of a user that is here needs no write.
      const existing = `existing-${randomUUID()}`;
      await store.releaseImport(holder);
      await store.createUser(createdNow(existing));
      await store.claimImport(holder, Date.now(), until);
      expect(await store.createMigratedUser({ ...migrated, username: existing }, new Date().toISOString())).toBe(
        'taken',
      );
    } finally {
      await store.releaseImport(holder);
    }
    // Released: users are created again at once.
    await store.createUser(createdNow(name));
    expect((await store.getUser(name))?.username).toBe(name);
  });

  it('lets one import hold the claim at a time, and takes over a lapsed one', async () => {
    const first = randomUUID();
    const second = randomUUID();
    const now = Date.now();
    await store.claimImport(first, now, now + 60_000);
    const busy = await store.claimImport(second, now, now + 60_000).catch((reason: unknown) => reason);
    expect(busy).toBeInstanceOf(ImportInProgressError);
    expect((busy as ImportInProgressError).until).toBe(now + 60_000);
    // Another's claim is neither renewed nor released by it.
    expect(await store.renewImport(second, now, now + 120_000)).toBe(false);
    await store.releaseImport(second);
    expect(await store.createUser(createdNow(`blocked-${randomUUID()}`)).catch((reason) => reason)).toBeInstanceOf(
      ImportInProgressError,
    );
    expect(await store.renewImport(first, now + 1_000, now + 90_000)).toBe(true);
    // Lapsed (a killed import): the next one takes it, and the first can no longer renew it.
    const later = now + 91_000;
    await store.claimImport(second, later, later + 60_000);
    expect(await store.renewImport(first, later, later + 60_000)).toBe(false);
    await store.releaseImport(first);
    expect(await store.claimImport(first, later, later + 60_000).catch((reason) => reason)).toBeInstanceOf(
      ImportInProgressError,
    );
    await store.releaseImport(second);
  });

  it('does not renew a claim that lapsed, even when no other import took it', async () => {
    const holder = randomUUID();
    const now = Date.now();
    await store.claimImport(holder, now, now + 1_000);
    expect(await store.renewImport(holder, now + 2_000, now + 60_000)).toBe(false);
    await store.releaseImport(holder);
  });

  it('gives the claim to exactly one of many imports that start at once', async () => {
    const now = Date.now();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 6 }, () => store.claimImport(randomUUID(), now, now + 60_000)),
    );
    const won = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(ImportInProgressError);
    }
    // Whoever won: a claim that lapses at once, so that the next test starts with none.
    const winner = randomUUID();
    await store.claimImport(winner, now + 60_000, now + 60_001);
    await store.releaseImport(winner);
  });

  it('never overwrites a user created at the same moment as an import runs: the user is refused or skipped', async () => {
    const prefix = `race-${randomUUID().slice(0, 8)}`;
    const records = Array.from({ length: 3 * IMPORT_BATCH_SIZE }, (_, index) => ({
      username: `${prefix}-${index}`,
      password_hash: HASH,
      sub: `${prefix}-sub-${index}`,
    }));
    const source: ImportSource = async function* () {
      for (const record of records) yield { text: JSON.stringify(record) };
    };
    const rivals = [0, 99, 100, 150, 299].map((index) => createdNow(`${prefix}-${index}`));
    const importing = importUsers({ users: store, clock: Date.now, random: { uuid: randomUUID } }, source, {
      concurrency: 2,
    });
    const created = await Promise.all(
      rivals.map(async (rival, index) => {
        await new Promise((resolve) => setTimeout(resolve, index * 3));
        return store.createUser(rival).then(
          () => true,
          (error: unknown) => {
            // Refused while the import ran, or after it wrote the user.
            expect([ImportInProgressError, UserExistsError].some((type) => error instanceof type)).toBe(true);
            return false;
          },
        );
      }),
    );
    const outcome = await importing;
    const createdCount = created.filter(Boolean).length;
    expect(outcome).toEqual({ kind: 'imported', imported: records.length - createdCount, skipped: createdCount });
    for (const [index, rival] of rivals.entries()) {
      const stored = await store.getUser(rival.username);
      if (created[index]) expect(stored).toEqual(rival);
      else expect(stored?.userId).toBe(`${prefix}-sub-${rival.username.slice(prefix.length + 1)}`);
    }
  });
});

describe.each([
  ['memory', async (): Promise<Store> => new MemoryUserStore()],
  ['dynamodb', makeDynamo],
])('the claim items on the %s store', (_name, make) => {
  it('are no user: not listed, not found, not changed or deleted by any user action', async () => {
    const store = await make();
    const holder = randomUUID();
    await store.claimImport(holder, Date.now(), Date.now() + 60_000);
    try {
      const names = (await store.listUsers()).map((user) => user.username);
      expect(names.filter((name) => name.startsWith(IMPORT_CLAIM.keyPrefix))).toEqual([]);
      for (let shard = 0; shard < IMPORT_CLAIM.shards; shard++) {
        const key = `${IMPORT_CLAIM.keyPrefix}${shard}`;
        expect(await store.getUser(key)).toBeUndefined();
        expect(await store.updateUser(key, { scopes: ['admin'] })).toBeUndefined();
        expect(await store.setDisabled(key, true)).toBe(false);
        expect(await store.endSessions(key)).toBe(false);
        expect(await store.setPassword(key, HASH, new Date().toISOString())).toBe(false);
        expect(await store.deleteUser(key)).toBeUndefined();
      }
      // Still held: nothing above touched it.
      expect(await store.createUser(createdNow(`after-${randomUUID()}`)).catch((reason) => reason)).toBeInstanceOf(
        ImportInProgressError,
      );
    } finally {
      await store.releaseImport(holder);
    }
  });
});

/** The import service over each store: batches of IMPORT_BATCH_SIZE, counted across batches. */
describe.each([
  ['memory', async (): Promise<Store> => new MemoryUserStore()],
  ['dynamodb', makeDynamo],
])('importUsers over the %s store', (name, make) => {
  /** A store of its own: the modes depend on how many users the whole table holds. */
  const makeStore = async (): Promise<Store> => {
    if (name === 'memory') return make();
    const { endpoint, tables } = await freshTables({ enableTtl: false });
    const client = documentClient(endpoint);
    onTestFinished(() => client.destroy());
    return new DynamoUserStore(client, tables.users);
  };
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

  it('reads the usernames of a table a tenth of the input or less once, and of a larger one batch by batch', async () => {
    const store = await makeStore();
    const prefix = `modes-${randomUUID().slice(0, 8)}`;
    for (const index of [5, 120]) await store.createUser(registered(`${prefix}-${index}`));
    const maybe: string[][] = [];
    const watched: Store = Object.assign(Object.create(store) as Store, {
      importUsers: (batch: readonly RegisteredUser[], live: () => boolean, mayExist?: (name: string) => boolean) => {
        maybe.push(batch.map((user) => user.username).filter((name) => mayExist?.(name) ?? true));
        return store.importUsers(batch, live, mayExist);
      },
    });
    const records = (count: number) => numbered(prefix, count);
    // Two users in the table, 250 in the file (at most one in ten there): only the two are read back.
    expect(await importUsers(deps(watched), lines(records(250)))).toEqual({
      kind: 'imported',
      imported: 248,
      skipped: 2,
    });
    expect(maybe.flat().sort()).toEqual([`${prefix}-120`, `${prefix}-5`]);
    // 250 users in the table, 300 in the file (more than one in ten there, as on a re-run): every batch
    // reads all of its usernames.
    maybe.length = 0;
    expect(await importUsers(deps(watched), lines(records(300)))).toEqual({
      kind: 'imported',
      imported: 50,
      skipped: 250,
    });
    expect(maybe.flat()).toHaveLength(300);
  });

  it('renews its claim as it goes, so a long import keeps it, and releases it at the end', async () => {
    const store = await make();
    const prefix = `long-${randomUUID().slice(0, 8)}`;
    const records = numbered(prefix, 6 * IMPORT_BATCH_SIZE);
    // Each batch takes two minutes by this clock: without renewals the claim (five minutes) would lapse.
    let now = Date.now();
    const outcome = await importUsers(
      { users: store, clock: () => now, random: { uuid: randomUUID } },
      lines(records),
      {
        concurrency: 1,
        onProgress: () => {
          now += 2 * 60_000;
        },
      },
    );
    expect(outcome).toEqual({ kind: 'imported', imported: records.length, skipped: 0 });
    const after = { ...registered(`after-${prefix}`), createdAt: new Date(now).toISOString() };
    await store.createUser(after);
    expect(await store.getUser(after.username)).toEqual(after);
  });

  it('stops, writing nothing more, when its claim lapsed and another import took it', async () => {
    const store = await make();
    const prefix = `lapsed-${randomUUID().slice(0, 8)}`;
    const records = numbered(prefix, 3 * IMPORT_BATCH_SIZE);
    const rival = randomUUID();
    let now = Date.now();
    let batches = 0;
    const error = await importUsers({ users: store, clock: () => now, random: { uuid: randomUUID } }, lines(records), {
      concurrency: 1,
      onProgress: () => {
        if (++batches > 1) return;
        // The process was suspended for six minutes after the first batch; another import started meanwhile.
        now += 6 * 60_000;
        void store.claimImport(rival, now, now + 60_000);
      },
    }).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(ImportClaimLostError);
    expect(error).toMatchObject({ imported: IMPORT_BATCH_SIZE, skipped: 0 });
    expect(await store.getUser(`${prefix}-${IMPORT_BATCH_SIZE}`)).toBeUndefined();
    // The other import's claim stands: the stopped one released only its own.
    const blocked = { ...registered(`blocked-${prefix}`), createdAt: new Date(now).toISOString() };
    expect(await store.createUser(blocked).catch((reason: unknown) => reason)).toBeInstanceOf(ImportInProgressError);
    await store.releaseImport(rival);
  });

  it('refuses to start while another import holds the claim, and writes nothing', async () => {
    const store = await make();
    const other = randomUUID();
    await store.claimImport(other, Date.now(), Date.now() + 60_000);
    try {
      const record = { username: `second-${randomUUID()}`, password_hash: HASH };
      const error = await importUsers(deps(store), lines([record])).catch((reason: unknown) => reason);
      expect(error).toBeInstanceOf(ImportInProgressError);
      expect(await store.getUser(record.username)).toBeUndefined();
    } finally {
      await store.releaseImport(other);
    }
  });

  it('stops between batches when its signal is aborted, and releases its claim', async () => {
    const store = await make();
    const prefix = `aborted-${randomUUID().slice(0, 8)}`;
    const records = numbered(prefix, 4 * IMPORT_BATCH_SIZE);
    const controller = new AbortController();
    const outcome = await importUsers({ users: store, clock: Date.now, random: { uuid: randomUUID } }, lines(records), {
      concurrency: 1,
      signal: controller.signal,
      onProgress: () => controller.abort(),
    });
    expect(outcome).toEqual({ kind: 'imported', imported: IMPORT_BATCH_SIZE, skipped: 0, interrupted: true });
    expect(await store.getUser(`${prefix}-${IMPORT_BATCH_SIZE}`)).toBeUndefined();
    await store.createUser(createdNow(`${prefix}-${IMPORT_BATCH_SIZE}`));
  });

  it('stops when the input no longer reads as it did when it was checked', async () => {
    const store = await make();
    const prefix = `changed-${randomUUID().slice(0, 8)}`;
    const good = numbered(prefix, IMPORT_BATCH_SIZE + 1);
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
