import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { TableNames } from '../../contract/tables';
import { documentClient, freshTables } from '../support/aws';

export interface DynamoDbLocal {
  readonly db: DynamoDBDocumentClient;
  readonly tables: TableNames;
}

/**
 * The DynamoDB side of one contract file: fresh tables on the shared DynamoDB Local, created on first use
 * and shared by the file's tests, so every test uses keys of its own. TTL is off: DynamoDB Local deletes
 * expired items at once, DynamoDB only days later, and the contracts cover expired items still present.
 */
export function dynamoDbLocal(): { get(): Promise<DynamoDbLocal>; close(): Promise<void> } {
  let ready: Promise<DynamoDbLocal> | undefined;
  return {
    get: () =>
      (ready ??= freshTables({ enableTtl: false }).then(({ endpoint, tables }) => ({
        db: documentClient(endpoint),
        tables,
      }))),
    async close() {
      (await ready)?.db.destroy();
    },
  };
}
