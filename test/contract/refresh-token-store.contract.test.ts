import { randomBytes, randomUUID } from 'node:crypto';
import { PutCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DynamoRefreshTokenStore,
  familyKey,
  legacyTokenItem,
  rotationUpdate,
} from '../../lambda/adapters/refresh-token-store';
import { DependencyUnavailableError } from '../../lambda/oauth/errors';
import type { TokenEndpointDeps } from '../../lambda/oauth/grants/grant';
import { familyIssuedAt, mintFamily } from '../../lambda/oauth/grants/issue';
import { successorOf } from '../../lambda/oauth/grants/refresh-token';
import {
  type RefreshFamily,
  type RefreshToken,
  RefreshTokenConflictError,
  type RefreshTokenStore,
} from '../../lambda/oauth/ports';
import { generateFamilyId, hashRefreshToken } from '../../lambda/tokens/refresh-token';
import { MemoryRefreshTokenStore, memoryDeps, refreshTokenRecord, SETTINGS } from '../support/memory';
import { rotatedFamilyRecord } from '../support/refresh-families';
import { type DynamoDbLocal, dynamoDbLocal } from './dynamodb';

/** The store, and a way to put a legacy token (one item per token) into it as the service stored them. */
interface Harness {
  readonly store: RefreshTokenStore;
  seedLegacy(token: RefreshToken): Promise<void>;
}

async function makeMemory(): Promise<Harness> {
  const store = new MemoryRefreshTokenStore();
  return {
    store,
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
    seedLegacy: async (token) => {
      await db.send(new PutCommand({ TableName: tables.refreshTokens, Item: legacyTokenItem(token) }));
    },
  };
}

/** Long past by the wall clock: with TTL on, DynamoDB could delete these items any time; every `now` is explicit. */
const T0 = 1_700_000_000;
/** The lifetimes of a family minted at T0 and of a legacy token refreshTokenRecord(T0) gives: idle an hour, family two. */
const IDLE_EXPIRY = T0 + 3600;
const FAMILY_EXPIRY = T0 + 7200;

/** The grant's own minting and rotation, with those lifetimes and real randomness (keys are unique across tests). */
const DEPS: TokenEndpointDeps = {
  ...memoryDeps({ ...SETTINGS, refreshTokenIdleTtl: 3600, refreshTokenAbsoluteTtl: 7200 }),
  random: { bytes: (length) => randomBytes(length), uuid: randomUUID },
};

/** A refresh token as its holder has it, and the family the store holds for it. */
interface Issued {
  readonly token: string;
  readonly family: RefreshFamily;
}

/** The first token of a new family of alice's, issued at T0 as a password grant issues it. */
function issue(overrides: Partial<Omit<RefreshFamily, 'familyId'>> = {}): Issued {
  const { token, family } = mintFamily(DEPS, { clientId: 'app', userId: 'u-alice', username: 'alice' }, ['read'], T0);
  return { token, family: { ...family, ...overrides } };
}

/** What a rotation of `current`'s token at `now` stores: its successor, with the predecessor and the sealed successor. */
function rotation(current: Issued, now = T0): Issued {
  return successorOf(DEPS, current.family, current.token, now);
}

/** A legacy token as its holder has it (a bare secret) and its record, stored one item per token. */
interface IssuedLegacy {
  readonly token: string;
  readonly record: RefreshToken;
}

function legacyToken(overrides: Partial<Omit<RefreshToken, 'tokenHash'>> = {}): IssuedLegacy {
  const token = randomBytes(32).toString('base64url');
  return { token, record: refreshTokenRecord(T0, { tokenHash: hashRefreshToken(token), ...overrides }) };
}

