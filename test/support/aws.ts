import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { inject } from 'vitest';
import type { TableNames } from '../../contract/tables';
import { createDocumentClient } from '../../lambda/adapters/aws-clients';
import type { ServiceConfig } from '../../lambda/config';
import { DEFAULT_LIFETIMES, DEFAULT_LOCKOUT_LIMITS } from '../../lambda/oauth/config';
import { ensureSigningKey, ensureTables, localTableNames } from '../../local/bootstrap';
import { type KmsEmulator, startKmsEmulator } from '../../local/kms-emulator';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/state';
import { FAST_SCRYPT } from './memory';

/** The DynamoDB Local the global setup started, with fresh tables for one test file. */
export async function freshTables(
  options: { enableTtl?: boolean } = {},
): Promise<{ endpoint: string; tables: TableNames }> {
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

/**
 * Fresh tables, a KMS emulator holding a signing key under `alias`, and a service configuration that uses
 * both (fast scrypt, default lifetimes and lockout limits). The caller stops the emulator.
 */
export async function emulatedServices(
  alias: string,
  options: { enableTtl?: boolean } = {},
): Promise<{ kms: KmsEmulator; config: ServiceConfig }> {
  const { endpoint, tables } = await freshTables(options);
  const kms = await startKmsEmulator({ region: LOCAL_REGION });
  const client = kmsClient(kms.endpoint);
  try {
    await ensureSigningKey(client, alias);
  } finally {
    client.destroy();
  }
  return {
    kms,
    config: {
      issuer: 'http://127.0.0.1:1',
      defaultAudience: 'api',
      ...DEFAULT_LIFETIMES,
      ...DEFAULT_LOCKOUT_LIMITS,
      scopesSupported: ['read'],
      scrypt: FAST_SCRYPT,
      keyCacheSeconds: 60,
      tables,
      signingKeyId: alias,
      region: LOCAL_REGION,
      dynamodbEndpoint: endpoint,
      kmsEndpoint: kms.endpoint,
    },
  };
}
