import { randomUUID } from 'node:crypto';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { UserDirectory } from '../../lambda/accounts/ports';
import { DynamoMfaChallengeStore } from '../../lambda/adapters/mfa-challenge-store';
import { DynamoMfaEnrollment } from '../../lambda/adapters/mfa-enrollment';
import { DynamoUserStore } from '../../lambda/adapters/user-store';
import { type MfaChallenge, newMfaChallenge } from '../../lambda/mfa/mfa-token';
import type { MfaChallengeStore, UserMfa } from '../../lambda/oauth/ports';
import { MemoryMfaChallengeStore, MemoryUserStore } from '../support/memory';
import { dynamoDbLocal } from './dynamodb';

/**
 * The second factor's store, against the fake the grants' unit tests trust and against DynamoDB Local:
 * the challenge's life (one conditional counter, its client and expiry in the condition) and the commit
 * that spends it (one transaction with the user's step or recovery code, under the enrollment read).
 */
interface Harness {
  readonly challenges: MfaChallengeStore;
  readonly users: UserDirectory;
  /** A user enrolled as `users mfa enroll` stores one. */
  enrolledUser(mfa: Omit<UserMfa, 'lastAcceptedStep'>): Promise<{ username: string; userId: string }>;
  /** Removes the enrollment as `users mfa disable` does. */
  disable(username: string): Promise<void>;
}

const AT = '2026-11-28T12:00:00.000Z';
const NOW = 1_800_000_000;
const SECRET = Uint8Array.from([1, 2, 3, 250, 0, 7]);

function registered(username: string, userId: string) {
  return {
    username,
    userId,
    passwordHash: '$scrypt$x',
    scopes: ['read'],
    disabled: false,
    createdAt: AT,
    passwordChangedAt: AT,
  };
}

async function makeMemory(): Promise<Harness> {
  const users = new MemoryUserStore();
  return {
    challenges: new MemoryMfaChallengeStore(users),
    users,
    async enrolledUser(mfa) {
      const username = `mfa-${randomUUID()}`;
      const userId = randomUUID();
      await users.createUser({ ...registered(username, userId), mfa: { ...mfa } });
      return { username, userId };
    },
    async disable(username) {
      const { mfa: _mfa, ...rest } = users.users.get(username)!;
      users.users.set(username, rest);
    },
  };
}

const dynamo = dynamoDbLocal();
afterAll(() => dynamo.close());

async function makeDynamo(): Promise<Harness> {
  const { db, tables } = await dynamo.get();
  const users = new DynamoUserStore(db, tables.users);
  const enrollment = new DynamoMfaEnrollment(db, tables.users);
  return {
    challenges: new DynamoMfaChallengeStore(db, tables.mfaChallenges, tables.users),
    users,
    async enrolledUser(mfa) {
      const username = `mfa-${randomUUID()}`;
      const userId = randomUUID();
      await users.createUser(registered(username, userId));
      const outcome = await enrollment.enroll(username, {
        userId,
        secretCiphertext: mfa.secretCiphertext,
        enrolledAt: mfa.enrolledAt,
        recoveryCodeHashes: mfa.recoveryCodeHashes,
      });
      expect(outcome).toBe('enrolled');
      return { username, userId };
    },
    async disable(username) {
      expect(await enrollment.disable(username)).toBe('disabled');
    },
  };
}

