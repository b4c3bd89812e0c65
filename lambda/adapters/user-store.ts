import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { USERS_TABLE } from '../../contract/tables';
import { UserExistsError } from '../accounts/errors';
import type { RegisteredUser, UserChanges, UserDirectory, UserProfile } from '../accounts/ports';
import { callDependency } from './aws-errors';
import { bool, isUsableKey, num, str, strList } from './items';

/** What listUsers reads of each user: every attribute of a UserProfile, never the password hash. */
const PROFILE_ATTRIBUTES = [
  'username',
  'userId',
  'scopes',
  'disabled',
  'createdAt',
  'passwordChangedAt',
  'sessionEpoch',
];

/** Resource owners, keyed by username; `userId` is the stable subject identifier. */
export class DynamoUserStore implements UserDirectory {
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
  };
}

function withoutHash({ passwordHash: _hash, ...profile }: RegisteredUser): UserProfile {
  return profile;
}
