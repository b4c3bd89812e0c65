import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { USERS_TABLE } from '../../contract/tables';
import { UserExistsError } from '../accounts/errors';
import type { RegisteredUser, UserDirectory } from '../accounts/ports';
import { callDependency } from './aws-errors';
import { bool, isUsableKey, num, str, strList } from './items';

/** Resource owners, keyed by username; `userId` is the stable subject identifier. */
export class DynamoUserStore implements UserDirectory {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
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
  const table = 'users';
  return {
    username: str(item, table, 'username'),
    userId: str(item, table, 'userId'),
    passwordHash: str(item, table, 'passwordHash'),
    scopes: strList(item, table, 'scopes'),
    disabled: bool(item, table, 'disabled'),
    createdAt: str(item, table, 'createdAt'),
    passwordChangedAt: str(item, table, 'passwordChangedAt'),
    ...(item.sessionEpoch === undefined ? {} : { sessionEpoch: num(item, table, 'sessionEpoch') }),
  };
}
