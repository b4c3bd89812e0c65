import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { FAMILY_USER_ATTRIBUTE, REFRESH_TOKENS_TABLE } from '../../contract/tables';
import { DependencyUnavailableError } from '../oauth/errors';
import {
  type RefreshFamily,
  type RefreshToken,
  RefreshTokenConflictError,
  type RefreshTokenState,
  type RefreshTokenStore,
} from '../oauth/ports';
import { callDependency } from './aws-errors';
import { CorruptItemError, isUsableKey, num, optionalStr, str, strList } from './items';

const STATES: readonly RefreshTokenState[] = ['active', 'rotated', 'revoked'];
const TABLE = 'refreshTokens';
const KEY = REFRESH_TOKENS_TABLE.partitionKey;
const TTL = REFRESH_TOKENS_TABLE.ttlAttribute!;

/**
 * The key of a family's item. A token hash is base64url, which has no '#': a family's item and a legacy
 * token's never meet. Before families were one item this key held only a family's revocation (familyId,
 * revokedAt, the TTL), which is why such an item reads as no family but still blocks the family's move.
 */
export function familyKey(familyId: string): string {
  return `family#${familyId}`;
}

/**
 * Refresh-token families, one item each (RefreshFamily), rotated in place with one conditional UpdateItem:
 * one write unit per refresh (the item stays under 1 KB) and no growth of storage. The item names its user
 * in FAMILY_USER_ATTRIBUTE, indexed by the sparse `familiesByUser` index that projects only what revoking
 * needs: a rotation changes no attribute that index holds, so it writes nothing there.
 *
 * Legacy tokens (one item per token, under their hash) are still read, moved into a family item on first
 * use, and revoked by writing the family's item. `expiresAt` (TTL) is the earlier of the idle and the family
 * expiry; DynamoDB deletes late, so readers and conditions check the expiry themselves.
 */
export class DynamoRefreshTokenStore implements RefreshTokenStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async getFamily(familyId: string): Promise<RefreshFamily | undefined> {
    const item = await this.read(familyKey(familyId));
    return item === undefined || item.currentHash === undefined ? undefined : toFamily(item);
  }

  async createFamily(family: RefreshFamily): Promise<void> {
    await callDependency('dynamodb', () =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: familyItem(family),
          ConditionExpression: 'attribute_not_exists(#key)',
          ExpressionAttributeNames: { '#key': KEY },
        }),
      ),
    );
  }

  async rotate(current: RefreshFamily, next: RefreshFamily, now: number): Promise<void> {
    try {
      await callDependency('dynamodb', () =>
        this.db.send(new UpdateCommand(rotationUpdate(this.tableName, current, next, now))),
      );
    } catch (error) {
      if (!(error instanceof Error) || error.name !== 'ConditionalCheckFailedException') throw error;
      const stored = (error as Error & { Item?: Record<string, AttributeValue> }).Item;
      throw conflict(stored === undefined ? await this.read(familyKey(current.familyId)) : unmarshall(stored));
    }
  }

  async revokeFamily(familyId: string, familyExpiresAt: number, now: number): Promise<boolean> {
    const { Attributes } = await callDependency('dynamodb', () =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [KEY]: familyKey(familyId) },
          // A family of legacy tokens that never moved gets an item with only this: its move is then refused.
          UpdateExpression:
            'SET familyId = :familyId, revokedAt = if_not_exists(revokedAt, :now), #ttl = if_not_exists(#ttl, :expiresAt)',
          ExpressionAttributeNames: { '#ttl': TTL },
          ExpressionAttributeValues: { ':familyId': familyId, ':now': now, ':expiresAt': familyExpiresAt },
          ReturnValues: 'UPDATED_OLD',
        }),
      ),
    );
    return Attributes?.revokedAt === undefined;
  }

  async getLegacyToken(tokenHash: string): Promise<RefreshToken | undefined> {
    if (!isUsableKey(tokenHash)) return undefined;
    const item = await this.read(tokenHash);
    return item === undefined ? undefined : toLegacyToken(item);
  }

  async migrate(legacy: RefreshToken, family: RefreshFamily, now: number): Promise<void> {
    try {
      await callDependency('dynamodb', () =>
        this.db.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Update: {
                  TableName: this.tableName,
                  Key: { [KEY]: legacy.tokenHash },
                  UpdateExpression: 'SET #state = :rotated, rotatedAt = :now',
                  ConditionExpression: '#state = :active AND idleExpiresAt > :now AND familyExpiresAt > :now',
                  ExpressionAttributeNames: { '#state': 'state' },
                  ExpressionAttributeValues: { ':rotated': 'rotated', ':active': 'active', ':now': now },
                },
              },
              {
                Put: {
                  TableName: this.tableName,
                  Item: familyItem(family),
                  ConditionExpression: 'attribute_not_exists(#key)',
                  ExpressionAttributeNames: { '#key': KEY },
                  ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
                },
              },
            ],
          }),
        ),
      );
    } catch (error) {
      const reasons = cancellationReasons(error);
      if (reasons === undefined) throw error;
      const existing = reasons[1];
      if (existing?.Code === 'ConditionalCheckFailed') {
        throw conflict(
          existing.Item === undefined ? await this.read(familyKey(family.familyId)) : unmarshall(existing.Item),
        );
      }
      if (reasons[0]?.Code === 'ConditionalCheckFailed') throw conflict(await this.read(familyKey(family.familyId)));
      // Another transaction held an item: tell the client to retry; nothing was written.
      if (reasons.some((reason) => reason.Code === 'TransactionConflict')) {
        throw new DependencyUnavailableError('dynamodb', { cause: error });
      }
      throw error;
    }
  }

  private async read(key: string): Promise<Record<string, unknown> | undefined> {
    const { Item } = await callDependency('dynamodb', () =>
      this.db.send(new GetCommand({ TableName: this.tableName, Key: { [KEY]: key }, ConsistentRead: true })),
    );
    return Item;
  }
}

