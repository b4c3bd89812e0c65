import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  ScanCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { IMPORT_CLAIM, USERS_TABLE } from '../../contract/tables';
import { ImportClaimLostError, ImportInProgressError, UserExistsError } from '../accounts/errors';
import type {
  ImportBatchOutcome,
  RegisteredUser,
  UserChanges,
  UserDirectory,
  UserImport,
  UserProfile,
} from '../accounts/ports';
import { DependencyUnavailableError } from '../oauth/errors';
import type { User } from '../oauth/ports';
import { callDependency, isUnavailable } from './aws-errors';
import { bool, isUsableKey, num, str, strList } from './items';
import { USER_MFA_ITEM_ATTRIBUTES, userMfaFromItem } from './mfa-attributes';

/** What listUsers reads of each user: every attribute of a UserProfile, never the password hash. */
const PROFILE_ATTRIBUTES = [
  'username',
  'userId',
  'scopes',
  'disabled',
  'createdAt',
  'passwordChangedAt',
  'sessionEpoch',
  // Whether the user has a second factor, and how many recovery codes are left (the secret stays ciphertext).
  ...USER_MFA_ITEM_ATTRIBUTES,
];

/** Resource owners, keyed by username; `userId` is the stable subject identifier. */
export class DynamoUserStore implements UserDirectory, UserImport {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** Items per Scan page for listUsers (DynamoDB's 1 MB page when absent); tests make it small. */
    private readonly pageSize?: number,
  ) {}

  async getUser(username: string): Promise<RegisteredUser | undefined> {
    if (!isUserKey(username)) return undefined;
    const { Item } = await callDependency('dynamodb', () =>
      this.db.send(
        new GetCommand({
          TableName: this.tableName,
          Key: { [USERS_TABLE.partitionKey]: username },
          ConsistentRead: true,
        }),
      ),
    );
    return Item === undefined ? undefined : toUser(Item);
  }

