import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { inject } from 'vitest';
import { createDocumentClient } from '../../lambda/adapters/aws-clients';
import type { TableNames } from '../../lambda/adapters/tables';
import { ensureTables, localTableNames } from '../../local/bootstrap';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/state';

/** The DynamoDB Local the global setup started, with fresh tables for one test file. */
export async function freshTables(options: { enableTtl?: boolean } = {}): Promise<{ endpoint: string; tables: TableNames }> {
  const endpoint = inject('dynamodbEndpoint');
  const tables = localTableNames(`t-${randomUUID().slice(0, 8)}`);
  const db = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    await ensureTables(db, tables, options);
  } finally {
    db.destroy();
  }
  return { endpoint, tables };
}

export function documentClient(endpoint: string) {
  return createDocumentClient({ region: LOCAL_REGION, dynamodbEndpoint: endpoint, credentials: LOCAL_CREDENTIALS });
}

export function kmsClient(endpoint: string) {
  return new KMSClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
}
