/**
 * Revoking every refresh token of one user: the operator's "log this user out everywhere", also run when a
 * user is disabled, deleted or gets a new password (lambda/accounts/users.ts). Apart from the token store
 * because only operators need it (the token endpoint never looks tokens up by user).
 */
import { type DynamoDBDocumentClient, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { FAMILY_USER_ATTRIBUTE, REFRESH_TOKENS_TABLE } from '../../contract/tables';
import type { UserRefreshTokens } from '../accounts/ports';
import { callDependency } from './aws-errors';
import { DynamoRefreshTokenStore, familyKey } from './refresh-token-store';

const BY_USER_INDEX = indexOn('userId');
const FAMILIES_BY_USER_INDEX = indexOn(FAMILY_USER_ATTRIBUTE);
/** Updates in flight at once: fast for users with many tokens, gentle on an on-demand table. */
const CONCURRENCY = 8;

function indexOn(attribute: string) {
  const index = REFRESH_TOKENS_TABLE.globalSecondaryIndexes?.find((candidate) => candidate.partitionKey === attribute);
  if (index === undefined) throw new Error(`the refresh-token table has no index on ${attribute}`);
  return index.indexName;
}

export class DynamoUserRefreshTokens implements UserRefreshTokens {
  private readonly store: DynamoRefreshTokenStore;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** Items per Query page; DynamoDB's 1 MB pages when absent (tests set it small to exercise paging). */
    private readonly pageSize?: number,
  ) {
    this.store = new DynamoRefreshTokenStore(db, tableName);
  }

  /**
   * Revokes every refresh-token family of `userId` and returns how many it revoked: each family item, and
   * each family of legacy tokens (one item per token) through its family's item, which every use of those
   * tokens checks, so a legacy token the index does not show yet is covered as long as any earlier token of
   * its family shows. The indexes are eventually consistent: disabling the user first covers a family
   * issued in the same instant (the grants check the user). The legacy tokens it sees active are also
   * marked revoked (state "revoked", revokedAt in epoch seconds). Families already revoked, or past their
   * absolute expiry, are skipped.
   */
  async revokeAllForUser(userId: string, now: number = Math.floor(Date.now() / 1000)): Promise<number> {
    const families = new Map<string, number>();
    const active: string[] = [];
    for await (const item of this.query(FAMILIES_BY_USER_INDEX, FAMILY_USER_ATTRIBUTE, userId, [
      'familyExpiresAt',
      'revokedAt',
    ])) {
      const key = item[REFRESH_TOKENS_TABLE.partitionKey];
      const { familyExpiresAt, revokedAt } = item;
      if (typeof key !== 'string' || !key.startsWith(familyKey('')) || typeof familyExpiresAt !== 'number') continue;
      if (revokedAt !== undefined || familyExpiresAt <= now) continue;
      families.set(key.slice(familyKey('').length), familyExpiresAt);
    }
    for await (const item of this.query(BY_USER_INDEX, 'userId', userId, ['state', 'familyId', 'familyExpiresAt'])) {
      const { familyId, familyExpiresAt, state } = item;
      const hash = item[REFRESH_TOKENS_TABLE.partitionKey];
      if (typeof familyId !== 'string' || typeof familyExpiresAt !== 'number' || typeof hash !== 'string') continue;
      if (state === 'revoked' || familyExpiresAt <= now) continue;
      families.set(familyId, familyExpiresAt);
      if (state === 'active') active.push(hash);
    }

    let revoked = 0;
    const work: (() => Promise<void>)[] = [
      ...[...families].map(([familyId, expiresAt]) => async () => {
        if (await this.store.revokeFamily(familyId, expiresAt, now)) revoked++;
      }),
      ...active.map((hash) => async () => {
        await this.markRevoked(hash, now);
      }),
    ];
    for (let i = 0; i < work.length; i += CONCURRENCY)
      await Promise.all(work.slice(i, i + CONCURRENCY).map((run) => run()));
    return revoked;
  }

  /** Every item of `indexName` under `value`, page by page, with the table key and `attributes`. */
  private async *query(
    indexName: string,
    keyAttribute: string,
    value: string,
    attributes: readonly string[],
  ): AsyncGenerator<Record<string, unknown>> {
    const names = Object.fromEntries(
      [REFRESH_TOKENS_TABLE.partitionKey, keyAttribute, ...attributes].map((name, i) => [`#a${i}`, name]),
    );
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await callDependency('dynamodb', () =>
        this.db.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: indexName,
            KeyConditionExpression: '#a1 = :value',
            ProjectionExpression: Object.keys(names)
              .filter((name) => name !== '#a1')
              .join(', '),
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ':value': value },
            ExclusiveStartKey: startKey,
            Limit: this.pageSize,
          }),
        ),
      );
      yield* page.Items ?? [];
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
  }

  /** Marks one legacy token revoked if it still exists and is not revoked; true when this call changed it. */
  private async markRevoked(tokenHash: string, now: number): Promise<boolean> {
    try {
      await callDependency('dynamodb', () =>
        this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { [REFRESH_TOKENS_TABLE.partitionKey]: tokenHash },
            UpdateExpression: 'SET #state = :revoked, revokedAt = :now',
            ConditionExpression: 'attribute_exists(#key) AND #state <> :revoked',
            ExpressionAttributeNames: { '#state': 'state', '#key': REFRESH_TOKENS_TABLE.partitionKey },
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
