import { randomUUID } from 'node:crypto';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoRefreshTokenStore } from '../../lambda/adapters/refresh-token-store';
import { DependencyUnavailableError } from '../../lambda/oauth/errors';
import { type RefreshToken, RefreshTokenConflictError, type RefreshTokenStore } from '../../lambda/oauth/ports';
import { hashRefreshToken } from '../../lambda/tokens/refresh-token';
import { MemoryRefreshTokenStore, refreshTokenRecord } from '../support/memory';
import { dynamoDbLocal } from './dynamodb';

async function makeMemory(): Promise<RefreshTokenStore> {
  return new MemoryRefreshTokenStore();
}

const dynamo = dynamoDbLocal();
afterAll(() => dynamo.close());

async function makeDynamo(): Promise<RefreshTokenStore> {
  const { db, tables } = await dynamo.get();
  return new DynamoRefreshTokenStore(db, tables.refreshTokens);
}

/** Long past by the wall clock: with TTL on, DynamoDB could delete these items any time; every `now` is explicit. */
const T0 = 1_700_000_000;
/** What refreshTokenRecord(T0) gives a token: idle expiry an hour on, family expiry two. */
const IDLE_EXPIRY = T0 + 3600;
const FAMILY_EXPIRY = T0 + 7200;

function token(overrides: Partial<RefreshToken> = {}): RefreshToken {
  return refreshTokenRecord(T0, overrides);
}

/** The token a rotation of `previous` at `now` would store. */
function successor(previous: RefreshToken, now = T0): RefreshToken {
  return token({
    familyId: previous.familyId,
    generation: previous.generation + 1,
    issuedAt: now,
    familyIssuedAt: previous.familyIssuedAt ?? previous.issuedAt,
    idleExpiresAt: Math.min(now + 3600, previous.familyExpiresAt),
    familyExpiresAt: previous.familyExpiresAt,
  });
}

async function conflictOf(attempt: Promise<unknown>): Promise<RefreshTokenConflictError> {
  const error = await attempt.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(RefreshTokenConflictError);
  return error as RefreshTokenConflictError;
}

