import {
  CreateAliasCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  GetKeyPolicyCommand,
  ListAliasesCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SigningKeyManager } from '../../lambda/adapters/key-manager';
import { DynamoSigningKeyStore } from '../../lambda/adapters/signing-key-store';
import { configToEnv } from '../../lambda/config';
import { handler } from '../../lambda/handlers/rotate-keys';
import { DEFAULT_LIFETIMES, DEFAULT_LOCKOUT_LIMITS } from '../../lambda/oauth/config';
import { ensureSigningKey } from '../../local/bootstrap';
import { type KmsEmulator, startKmsEmulator } from '../../local/kms-emulator';
import { LOCAL_REGION } from '../../local/state';
import { documentClient, freshTables, kmsClient } from '../support/aws';
import { FAST_SCRYPT } from '../support/memory';

let kms: KmsEmulator;
const saved = { ...process.env };
/** The kid of the key the handler's first run created. */
let createdByHandler: string;

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
      ...DEFAULT_LOCKOUT_LIMITS,
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
    createdByHandler = result.created;
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

  it("starts a new key's schedule after the KMS calls that created it, so no JWKS read older than the record is trusted", async () => {
    let ms = 1_900_000_000_400;
    const client = kmsClient(kms.endpoint);
    // Every KMS call takes 1.5 s of this clock: DescribeKey and GetKeyPolicy (the first key's policy),
    // CreateKey, CreateAlias and GetPublicKey before the write.
    const commands: string[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        ms += 1_500;
        commands.push(String(context.commandName));
        return next(args);
      },
      { step: 'initialize', name: 'slowKms' },
    );
    const db = documentClient(process.env.DYNAMODB_ENDPOINT!);
    const store = new DynamoSigningKeyStore(db, process.env.SIGNING_KEYS_TABLE!);
    const manager = new SigningKeyManager(client, store, {
      deployment: 'schedule-test',
      bootstrapKeyId: 'alias/ropc-token-service/scheduled',
      accessTokenTtl: 900,
      clock: () => ms,
    });
    try {
      const requestedAt = Math.floor(ms / 1000);
      const { created } = await manager.rotate(0);
      expect(created.createdAt).toBe(requestedAt);
      // 5 calls × 1.5 s = 7.5 s after the request, rounded up to 8, plus 1 s for the registry write.
      expect(created.signsFrom).toBe(requestedAt + 9);
      const retired = (await store.list()).filter((key) => key.retiredAt !== undefined && key.kid !== created.kid);
      expect(retired.some((key) => key.retiredAt === created.signsFrom)).toBe(true);
      // A bad propagation period is refused before any key is created.
      commands.length = 0;
      await expect(manager.rotate(-1)).rejects.toThrow(RangeError);
      expect(commands).not.toContain('CreateKeyCommand');
    } finally {
      db.destroy();
      client.destroy();
    }
  });

  it('schedules the KMS deletion of a revoked key on its next run, and never of the first key', async () => {
    const db = documentClient(process.env.DYNAMODB_ENDPOINT!);
    const store = new DynamoSigningKeyStore(db, process.env.SIGNING_KEYS_TABLE!);
    const client = kmsClient(kms.endpoint);
    try {
      const { KeyMetadata: first } = await client.send(
        new DescribeKeyCommand({ KeyId: 'alias/ropc-token-service/scheduled' }),
      );
      const rotated = (await store.list()).find((key) => key.kid === createdByHandler)!;
      expect(rotated.keyArn).not.toBe(first?.Arn);
      const now = Math.floor(Date.now() / 1000);
      await store.write([{ ...rotated, state: 'revoked', revokedAt: now, unpublishAfter: now }]);
      const result = await handler();
      expect(result.scheduledForDeletion).toEqual([rotated.kid]);
      const { KeyMetadata } = await client.send(new DescribeKeyCommand({ KeyId: rotated.keyArn }));
      expect(KeyMetadata?.KeyState).toBe('PendingDeletion');
      expect((await client.send(new DescribeKeyCommand({ KeyId: first!.Arn }))).KeyMetadata?.KeyState).toBe('Enabled');
    } finally {
      db.destroy();
      client.destroy();
    }
  });

  it('creates two keys in the same second, each under an alias of its own', async () => {
    const db = documentClient(process.env.DYNAMODB_ENDPOINT!);
    const client = kmsClient(kms.endpoint);
    const manager = new SigningKeyManager(client, new DynamoSigningKeyStore(db, process.env.SIGNING_KEYS_TABLE!), {
      deployment: 'same-second',
      bootstrapKeyId: 'alias/ropc-token-service/scheduled',
      accessTokenTtl: 900,
      clock: () => 1_950_000_000_000,
    });
    try {
      const first = await manager.rotate(3600);
      const second = await manager.rotate(3600);
      expect(second.created.kid).not.toBe(first.created.kid);
      const { Aliases } = await client.send(new ListAliasesCommand({}));
      const stamped = (Aliases ?? []).filter((alias) =>
        alias.AliasName?.startsWith('alias/ropc-token-service/scheduled-20311017T'),
      );
      expect(stamped.map((alias) => alias.TargetKeyId).sort()).toEqual(
        [first.created.keyArn, second.created.keyArn].map((arn) => arn.split('/').at(-1)).sort(),
      );
    } finally {
      db.destroy();
      client.destroy();
    }
  });

  it("gives every key it creates the first key's key policy, and refuses a policy that would leave a key unmanageable", async () => {
    const db = documentClient(process.env.DYNAMODB_ENDPOINT!);
    const client = kmsClient(kms.endpoint);
    const created: Record<string, unknown>[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'CreateKeyCommand') created.push(args.input as Record<string, unknown>);
        return next(args);
      },
      { step: 'initialize', name: 'createKeyInputs' },
    );
    const firstKey = async (alias: string, statements: object[]) => {
      const policy = JSON.stringify({ Version: '2012-10-17', Statement: statements });
      const { KeyMetadata } = await client.send(
        new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY', Policy: policy }),
      );
      await client.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: KeyMetadata!.KeyId }));
      return policy;
    };
    const root = { AWS: 'arn:aws:iam::000000000000:root' };
    const signer = { AWS: 'arn:aws:iam::000000000000:role/token' };
    const manager = (alias: string) =>
      new SigningKeyManager(client, new DynamoSigningKeyStore(db, process.env.SIGNING_KEYS_TABLE!), {
        deployment: 'policy-test',
        bootstrapKeyId: alias,
        accessTokenTtl: 900,
      });
    try {
      const policy = await firstKey('alias/ropc-token-service/policy-first', [
        {
          Sid: 'Admin',
          Effect: 'Allow',
          Principal: root,
          Action: ['kms:PutKeyPolicy', 'kms:DescribeKey'],
          Resource: '*',
        },
        { Sid: 'Sign', Effect: 'Allow', Principal: signer, Action: 'kms:Sign', Resource: '*' },
      ]);
      const { created: rotated } = await manager('alias/ropc-token-service/policy-first').rotate(3600);
      const { Policy } = await client.send(new GetKeyPolicyCommand({ KeyId: rotated.keyArn, PolicyName: 'default' }));
      expect(Policy).toBe(policy);
      expect(created.at(-1)).toMatchObject({ Policy: policy, BypassPolicyLockoutSafetyCheck: true });

      // Without a statement that lets the account's IAM policies decide PutKeyPolicy, no key is created.
      await firstKey('alias/ropc-token-service/policy-locked', [
        { Sid: 'Sign', Effect: 'Allow', Principal: signer, Action: ['kms:Sign', 'kms:PutKeyPolicy'], Resource: '*' },
      ]);
      const before = created.length;
      await expect(manager('alias/ropc-token-service/policy-locked').rotate(3600)).rejects.toThrow(
        /must let the account .* decide kms:PutKeyPolicy/,
      );
      expect(created.length).toBe(before);
    } finally {
      db.destroy();
      client.destroy();
    }
  });
});
