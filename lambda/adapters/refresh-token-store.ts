import { GetCommand, PutCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { DependencyUnavailableError } from '../oauth/errors';
import { RefreshTokenConflictError, type RefreshToken, type RefreshTokenState } from '../oauth/ports';
import { callDependency } from './aws-errors';
import { CorruptItemError, isUsableKey, num, optionalStr, str, strList } from './items';
import { REFRESH_TOKENS_TABLE } from './tables';

const STATES: readonly RefreshTokenState[] = ['active', 'rotated', 'revoked'];
/** A family longer than this is corrupt (a rotation every minute for 90 days is ~130,000). */
const MAX_FAMILY_WALK = 1_000_000;

/**
 * Refresh tokens, keyed by the SHA-256 of the token. `expiresAt` (TTL) is the earlier of the idle and the
 * family expiry; DynamoDB deletes late, so readers and conditions check the expiry themselves.
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
        new GetCommand({ TableName: this.tableName, Key: { [REFRESH_TOKENS_TABLE.partitionKey]: tokenHash }, ConsistentRead: true }),
      ),
    );
    return Item === undefined ? undefined : toRefreshToken(Item);
  }

  async create(token: RefreshToken): Promise<void> {
    await callDependency('dynamodb', () =>
      this.db.send(
        new PutCommand({ TableName: this.tableName, Item: toItem(token), ConditionExpression: 'attribute_not_exists(tokenHash)' }),
      ),
    );
  }

  async rotate(current: RefreshToken, next: RefreshToken, now: number): Promise<void> {
    try {
      await callDependency('dynamodb', () =>
        this.db.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Update: {
                  TableName: this.tableName,
                  Key: { tokenHash: current.tokenHash },
                  UpdateExpression: 'SET #state = :rotated, successorHash = :next, rotatedAt = :now',
                  ConditionExpression: '#state = :active AND idleExpiresAt > :now AND familyExpiresAt > :now',
                  ExpressionAttributeNames: { '#state': 'state' },
                  ExpressionAttributeValues: { ':rotated': 'rotated', ':active': 'active', ':next': next.tokenHash, ':now': now },
                  ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
                },
              },
              { Put: { TableName: this.tableName, Item: toItem(next), ConditionExpression: 'attribute_not_exists(tokenHash)' } },
            ],
          }),
        ),
      );
    } catch (error) {
      const reasons = cancellationReasons(error);
      if (reasons === undefined) throw error;
      const first = reasons[0];
      if (first?.Code === 'ConditionalCheckFailed') {
        const old = first.Item === undefined ? await this.get(current.tokenHash) : toRefreshToken(unmarshall(first.Item));
        throw new RefreshTokenConflictError(old);
      }
      // Another transaction held the item: tell the client to retry; nothing was written.
      if (reasons.some((reason) => reason.Code === 'TransactionConflict')) {
        const latest = await this.get(current.tokenHash);
        if (latest !== undefined && latest.state !== 'active') throw new RefreshTokenConflictError(latest);
        throw new DependencyUnavailableError('dynamodb', { cause: error });
      }
      throw error;
    }
  }

  async revokeFamilyFrom(tokenHash: string): Promise<number> {
    const now = Math.floor(Date.now() / 1000);
    let revoked = 0;
    const seen = new Set<string>();
    for (let hash: string | undefined = tokenHash; hash !== undefined && !seen.has(hash) && seen.size < MAX_FAMILY_WALK; ) {
      seen.add(hash);
      const old = await this.revokeOne(hash, now);
      if (old === undefined) break;
      if (old.state !== 'revoked') revoked++;
      hash = old.successorHash;
    }
    return revoked;
  }

  /** Marks one token revoked and returns it as it was, with the successor it had at that instant. */
  private async revokeOne(tokenHash: string, now: number): Promise<RefreshToken | undefined> {
    try {
      const { Attributes } = await callDependency('dynamodb', () =>
        this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { tokenHash },
            UpdateExpression: 'SET #state = :revoked, revokedAt = if_not_exists(revokedAt, :now)',
            ConditionExpression: 'attribute_exists(tokenHash)',
            ExpressionAttributeNames: { '#state': 'state' },
            ExpressionAttributeValues: { ':revoked': 'revoked', ':now': now },
            ReturnValues: 'ALL_OLD',
          }),
        ),
      );
      return Attributes === undefined ? undefined : toRefreshToken(Attributes);
    } catch (error) {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return undefined;
      throw error;
    }
  }
}

function cancellationReasons(error: unknown): { Code?: string; Item?: Record<string, AttributeValue> }[] | undefined {
  if (!(error instanceof Error) || error.name !== 'TransactionCanceledException') return undefined;
  return (error as Error & { CancellationReasons?: { Code?: string; Item?: Record<string, AttributeValue> }[] }).CancellationReasons ?? [];
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
    idleExpiresAt: num(item, table, 'idleExpiresAt'),
    familyExpiresAt: num(item, table, 'familyExpiresAt'),
    state,
    successorHash: optionalStr(item, table, 'successorHash'),
  };
}