describe.each([
  ['memory', makeMemory],
  ['dynamodb', makeDynamo],
])('RefreshTokenStore contract: %s', (_name, make) => {
  let store: RefreshTokenStore;
  beforeEach(async () => {
    store = await make();
  });

  describe('get and create', () => {
    // The grant hashes whatever refresh_token a client sends: a miss, never a failure of the store.
    it.each([
      ['an unknown hash', () => hashRefreshToken(randomUUID())],
      ['an empty hash', () => ''],
      ['a hash longer than any key', () => 'x'.repeat(3000)],
    ])('reads %s as missing', async (_case, hash) => {
      expect(await store.get(hash())).toBeUndefined();
    });

    it.each([
      ['the first token of a family', () => token({ familyIssuedAt: T0 })],
      ['a later token, with when its family was issued', () => token({ generation: 7, familyIssuedAt: T0 - 3600 })],
      ['a token without scope', () => token({ scope: [] })],
      // DynamoDB deletes expired items late: the store returns them, the grant checks the expiry itself.
      [
        'a token expired long ago',
        () => token({ issuedAt: T0 - 7200, idleExpiresAt: T0 - 3600, familyExpiresAt: T0 - 1 }),
      ],
    ])('reads back %s as created', async (_case, build) => {
      const created = build();
      await store.create(created);
      expect(await store.get(created.tokenHash)).toEqual(created);
    });

    // Tokens stored before families carried their issue time: the grant counts their own issuedAt instead.
    it('reads back a token stored without its family issue time as without it', async () => {
      const created = token({ generation: 2 });
      await store.create(created);
      const read = await store.get(created.tokenHash);
      expect(read).toEqual(created);
      expect(read).not.toHaveProperty('familyIssuedAt');
    });

    it('refuses to create a token whose hash is stored already, and keeps the stored one', async () => {
      const first = token();
      await store.create(first);
      await expect(store.create({ ...first, familyId: randomUUID(), userId: 'u-mallory' })).rejects.toThrow();
      expect(await store.get(first.tokenHash)).toEqual(first);
    });
  });

  describe('rotate', () => {
    it('marks the token rotated, pointing at its successor, and stores the successor', async () => {
      const current = token();
      const next = successor(current);
      await store.create(current);
      await store.rotate(current, next, T0 + 60);
      expect(await store.get(current.tokenHash)).toEqual({
        ...current,
        state: 'rotated',
        successorHash: next.tokenHash,
      });
      expect(await store.get(next.tokenHash)).toEqual(next);
    });

    it('succeeds once: a second rotation conflicts, carrying the stored rotated token', async () => {
      const current = token();
      const next = successor(current);
      await store.create(current);
      await store.rotate(current, next, T0);
      const other = successor(current);
      const error = await conflictOf(store.rotate(current, other, T0));
      expect(error.current).toEqual({ ...current, state: 'rotated', successorHash: next.tokenHash });
      expect(await store.get(other.tokenHash)).toBeUndefined();
    });

    // The condition checks the expiry at `now` (the idle and the absolute lifetime) whether or not the item is still there.
    it.each([
      ['a second before the idle expiry', true, {}, IDLE_EXPIRY - 1],
      ['at the idle expiry', false, {}, IDLE_EXPIRY],
      ['a day after the idle expiry', false, {}, IDLE_EXPIRY + 86400],
      ['a second before the family expiry', true, { idleExpiresAt: FAMILY_EXPIRY + 3600 }, FAMILY_EXPIRY - 1],
      ['at the family expiry', false, { idleExpiresAt: FAMILY_EXPIRY + 3600 }, FAMILY_EXPIRY],
    ] as const)('rotating %s succeeds: %s', async (_case, rotates, overrides, now) => {
      const current = token(overrides);
      const next = successor(current, now);
      await store.create(current);
      if (rotates) {
        await store.rotate(current, next, now);
        expect((await store.get(current.tokenHash))?.state).toBe('rotated');
        return;
      }
      const error = await conflictOf(store.rotate(current, next, now));
      expect(error.current).toEqual(current);
      expect(await store.get(current.tokenHash)).toEqual(current);
      expect(await store.get(next.tokenHash)).toBeUndefined();
    });

    it('conflicts with no stored state for a token that is not stored (never was, or deleted by its TTL)', async () => {
      const current = token();
      const next = successor(current);
      const error = await conflictOf(store.rotate(current, next, T0));
      expect(error.current).toBeUndefined();
      expect(await store.get(current.tokenHash)).toBeUndefined();
      expect(await store.get(next.tokenHash)).toBeUndefined();
    });

    // A 256-bit collision does not happen; but the write must not overwrite a stored token if it did.
    it('refuses a successor whose hash is stored already, writing nothing, and not as a conflict', async () => {
      const current = token();
      const taken = token();
      await store.create(current);
      await store.create(taken);
      const error = await store.rotate(current, { ...successor(current), tokenHash: taken.tokenHash }, T0).then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(RefreshTokenConflictError);
      expect(await store.get(current.tokenHash)).toEqual(current);
      expect(await store.get(taken.tokenHash)).toEqual(taken);
    });

    it('lets exactly one of concurrent rotations of a token win; the others store nothing', async () => {
      const current = token();
      await store.create(current);
      const nexts = [successor(current), successor(current), successor(current), successor(current)];
      const results = await Promise.allSettled(nexts.map((next) => store.rotate(current, next, T0)));
      const winners = nexts.filter((_next, index) => results[index]!.status === 'fulfilled');
      expect(winners).toHaveLength(1);
      expect((await store.get(current.tokenHash))?.successorHash).toBe(winners[0]!.tokenHash);
      for (const [index, result] of results.entries()) {
        if (result.status === 'fulfilled') continue;
        // DynamoDB may report a transaction that overlapped the winner's as unavailable (the client retries).
        expect(
          result.reason instanceof RefreshTokenConflictError || result.reason instanceof DependencyUnavailableError,
        ).toBe(true);
        expect(await store.get(nexts[index]!.tokenHash)).toBeUndefined();
      }
    });
  });

  describe('revokeFamily', () => {
    it('returns true the first time only, whichever token of the family it is given', async () => {
      const first = token();
      const second = successor(first);
      await store.create(first);
      await store.rotate(first, second, T0);
      expect(await store.revokeFamily(second)).toBe(true);
      expect(await store.revokeFamily(second)).toBe(false);
      expect(await store.revokeFamily({ ...first, state: 'rotated' })).toBe(false);
    });

    it('makes every token of the family unrotatable, earlier and later, and marks the given one revoked', async () => {
      const a = token();
      const b = successor(a);
      const c = successor(b);
      await store.create(a);
      await store.rotate(a, b, T0);
      await store.rotate(b, c, T0);

      // The first token comes back (reuse, RFC 9700 §4.14.2): revoking from it reaches the live token, c.
      expect(await store.revokeFamily({ ...a, state: 'rotated', successorHash: b.tokenHash })).toBe(true);
      expect((await store.get(a.tokenHash))?.state).toBe('revoked');
      // One write whatever the family's length: c still reads active; the rotation's condition refuses it.
      expect((await store.get(c.tokenHash))?.state).toBe('active');
      const error = await conflictOf(store.rotate(c, successor(c), T0));
      expect(error.current).toEqual({ ...c, state: 'revoked' });
    });

    it('refuses to rotate the revoked token itself, carrying its revoked state', async () => {
      const current = token();
      await store.create(current);
      expect(await store.revokeFamily(current)).toBe(true);
      const next = successor(current);
      const error = await conflictOf(store.rotate(current, next, T0));
      expect(error.current).toEqual({ ...current, state: 'revoked' });
      expect(await store.get(next.tokenHash)).toBeUndefined();
    });

    it('revokes the family from a token no longer stored, without storing it', async () => {
      const gone = token();
      const live = successor(gone);
      await store.create(live);
      expect(await store.revokeFamily({ ...gone, state: 'rotated' })).toBe(true);
      expect(await store.get(gone.tokenHash)).toBeUndefined();
      expect((await conflictOf(store.rotate(live, successor(live), T0))).current?.state).toBe('revoked');
    });

    it('leaves other families alone', async () => {
      const revoked = token();
      const other = token({ userId: revoked.userId, clientId: revoked.clientId });
      await store.create(revoked);
      await store.create(other);
      await store.revokeFamily(revoked);
      await store.rotate(other, successor(other), T0);
      expect((await store.get(other.tokenHash))?.state).toBe('rotated');
      expect(await store.revokeFamily(other)).toBe(true);
    });
  });
});
