import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { REFRESH_TOKENS_TABLE } from '../../contract/tables';
import { DependencyUnavailableError } from '../oauth/errors';
import { type RefreshToken, RefreshTokenConflictError, type RefreshTokenState } from '../oauth/ports';
import { callDependency } from './aws-errors';
import { CorruptItemError, isUsableKey, num, optionalStr, str, strList } from './items';

const STATES: readonly RefreshTokenState[] = ['active', 'rotated', 'revoked'];

type TransactItems = NonNullable<TransactWriteCommandInput['TransactItems']>;

/**
 * The key of a family's revocation marker, in the same table as the tokens. A token hash is base64url,
 * which has no '#': the two kinds of key never meet, and the marker (no userId) stays out of the byUser
 * index.
 */
export function familyMarkerKey(familyId: string): string {
  return `family#${familyId}`;
}

/**
 * Refresh tokens, keyed by the SHA-256 of the token. `expiresAt` (TTL) is the earlier of the idle and the
 * family expiry; DynamoDB deletes late, so readers and conditions check the expiry themselves.
 *
 * Revoking a family is one write whatever its length: a marker item that every rotation's transaction
 * checks. A family rotated every 15 minutes for 90 days has 8,640 tokens; walking it token by token would
 * outlast the request.
 */
export class DynamoRefreshTokenStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(tokenHash: string): Promise<RefreshToken | undefined> {
    if (!isUsableKey(tokenHash)) return undefined;
    const { Item } = await callDependency('dynamodb', () =>
      this.db.send(
        new GetCommand({
          TableName: this.tableName,
          Key: { [REFRESH_TOKENS_TABLE.partitionKey]: tokenHash },
          ConsistentRead: true,
        }),
      ),
    );
    return Item === undefined ? undefined : toRefreshToken(Item);
  }

  async create(token: RefreshToken): Promise<void> {
    await callDependency('dynamodb', () =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: toItem(token),
          ConditionExpression: 'attribute_not_exists(tokenHash)',
        }),
      ),
    );
  }

  async rotate(current: RefreshToken, next: RefreshToken, now: number): Promise<void> {
    try {
      await callDependency('dynamodb', () =>
        this.db.send(new TransactWriteCommand({ TransactItems: rotationWrite(this.tableName, current, next, now) })),
      );
    } catch (error) {
      const reasons = cancellationReasons(error);
      if (reasons === undefined) throw error;
      const first = reasons[0];
      if (first?.Code === 'ConditionalCheckFailed') {
        const old =
          first.Item === undefined ? await this.get(current.tokenHash) : toRefreshToken(unmarshall(first.Item));
        throw new RefreshTokenConflictError(old);
      }
      // The family was revoked (reuse elsewhere, RFC 7009, the operator) while the token was still active.
      if (reasons[2]?.Code === 'ConditionalCheckFailed')
        throw new RefreshTokenConflictError({ ...current, state: 'revoked' });
      // Another transaction held the item: tell the client to retry; nothing was written.
      if (reasons.some((reason) => reason.Code === 'TransactionConflict')) {
        const latest = await this.get(current.tokenHash);
        if (latest !== undefined && latest.state !== 'active') throw new RefreshTokenConflictError(latest);
        throw new DependencyUnavailableError('dynamodb', { cause: error });
      }
      throw error;
    }
  }

  async revokeFamily(token: RefreshToken): Promise<boolean> {
    const now = Math.floor(Date.now() / 1000);
    const [newly] = await Promise.all([
      this.revokeFamilyById(token.familyId, token.familyExpiresAt, now),
      // Not needed for safety (the marker is): a token marked revoked is refused at once, with no reuse alarm.
      this.markRevoked(token.tokenHash, now),
    ]);
    return newly;
  }

  /**
   * Writes the family's revocation marker; from then on no token of the family can be rotated. True when
   * the family was not revoked before. The marker lives as long as the family could (its TTL).
   */
  async revokeFamilyById(familyId: string, familyExpiresAt: number, now: number): Promise<boolean> {
    const { Attributes } = await callDependency('dynamodb', () =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { tokenHash: familyMarkerKey(familyId) },
          UpdateExpression:
            'SET familyId = :familyId, revokedAt = if_not_exists(revokedAt, :now), #ttl = if_not_exists(#ttl, :expiresAt)',
          ExpressionAttributeNames: { '#ttl': REFRESH_TOKENS_TABLE.ttlAttribute! },
          ExpressionAttributeValues: { ':familyId': familyId, ':now': now, ':expiresAt': familyExpiresAt },
          ReturnValues: 'ALL_OLD',
        }),
      ),
    );
    return Attributes?.revokedAt === undefined;
  }

  /** Marks one token revoked if it still exists and is not revoked; true when this call changed it. */
  async markRevoked(tokenHash: string, now: number): Promise<boolean> {
    try {
      await callDependency('dynamodb', () =>
        this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { tokenHash },
            UpdateExpression: 'SET #state = :revoked, revokedAt = :now',
            ConditionExpression: 'attribute_exists(tokenHash) AND #state <> :revoked',
            ExpressionAttributeNames: { '#state': 'state' },
            ExpressionAttributeValues: { ':revoked': 'revoked', ':now': now },
          }),
        ),
      );
      return true;
    } catch (error) {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }
}

