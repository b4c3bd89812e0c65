import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoSigningKeyStore } from '../../lambda/adapters/signing-key-store';
import { configToEnv } from '../../lambda/config';
import { handler } from '../../lambda/handlers/rotate-keys';
import { DEFAULT_LIFETIMES } from '../../lambda/oauth/config';
import { ensureSigningKey } from '../../local/bootstrap';
import { startKmsEmulator, type KmsEmulator } from '../../local/kms-emulator';
import { LOCAL_REGION } from '../../local/state';
import { documentClient, freshTables, kmsClient } from '../support/aws';
import { FAST_SCRYPT } from '../support/memory';

let kms: KmsEmulator;
const saved = { ...process.env };

beforeAll(async () => {
  const { endpoint, tables } = await freshTables();
  kms = await startKmsEmulator({ region: LOCAL_REGION });
  const client = kmsClient(kms.endpoint);
  await ensureSigningKey(client, 'alias/ropc-token-service/scheduled');
  client.destroy();
  Object.assign(process.env, {
    ...configToEnv({
      issuer: 'https://auth.example.test',
      defaultAudience: 'api',
      ...DEFAULT_LIFETIMES,
      scopesSupported: [],
      scrypt: FAST_SCRYPT,
      tables,
      signingKeyId: 'alias/ropc-token-service/scheduled',
      keyCacheSeconds: 60,
      dynamodbEndpoint: endpoint,
      kmsEndpoint: kms.endpoint,
    }),
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    ROTATION_PROPAGATION_SECONDS: '7200',
  });
});

afterAll(async () => {
  process.env = saved;
  await kms?.stop();
});

describe('scheduled rotation handler', () => {
  it('registers the first key and creates a pending one, as keys rotate does', async () => {
    const before = Date.now();
    const result = await handler();
    expect(Date.parse(result.signsFrom) - before).toBeGreaterThanOrEqual(7199_000);
    const db = documentClient(process.env.DYNAMODB_ENDPOINT!);
    const keys = await new DynamoSigningKeyStore(db, process.env.SIGNING_KEYS_TABLE!).list();
    db.destroy();
    expect(keys).toHaveLength(2);
    const created = keys.find((key) => key.kid === result.created)!;
    const first = keys.find((key) => key.kid !== result.created)!;
    expect(first.retiredAt).toBe(created.signsFrom);
    expect(first.unpublishAfter).toBe(created.signsFrom + 900 + 300);
  });
});