  async replacePasswordHash(username: string, previousHash: string, nextHash: string): Promise<void> {
    try {
      await callDependency('dynamodb', () =>
        this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { username },
            UpdateExpression: 'SET passwordHash = :next',
            ConditionExpression: 'passwordHash = :previous',
            ExpressionAttributeValues: { ':next': nextHash, ':previous': previousHash },
          }),
        ),
      );
    } catch (error) {
      // The password changed meanwhile: the newer hash stands.
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return;
      throw error;
    }
  }

  async createMigratedUser(user: User, at: string): Promise<'created' | 'taken' | 'paused'> {
    const item: RegisteredUser = { ...user, scopes: [...user.scopes], createdAt: at, passwordChangedAt: at };
    const outcome = await callDependency('dynamodb', () => this.createUnclaimed(item));
    // 'taken': the username was taken meanwhile (a concurrent first login of the same user won).
    return typeof outcome === 'string' ? outcome : 'paused';
  }

  async createUser(user: RegisteredUser): Promise<void> {
    const outcome = await this.createUnclaimed({ ...user, scopes: [...user.scopes] });
    if (outcome === 'taken') throw new UserExistsError(user.username);
    if (outcome !== 'created') throw new ImportInProgressError(outcome.claimedUntil, outcome.holder);
  }

  /**
   * Puts a new user, unless the username is taken or an import's claim on its shard is live at the user's
   * createdAt: one transaction of the claim's ConditionCheck and the conditional Put, so that an import,
   * which writes without conditions, never writes over a user created after it looked. Conflicts with
   * other transactions on the claim item (other first logins on its shard, the import renewing it) are
   * retried with backoff.
   */
  private async createUnclaimed(
    item: RegisteredUser,
  ): Promise<'created' | 'taken' | { claimedUntil: number; holder: string | undefined }> {
    for (let attempt = 0; ; ) {
      try {
        await this.db.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                ConditionCheck: {
                  TableName: this.tableName,
                  Key: claimKey(claimShard(item.username)),
                  ...unclaimedAt(Date.parse(item.createdAt)),
                  ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
                },
              },
              {
                Put: {
                  TableName: this.tableName,
                  Item: item,
                  ConditionExpression: 'attribute_not_exists(username)',
                },
              },
            ],
          }),
        );
        return 'created';
      } catch (error) {
        const reasons = cancellationReasons(error);
        if (reasons?.[1]?.Code === 'ConditionalCheckFailed') return 'taken';
        if (reasons?.[0]?.Code === 'ConditionalCheckFailed') {
          return { claimedUntil: claimedUntil(reasons[0].Item), holder: claimHolder(reasons[0].Item) };
        }
        if (reasons === undefined || !reasons.every(isRetryableCancellation)) throw error;
        if (++attempt >= CONFLICT_ATTEMPTS) throw new DependencyUnavailableError('dynamodb', { cause: error });
        await backoff(attempt);
      }
    }
  }

  /** A paginated Scan that projects the hash away: it never leaves the table. */
  async listUsers(): Promise<UserProfile[]> {
    const users: UserProfile[] = [];
    for await (const item of this.scanUsers(PROFILE_ATTRIBUTES)) users.push(toProfile(item));
    return users.sort((a, b) => a.username.localeCompare(b.username));
  }

  async *usernames(): AsyncGenerator<string> {
    for await (const item of this.scanUsers([USERS_TABLE.partitionKey])) yield String(item[USERS_TABLE.partitionKey]);
  }

  /**
   * Every user item, with only the `attributes` named (the key among them): a consistent Scan, in
   * DynamoDB's 1 MB pages (or pageSize items); the claim items are left out.
   */
  private async *scanUsers(attributes: readonly string[]): AsyncGenerator<Record<string, unknown>> {
    const names = Object.fromEntries(attributes.map((name, index) => [`#a${index}`, name]));
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new ScanCommand({
          TableName: this.tableName,
          ProjectionExpression: Object.keys(names).join(', '),
          ExpressionAttributeNames: names,
          ExclusiveStartKey: startKey,
          ConsistentRead: true,
          Limit: this.pageSize,
        }),
      );
      for (const item of page.Items ?? []) if (isUserKey(String(item[USERS_TABLE.partitionKey]))) yield item;
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
  }

  /** Undefined when there is no such user; the condition keeps the update from creating one. */
  async updateUser(username: string, changes: UserChanges): Promise<UserProfile | undefined> {
    if (!isUserKey(username)) return undefined;
    if (changes.scopes === undefined) {
      const user = await this.getUser(username);
      return user === undefined ? undefined : withoutHash(user);
    }
    try {
      const { Attributes } = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { username },
          UpdateExpression: 'SET scopes = :scopes',
          ConditionExpression: 'attribute_exists(username)',
          ExpressionAttributeValues: { ':scopes': [...changes.scopes] },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes === undefined ? undefined : withoutHash(toUser(Attributes));
    } catch (error) {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return undefined;
      throw error;
    }
  }

  /** Each returns false when there is no such user. */
  setPassword(username: string, passwordHash: string, at: string): Promise<boolean> {
    return this.updateExisting(username, 'SET passwordHash = :hash, passwordChangedAt = :at ADD sessionEpoch :one', {
      ':hash': passwordHash,
      ':at': at,
      ':one': 1,
    });
  }

  setDisabled(username: string, disabled: boolean): Promise<boolean> {
    return disabled
      ? this.updateExisting(username, 'SET disabled = :disabled ADD sessionEpoch :one', {
          ':disabled': true,
          ':one': 1,
        })
      : this.updateExisting(username, 'SET disabled = :disabled', { ':disabled': false });
  }

  endSessions(username: string): Promise<boolean> {
    return this.updateExisting(username, 'ADD sessionEpoch :one', { ':one': 1 });
  }

  async deleteUser(username: string): Promise<RegisteredUser | undefined> {
    if (!isUserKey(username)) return undefined;
    const { Attributes } = await this.db.send(
      new DeleteCommand({ TableName: this.tableName, Key: { username }, ReturnValues: 'ALL_OLD' }),
    );
    return Attributes === undefined ? undefined : toUser(Attributes);
  }

  /** One transaction of a Put per shard: the claim is taken whole or not at all. */
  async claimImport(holder: string, now: number, until: number, replacing?: string): Promise<void> {
    const unclaimed = unclaimedAt(now);
    const outcome = await this.onEveryShard((key) => ({
      Put: {
        TableName: this.tableName,
        Item: { ...key, [IMPORT_CLAIM.holder]: holder, [IMPORT_CLAIM.until]: until },
        ...(replacing === undefined
          ? unclaimed
          : {
              ConditionExpression: `${unclaimed.ConditionExpression} OR #holder = :replacing`,
              ExpressionAttributeNames: { ...unclaimed.ExpressionAttributeNames, '#holder': IMPORT_CLAIM.holder },
              ExpressionAttributeValues: { ...unclaimed.ExpressionAttributeValues, ':replacing': replacing },
            }),
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    }));
    if (outcome !== 'done') {
      throw new ImportInProgressError(Math.max(...outcome.map(claimedUntil)), claimHolder(outcome[0]));
    }
  }

  async renewImport(holder: string, now: number, until: number): Promise<boolean> {
    const outcome = await this.onEveryShard((key) => ({
      Update: {
        TableName: this.tableName,
        Key: key,
        UpdateExpression: 'SET #until = :until',
        // Its own, and not lapsed: a renewal never bridges a gap in which a user could have been created.
        ConditionExpression: '#holder = :holder AND #until > :now',
        ExpressionAttributeNames: { '#holder': IMPORT_CLAIM.holder, '#until': IMPORT_CLAIM.until },
        ExpressionAttributeValues: { ':holder': holder, ':now': now, ':until': until },
      },
    }));
    return outcome === 'done';
  }

  async releaseImport(holder: string): Promise<void> {
    await this.onEveryShard((key) => ({
      Delete: {
        TableName: this.tableName,
        Key: key,
        ConditionExpression: '#holder = :holder',
        ExpressionAttributeNames: { '#holder': IMPORT_CLAIM.holder },
        ExpressionAttributeValues: { ':holder': holder },
      },
    }));
  }

  /**
   * One TransactWriteItems of an action on each claim item; 'done', or the items of those whose condition
   * failed (as DynamoDB returned them, when the action asked for them). Conflicts with the transactions
   * that create users are retried with backoff.
   */
  private async onEveryShard(
    action: (key: Record<string, string>) => NonNullable<TransactWriteCommandInput['TransactItems']>[number],
  ): Promise<'done' | (Record<string, unknown> | undefined)[]> {
    const items = Array.from({ length: IMPORT_CLAIM.shards }, (_, shard) => action(claimKey(shard)));
    for (let attempt = 0; ; ) {
      try {
        await this.db.send(new TransactWriteCommand({ TransactItems: items }));
        return 'done';
      } catch (error) {
        const reasons = cancellationReasons(error);
        const failed = reasons?.filter((reason) => reason.Code === 'ConditionalCheckFailed') ?? [];
        if (failed.length > 0) return failed.map((reason) => reason.Item);
        if (reasons === undefined ? !isUnavailable(error) : !reasons.every(isRetryableCancellation)) throw error;
        if (++attempt >= CONFLICT_ATTEMPTS) throw new DependencyUnavailableError('dynamodb', { cause: error });
        await backoff(attempt);
      }
    }
  }

  /**
   * Under the claim, no user is created but by this import: a consistent BatchGetItem says which of the
   * usernames that may exist are taken, and BatchWriteItem puts the rest, 25 to a request, without conditions. Unprocessed keys and
   * items are sent again with capped exponential backoff and full jitter. Writing a user twice (a retried
   * request whose first attempt landed) writes the same item.
   */
  async importUsers(
    users: readonly RegisteredUser[],
    live: () => boolean,
    mayExist: (username: string) => boolean = () => true,
  ): Promise<ImportBatchOutcome> {
    const taken = await this.takenUsernames(users.map((user) => user.username).filter(mayExist));
    const free = users.filter((user) => !taken.has(user.username));
    const requests: Record<string, unknown>[][] = [];
    for (let start = 0; start < free.length; start += BATCH_WRITE_LIMIT) {
      requests.push(
        free
          .slice(start, start + BATCH_WRITE_LIMIT)
          .map((user) => ({ PutRequest: { Item: { ...user, scopes: [...user.scopes] } } })),
      );
    }
    await Promise.all(requests.map((request) => this.writeAll(request, live)));
    return {
      written: free.map((user) => user.username),
      existing: users.filter((user) => taken.has(user.username)).map((user) => user.username),
    };
  }

  private async takenUsernames(usernames: readonly string[]): Promise<Set<string>> {
    if (usernames.length === 0) return new Set();
    const taken = new Set<string>();
    let keys: Record<string, unknown>[] = usernames.map((username) => ({ [USERS_TABLE.partitionKey]: username }));
    for (let attempt = 0; keys.length > 0; ) {
      const { Responses, UnprocessedKeys } = await this.db.send(
        new BatchGetCommand({
          RequestItems: {
            [this.tableName]: {
              Keys: keys,
              ConsistentRead: true,
              ProjectionExpression: '#key',
              ExpressionAttributeNames: { '#key': USERS_TABLE.partitionKey },
            },
          },
        }),
      );
      for (const item of Responses?.[this.tableName] ?? []) taken.add(String(item[USERS_TABLE.partitionKey]));
      keys = UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      if (keys.length === 0) break;
      if (++attempt >= IMPORT_ATTEMPTS) throw new DependencyUnavailableError('dynamodb');
      await backoff(attempt);
    }
    return taken;
  }

  private async writeAll(requests: Record<string, unknown>[], live: () => boolean): Promise<void> {
    let pending = requests;
    for (let attempt = 0; pending.length > 0; ) {
      if (!live()) throw new ImportClaimLostError();
      const { UnprocessedItems } = await this.db.send(
        new BatchWriteCommand({ RequestItems: { [this.tableName]: pending } }),
      );
      pending = (UnprocessedItems?.[this.tableName] ?? []) as Record<string, unknown>[];
      if (pending.length === 0) break;
      if (++attempt >= IMPORT_ATTEMPTS) throw new DependencyUnavailableError('dynamodb');
      await backoff(attempt);
    }
  }

  private async updateExisting(
    username: string,
    expression: string,
    values: Record<string, unknown>,
  ): Promise<boolean> {
    if (!isUserKey(username)) return false;
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { username },
          UpdateExpression: expression,
          ConditionExpression: 'attribute_exists(username)',
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }
}