/** The family a first use of `legacy` at `now` moves into one item, as the grant builds it. */
function migration(legacy: IssuedLegacy, now = T0): RefreshFamily {
  const { record } = legacy;
  const base: RefreshFamily = {
    familyId: record.familyId,
    clientId: record.clientId,
    userId: record.userId,
    username: record.username,
    scope: record.scope,
    generation: record.generation,
    currentHash: record.tokenHash,
    issuedAt: record.issuedAt,
    familyIssuedAt: familyIssuedAt(record),
    idleExpiresAt: record.idleExpiresAt,
    familyExpiresAt: record.familyExpiresAt,
  };
  return successorOf(DEPS, base, legacy.token, now).family;
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
  let harness: Harness;
  let store: RefreshTokenStore;
  beforeEach(async () => {
    harness = await make();
    store = harness.store;
  });

  describe('getFamily and createFamily', () => {
    it('reads an unknown family as missing', async () => {
      expect(await store.getFamily(generateFamilyId(DEPS.random))).toBeUndefined();
    });

    it.each([
      ['a family not rotated yet, without a previous token', () => issue().family],
      ['a rotated family, with its previous token and sealed successor', () => rotation(issue(), T0 + 60).family],
      ['a family without scope', () => issue({ scope: [] }).family],
      ['a revoked family', () => ({ ...rotation(issue()).family, revokedAt: T0 + 120 })],
      // DynamoDB deletes expired items late: the store returns them, the grant checks the expiry itself.
      [
        'a family expired long ago',
        () =>
          issue({
            issuedAt: T0 - 7200,
            familyIssuedAt: T0 - 9000,
            idleExpiresAt: T0 - 3600,
            familyExpiresAt: T0 - 1,
          }).family,
      ],
    ])('reads back %s as created', async (_case, build) => {
      const created = build();
      await store.createFamily(created);
      expect(await store.getFamily(created.familyId)).toEqual(created);
    });

    it('reads a family not rotated yet with no `previous` property at all', async () => {
      const { family } = issue();
      await store.createFamily(family);
      expect(await store.getFamily(family.familyId)).not.toHaveProperty('previous');
    });

    it('refuses to create a family whose id is taken, and keeps the stored one', async () => {
      const first = issue().family;
      await store.createFamily(first);
      const intruder = { ...issue().family, familyId: first.familyId, userId: 'u-mallory', username: 'mallory' };
      await expect(store.createFamily(intruder)).rejects.toThrow();
      expect(await store.getFamily(first.familyId)).toEqual(first);
    });

    it('refuses to create a family whose id carries the revocation of a family of legacy tokens', async () => {
      const { family } = issue();
      expect(await store.revokeFamily(family.familyId, FAMILY_EXPIRY, T0)).toBe(true);
      await expect(store.createFamily(family)).rejects.toThrow();
      expect(await store.getFamily(family.familyId)).toBeUndefined();
    });
  });

  describe('rotate', () => {
    it('stores the successor: the family reads back as `next`', async () => {
      const current = issue();
      const next = rotation(current, T0 + 60);
      await store.createFamily(current.family);
      await store.rotate(current.family, next.family, T0 + 60);
      expect(await store.getFamily(current.family.familyId)).toEqual(next.family);
    });

    it('writes only what changes from one token of a family to the next, keeping the rest as stored', async () => {
      const current = issue();
      const next = rotation(current, T0 + 60);
      await store.createFamily(current.family);
      const claimed: RefreshFamily = {
        ...next.family,
        clientId: 'other-app',
        userId: 'u-mallory',
        username: 'mallory',
        scope: ['admin'],
        familyIssuedAt: T0 - 1,
        familyExpiresAt: FAMILY_EXPIRY + 86_400,
      };
      await store.rotate(current.family, claimed, T0 + 60);
      const stored = await store.getFamily(current.family.familyId);
      expect(stored).toEqual(next.family);
      // The fields a rotation changes, and only those, differ from the family before it.
      const { generation, currentHash, issuedAt, previous, idleExpiresAt, ...unchanged } = stored!;
      expect({ ...current.family, generation, currentHash, issuedAt, previous, idleExpiresAt }).toEqual(stored);
      expect(unchanged).toEqual({
        familyId: current.family.familyId,
        clientId: 'app',
        userId: 'u-alice',
        username: 'alice',
        scope: ['read'],
        familyIssuedAt: T0,
        familyExpiresAt: FAMILY_EXPIRY,
      });
    });

    it('rotates a family again from its successor, replacing the previous token', async () => {
      const first = issue();
      const second = rotation(first, T0 + 10);
      const third = rotation(second, T0 + 20);
      await store.createFamily(first.family);
      await store.rotate(first.family, second.family, T0 + 10);
      await store.rotate(second.family, third.family, T0 + 20);
      expect(await store.getFamily(first.family.familyId)).toEqual(third.family);
      expect(third.family.previous?.hash).toBe(second.family.currentHash);
    });

    it('succeeds once: a second rotation of the same token conflicts, carrying the rotated family', async () => {
      const current = issue();
      const next = rotation(current, T0 + 60);
      await store.createFamily(current.family);
      await store.rotate(current.family, next.family, T0 + 60);
      const error = await conflictOf(store.rotate(current.family, rotation(current, T0 + 61).family, T0 + 61));
      expect(error.family).toEqual(next.family);
      expect(error.revoked).toBe(false);
      expect(await store.getFamily(current.family.familyId)).toEqual(next.family);
    });

    // The condition checks the expiry at `now` (the idle and the absolute lifetime) whether or not the item is still there.
    it.each([
      ['a second before the idle expiry', true, {}, IDLE_EXPIRY - 1],
      ['at the idle expiry', false, {}, IDLE_EXPIRY],
      ['a day after the idle expiry', false, {}, IDLE_EXPIRY + 86_400],
      ['a second before the family expiry', true, { idleExpiresAt: FAMILY_EXPIRY + 3600 }, FAMILY_EXPIRY - 1],
      ['at the family expiry', false, { idleExpiresAt: FAMILY_EXPIRY + 3600 }, FAMILY_EXPIRY],
      ['a day after the family expiry', false, { idleExpiresAt: FAMILY_EXPIRY + 3600 }, FAMILY_EXPIRY + 86_400],
    ] as const)('rotating %s succeeds: %s', async (_case, rotates, overrides, now) => {
      const current = issue(overrides);
      const next = rotation(current, now);
      await store.createFamily(current.family);
      if (rotates) {
        await store.rotate(current.family, next.family, now);
        expect(await store.getFamily(current.family.familyId)).toEqual(next.family);
        return;
      }
      const error = await conflictOf(store.rotate(current.family, next.family, now));
      expect(error.family).toEqual(current.family);
      expect(error.revoked).toBe(false);
      expect(await store.getFamily(current.family.familyId)).toEqual(current.family);
    });

    it('conflicts, carrying the revoked family, when the family is revoked', async () => {
      const current = issue();
      await store.createFamily(current.family);
      await store.revokeFamily(current.family.familyId, current.family.familyExpiresAt, T0 + 5);
      const error = await conflictOf(store.rotate(current.family, rotation(current).family, T0 + 10));
      expect(error.revoked).toBe(true);
      expect(error.family).toEqual({ ...current.family, revokedAt: T0 + 5 });
      expect(await store.getFamily(current.family.familyId)).toEqual({ ...current.family, revokedAt: T0 + 5 });
    });

    it('conflicts with no family for a family that is not stored (never was, or deleted by its TTL), storing none', async () => {
      const current = issue();
      const error = await conflictOf(store.rotate(current.family, rotation(current).family, T0));
      expect(error.family).toBeUndefined();
      expect(error.revoked).toBe(false);
      expect(await store.getFamily(current.family.familyId)).toBeUndefined();
    });

    it('conflicts as revoked, storing no family, when only the revocation of the family is stored', async () => {
      const current = issue();
      await store.revokeFamily(current.family.familyId, FAMILY_EXPIRY, T0);
      const error = await conflictOf(store.rotate(current.family, rotation(current).family, T0));
      expect(error.family).toBeUndefined();
      expect(error.revoked).toBe(true);
      expect(await store.getFamily(current.family.familyId)).toBeUndefined();
    });

    it("lets exactly one of 10 concurrent rotations of a token win; the others conflict, carrying the winner's family", async () => {
      const current = issue();
      await store.createFamily(current.family);
      const nexts = Array.from({ length: 10 }, () => rotation(current, T0 + 30).family);
      const results = await Promise.allSettled(nexts.map((next) => store.rotate(current.family, next, T0 + 30)));
      const winners = nexts.filter((_next, index) => results[index]!.status === 'fulfilled');
      expect(winners).toHaveLength(1);
      expect(await store.getFamily(current.family.familyId)).toEqual(winners[0]);
      for (const result of results) {
        if (result.status === 'fulfilled') continue;
        expect(result.reason).toBeInstanceOf(RefreshTokenConflictError);
        expect((result.reason as RefreshTokenConflictError).family).toEqual(winners[0]);
        expect((result.reason as RefreshTokenConflictError).revoked).toBe(false);
      }
    });
  });

  describe('revokeFamily', () => {
    it('revokes a family as of `now` the first time only, returning true then false', async () => {
      const current = rotation(issue());
      await store.createFamily(current.family);
      expect(await store.revokeFamily(current.family.familyId, current.family.familyExpiresAt, T0 + 5)).toBe(true);
      expect(await store.revokeFamily(current.family.familyId, current.family.familyExpiresAt, T0 + 9)).toBe(false);
      expect(await store.getFamily(current.family.familyId)).toEqual({ ...current.family, revokedAt: T0 + 5 });
    });

    it('revokes a family that has no item: it still reads as missing, and it can be neither created nor moved into', async () => {
      const legacy = legacyToken();
      await harness.seedLegacy(legacy.record);
      const { familyId } = legacy.record;
      expect(await store.revokeFamily(familyId, FAMILY_EXPIRY, T0 + 5)).toBe(true);
      expect(await store.revokeFamily(familyId, FAMILY_EXPIRY, T0 + 9)).toBe(false);
      expect(await store.getFamily(familyId)).toBeUndefined();

      const family = migration(legacy, T0 + 10);
      const error = await conflictOf(store.migrate(legacy.record, family, T0 + 10));
      expect(error.revoked).toBe(true);
      expect(error.family).toBeUndefined();
      expect(await store.getLegacyToken(legacy.record.tokenHash)).toEqual(legacy.record);
      await expect(store.createFamily(family)).rejects.toThrow();
      expect(await store.getFamily(familyId)).toBeUndefined();
    });

    it('leaves other families alone', async () => {
      const revoked = issue();
      const other = issue();
      await store.createFamily(revoked.family);
      await store.createFamily(other.family);
      await store.revokeFamily(revoked.family.familyId, revoked.family.familyExpiresAt, T0);
      const next = rotation(other);
      await store.rotate(other.family, next.family, T0);
      expect(await store.getFamily(other.family.familyId)).toEqual(next.family);
      expect(await store.revokeFamily(other.family.familyId, other.family.familyExpiresAt, T0)).toBe(true);
    });
  });

  describe('getLegacyToken', () => {
    // The grant hashes whatever refresh_token a client sends: a miss, never a failure of the store.
    it.each([
      ['an unknown hash', () => hashRefreshToken(randomUUID())],
      ['an empty hash', () => ''],
      ['a hash longer than any key', () => 'x'.repeat(3000)],
    ])('reads %s as missing', async (_case, hash) => {
      expect(await store.getLegacyToken(hash())).toBeUndefined();
    });

    it.each([
      ['the first token of a family', () => legacyToken({ familyIssuedAt: T0 })],
      ['a later token, with when its family was issued', () => legacyToken({ generation: 7, familyIssuedAt: T0 - 60 })],
      ['a token without scope', () => legacyToken({ scope: [], familyIssuedAt: T0 })],
      ['a rotated token, with its successor', () => legacyToken({ state: 'rotated', successorHash: 'next-hash' })],
      ['a revoked token', () => legacyToken({ state: 'revoked' })],
      [
        'a token expired long ago',
        () => legacyToken({ issuedAt: T0 - 7200, idleExpiresAt: T0 - 3600, familyExpiresAt: T0 - 1 }),
      ],
    ])('reads back %s as stored', async (_case, build) => {
      const { record } = build();
      await harness.seedLegacy(record);
      expect(await store.getLegacyToken(record.tokenHash)).toEqual(record);
    });

    // Tokens stored before families carried their issue time: the grant counts their own issuedAt instead.
    it('reads back a token stored without its family issue time as without it', async () => {
      const { record } = legacyToken({ generation: 2 });
      await harness.seedLegacy(record);
      const read = await store.getLegacyToken(record.tokenHash);
      expect(read).toEqual(record);
      expect(read).not.toHaveProperty('familyIssuedAt');
    });

    it('reads no family item as a legacy token, nor a legacy token as a family', async () => {
      const legacy = legacyToken();
      const { family } = issue();
      await harness.seedLegacy(legacy.record);
      await store.createFamily(family);
      expect(await store.getFamily(legacy.record.familyId)).toBeUndefined();
      expect(await store.getLegacyToken(family.currentHash)).toBeUndefined();
    });
  });

  describe('migrate', () => {
    it('marks the legacy token rotated and stores its family as one item', async () => {
      const legacy = legacyToken({ generation: 3, familyIssuedAt: T0 - 600 });
      await harness.seedLegacy(legacy.record);
      const family = migration(legacy, T0 + 60);
      await store.migrate(legacy.record, family, T0 + 60);
      expect(await store.getLegacyToken(legacy.record.tokenHash)).toEqual({ ...legacy.record, state: 'rotated' });
      expect(await store.getFamily(legacy.record.familyId)).toEqual(family);
      expect(family).toMatchObject({
        generation: 4,
        familyIssuedAt: T0 - 600,
        previous: { hash: legacy.record.tokenHash },
      });
    });

    it('moves a family once: a second move conflicts, carrying the family the first stored', async () => {
      const legacy = legacyToken();
      await harness.seedLegacy(legacy.record);
      const family = migration(legacy, T0 + 60);
      await store.migrate(legacy.record, family, T0 + 60);
      const error = await conflictOf(store.migrate(legacy.record, migration(legacy, T0 + 61), T0 + 61));
      expect(error.family).toEqual(family);
      expect(error.revoked).toBe(false);
      expect(await store.getFamily(legacy.record.familyId)).toEqual(family);
    });

    // Like the rotation's, the condition checks the legacy token's state and expiry at `now`.
    it.each([
      ['a second before its idle expiry', true, {}, IDLE_EXPIRY - 1],
      ['at its idle expiry', false, {}, IDLE_EXPIRY],
      ['a second before its family expiry', true, { idleExpiresAt: FAMILY_EXPIRY + 3600 }, FAMILY_EXPIRY - 1],
      ['at its family expiry', false, { idleExpiresAt: FAMILY_EXPIRY + 3600 }, FAMILY_EXPIRY],
      ['a day after its family expiry', false, { idleExpiresAt: FAMILY_EXPIRY + 3600 }, FAMILY_EXPIRY + 86_400],
      ['once it is revoked', false, { state: 'revoked' }, T0],
      ['once it is rotated', false, { state: 'rotated', successorHash: hashRefreshToken(randomUUID()) }, T0],
    ] as const)('moving a legacy token %s succeeds: %s', async (_case, moves, overrides, now) => {
      const legacy = legacyToken(overrides);
      await harness.seedLegacy(legacy.record);
      const family = migration(legacy, now);
      if (moves) {
        await store.migrate(legacy.record, family, now);
        expect(await store.getFamily(legacy.record.familyId)).toEqual(family);
        return;
      }
      const error = await conflictOf(store.migrate(legacy.record, family, now));
      expect(error.family).toBeUndefined();
      expect(error.revoked).toBe(false);
      expect(await store.getLegacyToken(legacy.record.tokenHash)).toEqual(legacy.record);
      expect(await store.getFamily(legacy.record.familyId)).toBeUndefined();
    });

    it('conflicts for a legacy token that is not stored, storing no family', async () => {
      const legacy = legacyToken();
      const error = await conflictOf(store.migrate(legacy.record, migration(legacy), T0));
      expect(error.family).toBeUndefined();
      expect(error.revoked).toBe(false);
      expect(await store.getLegacyToken(legacy.record.tokenHash)).toBeUndefined();
      expect(await store.getFamily(legacy.record.familyId)).toBeUndefined();
    });

    it.each([
      ['a family item', undefined],
      ['a revoked family item', T0 + 1],
    ])('conflicts over %s, carrying it, and leaves the legacy token active', async (_case, revokedAt) => {
      const legacy = legacyToken();
      await harness.seedLegacy(legacy.record);
      const existing: RefreshFamily = {
        ...migration(legacy, T0 + 1),
        ...(revokedAt === undefined ? {} : { revokedAt }),
      };
      await store.createFamily(existing);
      const error = await conflictOf(store.migrate(legacy.record, migration(legacy, T0 + 2), T0 + 2));
      expect(error.family).toEqual(existing);
      expect(error.revoked).toBe(revokedAt !== undefined);
      expect(await store.getLegacyToken(legacy.record.tokenHash)).toEqual(legacy.record);
      expect(await store.getFamily(legacy.record.familyId)).toEqual(existing);
    });

    it('lets exactly one of concurrent moves of a legacy token win; the others store nothing of theirs', async () => {
      const legacy = legacyToken();
      await harness.seedLegacy(legacy.record);
      const families = Array.from({ length: 5 }, () => migration(legacy, T0 + 30));
      const results = await Promise.allSettled(families.map((family) => store.migrate(legacy.record, family, T0 + 30)));
      const winners = families.filter((_family, index) => results[index]!.status === 'fulfilled');
      expect(winners).toHaveLength(1);
      expect(await store.getFamily(legacy.record.familyId)).toEqual(winners[0]);
      expect((await store.getLegacyToken(legacy.record.tokenHash))?.state).toBe('rotated');
      for (const result of results) {
        if (result.status === 'fulfilled') continue;
        // DynamoDB may report a transaction that overlapped the winner's as unavailable (the client retries).
        if (result.reason instanceof DependencyUnavailableError) continue;
        expect(result.reason).toBeInstanceOf(RefreshTokenConflictError);
        expect((result.reason as RefreshTokenConflictError).family).toEqual(winners[0]);
      }
    });
  });
});

