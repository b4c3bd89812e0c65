import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { USERS_TABLE } from '../../contract/tables';
import { UserExistsError } from '../accounts/errors';
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
    if (!isUsableKey(username)) return undefined;
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

  async createMigratedUser(user: User, at: string): Promise<'created' | 'taken'> {
    const item: RegisteredUser = { ...user, scopes: [...user.scopes], createdAt: at, passwordChangedAt: at };
    try {
      await callDependency('dynamodb', () =>
        this.db.send(
          new PutCommand({
            TableName: this.tableName,
            Item: item,
            ConditionExpression: 'attribute_not_exists(username)',
          }),
        ),
      );
      return 'created';
    } catch (error) {
      // The username was taken meanwhile: a concurrent first login of the same user won.
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return 'taken';
      throw error;
    }
  }

  async createUser(user: RegisteredUser): Promise<void> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...user, scopes: [...user.scopes] },
          ConditionExpression: 'attribute_not_exists(username)',
        }),
      );
    } catch (error) {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException')
        throw new UserExistsError(user.username);
      throw error;
    }
  }

  /** A paginated Scan that projects the hash away: it never leaves the table. */
  async listUsers(): Promise<UserProfile[]> {
    const names = Object.fromEntries(PROFILE_ATTRIBUTES.map((name, index) => [`#a${index}`, name]));
    const users: UserProfile[] = [];
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
      for (const item of page.Items ?? []) users.push(toProfile(item));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return users.sort((a, b) => a.username.localeCompare(b.username));
  }

  /** Undefined when there is no such user; the condition keeps the update from creating one. */
  async updateUser(username: string, changes: UserChanges): Promise<UserProfile | undefined> {
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
    const { Attributes } = await this.db.send(
      new DeleteCommand({ TableName: this.tableName, Key: { username }, ReturnValues: 'ALL_OLD' }),
    );
    return Attributes === undefined ? undefined : toUser(Attributes);
  }

  /**
   * One TransactWriteItems of conditional Puts: all of them land or none. A cancellation's reasons say
   * which usernames are taken (ConditionalCheckFailed, in the order of the items); those are counted as
   * existing and the rest is sent again, so a user created meanwhile (by the CLI, or by a login that
   * migrates one) is never overwritten. Throttling and conflicts with other transactions are retried with
   * capped exponential backoff and full jitter. A retry whose first attempt may have committed (a timeout,
   * a lost answer) reuses its ClientRequestToken, so DynamoDB answers it as the first without writing twice,
   * and the users it wrote count as written, not as existing.
   */
  async importUsers(users: readonly RegisteredUser[]): Promise<ImportBatchOutcome> {
    const written: string[] = [];
    const existing: string[] = [];
    let pending = [...users];
    let token = randomUUID();
    for (let attempt = 0; pending.length > 0; ) {
      try {
        await this.db.send(
          new TransactWriteCommand({
            ClientRequestToken: token,
            TransactItems: pending.map((user) => ({
              Put: {
                TableName: this.tableName,
                Item: { ...user, scopes: [...user.scopes] },
                ConditionExpression: 'attribute_not_exists(username)',
              },
            })),
          }),
        );
        written.push(...pending.map((user) => user.username));
        break;
      } catch (error) {
        const reasons = cancellationCodes(error);
        if (reasons !== undefined && reasons.length === pending.length) {
          const taken = pending.filter((_, index) => reasons[index] === 'ConditionalCheckFailed');
          existing.push(...taken.map((user) => user.username));
          const retryable = reasons.every((code) => code === 'None' || RETRYABLE_CANCELLATIONS.has(code ?? ''));
          if (taken.length === 0 && !retryable) throw error;
          pending = pending.filter((_, index) => reasons[index] !== 'ConditionalCheckFailed');
          // Cancelled: nothing was written, so the next attempt is a new request.
          token = randomUUID();
          if (taken.length > 0) continue;
        } else if (!isUnavailable(error)) {
          throw error;
        }
        if (++attempt >= IMPORT_ATTEMPTS) throw new DependencyUnavailableError('dynamodb', { cause: error });
        await sleep(Math.random() * Math.min(IMPORT_BACKOFF_CAP_MS, IMPORT_BACKOFF_BASE_MS * 2 ** attempt));
      }
    }
    return { written, existing };
  }

  private async updateExisting(
    username: string,
    expression: string,
    values: Record<string, unknown>,
  ): Promise<boolean> {
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

/** Cancellation reasons worth another attempt: the items were fine, DynamoDB was busy. */
const RETRYABLE_CANCELLATIONS = new Set(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded']);
/** Attempts per import batch for throttling and conflicts, beside the SDK's own retries of each request. */
const IMPORT_ATTEMPTS = 8;
const IMPORT_BACKOFF_BASE_MS = 50;
const IMPORT_BACKOFF_CAP_MS = 5_000;

/** A TransactionCanceledException's reason codes, one per item in order; undefined for any other error. */
function cancellationCodes(error: unknown): (string | undefined)[] | undefined {
  if (!(error instanceof Error) || error.name !== 'TransactionCanceledException') return undefined;
  const reasons = (error as Error & { CancellationReasons?: { Code?: string }[] }).CancellationReasons;
  return reasons?.map((reason) => reason.Code);
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
