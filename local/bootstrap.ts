import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  type CreateKeyCommandInput,
  DescribeKeyCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { LOCAL_DEPLOYMENT, signingKeyTag } from '../contract/signing-keys';
import { TABLE_DEFINITIONS, type TableDefinition, type TableNames } from '../contract/tables';

/** Physical table names for a local stack: `<prefix>-clients`, `<prefix>-users`, `<prefix>-refresh-tokens`. */
export function localTableNames(prefix: string): TableNames {
  return {
    clients: `${prefix}-clients`,
    users: `${prefix}-users`,
    refreshTokens: `${prefix}-refresh-tokens`,
    loginAttempts: `${prefix}-login-attempts`,
    signingKeys: `${prefix}-signing-keys`,
    mfaChallenges: `${prefix}-mfa-challenges`,
  };
}

/** The CreateTable request for a shared definition (the CDK stack builds the same shape). */
export function createTableInput(definition: TableDefinition, tableName: string): CreateTableCommandInput {
  const keys = new Set([
    definition.partitionKey,
    ...(definition.sortKey === undefined ? [] : [definition.sortKey]),
    ...(definition.globalSecondaryIndexes ?? []).map((i) => i.partitionKey),
  ]);
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...keys].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
    KeySchema: [
      { AttributeName: definition.partitionKey, KeyType: 'HASH' },
      ...(definition.sortKey === undefined ? [] : [{ AttributeName: definition.sortKey, KeyType: 'RANGE' as const }]),
    ],
    GlobalSecondaryIndexes: definition.globalSecondaryIndexes?.map(indexInput),
  };
}

function indexInput(index: NonNullable<TableDefinition['globalSecondaryIndexes']>[number]): GlobalSecondaryIndex {
  return {
    IndexName: index.indexName,
    KeySchema: [{ AttributeName: index.partitionKey, KeyType: 'HASH' }],
    Projection:
      index.nonKeyAttributes === undefined
        ? { ProjectionType: 'ALL' }
        : { ProjectionType: 'INCLUDE', NonKeyAttributes: [...index.nonKeyAttributes] },
  };
}

/**
 * Adds the indexes a table made by an earlier version lacks (the state of `npm start` survives upgrades),
 * one at a time as DynamoDB requires.
 */
async function addMissingIndexes(db: DynamoDBClient, definition: TableDefinition, tableName: string): Promise<void> {
  const { Table } = await db.send(new DescribeTableCommand({ TableName: tableName }));
  const present = new Set((Table?.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName));
  for (const index of definition.globalSecondaryIndexes ?? []) {
    if (present.has(index.indexName)) continue;
    await db.send(
      new UpdateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [{ AttributeName: index.partitionKey, AttributeType: 'S' }],
        GlobalSecondaryIndexUpdates: [{ Create: indexInput(index) }],
      }),
    );
  }
}

/**
 * Creates whichever tables do not exist yet, with TTL where the definition has it. Idempotent.
 * `enableTtl: false` leaves TTL off (DynamoDB Local deletes expired items at once, unlike DynamoDB,
 * which may take days: tests of expired-but-undeleted items need it off).
 */
export async function ensureTables(
  db: DynamoDBClient,
  names: TableNames,
  options: { enableTtl?: boolean } = {},
): Promise<void> {
  for (const definition of TABLE_DEFINITIONS) {
    const tableName = names[definition.name];
    if (await tableExists(db, tableName)) {
      await addMissingIndexes(db, definition, tableName);
      continue;
    }
    try {
      await db.send(new CreateTableCommand(createTableInput(definition, tableName)));
    } catch (error) {
      if (!(error instanceof Error && error.name === 'ResourceInUseException')) throw error;
    }
    if (definition.ttlAttribute !== undefined && options.enableTtl !== false) {
      await db.send(
        new UpdateTimeToLiveCommand({
          TableName: tableName,
          TimeToLiveSpecification: { AttributeName: definition.ttlAttribute, Enabled: true },
        }),
      );
    }
  }
}

async function tableExists(db: DynamoDBClient, tableName: string): Promise<boolean> {
  try {
    await db.send(new DescribeTableCommand({ TableName: tableName }));
    return true;
  } catch (error) {
    if (error instanceof Error && error.name === 'ResourceNotFoundException') return false;
    throw error;
  }
}

/** The deployment name the local stack's keys are tagged with. */

/** Returns the ARN of the key behind `alias`, creating an RSA_2048 signing key and the alias if missing. */
export function ensureSigningKey(kms: KMSClient, alias: string): Promise<string> {
  return ensureKey(kms, alias, {
    KeySpec: 'RSA_2048',
    KeyUsage: 'SIGN_VERIFY',
    Description: 'ropc-token-service access-token signing key',
    Tags: [signingKeyTag(LOCAL_DEPLOYMENT)],
  });
}

/** The ARN of the key behind `alias`; when there is none, a key made with `create` and the alias for it. */
async function ensureKey(kms: KMSClient, alias: string, create: CreateKeyCommandInput): Promise<string> {
  try {
    const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: alias }));
    if (KeyMetadata?.Arn !== undefined) return KeyMetadata.Arn;
  } catch (error) {
    if (!(error instanceof Error && error.name === 'NotFoundException')) throw error;
  }
  const { KeyMetadata } = await kms.send(new CreateKeyCommand(create));
  if (KeyMetadata?.Arn === undefined || KeyMetadata.KeyId === undefined)
    throw new Error('KMS CreateKey returned no key');
  await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: KeyMetadata.KeyId }));
  return KeyMetadata.Arn;
}

/** The local stack's key for TOTP secrets (lib/mfa-key.ts in a deployment). */
export const LOCAL_MFA_KEY_ALIAS = 'alias/ropc-token-service/mfa';

/**
 * Returns the ARN of the key behind `alias`, creating a SYMMETRIC_DEFAULT key (ENCRYPT_DECRYPT) for TOTP
 * secrets and the alias if missing: the local counterpart of lib/mfa-key.ts.
 */
export function ensureMfaKey(kms: KMSClient, alias: string): Promise<string> {
  return ensureKey(kms, alias, {
    KeySpec: 'SYMMETRIC_DEFAULT',
    KeyUsage: 'ENCRYPT_DECRYPT',
    Description: 'ropc-token-service TOTP secret encryption key',
  });
}