/**
 * DynamoDB's size of an item (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):
 * each attribute's name in UTF-8 bytes plus its value's size. A string is its UTF-8 bytes; a number about
 * one byte per two significant digits plus one; a boolean or null one byte; a list or map 3 bytes plus one per
 * element plus its elements (a map's with their names). The values are the document client's (numbers,
 * strings, arrays), so a number's digits are read from its decimal form.
 */
function itemSize(item: Record<string, unknown>): number {
  return Object.entries(item).reduce((sum, [name, value]) => sum + Buffer.byteLength(name) + valueSize(value), 0);
}

function valueSize(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (typeof value === 'number') {
    const digits = String(Math.abs(value))
      .replace('.', '')
      .replace(/^0+|0+$/g, '');
    return Math.ceil(Math.max(digits.length, 1) / 2) + 1;
  }
  if (typeof value === 'boolean' || value === null) return 1;
  if (Array.isArray(value)) return 3 + value.reduce((sum: number, element) => sum + 1 + valueSize(element), 0);
  if (typeof value === 'object') {
    return (
      3 +
      Object.entries(value).reduce((sum, [name, element]) => sum + 1 + Buffer.byteLength(name) + valueSize(element), 0)
    );
  }
  throw new Error(`no DynamoDB size for ${typeof value}`);
}

