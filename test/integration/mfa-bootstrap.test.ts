/**
 * The second factor's local resources: the challenges table (which the state of an earlier `npm start`
 * lacks) and the TOTP key, and the secrets' round trip through the KMS emulator as the CLI encrypts them and
 * the token function decrypts them.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  DeleteTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MFA_CHALLENGES_TABLE } from '../../contract/tables';
import { encryptTotpSecret, KmsTotpSecretKey } from '../../lambda/adapters/mfa-secret-key';
import { DependencyUnavailableError } from '../../lambda/oauth/errors';
import { ensureMfaKey, ensureTables, LOCAL_MFA_KEY_ALIAS, localTableNames } from '../../local/bootstrap';
import { type KmsEmulator, startKmsEmulator } from '../../local/kms-emulator';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/state';

const db = new DynamoDBClient({
  endpoint: inject('dynamodbEndpoint'),
  region: LOCAL_REGION,
  credentials: LOCAL_CREDENTIALS,
});
let emulator: KmsEmulator;
let kms: KMSClient;

beforeAll(async () => {
  emulator = await startKmsEmulator({ region: LOCAL_REGION });
  kms = new KMSClient({ endpoint: emulator.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
});
afterAll(async () => {
  db.destroy();
  kms.destroy();
  await emulator.stop();
});

describe('the local stack’s second-factor resources', () => {
  it('creates the challenges table, with TTL, in the state of a version that had none', async () => {
    const tables = localTableNames(`mfa-${randomUUID().slice(0, 8)}`);
    await ensureTables(db, tables);
    // The state of an earlier version: every table but this one.
    await db.send(new DeleteTableCommand({ TableName: tables.mfaChallenges }));
    await ensureTables(db, tables);
    const { Table } = await db.send(new DescribeTableCommand({ TableName: tables.mfaChallenges }));
    expect(Table?.KeySchema).toEqual([{ AttributeName: MFA_CHALLENGES_TABLE.partitionKey, KeyType: 'HASH' }]);
    const ttl = await db.send(new DescribeTimeToLiveCommand({ TableName: tables.mfaChallenges }));
    expect(ttl.TimeToLiveDescription?.AttributeName).toBe('expiresAt');
  });

  it('creates the TOTP key once, as a symmetric encryption key behind its alias', async () => {
    const first = await ensureMfaKey(kms, LOCAL_MFA_KEY_ALIAS);
    expect(await ensureMfaKey(kms, LOCAL_MFA_KEY_ALIAS)).toBe(first);
    const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: LOCAL_MFA_KEY_ALIAS }));
    expect(KeyMetadata).toMatchObject({ Arn: first, KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT' });
  });

  it('decrypts a secret for the user it was encrypted for, and for no other', async () => {
    await ensureMfaKey(kms, LOCAL_MFA_KEY_ALIAS);
    const secret = randomBytes(20);
    const ciphertext = await encryptTotpSecret(kms, LOCAL_MFA_KEY_ALIAS, 'u-1', secret);
    expect(Buffer.from(ciphertext).includes(secret)).toBe(false);
    const key = new KmsTotpSecretKey(kms, LOCAL_MFA_KEY_ALIAS);
    expect(Buffer.from(await key.decrypt('u-1', ciphertext))).toEqual(secret);
    // The ciphertext copied onto another user's item: KMS refuses it (a defect or tampering, not a 503).
    const refused = await key.decrypt('u-2', ciphertext).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).name).toBe('InvalidCiphertextException');
    expect(refused).not.toBeInstanceOf(DependencyUnavailableError);
  });
});