describe.each([
  ['memory', makeMemory],
  ['dynamodb', makeDynamo],
])('MfaChallengeStore contract: %s', (_name, make) => {
  let harness: Harness;
  let user: { username: string; userId: string };
  beforeEach(async () => {
    harness = await make();
    user = await harness.enrolledUser({ secretCiphertext: SECRET, enrolledAt: AT, recoveryCodeHashes: ['h1', 'h2'] });
  });

  const challenge = (clientId = 'app', now = NOW): MfaChallenge =>
    newMfaChallenge(
      `hash-${randomUUID()}`,
      { clientId, userId: user.userId, username: user.username, scope: ['read'], sessionEpoch: 1 },
      now,
    );

  async function stored(): Promise<UserMfa | undefined> {
    return (await harness.users.getUser(user.username))?.mfa;
  }

  it('stores a challenge once and reads it back; an unknown hash reads as none', async () => {
    const created = challenge();
    await harness.challenges.create(created);
    expect(await harness.challenges.get(created.tokenHash)).toEqual(created);
    await expect(harness.challenges.create(created)).rejects.toThrow();
    expect(await harness.challenges.get('no-such-hash')).toBeUndefined();
  });

  it('reads the enrollment back with the user: the ciphertext as bytes, the codes, no step before the first', async () => {
    const mfa = await stored();
    expect(Buffer.from(mfa!.secretCiphertext)).toEqual(Buffer.from(SECRET));
    expect(mfa).toMatchObject({ enrolledAt: AT, recoveryCodeHashes: ['h1', 'h2'] });
    expect(mfa?.lastAcceptedStep).toBeUndefined();
    const listed = (await harness.users.listUsers()).find((profile) => profile.username === user.username);
    expect(listed?.mfa?.recoveryCodeHashes).toEqual(['h1', 'h2']);
  });

  it('counts attempts while the challenge is its client’s, unexpired and under five failures', async () => {
    const created = challenge();
    await harness.challenges.create(created);
    for (let attempt = 1; attempt <= 5; attempt++) {
      const counted = await harness.challenges.reserveAttempt(created, NOW + 1);
      expect(counted).toEqual({ granted: true, challenge: { ...created, failures: attempt } });
    }
    expect(await harness.challenges.reserveAttempt(created, NOW + 1)).toEqual({
      granted: false,
      stored: { ...created, failures: 5 },
    });
  });

  it('counts nothing for another client, after expiry, or for a challenge that is gone', async () => {
    const created = challenge();
    await harness.challenges.create(created);
    const foreign = await harness.challenges.reserveAttempt({ ...created, clientId: 'other' }, NOW + 1);
    expect(foreign).toEqual({ granted: false, stored: created });
    expect(await harness.challenges.reserveAttempt(created, created.expiresAt)).toEqual({
      granted: false,
      stored: created,
    });
    expect(await harness.challenges.get(created.tokenHash)).toEqual(created);
    expect(await harness.challenges.reserveAttempt(challenge(), NOW)).toEqual({ granted: false, stored: undefined });
  });

  it('commits a TOTP step once: the challenge goes, the step stays; the same or an older step is refused', async () => {
    const first = challenge();
    await harness.challenges.create(first);
    expect(await harness.challenges.complete(first, AT, { kind: 'totp', step: 100 })).toBe('completed');
    expect(await harness.challenges.get(first.tokenHash)).toBeUndefined();
    expect((await stored())?.lastAcceptedStep).toBe(100);
    const second = challenge();
    await harness.challenges.create(second);
    expect(await harness.challenges.complete(second, AT, { kind: 'totp', step: 100 })).toBe('conflict');
    expect(await harness.challenges.complete(second, AT, { kind: 'totp', step: 99 })).toBe('conflict');
    // Refused: nothing of it was written, the challenge is still there.
    expect(await harness.challenges.get(second.tokenHash)).toEqual(second);
    expect(await harness.challenges.complete(second, AT, { kind: 'totp', step: 101 })).toBe('completed');
    expect((await stored())?.lastAcceptedStep).toBe(101);
    // The challenge is spent: it completes no second login.
    expect(await harness.challenges.complete(second, AT, { kind: 'totp', step: 102 })).toBe('conflict');
  });

  it('spends a recovery code once, by value; the last one leaves none', async () => {
    const spend = async (hash: string) => {
      const pending = challenge();
      await harness.challenges.create(pending);
      return harness.challenges.complete(pending, AT, { kind: 'recovery_code', hash });
    };
    expect(await spend('h2')).toBe('completed');
    expect((await stored())?.recoveryCodeHashes).toEqual(['h1']);
    expect(await spend('h2')).toBe('conflict');
    expect(await spend('nope')).toBe('conflict');
    expect(await spend('h1')).toBe('completed');
    expect((await stored())?.recoveryCodeHashes).toEqual([]);
  });

  it('commits nothing once the enrollment read is gone or replaced', async () => {
    const pending = challenge();
    await harness.challenges.create(pending);
    expect(await harness.challenges.complete(pending, '2020-01-01T00:00:00.000Z', { kind: 'totp', step: 5 })).toBe(
      'conflict',
    );
    await harness.disable(user.username);
    expect(await harness.challenges.complete(pending, AT, { kind: 'totp', step: 5 })).toBe('conflict');
    expect(await harness.users.getUser(user.username)).not.toHaveProperty('mfa');
  });

  it('completes one of concurrent commits of one challenge, and one of concurrent uses of one code', async () => {
    const shared = challenge();
    await harness.challenges.create(shared);
    const steps = await Promise.all(
      [200, 201, 202, 203].map((step) => harness.challenges.complete(shared, AT, { kind: 'totp', step })),
    );
    expect(steps.filter((outcome) => outcome === 'completed')).toHaveLength(1);
    const pending = await Promise.all([1, 2, 3, 4].map(() => challenge()));
    for (const item of pending) await harness.challenges.create(item);
    const codes = await Promise.all(
      pending.map((item) => harness.challenges.complete(item, AT, { kind: 'recovery_code', hash: 'h1' })),
    );
    expect(codes.filter((outcome) => outcome === 'completed')).toHaveLength(1);
  });
});
