import { constants, createHash, createPublicKey, type KeyObject, verify as nodeVerify, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  DisabledException,
  DisableKeyCommand,
  EnableKeyCommand,
  GetKeyPolicyCommand,
  GetPublicKeyCommand,
  type KeyMetadata,
  KMSClient,
  KMSInvalidStateException,
  ListAliasesCommand,
  ListResourceTagsCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
  type SigningAlgorithmSpec,
  TagResourceCommand,
  UpdateAliasCommand,
  VerifyCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KmsEmulator, startKmsEmulator } from '../../local/kms-emulator';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

function kmsClient(emulator: KmsEmulator, region = 'us-east-1'): KMSClient {
  return new KMSClient({
    endpoint: emulator.endpoint,
    region,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    maxAttempts: 1,
  });
}

type SdkError = Error & { $metadata?: { httpStatusCode?: number }; $fault?: string };

/** The error a call rejects with; fails the test when it resolves. */
async function failure(call: Promise<unknown>): Promise<SdkError> {
  try {
    await call;
  } catch (err) {
    return err as SdkError;
  }
  throw new Error('expected the KMS call to fail');
}

async function expectKmsError(call: Promise<unknown>, name: string, status = 400): Promise<SdkError> {
  const err = await failure(call);
  expect(err.name).toBe(name);
  expect(err.$metadata?.httpStatusCode).toBe(status);
  return err;
}

const spki = (der: Uint8Array | undefined): KeyObject =>
  createPublicKey({ key: Buffer.from(der ?? new Uint8Array()), format: 'der', type: 'spki' });

const RSA_ALGORITHMS = [
  'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512',
  'RSASSA_PSS_SHA_256',
  'RSASSA_PSS_SHA_384',
  'RSASSA_PSS_SHA_512',
] as const satisfies readonly SigningAlgorithmSpec[];

function hashOf(algorithm: SigningAlgorithmSpec): 'sha256' | 'sha384' | 'sha512' {
  if (algorithm.endsWith('_512')) return 'sha512';
  if (algorithm.endsWith('_384')) return 'sha384';
  return 'sha256';
}

const digestOf = (algorithm: SigningAlgorithmSpec, message: Uint8Array) =>
  createHash(hashOf(algorithm)).update(message).digest();

/** Independent check with node:crypto over the RAW message; PSS salt length must equal the digest length. */
function nodeVerifies(
  publicKey: KeyObject,
  algorithm: SigningAlgorithmSpec,
  message: Uint8Array,
  signature: Uint8Array | undefined,
): boolean {
  const hash = hashOf(algorithm);
  const sig = Buffer.from(signature ?? new Uint8Array());
  if (algorithm.startsWith('ECDSA')) return nodeVerify(hash, message, { key: publicKey, dsaEncoding: 'der' }, sig);
  if (algorithm.startsWith('RSASSA_PSS')) {
    const saltLength = createHash(hash).digest().length;
    return nodeVerify(hash, message, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength }, sig);
  }
  return nodeVerify(hash, message, { key: publicKey, padding: constants.RSA_PKCS1_PADDING }, sig);
}

