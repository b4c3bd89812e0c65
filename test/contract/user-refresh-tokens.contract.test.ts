import { randomUUID } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { UserRefreshTokens } from '../../lambda/accounts/ports';
import { DynamoRefreshTokenStore, legacyTokenItem } from '../../lambda/adapters/refresh-token-store';
import { DynamoUserRefreshTokens } from '../../lambda/adapters/user-refresh-tokens';
import {
  type RefreshFamily,
  type RefreshToken,
  RefreshTokenConflictError,
  type RefreshTokenStore,
} from '../../lambda/oauth/ports';
import { MemoryRefreshTokenStore, refreshTokenRecord } from '../support/memory';
import { refreshFamilyRecord, rotatedFamilyRecord } from '../support/refresh-families';
import { dynamoDbLocal } from './dynamodb';

/** The token endpoint's store, the operator's revocation by user over the same tokens, and legacy tokens put in. */
interface Harness {
  readonly store: RefreshTokenStore;
  readonly byUser: UserRefreshTokens;
  seedLegacy(token: RefreshToken): Promise<void>;
}

async function makeMemory(): Promise<Harness> {
  const store = new MemoryRefreshTokenStore();
  return {
    store,
    byUser: store,
    seedLegacy: async (token) => {
      store.tokens.set(token.tokenHash, token);
    },
  };
}

const dynamo = dynamoDbLocal();
afterAll(() => dynamo.close());

async function makeDynamo(): Promise<Harness> {
  const { db, tables } = await dynamo.get();
  return {
    store: new DynamoRefreshTokenStore(db, tables.refreshTokens),
    // Pages of two: the revocation follows both indexes across pages.
    byUser: new DynamoUserRefreshTokens(db, tables.refreshTokens, 2),
    seedLegacy: async (token) => {
      await db.send(new PutCommand({ TableName: tables.refreshTokens, Item: legacyTokenItem(token) }));
    },
  };
}

/** Long past by the wall clock; every `now` is explicit. */
const T0 = 1_700_000_000;
/** When the revocations run: the families below are live then (idle expiry T0 + 3600, family expiry T0 + 7200). */
const NOW = T0 + 60;

/** A family item of `userId`'s, issued at T0. */
function family(userId: string, overrides: Partial<RefreshFamily> = {}): RefreshFamily {
  return refreshFamilyRecord(T0, { userId, username: `name-of-${userId}`, ...overrides });
}

/** A legacy token (one item per token) of `userId`'s, issued at T0. */
function legacy(userId: string, overrides: Partial<RefreshToken> = {}): RefreshToken {
  return refreshTokenRecord(T0, { userId, username: `name-of-${userId}`, ...overrides });
}

/** The legacy token that replaced `previous` in its family, before families were one item. */
function legacySuccessor(previous: RefreshToken): RefreshToken {
  return legacy(previous.userId, {
    familyId: previous.familyId,
    generation: previous.generation + 1,
    familyExpiresAt: previous.familyExpiresAt,
  });
}

/** The family a first use of `token` moves into one item (its token hashes are made up: only the store sees them). */
function movedFamily(token: RefreshToken, now = T0): RefreshFamily {
  return rotatedFamilyRecord(
    {
      familyId: token.familyId,
      clientId: token.clientId,
      userId: token.userId,
      username: token.username,
      scope: token.scope,
      generation: token.generation,
      currentHash: token.tokenHash,
      issuedAt: token.issuedAt,
      familyIssuedAt: token.familyIssuedAt ?? token.issuedAt,
      idleExpiresAt: token.idleExpiresAt,
      familyExpiresAt: token.familyExpiresAt,
    },
    now,
  );
}

/** What a rotation of the family's current token at NOW does: true, or how the store refused it. */
async function rotates(store: RefreshTokenStore, current: RefreshFamily): Promise<true | 'revoked' | 'conflict'> {
  try {
    await store.rotate(current, rotatedFamilyRecord(current, NOW), NOW);
    return true;
  } catch (error) {
    if (!(error instanceof RefreshTokenConflictError)) throw error;
    return error.revoked ? 'revoked' : 'conflict';
  }
}

