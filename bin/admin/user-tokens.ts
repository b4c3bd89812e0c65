/**
 * Revoking every refresh token of one user: the operator's "log this user out everywhere", also run when a
 * user is disabled, deleted or gets a new password. Lives here rather than in the token store because only
 * the CLI needs it (the token endpoint never looks tokens up by user).
 */
import { QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { callDependency } from '../../lambda/adapters/aws-errors';
import { REFRESH_TOKENS_TABLE } from '../../lambda/adapters/tables';

const BY_USER_INDEX = REFRESH_TOKENS_TABLE.globalSecondaryIndexes?.find((index) => index.partitionKey === 'userId');
/** Updates in flight at once: fast for users with many tokens, gentle on an on-demand table. */
const CONCURRENCY = 8;

export class UserRefreshTokens {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** Items per Query page; DynamoDB's 1 MB pages when absent (tests set it small to exercise paging). */
    private readonly pageSize?: number,
  ) {}

  /**
   * Marks every token of `userId` that is not revoked yet as revoked (state "revoked", revokedAt in epoch
   * seconds, as the token store writes it) and returns how many it changed. Tokens revoked concurrently
   * or deleted by TTL meanwhile are skipped. The index is eventually consistent: a token issued in the
   * same instant may be missed, which is why disabling the user comes first (the refresh grant checks it).
   */
  async revokeAllForUser(userId: string, now: number = Math.floor(Date.now() / 1000)): Promise<number> {
    if (BY_USER_INDEX === undefined) throw new Error('the refresh-token table has no index on userId');
    let revoked = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await callDependency('dynamodb', () =>
        this.db.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: BY_USER_INDEX.indexName,
            KeyConditionExpression: '#userId = :userId',
            ProjectionExpression: '#tokenHash, #state',
            ExpressionAttributeNames: { '#userId': 'userId', '#tokenHash': REFRESH_TOKENS_TABLE.partitionKey, '#state': 'state' },
            ExpressionAttributeValues: { ':userId': userId },
            ExclusiveStartKey: startKey,
            Limit: this.pageSize,
          }),
        ),
      );
      const hashes = (page.Items ?? [])
        .filter((item) => item.state !== 'revoked' && typeof item[REFRESH_TOKENS_TABLE.partitionKey] === 'string')
        .map((item) => item[REFRESH_TOKENS_TABLE.partitionKey] as string);
      for (let i = 0; i < hashes.length; i += CONCURRENCY) {
        const results = await Promise.all(hashes.slice(i, i + CONCURRENCY).map((hash) => this.revokeOne(hash, now)));
        revoked += results.filter(Boolean).length;
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return revoked;
  }

  /** True when this call changed the token (it existed and was not revoked). */
  private async revokeOne(tokenHash: string, now: number): Promise<boolean> {
    try {
      await callDependency('dynamodb', () =>
        this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { [REFRESH_TOKENS_TABLE.partitionKey]: tokenHash },
            UpdateExpression: 'SET #state = :revoked, revokedAt = :now',
            ConditionExpression: 'attribute_exists(#tokenHash) AND #state <> :revoked',
            ExpressionAttributeNames: { '#state': 'state', '#tokenHash': REFRESH_TOKENS_TABLE.partitionKey },
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