/** A raw KMS request, bypassing the SDK, to check the wire format and input validation. */
async function rawRequest(
  emulator: KmsEmulator,
  target: string | undefined,
  body: string,
  path = '/',
  method = 'POST',
) {
  const headers: Record<string, string> = { 'content-type': 'application/x-amz-json-1.1' };
  if (target !== undefined) headers['x-amz-target'] = target;
  const response = await fetch(`${emulator.endpoint}${path}`, {
    method,
    headers,
    ...(method === 'GET' ? {} : { body }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

async function controlRequest(emulator: KmsEmulator, method: 'POST' | 'DELETE' | 'GET', body?: string) {
  const response = await fetch(`${emulator.endpoint}/_emulator/faults`, {
    method,
    ...(body === undefined ? {} : { body }),
  });
  return {
    status: response.status,
    body: (await response.json()) as { Faults?: unknown[]; __type?: string; message?: string },
  };
}

async function createSigningKey(
  kms: KMSClient,
  keySpec: 'RSA_2048' | 'ECC_NIST_P256',
  extra: { Description?: string } = {},
): Promise<KeyMetadata> {
  const { KeyMetadata: metadata } = await kms.send(
    new CreateKeyCommand({ KeySpec: keySpec, KeyUsage: 'SIGN_VERIFY', ...extra }),
  );
  if (!metadata?.KeyId) throw new Error('CreateKey returned no KeyMetadata');
  return metadata;
}

const message = Buffer.from('header.payload of a JWT, signed by the token service');

// ---------------------------------------------------------------------------------------------
// In-memory emulator
// ---------------------------------------------------------------------------------------------

describe('KMS emulator', () => {
  let emulator: KmsEmulator;
  let kms: KMSClient;
  let rsaKey: KeyMetadata;
  let ecKey: KeyMetadata;
  let rsaPublicKey: KeyObject;
  let ecPublicKey: KeyObject;

  beforeAll(async () => {
    emulator = await startKmsEmulator();
    kms = kmsClient(emulator);
    [rsaKey, ecKey] = await Promise.all([createSigningKey(kms, 'RSA_2048'), createSigningKey(kms, 'ECC_NIST_P256')]);
    const [rsaPublic, ecPublic] = await Promise.all([
      kms.send(new GetPublicKeyCommand({ KeyId: rsaKey.KeyId })),
      kms.send(new GetPublicKeyCommand({ KeyId: ecKey.KeyId })),
    ]);
    rsaPublicKey = spki(rsaPublic.PublicKey);
    ecPublicKey = spki(ecPublic.PublicKey);
  });

  afterAll(async () => {
    kms?.destroy();
    await emulator?.stop();
  });

  describe('startKmsEmulator', () => {
    it('listens on loopback with the default region and account', () => {
      expect(emulator.endpoint).toBe(`http://127.0.0.1:${emulator.port}`);
      expect(emulator.port).toBeGreaterThan(0);
      expect(emulator.region).toBe('us-east-1');
      expect(emulator.accountId).toBe('000000000000');
    });

    it('uses the configured region and account in ARNs, whatever region the client says', async () => {
      const other = await startKmsEmulator({ region: 'eu-west-3', accountId: '123456789012' });
      const client = kmsClient(other, 'ap-southeast-2');
      try {
        const key = await createSigningKey(client, 'ECC_NIST_P256');
        expect(key.AWSAccountId).toBe('123456789012');
        expect(key.Arn).toBe(`arn:aws:kms:eu-west-3:123456789012:key/${key.KeyId}`);
      } finally {
        client.destroy();
        await other.stop();
      }
    });
  });

  describe('CreateKey and DescribeKey', () => {
    it('creates an RSA_2048 signing key with KMS-shaped metadata', async () => {
      const before = Date.now();
      const key = await createSigningKey(kms, 'RSA_2048', { Description: 'token signing' });
      expect(key.KeyId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(key).toMatchObject({
        AWSAccountId: '000000000000',
        Arn: `arn:aws:kms:us-east-1:000000000000:key/${key.KeyId}`,
        Enabled: true,
        Description: 'token signing',
        KeyUsage: 'SIGN_VERIFY',
        KeyState: 'Enabled',
        Origin: 'AWS_KMS',
        KeyManager: 'CUSTOMER',
        KeySpec: 'RSA_2048',
        CustomerMasterKeySpec: 'RSA_2048',
        MultiRegion: false,
      });
      expect([...(key.SigningAlgorithms ?? [])].sort()).toEqual([...RSA_ALGORITHMS].sort());
      expect(key.CreationDate).toBeInstanceOf(Date);
      expect(key.CreationDate!.getTime()).toBeGreaterThanOrEqual(before - 1000);
      expect(key.CreationDate!.getTime()).toBeLessThanOrEqual(Date.now() + 1000);

      const { KeyMetadata: described } = await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }));
      expect(described).toEqual(key);
    });

    it('creates an ECC_NIST_P256 signing key', async () => {
      expect(ecKey).toMatchObject({
        KeySpec: 'ECC_NIST_P256',
        KeyUsage: 'SIGN_VERIFY',
        SigningAlgorithms: ['ECDSA_SHA_256'],
        Description: '',
      });
      const { KeyMetadata: byArn } = await kms.send(new DescribeKeyCommand({ KeyId: ecKey.Arn }));
      expect(byArn?.KeyId).toBe(ecKey.KeyId);
    });

    it('gives every key its own id', () => {
      expect(rsaKey.KeyId).not.toBe(ecKey.KeyId);
    });

    it('rejects what it cannot create, the way KMS does', async () => {
      const err = await expectKmsError(
        kms.send(new CreateKeyCommand({ KeySpec: 'RSA_3072', KeyUsage: 'SIGN_VERIFY' })),
        'UnsupportedOperationException',
      );
      expect(err.message).toContain('RSA_3072');
      // HMAC keys exist in KMS, but not here.
      await expectKmsError(
        kms.send(new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' })),
        'UnsupportedOperationException',
      );
      // RSA may encrypt in KMS, but not here.
      await expectKmsError(
        kms.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' })),
        'UnsupportedOperationException',
      );
      // ECC keys cannot encrypt, in KMS either: KeyUsage defaults to ENCRYPT_DECRYPT.
      await expectKmsError(kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256' })), 'ValidationException');
      await expectKmsError(
        kms.send(new CreateKeyCommand({ KeySpec: 'RSA_1024' as 'RSA_2048', KeyUsage: 'SIGN_VERIFY' })),
        'ValidationException',
      );
      await expectKmsError(
        kms.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY', Origin: 'EXTERNAL' })),
        'UnsupportedOperationException',
      );
    });

    it('accepts the deprecated CustomerMasterKeySpec', async () => {
      const { KeyMetadata: key } = await kms.send(
        new CreateKeyCommand({ CustomerMasterKeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }),
      );
      expect(key?.KeySpec).toBe('ECC_NIST_P256');
    });
  });

  describe('GetPublicKey', () => {
    it('returns the RSA public key as DER SubjectPublicKeyInfo', async () => {
      const response = await kms.send(new GetPublicKeyCommand({ KeyId: rsaKey.KeyId }));
      expect(response).toMatchObject({
        KeyId: rsaKey.Arn,
        KeySpec: 'RSA_2048',
        CustomerMasterKeySpec: 'RSA_2048',
        KeyUsage: 'SIGN_VERIFY',
      });
      expect([...(response.SigningAlgorithms ?? [])].sort()).toEqual([...RSA_ALGORITHMS].sort());
      const key = spki(response.PublicKey);
      expect(key.asymmetricKeyType).toBe('rsa');
      expect(key.asymmetricKeyDetails).toMatchObject({ modulusLength: 2048, publicExponent: 65537n });
      // The value is plain DER: re-encoding gives the same bytes.
      expect(Buffer.from(response.PublicKey!)).toEqual(key.export({ format: 'der', type: 'spki' }));
    });

    it('returns the P-256 public key as DER SubjectPublicKeyInfo', async () => {
      const response = await kms.send(new GetPublicKeyCommand({ KeyId: ecKey.Arn }));
      expect(response).toMatchObject({
        KeyId: ecKey.Arn,
        KeySpec: 'ECC_NIST_P256',
        KeyUsage: 'SIGN_VERIFY',
        SigningAlgorithms: ['ECDSA_SHA_256'],
      });
      expect(ecPublicKey.asymmetricKeyType).toBe('ec');
      expect(ecPublicKey.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    });
  });

  describe('Sign', () => {
    it.each(RSA_ALGORITHMS)('signs with %s, RAW and DIGEST, verifiable with node:crypto', async (algorithm) => {
      const raw = await kms.send(
        new SignCommand({ KeyId: rsaKey.KeyId, Message: message, SigningAlgorithm: algorithm }),
      );
      const digest = await kms.send(
        new SignCommand({
          KeyId: rsaKey.KeyId,
          Message: digestOf(algorithm, message),
          MessageType: 'DIGEST',
          SigningAlgorithm: algorithm,
        }),
      );
      for (const response of [raw, digest]) {
        expect(response.KeyId).toBe(rsaKey.Arn);
        expect(response.SigningAlgorithm).toBe(algorithm);
        expect(response.Signature).toHaveLength(256);
        expect(nodeVerifies(rsaPublicKey, algorithm, message, response.Signature)).toBe(true);
        expect(nodeVerifies(rsaPublicKey, algorithm, Buffer.from('another message'), response.Signature)).toBe(false);
      }
      if (algorithm.startsWith('RSASSA_PKCS1')) {
        // PKCS#1 v1.5 is deterministic: hashing here or in the emulator gives the same signature.
        expect(Buffer.from(digest.Signature!)).toEqual(Buffer.from(raw.Signature!));
      } else {
        // PSS uses a random salt.
        expect(Buffer.from(digest.Signature!)).not.toEqual(Buffer.from(raw.Signature!));
      }
    });

    it('signs with ECDSA_SHA_256, RAW and DIGEST, DER-encoded', async () => {
      const raw = await kms.send(
        new SignCommand({ KeyId: ecKey.KeyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }),
      );
      const digest = await kms.send(
        new SignCommand({
          KeyId: ecKey.KeyId,
          Message: digestOf('ECDSA_SHA_256', message),
          MessageType: 'DIGEST',
          SigningAlgorithm: 'ECDSA_SHA_256',
        }),
      );
      for (const response of [raw, digest]) {
        expect(response).toMatchObject({ KeyId: ecKey.Arn, SigningAlgorithm: 'ECDSA_SHA_256' });
        const signature = Buffer.from(response.Signature!);
        // SEQUENCE { INTEGER r, INTEGER s }
        expect(signature[0]).toBe(0x30);
        expect(signature[1]).toBe(signature.length - 2);
        expect(signature.length).toBeGreaterThanOrEqual(8);
        expect(signature.length).toBeLessThanOrEqual(72);
        expect(nodeVerifies(ecPublicKey, 'ECDSA_SHA_256', message, signature)).toBe(true);
        expect(nodeVerifies(ecPublicKey, 'ECDSA_SHA_256', Buffer.from('tampered'), signature)).toBe(false);
      }
    });

    it('produces valid ECDSA signatures repeatedly (random nonces, r and s of any length)', async () => {
      const signatures = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          kms.send(
            new SignCommand({
              KeyId: ecKey.KeyId,
              Message: Buffer.from(`message ${i}`),
              SigningAlgorithm: 'ECDSA_SHA_256',
            }),
          ),
        ),
      );
      signatures.forEach((response, i) => {
        expect(nodeVerifies(ecPublicKey, 'ECDSA_SHA_256', Buffer.from(`message ${i}`), response.Signature)).toBe(true);
      });
      expect(new Set(signatures.map((response) => Buffer.from(response.Signature!).toString('hex'))).size).toBe(20);
    });

    it('accepts RAW messages up to 4096 bytes and rejects longer or empty ones', async () => {
      const largest = Buffer.alloc(4096, 7);
      const ok = await kms.send(
        new SignCommand({ KeyId: rsaKey.KeyId, Message: largest, SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' }),
      );
      expect(nodeVerifies(rsaPublicKey, 'RSASSA_PKCS1_V1_5_SHA_256', largest, ok.Signature)).toBe(true);

      const tooLong = await expectKmsError(
        kms.send(
          new SignCommand({
            KeyId: rsaKey.KeyId,
            Message: Buffer.alloc(4097, 7),
            SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256',
          }),
        ),
        'ValidationException',
      );
      expect(tooLong.message).toContain('4096');
      await expectKmsError(
        kms.send(
          new SignCommand({
            KeyId: rsaKey.KeyId,
            Message: new Uint8Array(),
            SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256',
          }),
        ),
        'ValidationException',
      );
    });

    it('rejects a DIGEST whose length does not match the algorithm', async () => {
      const cases: [KeyMetadata, SigningAlgorithmSpec, number][] = [
        [rsaKey, 'RSASSA_PKCS1_V1_5_SHA_256', 31],
        [rsaKey, 'RSASSA_PSS_SHA_384', 32],
        [rsaKey, 'RSASSA_PKCS1_V1_5_SHA_512', 48],
        [ecKey, 'ECDSA_SHA_256', 64],
      ];
      for (const [key, algorithm, length] of cases) {
        const err = await expectKmsError(
          kms.send(
            new SignCommand({
              KeyId: key.KeyId,
              Message: Buffer.alloc(length, 1),
              MessageType: 'DIGEST',
              SigningAlgorithm: algorithm,
            }),
          ),
          'ValidationException',
        );
        expect(err.message).toContain(algorithm);
      }
    });

    it('rejects an algorithm that does not fit the key', async () => {
      await expectKmsError(
        kms.send(new SignCommand({ KeyId: rsaKey.KeyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' })),
        'InvalidKeyUsageException',
      );
      await expectKmsError(
        kms.send(new SignCommand({ KeyId: ecKey.KeyId, Message: message, SigningAlgorithm: 'RSASSA_PSS_SHA_256' })),
        'InvalidKeyUsageException',
      );
      await expectKmsError(
        kms.send(new SignCommand({ KeyId: ecKey.KeyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_384' })),
        'InvalidKeyUsageException',
      );
      const bogus = await expectKmsError(
        kms.send(
          new SignCommand({ KeyId: ecKey.KeyId, Message: message, SigningAlgorithm: 'HS256' as SigningAlgorithmSpec }),
        ),
        'ValidationException',
      );
      expect(bogus.message).toContain("at 'signingAlgorithm'");
    });
  });

  describe('Verify', () => {
    it.each([...RSA_ALGORITHMS, 'ECDSA_SHA_256'] as const)(
      'accepts valid %s signatures in RAW and DIGEST mode',
      async (algorithm) => {
        const key = algorithm === 'ECDSA_SHA_256' ? ecKey : rsaKey;
        const { Signature } = await kms.send(
          new SignCommand({ KeyId: key.KeyId, Message: message, SigningAlgorithm: algorithm }),
        );
        const raw = await kms.send(
          new VerifyCommand({ KeyId: key.KeyId, Message: message, Signature, SigningAlgorithm: algorithm }),
        );
        expect(raw).toMatchObject({ KeyId: key.Arn, SignatureValid: true, SigningAlgorithm: algorithm });
        const digest = await kms.send(
          new VerifyCommand({
            KeyId: key.Arn,
            Message: digestOf(algorithm, message),
            MessageType: 'DIGEST',
            Signature,
            SigningAlgorithm: algorithm,
          }),
        );
        expect(digest.SignatureValid).toBe(true);
      },
    );

    it('throws KMSInvalidSignatureException for a tampered message or signature', async () => {
      for (const [key, algorithm] of [
        [rsaKey, 'RSASSA_PSS_SHA_256'],
        [rsaKey, 'RSASSA_PKCS1_V1_5_SHA_256'],
        [ecKey, 'ECDSA_SHA_256'],
      ] as const) {
        const { Signature } = await kms.send(
          new SignCommand({ KeyId: key.KeyId, Message: message, SigningAlgorithm: algorithm }),
        );
        const tampered = Buffer.from(Signature!);
        tampered[tampered.length - 1] = (tampered.at(-1) ?? 0) ^ 1;
        await expectKmsError(
          kms.send(
            new VerifyCommand({
              KeyId: key.KeyId,
              Message: Buffer.from('other'),
              Signature,
              SigningAlgorithm: algorithm,
            }),
          ),
          'KMSInvalidSignatureException',
        );
        await expectKmsError(
          kms.send(
            new VerifyCommand({ KeyId: key.KeyId, Message: message, Signature: tampered, SigningAlgorithm: algorithm }),
          ),
          'KMSInvalidSignatureException',
        );
      }
    });

    it('rejects a signature made with another algorithm, another key, or garbage', async () => {
      const { Signature: pss } = await kms.send(
        new SignCommand({ KeyId: rsaKey.KeyId, Message: message, SigningAlgorithm: 'RSASSA_PSS_SHA_256' }),
      );
      await expectKmsError(
        kms.send(
          new VerifyCommand({
            KeyId: rsaKey.KeyId,
            Message: message,
            Signature: pss,
            SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256',
          }),
        ),
        'KMSInvalidSignatureException',
      );
      const otherKey = await createSigningKey(kms, 'ECC_NIST_P256');
      const { Signature: foreign } = await kms.send(
        new SignCommand({ KeyId: otherKey.KeyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }),
      );
      await expectKmsError(
        kms.send(
          new VerifyCommand({
            KeyId: ecKey.KeyId,
            Message: message,
            Signature: foreign,
            SigningAlgorithm: 'ECDSA_SHA_256',
          }),
        ),
        'KMSInvalidSignatureException',
      );
      for (const garbage of [Buffer.from('not a signature'), Buffer.alloc(64, 0xff), Buffer.from([0x30, 0x00])]) {
        await expectKmsError(
          kms.send(
            new VerifyCommand({
              KeyId: ecKey.KeyId,
              Message: message,
              Signature: garbage,
              SigningAlgorithm: 'ECDSA_SHA_256',
            }),
          ),
          'KMSInvalidSignatureException',
        );
        await expectKmsError(
          kms.send(
            new VerifyCommand({
              KeyId: rsaKey.KeyId,
              Message: message,
              Signature: garbage,
              SigningAlgorithm: 'RSASSA_PSS_SHA_512',
            }),
          ),
          'KMSInvalidSignatureException',
        );
      }
    });
  });

  describe('aliases', () => {
    it('creates, lists, resolves, updates and deletes an alias', async () => {
      const otherKey = await createSigningKey(kms, 'ECC_NIST_P256');
      const aliasName = `alias/token-signing-${randomUUID()}`;
      const aliasArn = `arn:aws:kms:us-east-1:000000000000:${aliasName}`;
      await kms.send(new CreateAliasCommand({ AliasName: aliasName, TargetKeyId: ecKey.KeyId }));

      const { Aliases, Truncated } = await kms.send(new ListAliasesCommand({ KeyId: ecKey.KeyId }));
      expect(Truncated).toBe(false);
      expect(Aliases).toHaveLength(1);
      expect(Aliases?.[0]).toMatchObject({ AliasName: aliasName, AliasArn: aliasArn, TargetKeyId: ecKey.KeyId });
      expect(Aliases?.[0]?.CreationDate).toBeInstanceOf(Date);
      expect(Aliases?.[0]?.LastUpdatedDate).toBeInstanceOf(Date);

      // Sign, Verify, DescribeKey and GetPublicKey take the alias name or the alias ARN.
      for (const keyId of [aliasName, aliasArn]) {
        const signed = await kms.send(
          new SignCommand({ KeyId: keyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }),
        );
        expect(signed.KeyId).toBe(ecKey.Arn);
        expect(nodeVerifies(ecPublicKey, 'ECDSA_SHA_256', message, signed.Signature)).toBe(true);
        const verified = await kms.send(
          new VerifyCommand({
            KeyId: keyId,
            Message: message,
            Signature: signed.Signature,
            SigningAlgorithm: 'ECDSA_SHA_256',
          }),
        );
        expect(verified.SignatureValid).toBe(true);
        expect((await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyId).toBe(ecKey.KeyId);
        expect((await kms.send(new GetPublicKeyCommand({ KeyId: keyId }))).KeyId).toBe(ecKey.Arn);
      }

      await kms.send(new UpdateAliasCommand({ AliasName: aliasName, TargetKeyId: otherKey.Arn }));
      const moved = await kms.send(
        new SignCommand({ KeyId: aliasName, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }),
      );
      expect(moved.KeyId).toBe(otherKey.Arn);
      expect((await kms.send(new ListAliasesCommand({ KeyId: ecKey.KeyId }))).Aliases).toEqual([]);
      const [entry] = (await kms.send(new ListAliasesCommand({ KeyId: otherKey.Arn }))).Aliases ?? [];
      expect(entry).toMatchObject({ AliasName: aliasName, TargetKeyId: otherKey.KeyId });
      expect(entry!.LastUpdatedDate!.getTime()).toBeGreaterThanOrEqual(entry!.CreationDate!.getTime());

      await kms.send(new DeleteAliasCommand({ AliasName: aliasName }));
      await expectKmsError(
        kms.send(new SignCommand({ KeyId: aliasName, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' })),
        'NotFoundException',
      );
      const all = await kms.send(new ListAliasesCommand({}));
      expect(all.Aliases?.map((alias) => alias.AliasName)).not.toContain(aliasName);
    });

    it('rejects duplicate, missing and badly named aliases', async () => {
      const aliasName = `alias/dup-${randomUUID()}`;
      await kms.send(new CreateAliasCommand({ AliasName: aliasName, TargetKeyId: rsaKey.KeyId }));
      await expectKmsError(
        kms.send(new CreateAliasCommand({ AliasName: aliasName, TargetKeyId: ecKey.KeyId })),
        'AlreadyExistsException',
      );
      await expectKmsError(
        kms.send(new UpdateAliasCommand({ AliasName: 'alias/never-created', TargetKeyId: rsaKey.KeyId })),
        'NotFoundException',
      );
      await expectKmsError(kms.send(new DeleteAliasCommand({ AliasName: 'alias/never-created' })), 'NotFoundException');
      await expectKmsError(
        kms.send(new CreateAliasCommand({ AliasName: 'no-prefix', TargetKeyId: rsaKey.KeyId })),
        'InvalidAliasNameException',
      );
      await expectKmsError(
        kms.send(new CreateAliasCommand({ AliasName: 'alias/aws/reserved', TargetKeyId: rsaKey.KeyId })),
        'InvalidAliasNameException',
      );
      await expectKmsError(
        kms.send(new CreateAliasCommand({ AliasName: 'alias/white space', TargetKeyId: rsaKey.KeyId })),
        'ValidationException',
      );
      await expectKmsError(
        kms.send(new CreateAliasCommand({ AliasName: `alias/${'x'.repeat(251)}`, TargetKeyId: rsaKey.KeyId })),
        'ValidationException',
      );
      // Aliases point at keys, never at other aliases.
      await expectKmsError(
        kms.send(new CreateAliasCommand({ AliasName: `alias/chained-${randomUUID()}`, TargetKeyId: aliasName })),
        'NotFoundException',
      );
      await expectKmsError(
        kms.send(new CreateAliasCommand({ AliasName: `alias/orphan-${randomUUID()}`, TargetKeyId: randomUUID() })),
        'NotFoundException',
      );
      // The first alias is untouched by the failed attempts.
      expect((await kms.send(new DescribeKeyCommand({ KeyId: aliasName }))).KeyMetadata?.KeyId).toBe(rsaKey.KeyId);
    });

    it('pages through ListAliases with Limit and Marker', async () => {
      const key = await createSigningKey(kms, 'ECC_NIST_P256');
      const names = ['alias/page-a', 'alias/page-b', 'alias/page-c'].map((name) => `${name}-${key.KeyId}`);
      for (const name of names) await kms.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: key.KeyId }));
      const first = await kms.send(new ListAliasesCommand({ KeyId: key.KeyId, Limit: 2 }));
      expect(first.Aliases?.map((alias) => alias.AliasName)).toEqual(names.slice(0, 2));
      expect(first.Truncated).toBe(true);
      expect(first.NextMarker).toEqual(expect.any(String));
      const second = await kms.send(new ListAliasesCommand({ KeyId: key.KeyId, Limit: 2, Marker: first.NextMarker }));
      expect(second.Aliases?.map((alias) => alias.AliasName)).toEqual(names.slice(2));
      expect(second.Truncated).toBe(false);
      expect(second.NextMarker).toBeUndefined();
      await expectKmsError(kms.send(new ListAliasesCommand({ Marker: 'not-a-marker' })), 'InvalidMarkerException');
      await expectKmsError(kms.send(new ListAliasesCommand({ Limit: 101 })), 'ValidationException');
    });
  });

  describe('key states', () => {
    it('DisableKey makes signing fail with DisabledException and EnableKey restores it', async () => {
      const key = await createSigningKey(kms, 'ECC_NIST_P256');
      const { Signature } = await kms.send(
        new SignCommand({ KeyId: key.KeyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }),
      );
      await kms.send(new DisableKeyCommand({ KeyId: key.KeyId }));

      const { KeyMetadata: disabled } = await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }));
      expect(disabled).toMatchObject({ Enabled: false, KeyState: 'Disabled' });
      const err = await expectKmsError(
        kms.send(new SignCommand({ KeyId: key.KeyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' })),
        'DisabledException',
      );
      expect(err.message).toContain(key.Arn);
      await expectKmsError(
        kms.send(
          new VerifyCommand({ KeyId: key.KeyId, Message: message, Signature, SigningAlgorithm: 'ECDSA_SHA_256' }),
        ),
        'DisabledException',
      );
      await expectKmsError(kms.send(new GetPublicKeyCommand({ KeyId: key.KeyId })), 'DisabledException');
      // Disabling twice is fine, as in KMS.
      await kms.send(new DisableKeyCommand({ KeyId: key.Arn }));

      await kms.send(new EnableKeyCommand({ KeyId: key.Arn }));
      expect((await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata).toMatchObject({
        Enabled: true,
        KeyState: 'Enabled',
      });
      const signed = await kms.send(
        new SignCommand({ KeyId: key.KeyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }),
      );
      const publicKey = spki((await kms.send(new GetPublicKeyCommand({ KeyId: key.KeyId }))).PublicKey);
      expect(nodeVerifies(publicKey, 'ECDSA_SHA_256', message, signed.Signature)).toBe(true);
    });

    it('ScheduleKeyDeletion puts the key in PendingDeletion, where it cannot be used', async () => {
      const key = await createSigningKey(kms, 'RSA_2048');
      await expectKmsError(
        kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 6 })),
        'ValidationException',
      );
      await expectKmsError(
        kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 31 })),
        'ValidationException',
      );

      const before = Date.now();
      const scheduled = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId }));
      expect(scheduled).toMatchObject({ KeyId: key.Arn, KeyState: 'PendingDeletion', PendingWindowInDays: 30 });
      const thirtyDays = 30 * 24 * 60 * 60 * 1000;
      expect(scheduled.DeletionDate!.getTime()).toBeGreaterThanOrEqual(before + thirtyDays - 1000);
      expect(scheduled.DeletionDate!.getTime()).toBeLessThanOrEqual(Date.now() + thirtyDays + 1000);

      const { KeyMetadata: described } = await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }));
      expect(described).toMatchObject({ Enabled: false, KeyState: 'PendingDeletion', PendingDeletionWindowInDays: 30 });
      expect(described?.DeletionDate?.getTime()).toBe(scheduled.DeletionDate?.getTime());

      const err = await expectKmsError(
        kms.send(new SignCommand({ KeyId: key.KeyId, Message: message, SigningAlgorithm: 'RSASSA_PSS_SHA_256' })),
        'KMSInvalidStateException',
      );
      expect(err.message).toContain('pending deletion');
      await expectKmsError(kms.send(new GetPublicKeyCommand({ KeyId: key.KeyId })), 'KMSInvalidStateException');
      await expectKmsError(kms.send(new EnableKeyCommand({ KeyId: key.KeyId })), 'KMSInvalidStateException');
      await expectKmsError(kms.send(new DisableKeyCommand({ KeyId: key.KeyId })), 'KMSInvalidStateException');
      await expectKmsError(kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId })), 'KMSInvalidStateException');
      await expectKmsError(
        kms.send(new TagResourceCommand({ KeyId: key.KeyId, Tags: [{ TagKey: 'a', TagValue: 'b' }] })),
        'KMSInvalidStateException',
      );
      await expectKmsError(
        kms.send(new CreateAliasCommand({ AliasName: `alias/late-${key.KeyId}`, TargetKeyId: key.KeyId })),
        'KMSInvalidStateException',
      );
    });

    it('refuses a disabled, then deleted, RSA key the way KMS does, on the wire and through the SDK', async () => {
      const key = await createSigningKey(kms, 'RSA_2048');
      const digest = createHash('sha256').update(message).digest();
      const signCommand = () =>
        new SignCommand({
          KeyId: key.Arn,
          Message: digest,
          MessageType: 'DIGEST',
          SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256',
        });
      const rawSign = () =>
        rawRequest(
          emulator,
          'TrentService.Sign',
          JSON.stringify({
            KeyId: key.Arn,
            Message: digest.toString('base64'),
            MessageType: 'DIGEST',
            SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256',
          }),
        );
      await kms.send(signCommand());

      // DisableKey answers an empty body, and a key already disabled stays so without an error.
      expect((await rawRequest(emulator, 'TrentService.DisableKey', JSON.stringify({ KeyId: key.Arn }))).body).toEqual(
        {},
      );
      await kms.send(new DisableKeyCommand({ KeyId: key.KeyId }));
      const disabled = await rawSign();
      expect(disabled.status).toBe(400);
      expect(disabled.headers.get('x-amzn-errortype')).toBe('DisabledException');
      expect(disabled.body).toEqual({ __type: 'DisabledException', message: `${key.Arn} is disabled.` });
      const refused = await failure(kms.send(signCommand()));
      expect(refused).toBeInstanceOf(DisabledException);
      expect(refused.$metadata?.httpStatusCode).toBe(400);
      expect(refused.$fault).toBe('client');
      await expectKmsError(kms.send(new GetPublicKeyCommand({ KeyId: key.Arn })), 'DisabledException');
      // DescribeKey answers in every state.
      expect((await kms.send(new DescribeKeyCommand({ KeyId: key.Arn }))).KeyMetadata).toMatchObject({
        Enabled: false,
        KeyState: 'Disabled',
      });

      // A disabled key can be scheduled for deletion (what the sweep after a revocation does).
      await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.Arn, PendingWindowInDays: 30 }));
      const pending = await rawSign();
      expect(pending.status).toBe(400);
      expect(pending.body).toEqual({ __type: 'KMSInvalidStateException', message: `${key.Arn} is pending deletion.` });
      expect(await failure(kms.send(signCommand()))).toBeInstanceOf(KMSInvalidStateException);
      expect(await failure(kms.send(new DisableKeyCommand({ KeyId: key.Arn })))).toBeInstanceOf(
        KMSInvalidStateException,
      );
      await expectKmsError(kms.send(new GetPublicKeyCommand({ KeyId: key.Arn })), 'KMSInvalidStateException');
    });

    it('honours a custom PendingWindowInDays', async () => {
      const key = await createSigningKey(kms, 'ECC_NIST_P256');
      const scheduled = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.Arn, PendingWindowInDays: 7 }));
      expect(scheduled.PendingWindowInDays).toBe(7);
      const days = (scheduled.DeletionDate!.getTime() - Date.now()) / (24 * 60 * 60 * 1000);
      expect(days).toBeGreaterThan(6.99);
      expect(days).toBeLessThanOrEqual(7);
    });

    it('management operations take a key ID or key ARN, not an alias (as in KMS)', async () => {
      const key = await createSigningKey(kms, 'ECC_NIST_P256');
      const aliasName = `alias/managed-${key.KeyId}`;
      await kms.send(new CreateAliasCommand({ AliasName: aliasName, TargetKeyId: key.KeyId }));
      await expectKmsError(kms.send(new DisableKeyCommand({ KeyId: aliasName })), 'NotFoundException');
      await expectKmsError(kms.send(new ScheduleKeyDeletionCommand({ KeyId: aliasName })), 'NotFoundException');
      await expectKmsError(kms.send(new ListResourceTagsCommand({ KeyId: aliasName })), 'NotFoundException');
      expect((await kms.send(new DescribeKeyCommand({ KeyId: aliasName }))).KeyMetadata?.KeyState).toBe('Enabled');
    });
  });

  describe('unknown keys', () => {
    it('answers NotFoundException for unknown key ids, ARNs and aliases', async () => {
      const unknownId = randomUUID();
      const identifiers = [
        unknownId,
        `arn:aws:kms:us-east-1:000000000000:key/${unknownId}`,
        // An existing key, but addressed in another region or account.
        `arn:aws:kms:eu-west-1:000000000000:key/${rsaKey.KeyId}`,
        `arn:aws:kms:us-east-1:111122223333:key/${rsaKey.KeyId}`,
        'alias/does-not-exist',
        'arn:aws:kms:us-east-1:000000000000:alias/does-not-exist',
        'not-a-key-id',
      ];
      for (const keyId of identifiers) {
        await expectKmsError(kms.send(new DescribeKeyCommand({ KeyId: keyId })), 'NotFoundException');
        await expectKmsError(
          kms.send(new SignCommand({ KeyId: keyId, Message: message, SigningAlgorithm: 'RSASSA_PSS_SHA_256' })),
          'NotFoundException',
        );
      }
      const err = await expectKmsError(kms.send(new GetPublicKeyCommand({ KeyId: unknownId })), 'NotFoundException');
      expect(err.message).toBe(`Key 'arn:aws:kms:us-east-1:000000000000:key/${unknownId}' does not exist`);
      await expectKmsError(kms.send(new EnableKeyCommand({ KeyId: unknownId })), 'NotFoundException');
      await expectKmsError(kms.send(new ListAliasesCommand({ KeyId: unknownId })), 'NotFoundException');
      await expectKmsError(
        kms.send(new TagResourceCommand({ KeyId: unknownId, Tags: [{ TagKey: 'a', TagValue: 'b' }] })),
        'NotFoundException',
      );
    });
  });

  describe('key policies', () => {
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'Admin',
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::000000000000:root' },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    });

    it("keeps the policy CreateKey was given and answers it with GetKeyPolicy, KMS's default policy otherwise", async () => {
      const { KeyMetadata: given } = await kms.send(
        new CreateKeyCommand({
          KeySpec: 'RSA_2048',
          KeyUsage: 'SIGN_VERIFY',
          Policy: policy,
          BypassPolicyLockoutSafetyCheck: true,
        }),
      );
      expect(await kms.send(new GetKeyPolicyCommand({ KeyId: given!.Arn, PolicyName: 'default' }))).toMatchObject({
        Policy: policy,
        PolicyName: 'default',
      });
      const plain = await createSigningKey(kms, 'RSA_2048');
      const { Policy } = await kms.send(new GetKeyPolicyCommand({ KeyId: plain.KeyId }));
      expect(JSON.parse(Policy!)).toMatchObject({
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: `arn:aws:iam::${emulator.accountId}:root` },
            Action: 'kms:*',
            Resource: '*',
          },
        ],
      });
      // Like KMS: a key id or ARN, not an alias; the only policy name is "default".
      await kms.send(new CreateAliasCommand({ AliasName: 'alias/policy-test', TargetKeyId: given!.KeyId }));
      await expectKmsError(kms.send(new GetKeyPolicyCommand({ KeyId: 'alias/policy-test' })), 'NotFoundException');
      await expectKmsError(
        kms.send(new GetKeyPolicyCommand({ KeyId: given!.KeyId, PolicyName: 'other' })),
        'NotFoundException',
      );
    });

    it('refuses a key policy that is not a policy document, as MalformedPolicyDocumentException', async () => {
      for (const malformed of [
        'not json',
        '[]',
        '{"Version":"2012-10-17"}',
        '{"Statement":[]}',
        '{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}',
        '{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"kms:*","Resource":"*"}]}',
      ]) {
        await expectKmsError(
          kms.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY', Policy: malformed })),
          'MalformedPolicyDocumentException',
        );
      }
    });
  });

  describe('tags', () => {
    it('keeps CreateKey tags, adds and overwrites with TagResource, lists with ListResourceTags', async () => {
      const { KeyMetadata: key } = await kms.send(
        new CreateKeyCommand({
          KeySpec: 'ECC_NIST_P256',
          KeyUsage: 'SIGN_VERIFY',
          Tags: [
            { TagKey: 'service', TagValue: 'ropc-token-service' },
            { TagKey: 'stage', TagValue: 'dev' },
          ],
        }),
      );
      expect((await kms.send(new ListResourceTagsCommand({ KeyId: key!.KeyId }))).Tags).toEqual([
        { TagKey: 'service', TagValue: 'ropc-token-service' },
        { TagKey: 'stage', TagValue: 'dev' },
      ]);

      await kms.send(
        new TagResourceCommand({
          KeyId: key!.Arn,
          Tags: [
            { TagKey: 'stage', TagValue: 'prod' },
            { TagKey: 'owner', TagValue: '' },
          ],
        }),
      );
      const listed = await kms.send(new ListResourceTagsCommand({ KeyId: key!.Arn }));
      expect(listed).toMatchObject({
        Tags: [
          { TagKey: 'service', TagValue: 'ropc-token-service' },
          { TagKey: 'stage', TagValue: 'prod' },
          { TagKey: 'owner', TagValue: '' },
        ],
        Truncated: false,
      });

      const page = await kms.send(new ListResourceTagsCommand({ KeyId: key!.KeyId, Limit: 2 }));
      expect(page.Tags).toHaveLength(2);
      expect(page.Truncated).toBe(true);
      const rest = await kms.send(
        new ListResourceTagsCommand({ KeyId: key!.KeyId, Limit: 2, Marker: page.NextMarker }),
      );
      expect(rest.Tags).toEqual([{ TagKey: 'owner', TagValue: '' }]);
    });

    it('rejects reserved and malformed tags', async () => {
      await expectKmsError(
        kms.send(new TagResourceCommand({ KeyId: ecKey.KeyId, Tags: [{ TagKey: 'aws:owner', TagValue: 'x' }] })),
        'TagException',
      );
      await expectKmsError(
        kms.send(new TagResourceCommand({ KeyId: ecKey.KeyId, Tags: [{ TagKey: '', TagValue: 'x' }] })),
        'ValidationException',
      );
      await expectKmsError(
        kms.send(new TagResourceCommand({ KeyId: ecKey.KeyId, Tags: [{ TagKey: 'k', TagValue: 'v'.repeat(257) }] })),
        'ValidationException',
      );
      expect((await kms.send(new ListResourceTagsCommand({ KeyId: ecKey.KeyId }))).Tags).toEqual([]);
    });
  });

  describe('wire protocol', () => {
    it('answers errors with a KMS JSON body and x-amzn-ErrorType header', async () => {
      const response = await rawRequest(emulator, 'TrentService.DescribeKey', JSON.stringify({ KeyId: randomUUID() }));
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toBe('application/x-amz-json-1.1');
      expect(response.headers.get('x-amzn-errortype')).toBe('NotFoundException');
      expect(response.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
      expect(response.body).toEqual({
        __type: 'NotFoundException',
        message: expect.stringContaining('does not exist'),
      });
    });

    it('answers successes with epoch-second timestamps and base64 blobs', async () => {
      const described = await rawRequest(emulator, 'TrentService.DescribeKey', JSON.stringify({ KeyId: ecKey.KeyId }));
      expect(described.status).toBe(200);
      const metadata = described.body.KeyMetadata as Record<string, unknown>;
      expect(metadata.CreationDate).toEqual(expect.any(Number));
      expect(Math.abs((metadata.CreationDate as number) - ecKey.CreationDate!.getTime() / 1000)).toBeLessThan(0.01);

      const signed = await rawRequest(
        emulator,
        'TrentService.Sign',
        JSON.stringify({ KeyId: ecKey.KeyId, Message: message.toString('base64'), SigningAlgorithm: 'ECDSA_SHA_256' }),
      );
      expect(signed.status).toBe(200);
      expect(signed.body.Signature).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
      expect(
        nodeVerifies(ecPublicKey, 'ECDSA_SHA_256', message, Buffer.from(signed.body.Signature as string, 'base64')),
      ).toBe(true);
    });

    it('turns bad input into KMS-style 4xx errors', async () => {
      const cases: [string | undefined, string, number, string][] = [
        [
          'TrentService.Sign',
          JSON.stringify({ Message: 'aGk=', SigningAlgorithm: 'ECDSA_SHA_256' }),
          400,
          'ValidationException',
        ],
        [
          'TrentService.Sign',
          JSON.stringify({ KeyId: ecKey.KeyId, Message: 'not base64!', SigningAlgorithm: 'ECDSA_SHA_256' }),
          400,
          'SerializationException',
        ],
        [
          'TrentService.Sign',
          JSON.stringify({ KeyId: ecKey.KeyId, Message: 42, SigningAlgorithm: 'ECDSA_SHA_256' }),
          400,
          'SerializationException',
        ],
        [
          'TrentService.Sign',
          JSON.stringify({ KeyId: ecKey.KeyId, SigningAlgorithm: 'ECDSA_SHA_256' }),
          400,
          'ValidationException',
        ],
        [
          'TrentService.Sign',
          JSON.stringify({
            KeyId: ecKey.KeyId,
            Message: 'aGk=',
            SigningAlgorithm: 'ECDSA_SHA_256',
            MessageType: 'HASHED',
          }),
          400,
          'ValidationException',
        ],
        ['TrentService.DescribeKey', JSON.stringify({ KeyId: 12 }), 400, 'SerializationException'],
        ['TrentService.DescribeKey', JSON.stringify({ KeyId: '' }), 400, 'ValidationException'],
        ['TrentService.DescribeKey', '{"KeyId": ', 400, 'SerializationException'],
        ['TrentService.DescribeKey', '[1, 2]', 400, 'SerializationException'],
        [
          'TrentService.ScheduleKeyDeletion',
          JSON.stringify({ KeyId: ecKey.KeyId, PendingWindowInDays: 7.5 }),
          400,
          'SerializationException',
        ],
        [
          'TrentService.CreateKey',
          JSON.stringify({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY', Tags: 'x' }),
          400,
          'SerializationException',
        ],
        [
          'TrentService.CreateKey',
          JSON.stringify({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY', Tags: [{ TagKey: 'k' }] }),
          400,
          'ValidationException',
        ],
        ['TrentService.GenerateMac', '{}', 400, 'UnsupportedOperationException'],
        ['TrentService.toString', '{}', 400, 'UnsupportedOperationException'],
        ['Foo_20141101.Sign', '{}', 400, 'UnknownOperationException'],
        [undefined, '{}', 400, 'UnknownOperationException'],
      ];
      for (const [target, body, status, type] of cases) {
        const response = await rawRequest(emulator, target, body);
        expect({ target, body, status: response.status, type: response.body.__type }).toEqual({
          target,
          body,
          status,
          type,
        });
        expect(response.body.message).toEqual(expect.any(String));
      }
      const missingKeyId = await rawRequest(emulator, 'TrentService.GetPublicKey', '{}');
      expect(missingKeyId.body.message).toBe(
        "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null",
      );

      const notKms = await rawRequest(emulator, undefined, '', '/some/path', 'GET');
      expect(notKms.status).toBe(404);

      // The server survived all of that.
      expect((await kms.send(new DescribeKeyCommand({ KeyId: ecKey.KeyId }))).KeyMetadata?.KeyId).toBe(ecKey.KeyId);
    });

    it('never echoes message bytes in errors', async () => {
      const secret = Buffer.alloc(5000, 's');
      const response = await rawRequest(
        emulator,
        'TrentService.Sign',
        JSON.stringify({ KeyId: ecKey.KeyId, Message: secret.toString('base64'), SigningAlgorithm: 'ECDSA_SHA_256' }),
      );
      expect(response.body.__type).toBe('ValidationException');
      expect(String(response.body.message)).not.toContain(secret.toString('base64').slice(0, 20));
    });
  });

  describe('fault injection', () => {
    it('throttles the chosen operation the given number of times', async () => {
      emulator.injectFault({ operation: 'Sign', kind: 'throttle', times: 2 });
      try {
        for (let i = 0; i < 2; i++) {
          const err = await expectKmsError(
            kms.send(new SignCommand({ KeyId: ecKey.KeyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' })),
            'ThrottlingException',
          );
          expect(err.message).toBe('Rate exceeded');
          // Other operations are not affected.
          expect((await kms.send(new DescribeKeyCommand({ KeyId: ecKey.KeyId }))).KeyMetadata?.KeyId).toBe(ecKey.KeyId);
        }
        const signed = await kms.send(
          new SignCommand({ KeyId: ecKey.KeyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }),
        );
        expect(nodeVerifies(ecPublicKey, 'ECDSA_SHA_256', message, signed.Signature)).toBe(true);
      } finally {
        emulator.clearFaults();
      }
    });

    it('fails every operation with KMSInternalException until cleared', async () => {
      emulator.injectFault({ kind: 'internal' });
      try {
        for (const call of [
          kms.send(new DescribeKeyCommand({ KeyId: ecKey.KeyId })),
          kms.send(new GetPublicKeyCommand({ KeyId: rsaKey.KeyId })),
          kms.send(new SignCommand({ KeyId: ecKey.KeyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' })),
        ]) {
          const err = await expectKmsError(call, 'KMSInternalException', 500);
          expect(err.$fault).toBe('server');
        }
      } finally {
        emulator.clearFaults();
      }
      expect((await kms.send(new DescribeKeyCommand({ KeyId: ecKey.KeyId }))).KeyMetadata?.KeyId).toBe(ecKey.KeyId);
    });

    it('answers 503 for an unavailable fault', async () => {
      emulator.injectFault({ operation: 'GetPublicKey', kind: 'unavailable', times: 1 });
      const err = await failure(kms.send(new GetPublicKeyCommand({ KeyId: ecKey.KeyId })));
      expect(err.$metadata?.httpStatusCode).toBe(503);
      expect((await kms.send(new GetPublicKeyCommand({ KeyId: ecKey.KeyId }))).KeyId).toBe(ecKey.Arn);
    });

    it('delays answers with a latency fault, then answers normally', async () => {
      emulator.injectFault({ operation: 'DescribeKey', kind: 'latency', latencyMs: 300, times: 1 });
      let started = Date.now();
      const { KeyMetadata: metadata } = await kms.send(new DescribeKeyCommand({ KeyId: ecKey.KeyId }));
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(metadata?.KeyId).toBe(ecKey.KeyId);
      started = Date.now();
      await kms.send(new DescribeKeyCommand({ KeyId: ecKey.KeyId }));
      expect(Date.now() - started).toBeLessThan(250);
    });

    it('applies a latency fault before a failing one', async () => {
      emulator.injectFault({ operation: 'Sign', kind: 'latency', latencyMs: 200, times: 1 });
      emulator.injectFault({ operation: 'Sign', kind: 'throttle', times: 1 });
      const started = Date.now();
      await expectKmsError(
        kms.send(new SignCommand({ KeyId: ecKey.KeyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' })),
        'ThrottlingException',
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(190);
      await kms.send(new SignCommand({ KeyId: ecKey.KeyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }));
    });

    it('is driven over HTTP through /_emulator/faults', async () => {
      const added = await controlRequest(emulator, 'POST', JSON.stringify({ operation: 'Sign', kind: 'throttle' }));
      expect(added).toEqual({ status: 200, body: { Faults: [{ operation: 'Sign', kind: 'throttle' }] } });
      await controlRequest(emulator, 'POST', JSON.stringify({ kind: 'internal', times: 3 }));
      expect((await controlRequest(emulator, 'GET')).body.Faults).toEqual([
        { operation: 'Sign', kind: 'throttle' },
        { kind: 'internal', times: 3 },
      ]);
      await expectKmsError(
        kms.send(new SignCommand({ KeyId: ecKey.KeyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' })),
        'ThrottlingException',
      );
      await expectKmsError(kms.send(new DescribeKeyCommand({ KeyId: ecKey.KeyId })), 'KMSInternalException', 500);
      expect((await controlRequest(emulator, 'GET')).body.Faults).toEqual([
        { operation: 'Sign', kind: 'throttle' },
        { kind: 'internal', times: 2 },
      ]);

      expect(await controlRequest(emulator, 'DELETE')).toEqual({ status: 200, body: { Faults: [] } });
      const signed = await kms.send(
        new SignCommand({ KeyId: ecKey.KeyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }),
      );
      expect(signed.KeyId).toBe(ecKey.Arn);
    });

    it('rejects malformed faults', async () => {
      for (const body of [
        '{"kind":"explode"}',
        '{"kind":"latency"}',
        '{"kind":"throttle","times":0}',
        '{"kind":"throttle","operation":""}',
        'nope',
      ]) {
        const response = await controlRequest(emulator, 'POST', body);
        expect(response.status).toBe(400);
        expect(response.body.__type).toBe('ValidationException');
      }
      expect((await controlRequest(emulator, 'GET')).body.Faults).toEqual([]);
      expect(() => emulator.injectFault({ kind: 'boom' as 'throttle' })).toThrow(TypeError);
      expect(() => emulator.injectFault({ kind: 'latency', latencyMs: -1 })).toThrow(TypeError);
    });

    it('stops promptly even while a request sits in a latency fault', async () => {
      const slow = await startKmsEmulator();
      const client = kmsClient(slow);
      try {
        slow.injectFault({ kind: 'latency', latencyMs: 60_000 });
        const pending = failure(client.send(new DescribeKeyCommand({ KeyId: randomUUID() })));
        await new Promise((resolve) => setTimeout(resolve, 100));
        const started = Date.now();
        await slow.stop();
        expect(Date.now() - started).toBeLessThan(2000);
        expect((await pending).name).not.toBe('NotFoundException');
      } finally {
        client.destroy();
        await slow.stop();
      }
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Persistence
// ---------------------------------------------------------------------------------------------

describe('KMS emulator persistence', () => {
  let stateDir: string;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'kms-emulator-test-'));
  });

  afterAll(async () => {
    await rm(stateDir, { recursive: true, force: true });
  });

  it('keeps keys, aliases, tags, key policies and states across a restart with the same stateDir', async () => {
    const dir = join(stateDir, 'restart');
    const first = await startKmsEmulator({ stateDir: dir });
    let kms = kmsClient(first);
    const rsa = await createSigningKey(kms, 'RSA_2048', { Description: 'persisted' });
    const policy = JSON.stringify({
      Statement: [{ Effect: 'Allow', Principal: { AWS: '000000000000' }, Action: 'kms:*', Resource: '*' }],
    });
    const { KeyMetadata: governed } = await kms.send(
      new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY', Policy: policy }),
    );
    const ec = await createSigningKey(kms, 'ECC_NIST_P256');
    const doomed = await createSigningKey(kms, 'ECC_NIST_P256');
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/jwt-signing', TargetKeyId: rsa.KeyId }));
    await kms.send(new TagResourceCommand({ KeyId: rsa.KeyId, Tags: [{ TagKey: 'purpose', TagValue: 'jwt' }] }));
    await kms.send(new DisableKeyCommand({ KeyId: ec.KeyId }));
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: doomed.KeyId, PendingWindowInDays: 9 }));
    const publicKeyBefore = (await kms.send(new GetPublicKeyCommand({ KeyId: 'alias/jwt-signing' }))).PublicKey;
    const aliasesBefore = (await kms.send(new ListAliasesCommand({}))).Aliases;
    kms.destroy();
    await first.stop();

    const stateFile = join(dir, 'kms-emulator-state.json');
    expect((await stat(stateFile)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['kms-emulator-state.json']);

    const second = await startKmsEmulator({ stateDir: dir });
    kms = kmsClient(second);
    try {
      const publicKeyAfter = (await kms.send(new GetPublicKeyCommand({ KeyId: 'alias/jwt-signing' }))).PublicKey;
      expect(Buffer.from(publicKeyAfter!)).toEqual(Buffer.from(publicKeyBefore!));
      expect((await kms.send(new ListAliasesCommand({}))).Aliases).toEqual(aliasesBefore);
      expect((await kms.send(new DescribeKeyCommand({ KeyId: rsa.KeyId }))).KeyMetadata).toEqual(rsa);
      expect((await kms.send(new ListResourceTagsCommand({ KeyId: rsa.KeyId }))).Tags).toEqual([
        { TagKey: 'purpose', TagValue: 'jwt' },
      ]);
      expect((await kms.send(new GetKeyPolicyCommand({ KeyId: governed!.KeyId }))).Policy).toBe(policy);
      expect((await kms.send(new DescribeKeyCommand({ KeyId: ec.KeyId }))).KeyMetadata?.KeyState).toBe('Disabled');
      expect((await kms.send(new DescribeKeyCommand({ KeyId: doomed.KeyId }))).KeyMetadata).toMatchObject({
        KeyState: 'PendingDeletion',
        PendingDeletionWindowInDays: 9,
      });

      // The restored private key still signs, and verifies against the public key from before.
      const signed = await kms.send(
        new SignCommand({
          KeyId: 'alias/jwt-signing',
          Message: message,
          SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256',
        }),
      );
      expect(nodeVerifies(spki(publicKeyBefore), 'RSASSA_PKCS1_V1_5_SHA_256', message, signed.Signature)).toBe(true);
      await kms.send(new EnableKeyCommand({ KeyId: ec.KeyId }));
      const ecSigned = await kms.send(
        new SignCommand({
          KeyId: ec.KeyId,
          Message: digestOf('ECDSA_SHA_256', message),
          MessageType: 'DIGEST',
          SigningAlgorithm: 'ECDSA_SHA_256',
        }),
      );
      const ecPublic = spki((await kms.send(new GetPublicKeyCommand({ KeyId: ec.KeyId }))).PublicKey);
      expect(nodeVerifies(ecPublic, 'ECDSA_SHA_256', message, ecSigned.Signature)).toBe(true);
    } finally {
      kms.destroy();
      await second.stop();
    }
  });

  it('starts empty in a new stateDir and forgets everything without one', async () => {
    const inMemory = await startKmsEmulator();
    let kms = kmsClient(inMemory);
    const key = await createSigningKey(kms, 'ECC_NIST_P256');
    kms.destroy();
    await inMemory.stop();

    const fresh = await startKmsEmulator({ stateDir: join(stateDir, 'empty') });
    kms = kmsClient(fresh);
    try {
      await expectKmsError(kms.send(new DescribeKeyCommand({ KeyId: key.KeyId })), 'NotFoundException');
      expect((await kms.send(new ListAliasesCommand({}))).Aliases).toEqual([]);
    } finally {
      kms.destroy();
      await fresh.stop();
    }
  });

  it('refuses to start on a corrupt state file instead of dropping keys', async () => {
    const dir = join(stateDir, 'corrupt');
    const first = await startKmsEmulator({ stateDir: dir });
    await first.stop();
    await writeFile(join(dir, 'kms-emulator-state.json'), '{"version": 1, "keys": [', { mode: 0o600 });
    await expect(startKmsEmulator({ stateDir: dir })).rejects.toThrow(/Cannot load KMS emulator state/);
    expect(await readFile(join(dir, 'kms-emulator-state.json'), 'utf8')).toBe('{"version": 1, "keys": [');
  });
});
