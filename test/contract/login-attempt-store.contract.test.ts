import { randomUUID } from 'node:crypto';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { LoginAttemptReset } from '../../lambda/accounts/ports';
import { DynamoLoginAttemptStore } from '../../lambda/adapters/login-attempt-store';
import {
  type AttemptSubject,
  attemptSubject,
  DAY,
  DEFAULT_LOCKOUT_POLICY,
  HOUR,
  NO_FAILURES,
} from '../../lambda/oauth/lockout';
import type { LoginAttemptStore } from '../../lambda/oauth/ports';
import { MemoryLoginAttemptStore } from '../support/memory';
import { dynamoDbLocal } from './dynamodb';

/** The lockout's counters, and the operator's reset of them (`ropc-admin users unlock`). */
type Store = LoginAttemptStore & LoginAttemptReset;

async function makeMemory(): Promise<Store> {
  return new MemoryLoginAttemptStore();
}

const dynamo = dynamoDbLocal();
afterAll(() => dynamo.close());

async function makeDynamo(): Promise<Store> {
  const { db, tables } = await dynamo.get();
  return new DynamoLoginAttemptStore(db, tables.loginAttempts);
}

/** A UTC midnight, so also an hour boundary: the hour and day windows start here. */
const NOW = 1_795_000_000 - (1_795_000_000 % DAY);

// The IP's daily counter is shared by every username: each test gets addresses of its own.
let hosts = 0;
const freshIp = () => `198.18.${++hosts >> 8}.${hosts & 255}`;
const freshSubject = (): AttemptSubject => attemptSubject(`user-${randomUUID()}`, freshIp());

