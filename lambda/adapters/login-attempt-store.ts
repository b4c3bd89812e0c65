import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { LOGIN_ATTEMPTS_TABLE } from '../../contract/tables';
import type { LoginAttemptReset } from '../accounts/ports';
import { DependencyUnavailableError } from '../oauth/errors';
import { type AttemptSubject, DAY, dayBucket, HOUR, hourBucket, type LoginAttemptCounters } from '../oauth/lockout';
import type { LoginAttemptStore } from '../oauth/ports';
import { callDependency } from './aws-errors';

/** A (username, IP) failure streak is forgotten after a quiet day; always longer than the longest backoff. */
const PAIR_MEMORY_SECONDS = DAY;
const PK = LOGIN_ATTEMPTS_TABLE.partitionKey;
const SK = LOGIN_ATTEMPTS_TABLE.sortKey!;

type Key = Record<string, string>;

const pairKey = (s: AttemptSubject): Key => ({ [PK]: `user#${s.userKey}`, [SK]: `ip#${s.ip}` });
const hourKey = (s: AttemptSubject, now: number): Key => ({
  [PK]: `user#${s.userKey}`,
  [SK]: `hour#${hourBucket(now)}`,
});
const dayKey = (s: AttemptSubject, now: number): Key => ({ [PK]: `ip#${s.ip}`, [SK]: `day#${dayBucket(now)}` });

/**
 * Failure counters in DynamoDB. Hour and day counters live under keys of their own window, so a new
 * window starts from zero; every item carries a TTL and every read ignores items past it (TTL is late).
 */
export class DynamoLoginAttemptStore implements LoginAttemptStore, LoginAttemptReset {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async read(subject: AttemptSubject, now: number): Promise<LoginAttemptCounters> {
    const keys = [pairKey(subject), hourKey(subject, now), dayKey(subject, now)];
    const items = await this.batchGet(keys);
    const live = (key: Key) => {
      const item = items.find((candidate) => candidate[PK] === key[PK] && candidate[SK] === key[SK]);
      return item !== undefined && typeof item.expiresAt === 'number' && item.expiresAt > now ? item : undefined;
    };
    const pair = live(keys[0]!);
    return {
      pairFailures: Number(pair?.failures ?? 0),
      pairLastFailureAt: Number(pair?.lastFailureAt ?? 0),
      userFailuresThisHour: Number(live(keys[1]!)?.failures ?? 0),
      ipFailuresToday: Number(live(keys[2]!)?.failures ?? 0),
    };
  }

  async recordFailure(subject: AttemptSubject, now: number): Promise<LoginAttemptCounters> {
    const [pair, hour, day] = await Promise.all([
      this.incrementPair(subject, now),
      this.incrementWindow(hourKey(subject, now), (hourBucket(now) + 1) * HOUR),
      this.incrementWindow(dayKey(subject, now), (dayBucket(now) + 1) * DAY),
    ]);
    return { pairFailures: pair, pairLastFailureAt: now, userFailuresThisHour: hour, ipFailuresToday: day };
  }

  async recordSuccess(subject: AttemptSubject): Promise<void> {
    await callDependency('dynamodb', () =>
      this.db.send(new DeleteCommand({ TableName: this.tableName, Key: pairKey(subject) })),
    );
  }

  /** Forgets every counter of one username (`ropc-admin users unlock`); returns how many it removed. */
  async clearUser(userKey: string): Promise<number> {
    let removed = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
          ExpressionAttributeValues: { ':pk': `user#${userKey}` },
          ProjectionExpression: '#pk, #sk',
          ExclusiveStartKey: startKey,
          ConsistentRead: true,
        }),
      );
      const keys = (page.Items ?? []).map((item) => ({ [PK]: String(item[PK]), [SK]: String(item[SK]) }));
      for (let i = 0; i < keys.length; i += 25) {
        let requests: Record<string, unknown>[] | undefined = keys
          .slice(i, i + 25)
          .map((Key) => ({ DeleteRequest: { Key } }));
        for (let attempt = 0; requests !== undefined && requests.length > 0 && attempt < 5; attempt++) {
          const result = await this.db.send(
            new BatchWriteCommand({ RequestItems: { [this.tableName]: requests as never } }),
          );
          requests = result.UnprocessedItems?.[this.tableName] as Record<string, unknown>[] | undefined;
        }
      }
      removed += keys.length;
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return removed;
  }

  private async batchGet(keys: Key[]): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let pending: Key[] = keys;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt === 3) throw new DependencyUnavailableError('dynamodb');
      const result = await callDependency('dynamodb', () =>
        this.db.send(
          new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } } }),
        ),
      );
      items.push(...(result.Responses?.[this.tableName] ?? []));
      pending = (result.UnprocessedKeys?.[this.tableName]?.Keys as Key[] | undefined) ?? [];
    }
    return items;
  }

  /** Adds one failure to the streak, or starts a new streak when the stored one has expired. */
  private async incrementPair(subject: AttemptSubject, now: number): Promise<number> {
    const expiresAt = now + PAIR_MEMORY_SECONDS;
    try {
      const { Attributes } = await callDependency('dynamodb', () =>
        this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: pairKey(subject),
            UpdateExpression: 'ADD failures :one SET lastFailureAt = :now, expiresAt = :expiresAt',
            ConditionExpression: 'attribute_not_exists(expiresAt) OR expiresAt > :now',
            ExpressionAttributeValues: { ':one': 1, ':now': now, ':expiresAt': expiresAt },
            ReturnValues: 'UPDATED_NEW',
          }),
        ),
      );
      return Number(Attributes?.failures ?? 1);
    } catch (error) {
      if (!(error instanceof Error && error.name === 'ConditionalCheckFailedException')) throw error;
      await callDependency('dynamodb', () =>
        this.db.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { ...pairKey(subject), failures: 1, lastFailureAt: now, expiresAt },
          }),
        ),
      );
      return 1;
    }
  }

  private async incrementWindow(key: Key, windowEnd: number): Promise<number> {
    const { Attributes } = await callDependency('dynamodb', () =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: 'ADD failures :one SET expiresAt = :expiresAt',
          ExpressionAttributeValues: { ':one': 1, ':expiresAt': windowEnd },
          ReturnValues: 'UPDATED_NEW',
        }),
      ),
    );
    return Number(Attributes?.failures ?? 1);
  }
}