/** BatchWriteItem's limit of 25 requests. */
const BATCH_WRITE_LIMIT = 25;
/** Attempts per request for unprocessed keys and items, beside the SDK's own retries of each request. */
const IMPORT_ATTEMPTS = 8;
/** Attempts per transaction that conflicted with another on a claim item. */
const CONFLICT_ATTEMPTS = 5;
const BACKOFF_BASE_MS = 25;
const BACKOFF_CAP_MS = 2_000;

/** Capped exponential backoff with full jitter. */
function backoff(attempt: number): Promise<void> {
  return sleep(Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt));
}

/** A name that may be a user's: a usable key, and not one of the import claim's items. */
function isUserKey(username: string): boolean {
  return isUsableKey(username) && !username.startsWith(IMPORT_CLAIM.keyPrefix);
}

function claimKey(shard: number): Record<string, string> {
  return { [USERS_TABLE.partitionKey]: `${IMPORT_CLAIM.keyPrefix}${shard}` };
}

/** The claim item that guards a username: the first 32 bits of its SHA-256, modulo the shards. */
function claimShard(username: string): number {
  return createHash('sha256').update(username, 'utf8').digest().readUInt32BE(0) % IMPORT_CLAIM.shards;
}

/** The condition that no import's claim on the item is live at `now` (epoch milliseconds). */
function unclaimedAt(now: number) {
  return {
    ConditionExpression: 'attribute_not_exists(#until) OR #until <= :now',
    ExpressionAttributeNames: { '#until': IMPORT_CLAIM.until },
    ExpressionAttributeValues: { ':now': now },
  };
}

