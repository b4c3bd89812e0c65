/**
 * Revoking every refresh token of one user: the operator's "log this user out everywhere", also run when a
 * user is disabled, deleted or gets a new password (lambda/accounts/users.ts). Apart from the token store
 * because only operators need it (the token endpoint never looks tokens up by user).
 */
import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { REFRESH_TOKENS_TABLE } from '../../contract/tables';
import type { UserRefreshTokens } from '../accounts/ports';
import { callDependency } from './aws-errors';
import { DynamoRefreshTokenStore } from './refresh-token-store';

const BY_USER_INDEX = REFRESH_TOKENS_TABLE.globalSecondaryIndexes?.find((index) => index.partitionKey === 'userId');
/** Updates in flight at once: fast for users with many tokens, gentle on an on-demand table. */
const CONCURRENCY = 8;

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
   * Revokes every refresh-token family of `userId` (each holds one usable token at a time) and returns how
   * many it revoked. A family is revoked by its marker, which every rotation checks, so a token the index
   * does not show yet (it is eventually consistent) is covered as long as any earlier token of its family
   * shows; disabling the user first covers a family issued in the same instant (the grants check the user).
   * The active tokens it sees are also marked revoked (state "revoked", revokedAt in epoch seconds).
   * Families already revoked, or past their absolute expiry, are skipped.
   */
  async revokeAllForUser(userId: string, now: number = Math.floor(Date.now() / 1000)): Promise<number> {
    if (BY_USER_INDEX === undefined) throw new Error('the refresh-token table has no index on userId');
    const families = new Map<string, number>();
    const active: string[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await callDependency('dynamodb', () =>
        this.db.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: BY_USER_INDEX.indexName,
            KeyConditionExpression: '#userId = :userId',
            ProjectionExpression: '#tokenHash, #state, familyId, familyExpiresAt',
            ExpressionAttributeNames: {
              '#userId': 'userId',
              '#tokenHash': REFRESH_TOKENS_TABLE.partitionKey,
              '#state': 'state',
            },
            ExpressionAttributeValues: { ':userId': userId },
            ExclusiveStartKey: startKey,
            Limit: this.pageSize,
          }),
        ),
      );
      for (const item of page.Items ?? []) {
        const { familyId, familyExpiresAt, state } = item;
        const hash = item[REFRESH_TOKENS_TABLE.partitionKey];
        if (typeof familyId !== 'string' || typeof familyExpiresAt !== 'number' || typeof hash !== 'string') continue;
        if (state === 'revoked' || familyExpiresAt <= now) continue;
        families.set(familyId, familyExpiresAt);
        if (state === 'active') active.push(hash);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);

    let revoked = 0;
    const work: (() => Promise<void>)[] = [
      ...[...families].map(([familyId, expiresAt]) => async () => {
        if (await this.store.revokeFamilyById(familyId, expiresAt, now)) revoked++;
      }),
      ...active.map((hash) => async () => {
        await this.store.markRevoked(hash, now);
      }),
    ];
    for (let i = 0; i < work.length; i += CONCURRENCY)
      await Promise.all(work.slice(i, i + CONCURRENCY).map((run) => run()));
    return revoked;
  }
}