describe('DynamoRefreshTokenStore on DynamoDB Local: storage per family', () => {
  let local: DynamoDbLocal;
  let store: DynamoRefreshTokenStore;
  beforeEach(async () => {
    local = await dynamo.get();
    store = new DynamoRefreshTokenStore(local.db, local.tables.refreshTokens);
  });

  /** Every item of the table that names `familyId`, read with a consistent scan across all its pages. */
  async function itemsOf(familyId: string): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await local.db.send(
        new ScanCommand({
          TableName: local.tables.refreshTokens,
          FilterExpression: 'familyId = :familyId',
          ExpressionAttributeValues: { ':familyId': familyId },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return items;
  }

  it('keeps one item under 1 KB for a family, however often it rotates: one write unit per rotation', async () => {
    let current = issue();
    await store.createFamily(current.family);
    const sizes: number[] = [];
    for (let i = 1; i <= 50; i++) {
      const next = rotation(current, T0 + i);
      await store.rotate(current.family, next.family, T0 + i);
      current = next;
      const items = await itemsOf(current.family.familyId);
      expect(items).toHaveLength(1);
      expect(items[0]!.tokenHash).toBe(familyKey(current.family.familyId));
      sizes.push(itemSize(items[0]!));
    }
    expect(await store.getFamily(current.family.familyId)).toEqual(current.family);
    expect(current.family.generation).toBe(50);
    // A write unit covers 1 KB: every rotation rewrote an item of about the same size, well within it.
    expect(Math.max(...sizes)).toBeLessThan(1024);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(2);

    // The store's rotation write, as DynamoDB (and DynamoDB Local) bills it.
    const next = rotation(current, T0 + 51);
    const { ConsumedCapacity } = await local.db.send(
      new UpdateCommand({
        ...rotationUpdate(local.tables.refreshTokens, current.family, next.family, T0 + 51),
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    expect(ConsumedCapacity?.CapacityUnits).toBe(1);
    expect(await itemsOf(current.family.familyId)).toHaveLength(1);
  });

  it('keeps a migrated family in one item beside its rotated legacy token', async () => {
    const legacy = legacyToken();
    await local.db.send(
      new PutCommand({ TableName: local.tables.refreshTokens, Item: legacyTokenItem(legacy.record) }),
    );
    const family = migration(legacy, T0 + 1);
    await store.migrate(legacy.record, family, T0 + 1);
    let current = family;
    for (let i = 2; i <= 10; i++) {
      const next = rotatedFamilyRecord(current, T0 + i);
      await store.rotate(current, next, T0 + i);
      current = next;
    }
    const keys = (await itemsOf(legacy.record.familyId)).map((item) => item.tokenHash);
    expect(keys.sort()).toEqual([familyKey(legacy.record.familyId), legacy.record.tokenHash].sort());
  });
});
