import { randomUUID } from 'node:crypto';
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
import {
  type AttemptSubject,
  DAY,
  dayBucket,
  HOUR,
  hourBucket,
  KNOWN_ADDRESS_RENEW_SECONDS,
  KNOWN_ADDRESS_SECONDS,
  type LockoutPolicy,
  type LockoutReason,
  type LoginAttemptCounters,
} from '../oauth/lockout';
import type { AttemptReservation, LoginAttemptStore, ReleaseMode } from '../oauth/ports';
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
/** That the username logged in from this IP (not a counter: `users unlock` leaves it). */
const KNOWN_PREFIX = 'known#';
const knownKey = (s: AttemptSubject): Key => ({ [PK]: `user#${s.userKey}`, [SK]: `${KNOWN_PREFIX}${s.ip}` });

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
    const keys = [pairKey(subject), hourKey(subject, now), dayKey(subject, now), knownKey(subject)];
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
      ...knownUntil(live(keys[3]!)),
    };
  }

  async recordFailure(subject: AttemptSubject, now: number): Promise<LoginAttemptCounters> {
    const [pair, hour, day] = await Promise.all([
      this.incrementPair(subject, now),
      this.addFailure(hourKey(subject, now), (hourBucket(now) + 1) * HOUR),
      this.addFailure(dayKey(subject, now), (dayBucket(now) + 1) * DAY),
    ]);
    return { pairFailures: pair, pairLastFailureAt: now, userFailuresThisHour: hour, ipFailuresToday: day };
  }

  async reserve(
    subject: AttemptSubject,
    before: LoginAttemptCounters,
    now: number,
    policy: LockoutPolicy,
  ): Promise<AttemptReservation> {
    const hour = hourKey(subject, now);
    const day = dayKey(subject, now);
    // Names this reservation, so that the SDK's retry of a write that landed is not refused by itself.
    const attempt = randomUUID();
    const results = await Promise.allSettled([
      this.reservePair(subject, before, now, attempt),
      // From an address the user logged in from, the ceiling does not apply; the failure still counts.
      this.addFailure(
        hour,
        (hourBucket(now) + 1) * HOUR,
        before.knownAddressUntil === undefined ? policy.userFailuresPerHour : undefined,
      ),
      this.addFailure(day, (dayBucket(now) + 1) * DAY, policy.ipFailuresPerDay),
    ]);
    const [pair, hourCount, dayCount] = results.map((result) =>
      result.status === 'fulfilled' ? result.value : undefined,
    );
    if (pair !== undefined && hourCount !== undefined && dayCount !== undefined) {
      return {
        granted: true,
        after: {
          pairFailures: pair,
          pairLastFailureAt: now,
          userFailuresThisHour: hourCount,
          ipFailuresToday: dayCount,
        },
      };
    }
    // Refused or failed: what was counted is taken back, so that a refused attempt counts on no counter.
    await Promise.allSettled([
      pair === undefined ? undefined : this.unreservePair(subject, before, attempt),
      hourCount === undefined ? undefined : this.giveBack(hour),
      dayCount === undefined ? undefined : this.giveBack(day),
    ]);
    const failed = results.find((result) => result.status === 'rejected' && !isConditionFailure(result.reason));
    if (failed?.status === 'rejected') throw failed.reason;
    if (dayCount === undefined) return { granted: false, reason: 'ip_budget' };
    if (hourCount === undefined) return { granted: false, reason: 'user_ceiling' };
    return { granted: false, reason: 'concurrent_attempt' };
  }

  async release(
    subject: AttemptSubject,
    before: LoginAttemptCounters,
    now: number,
    mode: ReleaseMode = 'success',
  ): Promise<void> {
    if (mode !== 'success') {
      // A right password with the second factor still due: neither the streak's end nor the address's mark.
      // A fault: the attempt judged nothing, so the streak goes back to what it was, and nothing is marked.
      await Promise.all([
        mode === 'fault' ? this.unreservePair(subject, before, { reservedAt: now }) : undefined,
        this.giveBack(hourKey(subject, now)),
        this.giveBack(dayKey(subject, now)),
      ]);
      return;
    }
    const renew =
      before.knownAddressUntil === undefined || before.knownAddressUntil - now < KNOWN_ADDRESS_RENEW_SECONDS;
    await Promise.all([
      this.recordSuccess(subject),
      this.giveBack(hourKey(subject, now)),
      this.giveBack(dayKey(subject, now)),
      renew
        ? callDependency('dynamodb', () =>
            this.db.send(
              new PutCommand({
                TableName: this.tableName,
                Item: { ...knownKey(subject), expiresAt: now + KNOWN_ADDRESS_SECONDS },
              }),
            ),
          )
        : undefined,
    ]);
  }

  async recordRefusal(subject: AttemptSubject, reason: LockoutReason, now: number): Promise<void> {
    if (reason === 'pair_backoff') await this.incrementPair(subject, now);
    else if (reason === 'user_ceiling') await this.addFailure(hourKey(subject, now), (hourBucket(now) + 1) * HOUR);
    else await this.addFailure(dayKey(subject, now), (dayBucket(now) + 1) * DAY);
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
      const keys = (page.Items ?? [])
        .filter((item) => !String(item[SK]).startsWith(KNOWN_PREFIX))
        .map((item) => ({ [PK]: String(item[PK]), [SK]: String(item[SK]) }));
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

  /**
   * The streak's next failure, only if the streak is still the one `before` read (a failure since, by a
   * concurrent attempt, refuses this one): the new count. Throws ConditionalCheckFailedException otherwise.
   */
  private async reservePair(
    subject: AttemptSubject,
    before: LoginAttemptCounters,
    now: number,
    attempt: string,
  ): Promise<number> {
    const next = before.pairFailures + 1;
    await callDependency('dynamodb', () =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: pairKey(subject),
          UpdateExpression: 'SET failures = :next, lastFailureAt = :now, expiresAt = :expiresAt, attemptId = :attempt',
          // A streak read as none is absent or expired (TTL is late); one read as n is still n, as of then.
          // Or this very reservation landed already (a retried request).
          ConditionExpression:
            before.pairFailures === 0
              ? 'attribute_not_exists(failures) OR expiresAt <= :now OR attemptId = :attempt'
              : '(failures = :read AND lastFailureAt = :readAt AND expiresAt > :now) OR attemptId = :attempt',
          ExpressionAttributeValues: {
            ':attempt': attempt,
            ':next': next,
            ':now': now,
            ':expiresAt': now + PAIR_MEMORY_SECONDS,
            ...(before.pairFailures === 0 ? {} : { ':read': before.pairFailures, ':readAt': before.pairLastFailureAt }),
          },
        }),
      ),
    );
    return next;
  }

  /**
   * Puts the streak back as `before` read it, if it is still the one reservePair wrote: the one naming its
   * attempt, or (once the attempt's name is gone) the count it wrote at `reservedAt`. Another reservation
   * can follow only once this one is written, and it changes the count, so the values name this one too.
   */
  private async unreservePair(
    subject: AttemptSubject,
    before: LoginAttemptCounters,
    reservation: string | { readonly reservedAt: number },
  ): Promise<void> {
    const ours =
      typeof reservation === 'string'
        ? { condition: 'attemptId = :attempt', values: { ':attempt': reservation } }
        : {
            condition: 'failures = :reserved AND lastFailureAt = :reservedAt',
            values: { ':reserved': before.pairFailures + 1, ':reservedAt': reservation.reservedAt },
          };
    try {
      await callDependency('dynamodb', () =>
        this.db.send(
          before.pairFailures === 0
            ? new DeleteCommand({
                TableName: this.tableName,
                Key: pairKey(subject),
                ConditionExpression: ours.condition,
                ExpressionAttributeValues: ours.values,
              })
            : new UpdateCommand({
                TableName: this.tableName,
                Key: pairKey(subject),
                UpdateExpression: 'SET failures = :read, lastFailureAt = :readAt REMOVE attemptId',
                ConditionExpression: ours.condition,
                ExpressionAttributeValues: {
                  ':read': before.pairFailures,
                  ':readAt': before.pairLastFailureAt,
                  ...ours.values,
                },
              }),
        ),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  /** One more failure in a window, only while the window is under `limit` (when there is one): the new count. */
  private async addFailure(key: Key, windowEnd: number, limit?: number): Promise<number> {
    const { Attributes } = await callDependency('dynamodb', () =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: 'ADD failures :one SET expiresAt = :expiresAt',
          ...(limit === undefined
            ? { ExpressionAttributeValues: { ':one': 1, ':expiresAt': windowEnd } }
            : {
                ConditionExpression: 'attribute_not_exists(failures) OR failures < :limit',
                ExpressionAttributeValues: { ':one': 1, ':expiresAt': windowEnd, ':limit': limit },
              }),
          ReturnValues: 'UPDATED_NEW',
        }),
      ),
    );
    return Number(Attributes?.failures ?? 1);
  }

  /** Takes one reserved failure back from a window (a success, or an attempt another limit refused). */
  private async giveBack(key: Key): Promise<void> {
    try {
      await callDependency('dynamodb', () =>
        this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: key,
            UpdateExpression: 'ADD failures :minusOne',
            ConditionExpression: 'failures > :zero',
            ExpressionAttributeValues: { ':minusOne': -1, ':zero': 0 },
          }),
        ),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }
}

function knownUntil(item: Record<string, unknown> | undefined): { knownAddressUntil?: number } {
  return item === undefined ? {} : { knownAddressUntil: Number(item.expiresAt) };
}

function isConditionFailure(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}