/**
 * The rotation's one conditional write (RFC 9700 §4.14.2): the family moves to `next` only if its current
 * token is still `current`'s, it is not revoked, and it is unexpired at `now`. The load benchmark's floor
 * issues this same write.
 */
export function rotationUpdate(tableName: string, current: RefreshFamily, next: RefreshFamily, now: number) {
  if (next.previous === undefined) throw new Error('a rotated family records the token it replaced');
  return {
    TableName: tableName,
    Key: { [KEY]: familyKey(current.familyId) },
    UpdateExpression:
      'SET generation = :generation, currentHash = :next, issuedAt = :issuedAt, previousHash = :previous, rotatedAt = :rotatedAt, sealedSuccessor = :sealed, idleExpiresAt = :idle, #ttl = :ttl',
    ConditionExpression:
      'currentHash = :presented AND attribute_not_exists(revokedAt) AND idleExpiresAt > :now AND familyExpiresAt > :now',
    ExpressionAttributeNames: { '#ttl': TTL },
    ExpressionAttributeValues: {
      ':generation': next.generation,
      ':next': next.currentHash,
      ':issuedAt': next.issuedAt,
      ':previous': next.previous.hash,
      ':rotatedAt': next.previous.rotatedAt,
      ':sealed': next.previous.sealedSuccessor,
      ':idle': next.idleExpiresAt,
      ':ttl': Math.min(next.idleExpiresAt, next.familyExpiresAt),
      ':presented': current.currentHash,
      ':now': now,
    },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
  };
}

/** The conflict a refused write of a family raises, from the family's item as it was then. */
function conflict(item: Record<string, unknown> | undefined): RefreshTokenConflictError {
  if (item === undefined) return new RefreshTokenConflictError(undefined, false);
  const revoked = item.revokedAt !== undefined;
  return new RefreshTokenConflictError(item.currentHash === undefined ? undefined : toFamily(item), revoked);
}

