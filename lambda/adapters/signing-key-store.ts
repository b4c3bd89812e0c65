import { type DynamoDBDocumentClient, ScanCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { SigningKeyRecord } from '../tokens/key-registry';
import { callDependency } from './aws-errors';
import { CorruptItemError, num, str } from './items';

/** The signing-key registry table: one small item per key, read whole (a handful of keys at most). */
export class DynamoSigningKeyStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async list(): Promise<SigningKeyRecord[]> {
    const records: SigningKeyRecord[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await callDependency('dynamodb', () =>
        this.db.send(new ScanCommand({ TableName: this.tableName, ConsistentRead: true, ExclusiveStartKey: startKey })),
      );
      for (const item of page.Items ?? []) records.push(toRecord(item));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return records;
  }

  /** Writes records in one transaction: a plan (rotation, revocation) applies whole or not at all. */
  async write(records: readonly SigningKeyRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.db.send(
      new TransactWriteCommand({
        TransactItems: records.map((record) => ({ Put: { TableName: this.tableName, Item: toItem(record) } })),
      }),
    );
  }
}

function toItem(record: SigningKeyRecord): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}

function toRecord(item: Record<string, unknown>): SigningKeyRecord {
  const table = 'signingKeys';
  const state = str(item, table, 'state');
  if (state !== 'active' && state !== 'revoked') throw new CorruptItemError(table, 'state');
  const optional = (name: string) => (item[name] === undefined ? undefined : num(item, table, name));
  return {
    kid: str(item, table, 'kid'),
    keyArn: str(item, table, 'keyArn'),
    alg: 'RS256',
    n: str(item, table, 'n'),
    e: str(item, table, 'e'),
    createdAt: num(item, table, 'createdAt'),
    signsFrom: num(item, table, 'signsFrom'),
    retiredAt: optional('retiredAt'),
    unpublishAfter: optional('unpublishAfter'),
    state,
    revokedAt: optional('revokedAt'),
    deletionScheduledAt: optional('deletionScheduledAt'),
  };
}
