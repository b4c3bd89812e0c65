import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { isRefreshGraceSeconds } from '../../contract/settings';
import { CLIENTS_TABLE } from '../../contract/tables';
import { ClientExistsError } from '../accounts/errors';
import type { ClientChanges, ClientRegistry, RegisteredClient } from '../accounts/ports';
import { isClientId } from '../oauth/client-id';
import { GRANT_TYPES } from '../oauth/grants';
import { MAX_ALLOWED_ORIGINS, normalizeOrigin } from '../oauth/origin';
import type { GrantType } from '../oauth/ports';
import { callDependency } from './aws-errors';
import { bool, CorruptItemError, optionalStr, str, strList } from './items';

/** Registered clients, keyed by client_id. */
export class DynamoClientStore implements ClientRegistry {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** An id that breaks the client-id rule (../oauth/client-id.ts) can name no client: it is not looked up. */
  async getClient(clientId: string): Promise<RegisteredClient | undefined> {
    if (!isClientId(clientId)) return undefined;
    const { Item } = await callDependency('dynamodb', () =>
      this.db.send(
        new GetCommand({
          TableName: this.tableName,
          Key: { [CLIENTS_TABLE.partitionKey]: clientId },
          ConsistentRead: true,
        }),
      ),
    );
    return Item === undefined ? undefined : toClient(Item);
  }

  /** Registers a client; fails with ClientExistsError if the id is taken. */
  async createClient(client: RegisteredClient): Promise<void> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...client, scopes: [...client.scopes], grantTypes: [...client.grantTypes] },
          ConditionExpression: 'attribute_not_exists(clientId)',
        }),
      );
    } catch (error) {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException')
        throw new ClientExistsError(client.clientId);
      throw error;
    }
  }

  async listClients(): Promise<RegisteredClient[]> {
    const clients: RegisteredClient[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new ScanCommand({ TableName: this.tableName, ExclusiveStartKey: startKey, ConsistentRead: true }),
      );
      for (const item of page.Items ?? []) clients.push(toClient(item));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return clients.sort((a, b) => a.clientId.localeCompare(b.clientId));
  }

  /** Returns false when there is no such client. */
  async setDisabled(clientId: string, disabled: boolean): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { clientId },
          UpdateExpression: 'SET disabled = :disabled',
          ConditionExpression: 'attribute_exists(clientId)',
          ExpressionAttributeValues: { ':disabled': disabled },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  /** Undefined when there is no such client; the condition keeps the update from creating one. */
  async updateClient(clientId: string, changes: ClientChanges): Promise<RegisteredClient | undefined> {
    const set: string[] = [];
    const remove: string[] = [];
    const values: Record<string, unknown> = {};
    if (changes.scopes !== undefined) {
      set.push('scopes = :scopes');
      values[':scopes'] = [...changes.scopes];
    }
    if (changes.refreshGraceSeconds === null) remove.push('refreshGraceSeconds');
    else if (changes.refreshGraceSeconds !== undefined) {
      set.push('refreshGraceSeconds = :grace');
      values[':grace'] = changes.refreshGraceSeconds;
    }
    if (changes.allowedOrigins?.length === 0) remove.push('allowedOrigins');
    else if (changes.allowedOrigins !== undefined) {
      set.push('allowedOrigins = :origins');
      values[':origins'] = [...changes.allowedOrigins];
    }
    if (set.length === 0 && remove.length === 0) return this.getClient(clientId);
    const expression = [
      ...(set.length === 0 ? [] : [`SET ${set.join(', ')}`]),
      ...(remove.length === 0 ? [] : [`REMOVE ${remove.join(', ')}`]),
    ].join(' ');
    try {
      const { Attributes } = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { clientId },
          UpdateExpression: expression,
          ConditionExpression: 'attribute_exists(clientId)',
          ...(Object.keys(values).length === 0 ? {} : { ExpressionAttributeValues: values }),
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes === undefined ? undefined : toClient(Attributes);
    } catch (error) {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return undefined;
      throw error;
    }
  }

  /** Returns false when there is no such client. */
  async deleteClient(clientId: string): Promise<boolean> {
    const { Attributes } = await this.db.send(
      new DeleteCommand({ TableName: this.tableName, Key: { clientId }, ReturnValues: 'ALL_OLD' }),
    );
    return Attributes !== undefined;
  }
}

function toClient(item: Record<string, unknown>): RegisteredClient {
  const table = 'clients';
  const grantTypes = strList(item, table, 'grantTypes');
  if (grantTypes.some((grant) => !GRANT_TYPES.includes(grant as GrantType)))
    throw new CorruptItemError(table, 'grantTypes');
  const isPublic = bool(item, table, 'isPublic');
  const secretHash = optionalStr(item, table, 'secretHash');
  if (!isPublic && secretHash === undefined) throw new CorruptItemError(table, 'secretHash');
  return {
    clientId: str(item, table, 'clientId'),
    secretHash,
    isPublic,
    scopes: strList(item, table, 'scopes'),
    audience: optionalStr(item, table, 'audience'),
    grantTypes: grantTypes as GrantType[],
    disabled: bool(item, table, 'disabled'),
    trustEndUserIp: bool(item, table, 'trustEndUserIp'),
    createdAt: timestamp(item, table, 'createdAt'),
    ...refreshGrace(item, table, 'refreshGraceSeconds'),
    ...allowedOrigins(item, table, 'allowedOrigins'),
  };
}

/**
 * The client's allowed origins, when it lists any: each in its serialization (../oauth/origin.ts), as
 * registration stores them, at most MAX_ALLOWED_ORIGINS; anything else is corrupt (registration never
 * stores it).
 */
function allowedOrigins(item: Record<string, unknown>, table: string, name: string): { allowedOrigins?: string[] } {
  if (item[name] === undefined) return {};
  const origins = strList(item, table, name);
  if (origins.length > MAX_ALLOWED_ORIGINS || origins.some((origin) => normalizeOrigin(origin) !== origin))
    throw new CorruptItemError(table, name);
  return origins.length === 0 ? {} : { allowedOrigins: origins };
}

/** The client's own refresh-token grace, when it has one: whole seconds, 0 to 60; absent means the stack's. */
function refreshGrace(item: Record<string, unknown>, table: string, name: string): { refreshGraceSeconds?: number } {
  const value = item[name];
  if (value === undefined) return {};
  if (!isRefreshGraceSeconds(value)) throw new CorruptItemError(table, name);
  return { refreshGraceSeconds: value };
}

/** An ISO 8601 instant: the refresh grant compares token families with it (when the client was registered). */
function timestamp(item: Record<string, unknown>, table: string, name: string): string {
  const value = str(item, table, name);
  if (Number.isNaN(Date.parse(value))) throw new CorruptItemError(table, name);
  return value;
}
