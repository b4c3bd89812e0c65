import { randomUUID } from 'node:crypto';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { UserRefreshTokens } from '../../lambda/accounts/ports';
import { DynamoRefreshTokenStore } from '../../lambda/adapters/refresh-token-store';
import { DynamoUserRefreshTokens } from '../../lambda/adapters/user-refresh-tokens';
import { type RefreshToken, RefreshTokenConflictError, type RefreshTokenStore } from '../../lambda/oauth/ports';
import { hashRefreshToken } from '../../lambda/tokens/refresh-token';
import { MemoryRefreshTokenStore } from '../support/memory';
import { dynamoDbLocal } from './dynamodb';

/** The token endpoint's store, and the operator's revocation by user over the same tokens. */
interface Harness {
  readonly store: RefreshTokenStore;
  readonly byUser: UserRefreshTokens;
}

async function makeMemory(): Promise<Harness> {
  const store = new MemoryRefreshTokenStore();
  return { store, byUser: store };
}

const dynamo = dynamoDbLocal();
afterAll(() => dynamo.close());

async function makeDynamo(): Promise<Harness> {
  const { db, tables } = await dynamo.get();
  // Pages of two: the revocation follows the byUser index across pages.
  return {
    store: new DynamoRefreshTokenStore(db, tables.refreshTokens),
    byUser: new DynamoUserRefreshTokens(db, tables.refreshTokens, 2),
  };
}

/** Long past by the wall clock; every `now` is explicit. */
const T0 = 1_700_000_000;

function token(userId: string, overrides: Partial<RefreshToken> = {}): RefreshToken {
  return {
    tokenHash: hashRefreshToken(randomUUID()),
    familyId: randomUUID(),
    clientId: 'app',
    userId,
    username: `name-of-${userId}`,
    scope: ['read'],
    generation: 0,
    issuedAt: T0,
    idleExpiresAt: T0 + 3600,
    familyExpiresAt: T0 + 7200,
    state: 'active',
    ...overrides,
  };
}

function successor(previous: RefreshToken): RefreshToken {
  return token(previous.userId, {
    familyId: previous.familyId,
    generation: previous.generation + 1,
    familyExpiresAt: previous.familyExpiresAt,
  });
}

/** Whether the token can still rotate at T0 (the rotation is undone by nothing: use it last). */
async function rotates(store: RefreshTokenStore, current: RefreshToken): Promise<boolean | 'revoked'> {
  try {
    await store.rotate(current, successor(current), T0);
    return true;
  } catch (error) {
    if (!(error instanceof RefreshTokenConflictError)) throw error;
    return error.current?.state === 'revoked' ? 'revoked' : false;
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

  it('revokes each live family of the user once, marks its active tokens revoked and leaves the rotated ones', async () => {
    const userId = randomUUID();
    const first = token(userId);
    const second = successor(first);
    const other = token(userId);
    await harness.store.create(first);
    await harness.store.rotate(first, second, T0);
    await harness.store.create(other);

    expect(await harness.byUser.revokeAllForUser(userId, T0)).toBe(2);
    expect((await harness.store.get(first.tokenHash))?.state).toBe('rotated');
    expect((await harness.store.get(second.tokenHash))?.state).toBe('revoked');
    expect((await harness.store.get(other.tokenHash))?.state).toBe('revoked');
    expect(await harness.byUser.revokeAllForUser(userId, T0)).toBe(0);
  });

  it('covers a token of a revoked family that it did not see: the family marker refuses its rotation', async () => {
    const userId = randomUUID();
    const first = token(userId);
    await harness.store.create(first);
    expect(await harness.byUser.revokeAllForUser(userId, T0)).toBe(1);
    const unseen = successor(first);
    await harness.store.create(unseen);
    expect(await rotates(harness.store, unseen)).toBe('revoked');
  });

  it('does not count families revoked before, nor families past their absolute expiry, and leaves the latter alone', async () => {
    const userId = randomUUID();
    const revoked = token(userId);
    const expired = token(userId, { idleExpiresAt: T0 - 1, familyExpiresAt: T0 });
    await harness.store.create(revoked);
    await harness.store.create(expired);
    await harness.store.revokeFamily(revoked);

    expect(await harness.byUser.revokeAllForUser(userId, T0)).toBe(0);
    expect((await harness.store.get(revoked.tokenHash))?.state).toBe('revoked');
    expect((await harness.store.get(expired.tokenHash))?.state).toBe('active');
  });

  it('leaves the tokens of other users alone', async () => {
    const userId = randomUUID();
    const mine = token(userId);
    const theirs = token(randomUUID());
    await harness.store.create(mine);
    await harness.store.create(theirs);
    expect(await harness.byUser.revokeAllForUser(userId, T0)).toBe(1);
    expect((await harness.store.get(theirs.tokenHash))?.state).toBe('active');
    expect(await rotates(harness.store, theirs)).toBe(true);
  });

  it('revokes nothing for a user without refresh tokens', async () => {
    expect(await harness.byUser.revokeAllForUser(randomUUID(), T0)).toBe(0);
  });

  it("follows every page of the user's tokens", async () => {
    const userId = randomUUID();
    const tokens = Array.from({ length: 5 }, () => token(userId));
    for (const created of tokens) await harness.store.create(created);
    expect(await harness.byUser.revokeAllForUser(userId, T0)).toBe(5);
    for (const created of tokens) expect((await harness.store.get(created.tokenHash))?.state).toBe('revoked');
  });
});
