/**
 * The state `npm start` keeps survives upgrades: tables made by an earlier version gain the indexes this one
 * defines, and the data in them stays.
 */
import { randomUUID } from 'node:crypto';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { REFRESH_TOKENS_TABLE } from '../../contract/tables';
import { createTableInput, ensureTables, localTableNames } from '../../local/bootstrap';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/state';

const db = new DynamoDBClient({
  endpoint: inject('dynamodbEndpoint'),
  region: LOCAL_REGION,
  credentials: LOCAL_CREDENTIALS,
});
afterAll(() => db.destroy());

describe('ensureTables on the tables of an earlier version', () => {
  it('adds the refresh-token table the indexes it lacks, with their projections, and keeps its items', async () => {
    const tables = localTableNames(`up-${randomUUID().slice(0, 8)}`);
    // The refresh-token table as it was made when it had only the byUser index.
    const earlier = {
      ...REFRESH_TOKENS_TABLE,
      globalSecondaryIndexes: REFRESH_TOKENS_TABLE.globalSecondaryIndexes?.filter(
        (index) => index.indexName === 'byUser',
      ),
    };
    await db.send(new CreateTableCommand(createTableInput(earlier, tables.refreshTokens)));
    await db.send(
      new PutItemCommand({
        TableName: tables.refreshTokens,
        Item: { tokenHash: { S: 'kept' }, userId: { S: 'u-1' } },
      }),
    );

    await ensureTables(db, tables);

    const { Table } = await db.send(new DescribeTableCommand({ TableName: tables.refreshTokens }));
    const indexes = Object.fromEntries(
      (Table?.GlobalSecondaryIndexes ?? []).map((index) => [
        index.IndexName,
        { key: index.KeySchema?.[0]?.AttributeName, projection: index.Projection },
      ]),
    );
    expect(indexes).toEqual({
      byUser: { key: 'userId', projection: { ProjectionType: 'ALL' } },
      familiesByUser: {
        key: 'familyUserId',
        projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['familyExpiresAt', 'revokedAt'] },
      },
    });
    const { Item } = await db.send(
      new GetItemCommand({ TableName: tables.refreshTokens, Key: { tokenHash: { S: 'kept' } }, ConsistentRead: true }),
    );
    expect(Item?.userId).toEqual({ S: 'u-1' });
    // Idempotent: a second start changes nothing.
    await ensureTables(db, tables);
    const again = await db.send(new DescribeTableCommand({ TableName: tables.refreshTokens }));
    expect(again.Table?.GlobalSecondaryIndexes).toHaveLength(2);
  });
});