describe.each([
  ['memory', makeMemory],
  ['dynamodb', makeDynamo],
])('LoginAttemptStore contract: %s', (_name, make) => {
  let store: Store;
  beforeEach(async () => {
    store = await make();
  });

  async function fail(subject: AttemptSubject, ...times: number[]) {
    for (const at of times) await store.recordFailure(subject, at);
  }

  describe('reserving an attempt before its password is checked', () => {
    const POLICY = { ...DEFAULT_LOCKOUT_POLICY, userFailuresPerHour: 100, ipFailuresPerDay: 100 };

    it('counts the attempt on the pair, hour and day counters, and returns them', async () => {
      const subject = freshSubject();
      expect(await store.reserve(subject, NO_FAILURES, NOW, POLICY)).toEqual({
        granted: true,
        after: { pairFailures: 1, pairLastFailureAt: NOW, userFailuresThisHour: 1, ipFailuresToday: 1 },
      });
      const before = await store.read(subject, NOW + 5);
      expect(before).toEqual({ pairFailures: 1, pairLastFailureAt: NOW, userFailuresThisHour: 1, ipFailuresToday: 1 });
      expect(await store.reserve(subject, before, NOW + 5, POLICY)).toEqual({
        granted: true,
        after: { pairFailures: 2, pairLastFailureAt: NOW + 5, userFailuresThisHour: 2, ipFailuresToday: 2 },
      });
    });

    it('refuses, counting nothing, an attempt whose streak changed since it was read', async () => {
      const subject = freshSubject();
      await store.recordFailure(subject, NOW);
      const stale = NO_FAILURES;
      expect(await store.reserve(subject, stale, NOW + 1, POLICY)).toEqual({
        granted: false,
        reason: 'concurrent_attempt',
      });
      expect(await store.read(subject, NOW + 1)).toEqual({
        pairFailures: 1,
        pairLastFailureAt: NOW,
        userFailuresThisHour: 1,
        ipFailuresToday: 1,
      });
    });

    it('starts a new streak over one that expired but is still stored (TTL is late)', async () => {
      const subject = freshSubject();
      await store.recordFailure(subject, NOW);
      const later = NOW + DAY + 1;
      const before = await store.read(subject, later);
      expect(before.pairFailures).toBe(0);
      expect(await store.reserve(subject, before, later, POLICY)).toMatchObject({
        granted: true,
        after: { pairFailures: 1, pairLastFailureAt: later },
      });
    });

    it.each([
      ['the user reached its hourly ceiling', 'user_ceiling', { userFailuresPerHour: 2 }],
      ['the IP spent its daily budget', 'ip_budget', { ipFailuresPerDay: 2 }],
    ] as const)('refuses when %s, and takes back what it counted elsewhere', async (_case, reason, limits) => {
      const subject = freshSubject();
      await store.recordFailure(subject, NOW);
      await store.recordFailure(subject, NOW);
      const before = await store.read(subject, NOW);
      expect(await store.reserve(subject, before, NOW, { ...POLICY, ...limits })).toEqual({ granted: false, reason });
      expect(await store.read(subject, NOW)).toEqual(before);
    });

    it('lets exactly one of 20 concurrent attempts of one (username, IP) go ahead', async () => {
      const subject = freshSubject();
      const results = await Promise.all(
        Array.from({ length: 20 }, () => store.reserve(subject, NO_FAILURES, NOW, POLICY)),
      );
      expect(results.filter((result) => result.granted)).toHaveLength(1);
      expect(results.filter((result) => !result.granted && result.reason === 'concurrent_attempt')).toHaveLength(19);
      expect(await store.read(subject, NOW)).toMatchObject({
        pairFailures: 1,
        userFailuresThisHour: 1,
        ipFailuresToday: 1,
      });
    });

    it('lets no more attempts through than the hourly ceiling, from many addresses at once', async () => {
      const username = `user-${randomUUID()}`;
      // 90 failures already this hour, then 30 attempts at once from 30 addresses: only 10 fit.
      for (let i = 0; i < 90; i++) await store.recordFailure(attemptSubject(username, freshIp()), NOW);
      const subjects = Array.from({ length: 30 }, () => attemptSubject(username, freshIp()));
      const results = await Promise.all(subjects.map((subject) => store.reserve(subject, NO_FAILURES, NOW, POLICY)));
      expect(results.filter((result) => result.granted)).toHaveLength(10);
      expect(results.filter((result) => !result.granted && result.reason === 'user_ceiling')).toHaveLength(20);
      expect((await store.read(subjects[0]!, NOW)).userFailuresThisHour).toBe(100);
      // The refused ones counted nowhere else: their addresses' streaks and days are as before.
      const refused = subjects.filter((_, index) => !results[index]!.granted);
      for (const subject of refused)
        expect(await store.read(subject, NOW)).toMatchObject({ pairFailures: 0, ipFailuresToday: 0 });
    });

    it('gives a successful attempt back: no hour or day failure, no streak, and the address known for 30 days', async () => {
      const subject = freshSubject();
      await store.recordFailure(subject, NOW);
      const before = await store.read(subject, NOW + 1);
      expect(before.knownAddressUntil).toBeUndefined();
      expect((await store.reserve(subject, before, NOW + 1, POLICY)).granted).toBe(true);
      await store.release(subject, before, NOW + 1);
      expect(await store.read(subject, NOW + 1)).toEqual({
        ...NO_FAILURES,
        userFailuresThisHour: 1,
        ipFailuresToday: 1,
        knownAddressUntil: NOW + 1 + 30 * DAY,
      });
      // Known only from that address, and only until the mark runs out (TTL is late: the read checks).
      expect((await store.read({ ...subject, ip: freshIp() }, NOW + 1)).knownAddressUntil).toBeUndefined();
      expect((await store.read(subject, NOW + 1 + 30 * DAY)).knownAddressUntil).toBeUndefined();
      // `users unlock` clears counters, not where the user logs in from.
      await store.clearUser(subject.userKey);
      expect((await store.read(subject, NOW + 2)).knownAddressUntil).toBe(NOW + 1 + 30 * DAY);
    });

    it('gives a faulted attempt back on every counter, the streak as it was read, and marks nothing', async () => {
      const subject = freshSubject();
      await store.recordFailure(subject, NOW);
      await store.recordFailure(subject, NOW + 1);
      const before = await store.read(subject, NOW + 2);
      expect(before).toMatchObject({ pairFailures: 2, userFailuresThisHour: 2, ipFailuresToday: 2 });
      expect((await store.reserve(subject, before, NOW + 2, POLICY)).granted).toBe(true);
      await store.release(subject, before, NOW + 2, 'fault');
      expect(await store.read(subject, NOW + 2)).toEqual(before);

      // A first attempt's fault leaves no streak at all.
      const fresh = freshSubject();
      const none = await store.read(fresh, NOW);
      expect((await store.reserve(fresh, none, NOW, POLICY)).granted).toBe(true);
      await store.release(fresh, none, NOW, 'fault');
      expect(await store.read(fresh, NOW)).toEqual(NO_FAILURES);
    });

    it('gives a pending second factor back on the hour and day only: the streak stays counted', async () => {
      const subject = freshSubject();
      const before = await store.read(subject, NOW);
      expect((await store.reserve(subject, before, NOW, POLICY)).granted).toBe(true);
      await store.release(subject, before, NOW, 'second_factor_pending');
      expect(await store.read(subject, NOW)).toEqual({ ...NO_FAILURES, pairFailures: 1, pairLastFailureAt: NOW });
    });

    it('renews the mark of a known address only when it runs low', async () => {
      const subject = freshSubject();
      const first = await store.read(subject, NOW);
      await store.reserve(subject, first, NOW, POLICY);
      await store.release(subject, first, NOW);
      const soon = await store.read(subject, NOW + DAY);
      await store.reserve(subject, soon, NOW + DAY, POLICY);
      await store.release(subject, soon, NOW + DAY);
      expect((await store.read(subject, NOW + DAY)).knownAddressUntil).toBe(NOW + 30 * DAY);
      const late = await store.read(subject, NOW + 6 * DAY);
      await store.reserve(subject, late, NOW + 6 * DAY, POLICY);
      await store.release(subject, late, NOW + 6 * DAY);
      expect((await store.read(subject, NOW + 6 * DAY)).knownAddressUntil).toBe(NOW + 36 * DAY);
    });

    it('does not hold a known address to the hourly ceiling, and still counts its failures', async () => {
      const subject = freshSubject();
      const first = await store.read(subject, NOW);
      await store.reserve(subject, first, NOW, POLICY);
      await store.release(subject, first, NOW);
      const tight = { ...POLICY, userFailuresPerHour: 1 };
      await store.recordFailure({ ...subject, ip: freshIp() }, NOW);
      const known = await store.read(subject, NOW);
      expect(await store.reserve(subject, known, NOW, tight)).toMatchObject({
        granted: true,
        after: { userFailuresThisHour: 2 },
      });
      const elsewhere = { ...subject, ip: freshIp() };
      expect(await store.reserve(elsewhere, await store.read(elsewhere, NOW), NOW, tight)).toEqual({
        granted: false,
        reason: 'user_ceiling',
      });
    });

    it.each([
      ['pair_backoff', { pairFailures: 1, userFailuresThisHour: 0, ipFailuresToday: 0 }],
      ['user_ceiling', { pairFailures: 0, userFailuresThisHour: 1, ipFailuresToday: 0 }],
      ['ip_budget', { pairFailures: 0, userFailuresThisHour: 0, ipFailuresToday: 1 }],
    ] as const)('counts an attempt %s refused on that counter only', async (reason, expected) => {
      const subject = freshSubject();
      await store.recordRefusal(subject, reason, NOW);
      expect(await store.read(subject, NOW)).toMatchObject(expected);
    });
  });

  it('reads zero for a subject that never failed', async () => {
    expect(await store.read(freshSubject(), NOW)).toEqual(NO_FAILURES);
  });

  it('counts each failure in the pair, hour and day counters, and returns the counters after it', async () => {
    const subject = freshSubject();
    expect(await store.recordFailure(subject, NOW)).toEqual({
      pairFailures: 1,
      pairLastFailureAt: NOW,
      userFailuresThisHour: 1,
      ipFailuresToday: 1,
    });
    expect(await store.recordFailure(subject, NOW + 5)).toEqual({
      pairFailures: 2,
      pairLastFailureAt: NOW + 5,
      userFailuresThisHour: 2,
      ipFailuresToday: 2,
    });
    expect(await store.read(subject, NOW + 6)).toEqual({
      pairFailures: 2,
      pairLastFailureAt: NOW + 5,
      userFailuresThisHour: 2,
      ipFailuresToday: 2,
    });
  });

  // The pair is per (username, IP); the hour counter per username from any IP; the day counter per IP for any username.
  it.each([
    [
      'the same username from another IP',
      (s: AttemptSubject) => ({ ...s, ip: freshIp() }),
      { userFailuresThisHour: 2 },
    ],
    [
      'another username from the same IP',
      (s: AttemptSubject) => ({ ...s, userKey: freshSubject().userKey }),
      { ipFailuresToday: 2 },
    ],
    ['another username from another IP', () => freshSubject(), {}],
  ])('shows %s only the counters they share', async (_case, neighbour, shared) => {
    const subject = freshSubject();
    await fail(subject, NOW, NOW + 1);
    expect(await store.read(neighbour(subject), NOW + 2)).toEqual({ ...NO_FAILURES, ...shared });
  });

  // Expired counters read as zero although their items are still there (TTL is off, as DynamoDB before its sweep).
  it.each([
    [
      'a second before the next hour',
      HOUR - 1,
      { pairFailures: 2, pairLastFailureAt: NOW + 1, userFailuresThisHour: 2, ipFailuresToday: 2 },
    ],
    [
      'in the next hour',
      HOUR,
      { pairFailures: 2, pairLastFailureAt: NOW + 1, userFailuresThisHour: 0, ipFailuresToday: 2 },
    ],
    // The streak is remembered for a day after its last failure, not until midnight.
    [
      'on the next day, within a day of the last failure',
      DAY,
      { pairFailures: 2, pairLastFailureAt: NOW + 1, userFailuresThisHour: 0, ipFailuresToday: 0 },
    ],
    ['a day after the last failure', DAY + 1, NO_FAILURES],
  ])('reads, %s, only the live counters', async (_case, later, expected) => {
    const subject = freshSubject();
    await fail(subject, NOW, NOW + 1);
    expect(await store.read(subject, NOW + later)).toEqual(expected);
  });

  // [case, seconds after the streak, pair after the failure, day counter after it]: the hour is a new one in each.
  it.each([
    ['within a day of the last failure', DAY - 1, 4, 4],
    ['a day after the last failure', DAY, 1, 1],
    ['a week after', 7 * DAY, 1, 1],
  ])('recordFailure %s continues or restarts the streak', async (_case, later, pairFailures, ipFailuresToday) => {
    const subject = freshSubject();
    await fail(subject, NOW, NOW, NOW);
    expect(await store.recordFailure(subject, NOW + later)).toEqual({
      pairFailures,
      pairLastFailureAt: NOW + later,
      userFailuresThisHour: 1,
      ipFailuresToday,
    });
    expect((await store.read(subject, NOW + later)).pairFailures).toBe(pairFailures);
  });

  it('keeps a streak alive as long as each failure comes within a day of the one before', async () => {
    const subject = freshSubject();
    await fail(subject, NOW, NOW + DAY - 1, NOW + 2 * DAY - 2);
    expect((await store.read(subject, NOW + 3 * DAY - 3)).pairFailures).toBe(3);
  });

  it('recordSuccess ends the pair streak but not the hour and day counters', async () => {
    const subject = freshSubject();
    await fail(subject, NOW, NOW + 1, NOW + 2);
    await store.recordSuccess(subject);
    expect(await store.read(subject, NOW + 3)).toEqual({
      pairFailures: 0,
      pairLastFailureAt: 0,
      userFailuresThisHour: 3,
      ipFailuresToday: 3,
    });
    expect(await store.recordFailure(subject, NOW + 4)).toEqual({
      pairFailures: 1,
      pairLastFailureAt: NOW + 4,
      userFailuresThisHour: 4,
      ipFailuresToday: 4,
    });
  });

  it('recordSuccess leaves the same username’s streak from another IP', async () => {
    const subject = freshSubject();
    const elsewhere = { ...subject, ip: freshIp() };
    await fail(subject, NOW);
    await fail(elsewhere, NOW, NOW);
    await store.recordSuccess(subject);
    expect((await store.read(elsewhere, NOW + 1)).pairFailures).toBe(2);
  });

  it('recordSuccess without a streak changes nothing', async () => {
    const subject = freshSubject();
    await store.recordSuccess(subject);
    expect(await store.read(subject, NOW)).toEqual(NO_FAILURES);
  });

  // Parallel failed logins must not lose counts: the lockout limits depend on every one of them.
  it('counts every one of concurrent failures', async () => {
    const subject = freshSubject();
    const after = await Promise.all(Array.from({ length: 8 }, () => store.recordFailure(subject, NOW)));
    expect(after.map((counters) => counters.pairFailures).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(await store.read(subject, NOW)).toEqual({
      pairFailures: 8,
      pairLastFailureAt: NOW,
      userFailuresThisHour: 8,
      ipFailuresToday: 8,
    });
  });
  describe('clearUser', () => {
    it("removes the username's streaks from every IP and its hour counters, and returns how many", async () => {
      const subject = freshSubject();
      const elsewhere = { ...subject, ip: freshIp() };
      // Two hours' counters: the earlier one is past its window but still stored (TTL is late), and goes too.
      await fail(subject, NOW, NOW + 1);
      await fail(elsewhere, NOW + HOUR);
      expect(await store.clearUser(subject.userKey)).toBe(4);
      expect(await store.read(subject, NOW + HOUR)).toEqual({ ...NO_FAILURES, ipFailuresToday: 2 });
      expect(await store.read(elsewhere, NOW + HOUR)).toEqual({ ...NO_FAILURES, ipFailuresToday: 1 });
      expect(await store.clearUser(subject.userKey)).toBe(0);
    });

    it("leaves other usernames' counters, also from the same IP", async () => {
      const subject = freshSubject();
      const neighbour = { ...freshSubject(), ip: subject.ip };
      await fail(subject, NOW);
      await fail(neighbour, NOW, NOW);
      await store.clearUser(subject.userKey);
      expect(await store.read(neighbour, NOW)).toEqual({
        pairFailures: 2,
        pairLastFailureAt: NOW,
        userFailuresThisHour: 2,
        ipFailuresToday: 3,
      });
    });

    it('returns 0 for a username without counters', async () => {
      expect(await store.clearUser(freshSubject().userKey)).toBe(0);
    });
  });
});
