import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoLoginAttemptStore } from '../../lambda/adapters/login-attempt-store';
import { attemptSubject, NO_FAILURES, usernameKey } from '../../lambda/oauth/lockout';
import { documentClient, freshTables } from '../support/aws';

let store: DynamoLoginAttemptStore;
let db: ReturnType<typeof documentClient>;
let table: string;
const NOW = 1_795_000_000 - (1_795_000_000 % 3600); // an hour boundary

beforeAll(async () => {
  // TTL off: expired counters stay in the table, as they do on DynamoDB until its late sweep.
  const { endpoint, tables } = await freshTables({ enableTtl: false });
  db = documentClient(endpoint);
  table = tables.loginAttempts;
  store = new DynamoLoginAttemptStore(db, table);
});

afterAll(() => db?.destroy());

describe('DynamoLoginAttemptStore against DynamoDB Local', () => {
  it('counts failures per (user, IP), per user per hour and per IP per day', async () => {
    const a = attemptSubject('carol', '198.51.100.10');
    const b = attemptSubject('carol', '198.51.100.11');
    expect(await store.read(a, NOW)).toEqual(NO_FAILURES);
    await store.recordFailure(a, NOW);
    await store.recordFailure(a, NOW + 1);
    const after = await store.recordFailure(b, NOW + 2);
    expect(after).toEqual({ pairFailures: 1, pairLastFailureAt: NOW + 2, userFailuresThisHour: 3, ipFailuresToday: 1 });
    expect(await store.read(a, NOW + 3)).toEqual({
      pairFailures: 2,
      pairLastFailureAt: NOW + 1,
      userFailuresThisHour: 3,
      ipFailuresToday: 2,
    });
    // A new hour starts from zero for the user; the day goes on for the IP.
    expect(await store.read(a, NOW + 3600)).toMatchObject({
      userFailuresThisHour: 0,
      ipFailuresToday: 2,
      pairFailures: 2,
    });
  });

  it('stores no username, only its hash', async () => {
    const subject = attemptSubject('dave@example.test', '198.51.100.12');
    await store.recordFailure(subject, NOW);
    const { Item } = await db.send(
      new GetCommand({
        TableName: table,
        Key: { pk: `user#${usernameKey('dave@example.test')}`, sk: 'ip#198.51.100.12' },
      }),
    );
    expect(Item).toMatchObject({ failures: 1, lastFailureAt: NOW, expiresAt: NOW + 86400 });
    expect(JSON.stringify(Item)).not.toContain('dave');
  });

  it('ignores expired counters on read and restarts an expired streak instead of adding to it', async () => {
    const subject = attemptSubject('erin', '198.51.100.13');
    for (let i = 0; i < 6; i++) await store.recordFailure(subject, NOW);
    const later = NOW + 86400 + 10;
    expect((await store.read(subject, later)).pairFailures).toBe(0);
    expect((await store.recordFailure(subject, later)).pairFailures).toBe(1);
  });

  it('ends a streak on success and forgets a user entirely on unlock', async () => {
    const subject = attemptSubject('frank', '198.51.100.14');
    for (let i = 0; i < 3; i++) await store.recordFailure(subject, NOW);
    await store.recordSuccess(subject);
    expect(await store.read(subject, NOW)).toMatchObject({ pairFailures: 0, userFailuresThisHour: 3 });
    await store.recordFailure(attemptSubject('frank', '198.51.100.15'), NOW);
    expect(await store.clearUser(usernameKey('frank'))).toBe(2); // the other IP's streak and the hour counter
    expect(await store.read(subject, NOW)).toMatchObject({
      pairFailures: 0,
      userFailuresThisHour: 0,
      ipFailuresToday: 3,
    });
  });
});