/** When a claim item returned by a failed condition lapses; the document client leaves it marshalled. */
function claimedUntil(item: Record<string, unknown> | undefined): number {
  const value = item?.[IMPORT_CLAIM.until] as { N?: string } | number | undefined;
  return Number(typeof value === 'object' ? value.N : value);
}

/** Who holds a claim item returned by a failed condition (marshalled, as claimedUntil's). */
function claimHolder(item: Record<string, unknown> | undefined): string | undefined {
  const value = item?.[IMPORT_CLAIM.holder] as { S?: string } | string | undefined;
  return typeof value === 'object' ? value.S : value;
}

interface CancellationReason {
  readonly Code?: string;
  readonly Item?: Record<string, unknown>;
}

/** A TransactionCanceledException's reasons, one per item in order; undefined for any other error. */
function cancellationReasons(error: unknown): readonly CancellationReason[] | undefined {
  if (!(error instanceof Error) || error.name !== 'TransactionCanceledException') return undefined;
  return (error as Error & { CancellationReasons?: CancellationReason[] }).CancellationReasons;
}

/** Reasons worth another attempt: the items were fine, DynamoDB was busy or another transaction was. */
function isRetryableCancellation(reason: CancellationReason): boolean {
  return ['None', 'TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded'].includes(
    reason.Code ?? 'None',
  );
}

function toUser(item: Record<string, unknown>): RegisteredUser {
  return { ...toProfile(item), passwordHash: str(item, 'users', 'passwordHash') };
}

function toProfile(item: Record<string, unknown>): UserProfile {
  const table = 'users';
  return {
    username: str(item, table, 'username'),
    userId: str(item, table, 'userId'),
    scopes: strList(item, table, 'scopes'),
    disabled: bool(item, table, 'disabled'),
    createdAt: str(item, table, 'createdAt'),
    passwordChangedAt: str(item, table, 'passwordChangedAt'),
    ...(item.sessionEpoch === undefined ? {} : { sessionEpoch: num(item, table, 'sessionEpoch') }),
    ...mfaField(userMfaFromItem(item)),
  };
}

function mfaField(mfa: ReturnType<typeof userMfaFromItem>): { mfa?: NonNullable<typeof mfa> } {
  return mfa === undefined ? {} : { mfa };
}

function withoutHash({ passwordHash: _hash, ...profile }: RegisteredUser): UserProfile {
  return profile;
}