function cancellationReasons(error: unknown): { Code?: string; Item?: Record<string, AttributeValue> }[] | undefined {
  if (!(error instanceof Error) || error.name !== 'TransactionCanceledException') return undefined;
  return (
    (error as Error & { CancellationReasons?: { Code?: string; Item?: Record<string, AttributeValue> }[] })
      .CancellationReasons ?? []
  );
}

function familyItem(family: RefreshFamily): Record<string, unknown> {
  const { previous, userId, revokedAt, ...rest } = family;
  return {
    [KEY]: familyKey(family.familyId),
    ...rest,
    [FAMILY_USER_ATTRIBUTE]: userId,
    scope: [...family.scope],
    ...(previous === undefined
      ? {}
      : { previousHash: previous.hash, rotatedAt: previous.rotatedAt, sealedSuccessor: previous.sealedSuccessor }),
    ...(revokedAt === undefined ? {} : { revokedAt }),
    [TTL]: Math.min(family.idleExpiresAt, family.familyExpiresAt),
  };
}

function toFamily(item: Record<string, unknown>): RefreshFamily {
  const previousHash = optionalStr(item, TABLE, 'previousHash');
  const revokedAt = item.revokedAt === undefined ? undefined : num(item, TABLE, 'revokedAt');
  return {
    familyId: str(item, TABLE, 'familyId'),
    clientId: str(item, TABLE, 'clientId'),
    userId: str(item, TABLE, FAMILY_USER_ATTRIBUTE),
    username: str(item, TABLE, 'username'),
    scope: strList(item, TABLE, 'scope'),
    generation: num(item, TABLE, 'generation'),
    currentHash: str(item, TABLE, 'currentHash'),
    issuedAt: num(item, TABLE, 'issuedAt'),
    ...(previousHash === undefined
      ? {}
      : {
          previous: {
            hash: previousHash,
            rotatedAt: num(item, TABLE, 'rotatedAt'),
            sealedSuccessor: str(item, TABLE, 'sealedSuccessor'),
          },
        }),
    familyIssuedAt: num(item, TABLE, 'familyIssuedAt'),
    ...(item.sessionEpoch === undefined ? {} : { sessionEpoch: num(item, TABLE, 'sessionEpoch') }),
    idleExpiresAt: num(item, TABLE, 'idleExpiresAt'),
    familyExpiresAt: num(item, TABLE, 'familyExpiresAt'),
    ...(revokedAt === undefined ? {} : { revokedAt }),
  };
}

function toLegacyToken(item: Record<string, unknown>): RefreshToken {
  const state = str(item, TABLE, 'state') as RefreshTokenState;
  if (!STATES.includes(state)) throw new CorruptItemError(TABLE, 'state');
  return {
    tokenHash: str(item, TABLE, KEY),
    familyId: str(item, TABLE, 'familyId'),
    clientId: str(item, TABLE, 'clientId'),
    userId: str(item, TABLE, 'userId'),
    username: str(item, TABLE, 'username'),
    scope: strList(item, TABLE, 'scope'),
    generation: num(item, TABLE, 'generation'),
    issuedAt: num(item, TABLE, 'issuedAt'),
    // Absent on tokens stored before it was recorded.
    ...(item.familyIssuedAt === undefined ? {} : { familyIssuedAt: num(item, TABLE, 'familyIssuedAt') }),
    idleExpiresAt: num(item, TABLE, 'idleExpiresAt'),
    familyExpiresAt: num(item, TABLE, 'familyExpiresAt'),
    state,
    successorHash: optionalStr(item, TABLE, 'successorHash'),
  };
}

/** A legacy token's item as the service stored them before families were one item (tests and benchmarks seed these). */
export function legacyTokenItem(token: RefreshToken): Record<string, unknown> {
  return { ...token, scope: [...token.scope], [TTL]: Math.min(token.idleExpiresAt, token.familyExpiresAt) };
}