/** What a first use of the legacy token at NOW does: true, or how the store refused it. */
async function moves(store: RefreshTokenStore, token: RefreshToken): Promise<true | 'revoked' | 'conflict'> {
  try {
    await store.migrate(token, movedFamily(token, NOW), NOW);
    return true;
  } catch (error) {
    if (!(error instanceof RefreshTokenConflictError)) throw error;
    return error.revoked ? 'revoked' : 'conflict';
  }
}

describe.each([
  ['memory', makeMemory],
  ['dynamodb', makeDynamo],
])('UserRefreshTokens contract: %s', (_name, make) => {
  let harness: Harness;
  beforeEach(async () => {
    harness = await make();
  });

  it("revokes each of the user's family items once, as of `now`; none of them rotates again", async () => {
    const userId = randomUUID();
    const fresh = family(userId);
    const first = family(userId);
    const rotated = rotatedFamilyRecord(first, T0 + 10);
    await harness.store.createFamily(fresh);
    await harness.store.createFamily(first);
    await harness.store.rotate(first, rotated, T0 + 10);

    expect(await harness.byUser.revokeAllForUser(userId, NOW)).toBe(2);
    expect(await harness.store.getFamily(fresh.familyId)).toEqual({ ...fresh, revokedAt: NOW });
    expect(await harness.store.getFamily(first.familyId)).toEqual({ ...rotated, revokedAt: NOW });
    expect(await rotates(harness.store, fresh)).toBe('revoked');
    expect(await rotates(harness.store, rotated)).toBe('revoked');
    expect(await harness.byUser.revokeAllForUser(userId, NOW + 1)).toBe(0);
    expect((await harness.store.getFamily(fresh.familyId))?.revokedAt).toBe(NOW);
  });

  it('revokes each family of legacy tokens once, marks its active tokens revoked and leaves the rotated ones', async () => {
    const userId = randomUUID();
    const spent = legacy(userId, { state: 'rotated' });
    const live = legacySuccessor(spent);
    const other = legacy(userId);
    for (const token of [spent, live, other]) await harness.seedLegacy(token);

    expect(await harness.byUser.revokeAllForUser(userId, NOW)).toBe(2);
    expect((await harness.store.getLegacyToken(spent.tokenHash))?.state).toBe('rotated');
    expect((await harness.store.getLegacyToken(live.tokenHash))?.state).toBe('revoked');
    expect((await harness.store.getLegacyToken(other.tokenHash))?.state).toBe('revoked');
    // Revoked through the family's own key: it reads as no family, and none can be created or moved there.
    expect(await harness.store.getFamily(live.familyId)).toBeUndefined();
    expect(await moves(harness.store, live)).toBe('revoked');
    await expect(harness.store.createFamily(movedFamily(other))).rejects.toThrow();
    expect(await harness.byUser.revokeAllForUser(userId, NOW + 1)).toBe(0);
  });

  it('covers a legacy token of a revoked family that it did not see: the family no longer moves', async () => {
    const userId = randomUUID();
    const first = legacy(userId);
    await harness.seedLegacy(first);
    expect(await harness.byUser.revokeAllForUser(userId, NOW)).toBe(1);
    const unseen = legacySuccessor({ ...first, state: 'rotated' });
    await harness.seedLegacy(unseen);
    expect(await moves(harness.store, unseen)).toBe('revoked');
    expect((await harness.store.getLegacyToken(unseen.tokenHash))?.state).toBe('active');
  });

  it('counts a moved family once, seen through its family item and its legacy tokens alike', async () => {
    const userId = randomUUID();
    const spent = legacy(userId, { state: 'rotated' });
    const moved = legacySuccessor(spent);
    await harness.seedLegacy(spent);
    await harness.seedLegacy(moved);
    const item = movedFamily(moved, T0 + 10);
    await harness.store.migrate(moved, item, T0 + 10);
    const itemOnly = family(userId);
    await harness.store.createFamily(itemOnly);

    expect(await harness.byUser.revokeAllForUser(userId, NOW)).toBe(2);
    expect(await harness.store.getFamily(moved.familyId)).toEqual({ ...item, revokedAt: NOW });
    expect(await harness.store.getFamily(itemOnly.familyId)).toEqual({ ...itemOnly, revokedAt: NOW });
    expect((await harness.store.getLegacyToken(spent.tokenHash))?.state).toBe('rotated');
    expect((await harness.store.getLegacyToken(moved.tokenHash))?.state).toBe('rotated');
    expect(await rotates(harness.store, item)).toBe('revoked');
    expect(await harness.byUser.revokeAllForUser(userId, NOW + 1)).toBe(0);
  });

  it('does not count families revoked before, nor families past their absolute expiry, and leaves the latter alone', async () => {
    const userId = randomUUID();
    const revoked = family(userId);
    const expired = family(userId, { idleExpiresAt: NOW - 1, familyExpiresAt: NOW });
    const revokedLegacy = legacy(userId);
    const expiredLegacy = legacy(userId, { idleExpiresAt: NOW - 1, familyExpiresAt: NOW });
    await harness.store.createFamily(revoked);
    await harness.store.createFamily(expired);
    await harness.seedLegacy(revokedLegacy);
    await harness.seedLegacy(expiredLegacy);
    await harness.store.revokeFamily(revoked.familyId, revoked.familyExpiresAt, T0 + 5);
    await harness.store.revokeFamily(revokedLegacy.familyId, revokedLegacy.familyExpiresAt, T0 + 5);

    expect(await harness.byUser.revokeAllForUser(userId, NOW)).toBe(0);
    expect((await harness.store.getFamily(revoked.familyId))?.revokedAt).toBe(T0 + 5);
    expect(await harness.store.getFamily(expired.familyId)).toEqual(expired);
    expect(await harness.store.getLegacyToken(expiredLegacy.tokenHash)).toEqual(expiredLegacy);
    // A revoked family's legacy token the revocation sees is still marked, though not counted again.
    expect((await harness.store.getLegacyToken(revokedLegacy.tokenHash))?.state).toBe('revoked');
  });

  it('leaves the families of other users alone', async () => {
    const userId = randomUUID();
    const theirId = randomUUID();
    const mine = family(userId);
    const theirs = family(theirId);
    const theirLegacy = legacy(theirId);
    await harness.store.createFamily(mine);
    await harness.store.createFamily(theirs);
    await harness.seedLegacy(theirLegacy);

    expect(await harness.byUser.revokeAllForUser(userId, NOW)).toBe(1);
    expect(await harness.store.getFamily(theirs.familyId)).toEqual(theirs);
    expect(await harness.store.getLegacyToken(theirLegacy.tokenHash)).toEqual(theirLegacy);
    expect(await rotates(harness.store, theirs)).toBe(true);
    expect(await moves(harness.store, theirLegacy)).toBe(true);
  });

  it('revokes nothing for a user without refresh tokens', async () => {
    expect(await harness.byUser.revokeAllForUser(randomUUID(), NOW)).toBe(0);
  });

  it("follows every page of the user's family items and legacy tokens", async () => {
    const userId = randomUUID();
    const families = Array.from({ length: 7 }, () => family(userId));
    // Five legacy families in six items: one family has a rotated token and its successor.
    const spent = legacy(userId, { state: 'rotated' });
    const legacyTokens = [spent, legacySuccessor(spent), ...Array.from({ length: 4 }, () => legacy(userId))];
    for (const created of families) await harness.store.createFamily(created);
    for (const token of legacyTokens) await harness.seedLegacy(token);

    expect(await harness.byUser.revokeAllForUser(userId, NOW)).toBe(12);
    for (const created of families) expect(await rotates(harness.store, created)).toBe('revoked');
    for (const token of legacyTokens) {
      expect((await harness.store.getLegacyToken(token.tokenHash))?.state).toBe(
        token === spent ? 'rotated' : 'revoked',
      );
      expect(await moves(harness.store, token)).toBe('revoked');
    }
  });
});