/**
 * The one conditional write of a rotation (RFC 9700 §4.14.2): `current` becomes rotated only if it is still
 * active and unexpired at `now`, `next` is stored only if new, and neither happens once the family carries
 * its revocation marker. The load benchmark's floor issues this same write.
 */
export function rotationWrite(
  tableName: string,
  current: RefreshToken,
  next: RefreshToken,
  now: number,
): TransactItems {
  return [
    {
      Update: {
        TableName: tableName,
        Key: { tokenHash: current.tokenHash },
        UpdateExpression: 'SET #state = :rotated, successorHash = :next, rotatedAt = :now',
        ConditionExpression: '#state = :active AND idleExpiresAt > :now AND familyExpiresAt > :now',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':rotated': 'rotated', ':active': 'active', ':next': next.tokenHash, ':now': now },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
    { Put: { TableName: tableName, Item: toItem(next), ConditionExpression: 'attribute_not_exists(tokenHash)' } },
    {
      ConditionCheck: {
        TableName: tableName,
        Key: { tokenHash: familyMarkerKey(current.familyId) },
        ConditionExpression: 'attribute_not_exists(tokenHash)',
      },
    },
  ];
}

function cancellationReasons(error: unknown): { Code?: string; Item?: Record<string, AttributeValue> }[] | undefined {
  if (!(error instanceof Error) || error.name !== 'TransactionCanceledException') return undefined;
  return (
    (error as Error & { CancellationReasons?: { Code?: string; Item?: Record<string, AttributeValue> }[] })
      .CancellationReasons ?? []
  );
}

function toItem(token: RefreshToken): Record<string, unknown> {
  return {
    ...token,
    scope: [...token.scope],
    [REFRESH_TOKENS_TABLE.ttlAttribute!]: Math.min(token.idleExpiresAt, token.familyExpiresAt),
  };
}

function toRefreshToken(item: Record<string, unknown>): RefreshToken {
  const table = 'refreshTokens';
  const state = str(item, table, 'state') as RefreshTokenState;
  if (!STATES.includes(state)) throw new CorruptItemError(table, 'state');
  return {
    tokenHash: str(item, table, 'tokenHash'),
    familyId: str(item, table, 'familyId'),
    clientId: str(item, table, 'clientId'),
    userId: str(item, table, 'userId'),
    username: str(item, table, 'username'),
    scope: strList(item, table, 'scope'),
    generation: num(item, table, 'generation'),
    issuedAt: num(item, table, 'issuedAt'),
    // Absent on tokens stored before it was recorded.
    ...(item.familyIssuedAt === undefined ? {} : { familyIssuedAt: num(item, table, 'familyIssuedAt') }),
    idleExpiresAt: num(item, table, 'idleExpiresAt'),
    familyExpiresAt: num(item, table, 'familyExpiresAt'),
    state,
    successorHash: optionalStr(item, table, 'successorHash'),
  };
}
