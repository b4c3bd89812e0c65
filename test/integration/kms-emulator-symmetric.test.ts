import { createDecipheriv, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisabledException,
  DisableKeyCommand,
  DryRunOperationException,
  EnableKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  GetKeyPolicyCommand,
  GetPublicKeyCommand,
  IncorrectKeyException,
  InvalidCiphertextException,
  InvalidKeyUsageException,
  type KeyMetadata,
  KMSClient,
  KMSInternalException,
  KMSInvalidStateException,
  ListAliasesCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  NotFoundException,
  ReEncryptCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
  TagResourceCommand,
  UnsupportedOperationException,
  UpdateAliasCommand,
  VerifyCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KmsEmulator, startKmsEmulator } from '../../local/kms-emulator';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

function kmsClient(emulator: KmsEmulator): KMSClient {
  return new KMSClient({
    endpoint: emulator.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    maxAttempts: 1,
  });
}

type SdkError = Error & { $metadata?: { httpStatusCode?: number } };

async function failure(call: Promise<unknown>): Promise<SdkError> {
  try {
    await call;
  } catch (err) {
    return err as SdkError;
  }
  throw new Error('expected the KMS call to fail');
}

/** The call fails with the SDK's exception class for that KMS error (and its name), with the HTTP status KMS uses. */
async function expectSdkError(
  call: Promise<unknown>,
  exception: abstract new (...args: never[]) => Error,
  status = 400,
): Promise<SdkError> {
  const err = await failure(call);
  expect(err).toBeInstanceOf(exception);
  expect(err.name).toBe(exception.name);
  expect(err.$metadata?.httpStatusCode).toBe(status);
  return err;
}

/** For errors the SDK has no class for (ValidationException, ThrottlingException): the name and status. */
async function expectNamedError(call: Promise<unknown>, name: string, status = 400): Promise<SdkError> {
  const err = await failure(call);
  expect(err.name).toBe(name);
  expect(err.$metadata?.httpStatusCode).toBe(status);
  return err;
}

/** A raw KMS request, for inputs the SDK's types or serializer would not send. */
async function rawRequest(emulator: KmsEmulator, operation: string, body: object) {
  const response = await fetch(emulator.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.${operation}` },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function createSymmetricKey(kms: KMSClient, input: { Description?: string } = {}): Promise<KeyMetadata> {
  // No KeySpec and no KeyUsage: KMS's defaults, SYMMETRIC_DEFAULT and ENCRYPT_DECRYPT.
  const { KeyMetadata: metadata } = await kms.send(new CreateKeyCommand(input));
  if (!metadata?.KeyId) throw new Error('CreateKey returned no KeyMetadata');
  return metadata;
}

const bytes = (value: Uint8Array | undefined) => Buffer.from(value ?? new Uint8Array());

const secret = Buffer.from('JBSWY3DPEHPK3PXP, a TOTP secret');
const context = { user_id: 'c0ffee00-0000-4000-8000-000000000001', purpose: 'totp' };

// ---------------------------------------------------------------------------------------------
// An independent reading of the documented blob format (local/kms/ciphertext.ts), with node:crypto
// ---------------------------------------------------------------------------------------------

/** Context pairs sorted by the UTF-8 bytes of their keys; a big-endian 32-bit count, then length-prefixed keys and values. */
function expectedContextBytes(pairs: Record<string, string>): Buffer {
  const sorted = Object.entries(pairs)
    .map(([key, value]) => [Buffer.from(key), Buffer.from(value)])
    .sort(([a], [b]) => Buffer.compare(a!, b!));
  const length = (n: number) => {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(n);
    return out;
  };
  return Buffer.concat([
    length(sorted.length),
    ...sorted.flatMap(([k, v]) => [length(k!.length), k!, length(v!.length), v!]),
  ]);
}

/** Opens a blob given the key material from the state file: version 1, key ID, 12-byte IV, AES-256-GCM, 16-byte tag. */
function openIndependently(keyMaterial: Buffer, blob: Buffer, pairs: Record<string, string>) {
  const version = blob[0];
  const keyIdHex = blob.subarray(1, 17).toString('hex');
  const keyId = `${keyIdHex.slice(0, 8)}-${keyIdHex.slice(8, 12)}-${keyIdHex.slice(12, 16)}-${keyIdHex.slice(16, 20)}-${keyIdHex.slice(20)}`;
  const decipher = createDecipheriv('aes-256-gcm', keyMaterial, blob.subarray(17, 29));
  decipher.setAAD(Buffer.concat([blob.subarray(0, 17), expectedContextBytes(pairs)]));
  decipher.setAuthTag(blob.subarray(blob.length - 16));
  const plaintext = Buffer.concat([decipher.update(blob.subarray(29, blob.length - 16)), decipher.final()]);
  return { version, keyId, plaintext };
}

// ---------------------------------------------------------------------------------------------
// In-memory emulator
// ---------------------------------------------------------------------------------------------

describe('KMS emulator, symmetric encryption keys', () => {
  let emulator: KmsEmulator;
  let kms: KMSClient;
  let key: KeyMetadata;
  let otherKey: KeyMetadata;
  let signingKey: KeyMetadata;

  beforeAll(async () => {
    emulator = await startKmsEmulator();
    kms = kmsClient(emulator);
    [key, otherKey] = await Promise.all([
      createSymmetricKey(kms, { Description: 'TOTP secrets' }),
      createSymmetricKey(kms),
    ]);
    const { KeyMetadata: signing } = await kms.send(
      new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }),
    );
    signingKey = signing!;
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/totp-secrets', TargetKeyId: key.KeyId }));
  });

  afterAll(async () => {
    kms?.destroy();
    await emulator?.stop();
  });

  describe('CreateKey, DescribeKey and ListKeys', () => {
    it('creates a SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key by default, described the way KMS describes one', async () => {
      expect(key).toMatchObject({
        AWSAccountId: '000000000000',
        Arn: `arn:aws:kms:us-east-1:000000000000:key/${key.KeyId}`,
        Enabled: true,
        Description: 'TOTP secrets',
        KeyUsage: 'ENCRYPT_DECRYPT',
        KeyState: 'Enabled',
        Origin: 'AWS_KMS',
        KeyManager: 'CUSTOMER',
        KeySpec: 'SYMMETRIC_DEFAULT',
        CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
        EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
        MultiRegion: false,
      });
      expect(key.SigningAlgorithms).toBeUndefined();
      expect((await kms.send(new DescribeKeyCommand({ KeyId: 'alias/totp-secrets' }))).KeyMetadata).toEqual(key);
    });

    it('takes SYMMETRIC_DEFAULT and ENCRYPT_DECRYPT when named, and refuses another usage for it', async () => {
      const { KeyMetadata: named } = await kms.send(
        new CreateKeyCommand({ KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT' }),
      );
      expect(named).toMatchObject({ KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT' });
      const { KeyMetadata: legacy } = await kms.send(
        new CreateKeyCommand({ CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT' }),
      );
      expect(legacy?.KeySpec).toBe('SYMMETRIC_DEFAULT');
      for (const KeyUsage of ['SIGN_VERIFY', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT'] as const) {
        await expectNamedError(
          kms.send(new CreateKeyCommand({ KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage })),
          'ValidationException',
        );
      }
    });

    it('leaves signing keys as they were: SigningAlgorithms, no EncryptionAlgorithms', () => {
      expect(signingKey).toMatchObject({
        KeySpec: 'ECC_NIST_P256',
        KeyUsage: 'SIGN_VERIFY',
        SigningAlgorithms: ['ECDSA_SHA_256'],
      });
      expect(signingKey.EncryptionAlgorithms).toBeUndefined();
    });

    it('lists keys of both kinds with ListKeys, paged with Limit and Marker', async () => {
      const all = (await kms.send(new ListKeysCommand({}))).Keys ?? [];
      for (const listed of [key, otherKey, signingKey]) {
        expect(all).toContainEqual({ KeyId: listed.KeyId, KeyArn: listed.Arn });
      }
      const first = await kms.send(new ListKeysCommand({ Limit: 1 }));
      expect(first).toMatchObject({ Truncated: true, Keys: [all[0]] });
      const second = await kms.send(new ListKeysCommand({ Limit: 1, Marker: first.NextMarker }));
      expect(second.Keys).toEqual([all[1]]);
    });

    it('keeps tags and answers the default key policy, as for signing keys', async () => {
      await kms.send(
        new TagResourceCommand({ KeyId: otherKey.KeyId, Tags: [{ TagKey: 'purpose', TagValue: 'totp' }] }),
      );
      expect((await kms.send(new ListResourceTagsCommand({ KeyId: otherKey.Arn }))).Tags).toEqual([
        { TagKey: 'purpose', TagValue: 'totp' },
      ]);
      const policy = JSON.parse((await kms.send(new GetKeyPolicyCommand({ KeyId: otherKey.KeyId }))).Policy ?? '{}');
      expect(policy.Statement[0]).toMatchObject({ Effect: 'Allow', Action: 'kms:*' });
    });
  });

  describe('Encrypt and Decrypt', () => {
    it('round-trips without an encryption context, with Decrypt finding the key from the blob', async () => {
      const encrypted = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: secret }));
      expect(encrypted.KeyId).toBe(key.Arn);
      expect(encrypted.EncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT');
      expect(bytes(encrypted.CiphertextBlob)).not.toEqual(secret);
      expect(bytes(encrypted.CiphertextBlob).includes(secret)).toBe(false);

      const decrypted = await kms.send(new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob }));
      expect(bytes(decrypted.Plaintext)).toEqual(secret);
      expect(decrypted.KeyId).toBe(key.Arn);
      expect(decrypted.EncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT');
    });

    it('round-trips with an encryption context, whatever order its pairs come in', async () => {
      const { CiphertextBlob } = await kms.send(
        new EncryptCommand({ KeyId: key.KeyId, Plaintext: secret, EncryptionContext: context }),
      );
      const reordered = { purpose: context.purpose, user_id: context.user_id };
      const decrypted = await kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: reordered }));
      expect(bytes(decrypted.Plaintext)).toEqual(secret);
      const named = await kms.send(
        new DecryptCommand({ CiphertextBlob, EncryptionContext: context, KeyId: key.KeyId }),
      );
      expect(bytes(named.Plaintext)).toEqual(secret);
    });

    it('takes the key as key ID, key ARN, alias name or alias ARN, in Encrypt and in Decrypt', async () => {
      const aliasArn = 'arn:aws:kms:us-east-1:000000000000:alias/totp-secrets';
      for (const KeyId of [key.KeyId!, key.Arn!, 'alias/totp-secrets', aliasArn]) {
        const encrypted = await kms.send(new EncryptCommand({ KeyId, Plaintext: secret, EncryptionContext: context }));
        expect(encrypted.KeyId).toBe(key.Arn);
        const decrypted = await kms.send(
          new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob, EncryptionContext: context, KeyId }),
        );
        expect(bytes(decrypted.Plaintext)).toEqual(secret);
        expect(decrypted.KeyId).toBe(key.Arn);
      }
    });

    it('gives a different blob each time (a fresh IV), each of which decrypts', async () => {
      const blobs = await Promise.all(
        [1, 2, 3].map(async () =>
          bytes((await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: secret }))).CiphertextBlob),
        ),
      );
      expect(new Set(blobs.map((blob) => blob.toString('base64'))).size).toBe(3);
      for (const blob of blobs) {
        expect(bytes((await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext)).toEqual(secret);
      }
    });

    it('encrypts 1 to 4096 bytes, and refuses an empty or longer plaintext with ValidationException', async () => {
      for (const size of [1, 4096]) {
        const plaintext = randomBytes(size);
        const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: plaintext }));
        expect(bytes((await kms.send(new DecryptCommand({ CiphertextBlob }))).Plaintext)).toEqual(plaintext);
      }
      const tooLong = await expectNamedError(
        kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.alloc(4097, 1) })),
        'ValidationException',
      );
      expect(tooLong.message).toBe(
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096",
      );
      await expectNamedError(
        kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: new Uint8Array() })),
        'ValidationException',
      );
    });

    it('refuses a wrong, missing or unexpected encryption context with InvalidCiphertextException', async () => {
      const { CiphertextBlob } = await kms.send(
        new EncryptCommand({ KeyId: key.KeyId, Plaintext: secret, EncryptionContext: context }),
      );
      const wrong: Record<string, string>[] = [
        {},
        { user_id: context.user_id },
        { ...context, user_id: 'c0ffee00-0000-4000-8000-000000000002' },
        { ...context, extra: 'pair' },
        { USER_ID: context.user_id, purpose: context.purpose },
        { user_id: context.purpose, purpose: context.user_id },
      ];
      for (const EncryptionContext of wrong) {
        await expectSdkError(
          kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext })),
          InvalidCiphertextException,
        );
      }
      await expectSdkError(kms.send(new DecryptCommand({ CiphertextBlob })), InvalidCiphertextException);

      const { CiphertextBlob: without } = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: secret }));
      await expectSdkError(
        kms.send(new DecryptCommand({ CiphertextBlob: without, EncryptionContext: context })),
        InvalidCiphertextException,
      );
    });

    it('refuses a tampered, truncated or made-up ciphertext with InvalidCiphertextException', async () => {
      const blob = bytes(
        (await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: secret, EncryptionContext: context })))
          .CiphertextBlob,
      );
      // Every byte: the version, the key ID, the IV, the ciphertext and the tag.
      for (let index = 0; index < blob.length; index += 1) {
        const tampered = Buffer.from(blob);
        tampered[index]! ^= 0x01;
        await expectSdkError(
          kms.send(new DecryptCommand({ CiphertextBlob: tampered, EncryptionContext: context })),
          InvalidCiphertextException,
        );
      }
      for (const CiphertextBlob of [
        blob.subarray(0, blob.length - 1),
        blob.subarray(0, 20),
        Buffer.of(1),
        randomBytes(200),
      ]) {
        await expectSdkError(
          kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context })),
          InvalidCiphertextException,
        );
        await expectSdkError(
          kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context, KeyId: key.KeyId })),
          InvalidCiphertextException,
        );
      }
    });

    it("refuses another emulator's ciphertext: InvalidCiphertextException, or IncorrectKeyException when KeyId names a key", async () => {
      const elsewhere = await startKmsEmulator();
      const client = kmsClient(elsewhere);
      try {
        const foreignKey = await createSymmetricKey(client);
        const { CiphertextBlob } = await client.send(
          new EncryptCommand({ KeyId: foreignKey.KeyId, Plaintext: secret }),
        );
        await expectSdkError(kms.send(new DecryptCommand({ CiphertextBlob })), InvalidCiphertextException);
        await expectSdkError(kms.send(new DecryptCommand({ CiphertextBlob, KeyId: key.KeyId })), IncorrectKeyException);
      } finally {
        client.destroy();
        await elsewhere.stop();
      }
    });

    it('answers IncorrectKeyException when KeyId names another key than the one that encrypted', async () => {
      const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: secret }));
      await expectSdkError(
        kms.send(new DecryptCommand({ CiphertextBlob, KeyId: otherKey.KeyId })),
        IncorrectKeyException,
      );
      await expectSdkError(
        kms.send(new DecryptCommand({ CiphertextBlob, KeyId: otherKey.Arn })),
        IncorrectKeyException,
      );
    });

    it('answers DryRunOperationException (412) for a DryRun that would succeed, and the real error otherwise', async () => {
      await expectSdkError(
        kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: secret, DryRun: true })),
        DryRunOperationException,
        412,
      );
      const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: secret }));
      await expectSdkError(
        kms.send(new DecryptCommand({ CiphertextBlob, DryRun: true })),
        DryRunOperationException,
        412,
      );
      await expectSdkError(
        kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context, DryRun: true })),
        InvalidCiphertextException,
      );
    });
  });

  describe('key usage', () => {
    it('refuses a signing key for Encrypt, Decrypt and GenerateDataKey with InvalidKeyUsageException', async () => {
      const err = await expectSdkError(
        kms.send(new EncryptCommand({ KeyId: signingKey.KeyId, Plaintext: secret })),
        InvalidKeyUsageException,
      );
      expect(err.message).toBe(`${signingKey.Arn} key usage is SIGN_VERIFY which is not valid for Encrypt.`);
      const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: secret }));
      await expectSdkError(
        kms.send(new DecryptCommand({ CiphertextBlob, KeyId: signingKey.KeyId })),
        InvalidKeyUsageException,
      );
      await expectSdkError(
        kms.send(new GenerateDataKeyCommand({ KeyId: signingKey.KeyId, KeySpec: 'AES_256' })),
        InvalidKeyUsageException,
      );
      await expectSdkError(
        kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: signingKey.Arn, NumberOfBytes: 32 })),
        InvalidKeyUsageException,
      );
    });

    it('refuses an asymmetric encryption algorithm on a symmetric key with InvalidKeyUsageException', async () => {
      await expectSdkError(
        kms.send(
          new EncryptCommand({ KeyId: key.KeyId, Plaintext: secret, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }),
        ),
        InvalidKeyUsageException,
      );
      const { CiphertextBlob } = await kms.send(
        new EncryptCommand({ KeyId: key.KeyId, Plaintext: secret, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' }),
      );
      await expectSdkError(
        kms.send(new DecryptCommand({ CiphertextBlob, EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' })),
        InvalidKeyUsageException,
      );
    });

    it('refuses Sign and Verify with a symmetric key (InvalidKeyUsageException), GetPublicKey with UnsupportedOperationException', async () => {
      const signing = { Message: secret, SigningAlgorithm: 'ECDSA_SHA_256' as const };
      const err = await expectSdkError(
        kms.send(new SignCommand({ KeyId: key.KeyId, ...signing })),
        InvalidKeyUsageException,
      );
      expect(err.message).toBe(`${key.Arn} key usage is ENCRYPT_DECRYPT which is not valid for Sign.`);
      await expectSdkError(
        kms.send(new VerifyCommand({ KeyId: 'alias/totp-secrets', ...signing, Signature: Buffer.alloc(64, 1) })),
        InvalidKeyUsageException,
      );
      await expectSdkError(kms.send(new GetPublicKeyCommand({ KeyId: key.KeyId })), UnsupportedOperationException);
      // The signing key still signs.
      const signed = await kms.send(new SignCommand({ KeyId: signingKey.KeyId, ...signing }));
      expect(signed.KeyId).toBe(signingKey.Arn);
    });

    it('keeps an alias on keys of one usage: UpdateAlias from a symmetric key to a signing key is refused', async () => {
      await kms.send(new CreateAliasCommand({ AliasName: 'alias/moving', TargetKeyId: key.KeyId }));
      await expectNamedError(
        kms.send(new UpdateAliasCommand({ AliasName: 'alias/moving', TargetKeyId: signingKey.KeyId })),
        'ValidationException',
      );
      await kms.send(new UpdateAliasCommand({ AliasName: 'alias/moving', TargetKeyId: otherKey.KeyId }));
      const aliases = (await kms.send(new ListAliasesCommand({ KeyId: otherKey.KeyId }))).Aliases ?? [];
      expect(aliases.map((alias) => alias.AliasName)).toEqual(['alias/moving']);
      const { KeyId } = await kms.send(new EncryptCommand({ KeyId: 'alias/moving', Plaintext: secret }));
      expect(KeyId).toBe(otherKey.Arn);
    });
  });

  describe('unknown keys and bad parameters', () => {
    it('answers NotFoundException for an unknown key ID, key ARN or alias', async () => {
      const unknown = 'c0ffee00-0000-4000-8000-00000000dead';
      const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: secret }));
      for (const KeyId of [
        unknown,
        `arn:aws:kms:us-east-1:000000000000:key/${unknown}`,
        'alias/none',
        'not-a-key-id',
      ]) {
        await expectSdkError(kms.send(new EncryptCommand({ KeyId, Plaintext: secret })), NotFoundException);
        await expectSdkError(kms.send(new DecryptCommand({ CiphertextBlob, KeyId })), NotFoundException);
        await expectSdkError(kms.send(new GenerateDataKeyCommand({ KeyId, KeySpec: 'AES_256' })), NotFoundException);
      }
    });

    it("answers ValidationException in KMS's words for missing or malformed parameters", async () => {
      const cases: [string, object, string][] = [
        [
          'Encrypt',
          { Plaintext: secret.toString('base64') },
          "Value null at 'keyId' failed to satisfy constraint: Member must not be null",
        ],
        [
          'Encrypt',
          { KeyId: key.KeyId },
          "Value null at 'plaintext' failed to satisfy constraint: Member must not be null",
        ],
        [
          'Encrypt',
          { KeyId: key.KeyId, Plaintext: secret.toString('base64'), EncryptionAlgorithm: 'AES_GCM' },
          "Value 'AES_GCM' at 'encryptionAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]",
        ],
        ['Decrypt', {}, "Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null"],
        [
          'Decrypt',
          { CiphertextBlob: Buffer.alloc(6145, 1).toString('base64') },
          "Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length less than or equal to 6144",
        ],
        [
          'GenerateDataKey',
          { KeyId: key.KeyId, KeySpec: 'AES_512' },
          "Value 'AES_512' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]",
        ],
        [
          'GenerateDataKey',
          { KeyId: key.KeyId, NumberOfBytes: 0 },
          "Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1",
        ],
        [
          'GenerateDataKey',
          { KeyId: key.KeyId, NumberOfBytes: 1025 },
          "Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024",
        ],
        [
          'ReEncrypt',
          { CiphertextBlob: 'AQ==' },
          "Value null at 'destinationKeyId' failed to satisfy constraint: Member must not be null",
        ],
      ];
      for (const [operation, body, detail] of cases) {
        const response = await rawRequest(emulator, operation, body);
        expect({ operation, status: response.status, ...response.body }).toEqual({
          operation,
          status: 400,
          __type: 'ValidationException',
          message: `1 validation error detected: ${detail}`,
        });
      }
    });

    it('wants exactly one of KeySpec and NumberOfBytes in GenerateDataKey', async () => {
      for (const input of [{}, { KeySpec: 'AES_256' as const, NumberOfBytes: 32 }]) {
        const err = await expectNamedError(
          kms.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, ...input })),
          'ValidationException',
        );
        expect(err.message).toBe('Please specify either number of bytes or key spec.');
        await expectNamedError(
          kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: key.KeyId, ...input })),
          'ValidationException',
        );
      }
    });

    it('answers SerializationException for an encryption context that is not a map of strings', async () => {
      for (const EncryptionContext of [['user_id'], 'user_id', { user_id: 7 }, { user_id: null }]) {
        const response = await rawRequest(emulator, 'Encrypt', {
          KeyId: key.KeyId,
          Plaintext: secret.toString('base64'),
          EncryptionContext,
        });
        expect(response.status).toBe(400);
        expect(response.body.__type).toBe('SerializationException');
      }
    });

    it('never echoes plaintext or ciphertext bytes in errors', async () => {
      const tooLong = Buffer.alloc(5000, 'p').toString('base64');
      const response = await rawRequest(emulator, 'Encrypt', { KeyId: key.KeyId, Plaintext: tooLong });
      expect(response.body.__type).toBe('ValidationException');
      expect(String(response.body.message)).not.toContain(tooLong.slice(0, 20));
      const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: secret }));
      const refused = await rawRequest(emulator, 'Decrypt', {
        CiphertextBlob: bytes(CiphertextBlob).toString('base64'),
        EncryptionContext: context,
      });
      expect(refused.body.__type).toBe('InvalidCiphertextException');
      expect(String(refused.body.message)).not.toContain(bytes(CiphertextBlob).toString('base64').slice(0, 20));
      expect(String(refused.body.message)).not.toContain(context.user_id);
    });
  });

  describe('GenerateDataKey, GenerateDataKeyWithoutPlaintext and ReEncrypt', () => {
    it('returns a data key of the asked size and a blob that Decrypt turns back into it', async () => {
      const sizes: [object, number][] = [
        [{ KeySpec: 'AES_256' }, 32],
        [{ KeySpec: 'AES_128' }, 16],
        [{ NumberOfBytes: 1 }, 1],
        [{ NumberOfBytes: 64 }, 64],
        [{ NumberOfBytes: 1024 }, 1024],
      ];
      for (const [size, length] of sizes) {
        const generated = await kms.send(
          new GenerateDataKeyCommand({ KeyId: 'alias/totp-secrets', EncryptionContext: context, ...size }),
        );
        expect(generated.KeyId).toBe(key.Arn);
        expect(bytes(generated.Plaintext)).toHaveLength(length);
        const decrypted = await kms.send(
          new DecryptCommand({ CiphertextBlob: generated.CiphertextBlob, EncryptionContext: context }),
        );
        expect(bytes(decrypted.Plaintext)).toEqual(bytes(generated.Plaintext));
        await expectSdkError(
          kms.send(new DecryptCommand({ CiphertextBlob: generated.CiphertextBlob })),
          InvalidCiphertextException,
        );
      }
    });

    it('gives a new data key each time', async () => {
      const keys = await Promise.all(
        [1, 2].map(async () =>
          bytes((await kms.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, KeySpec: 'AES_256' }))).Plaintext),
        ),
      );
      expect(keys[0]).not.toEqual(keys[1]);
    });

    it('GenerateDataKeyWithoutPlaintext returns only the blob, which decrypts to a 256-bit key', async () => {
      const generated = await kms.send(
        new GenerateDataKeyWithoutPlaintextCommand({
          KeyId: key.KeyId,
          KeySpec: 'AES_256',
          EncryptionContext: context,
        }),
      );
      expect(generated).not.toHaveProperty('Plaintext');
      expect(generated.KeyId).toBe(key.Arn);
      const decrypted = await kms.send(
        new DecryptCommand({ CiphertextBlob: generated.CiphertextBlob, EncryptionContext: context }),
      );
      expect(bytes(decrypted.Plaintext)).toHaveLength(32);
    });

    it('ReEncrypt moves a ciphertext to another key and context without showing the plaintext', async () => {
      const { CiphertextBlob } = await kms.send(
        new EncryptCommand({ KeyId: key.KeyId, Plaintext: secret, EncryptionContext: context }),
      );
      const moved = await kms.send(
        new ReEncryptCommand({
          CiphertextBlob,
          SourceEncryptionContext: context,
          DestinationKeyId: otherKey.KeyId,
          DestinationEncryptionContext: { user_id: 'someone-else' },
        }),
      );
      expect(moved).toMatchObject({
        SourceKeyId: key.Arn,
        KeyId: otherKey.Arn,
        SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      });
      expect(moved).not.toHaveProperty('Plaintext');
      const decrypted = await kms.send(
        new DecryptCommand({ CiphertextBlob: moved.CiphertextBlob, EncryptionContext: { user_id: 'someone-else' } }),
      );
      expect(bytes(decrypted.Plaintext)).toEqual(secret);
      expect(decrypted.KeyId).toBe(otherKey.Arn);

      await expectSdkError(
        kms.send(new ReEncryptCommand({ CiphertextBlob, DestinationKeyId: otherKey.KeyId })),
        InvalidCiphertextException,
      );
      await expectSdkError(
        kms.send(
          new ReEncryptCommand({
            CiphertextBlob,
            SourceEncryptionContext: context,
            SourceKeyId: otherKey.KeyId,
            DestinationKeyId: key.KeyId,
          }),
        ),
        IncorrectKeyException,
      );
      await expectSdkError(
        kms.send(
          new ReEncryptCommand({
            CiphertextBlob,
            SourceEncryptionContext: context,
            DestinationKeyId: signingKey.KeyId,
          }),
        ),
        InvalidKeyUsageException,
      );
    });
  });

  describe('key states', () => {
    it('refuses a disabled key with DisabledException until it is enabled again', async () => {
      const disabled = await createSymmetricKey(kms);
      const { CiphertextBlob } = await kms.send(
        new EncryptCommand({ KeyId: disabled.KeyId, Plaintext: secret, EncryptionContext: context }),
      );
      await kms.send(new DisableKeyCommand({ KeyId: disabled.KeyId }));
      const err = await expectSdkError(
        kms.send(new EncryptCommand({ KeyId: disabled.KeyId, Plaintext: secret })),
        DisabledException,
      );
      expect(err.message).toBe(`${disabled.Arn} is disabled.`);
      await expectSdkError(
        kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context })),
        DisabledException,
      );
      await expectSdkError(
        kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context, KeyId: disabled.Arn })),
        DisabledException,
      );
      await expectSdkError(
        kms.send(new GenerateDataKeyCommand({ KeyId: disabled.KeyId, KeySpec: 'AES_256' })),
        DisabledException,
      );
      await expectSdkError(
        kms.send(
          new ReEncryptCommand({
            CiphertextBlob: CiphertextBlob,
            SourceEncryptionContext: context,
            DestinationKeyId: key.KeyId,
          }),
        ),
        DisabledException,
      );
      expect((await kms.send(new DescribeKeyCommand({ KeyId: disabled.KeyId }))).KeyMetadata).toMatchObject({
        Enabled: false,
        KeyState: 'Disabled',
      });

      await kms.send(new EnableKeyCommand({ KeyId: disabled.KeyId }));
      const decrypted = await kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context }));
      expect(bytes(decrypted.Plaintext)).toEqual(secret);
    });

    it('refuses a key pending deletion with KMSInvalidStateException', async () => {
      const doomed = await createSymmetricKey(kms);
      const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: doomed.KeyId, Plaintext: secret }));
      const scheduled = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: doomed.KeyId, PendingWindowInDays: 7 }));
      expect(scheduled).toMatchObject({ KeyId: doomed.Arn, KeyState: 'PendingDeletion', PendingWindowInDays: 7 });
      const err = await expectSdkError(
        kms.send(new EncryptCommand({ KeyId: doomed.KeyId, Plaintext: secret })),
        KMSInvalidStateException,
      );
      expect(err.message).toBe(`${doomed.Arn} is pending deletion.`);
      await expectSdkError(kms.send(new DecryptCommand({ CiphertextBlob })), KMSInvalidStateException);
      await expectSdkError(
        kms.send(new DecryptCommand({ CiphertextBlob, KeyId: doomed.KeyId })),
        KMSInvalidStateException,
      );
      await expectSdkError(
        kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: doomed.KeyId, NumberOfBytes: 16 })),
        KMSInvalidStateException,
      );
      await expectSdkError(kms.send(new EnableKeyCommand({ KeyId: doomed.KeyId })), KMSInvalidStateException);
    });
  });

  describe('fault injection', () => {
    it('throttles Encrypt the given number of times, then encrypts; other operations are not throttled', async () => {
      const { CiphertextBlob: earlier } = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: secret }));
      emulator.injectFault({ operation: 'Encrypt', kind: 'throttle', times: 2 });
      try {
        expect(bytes((await kms.send(new DecryptCommand({ CiphertextBlob: earlier }))).Plaintext)).toEqual(secret);
        for (const _ of [1, 2]) {
          await expectNamedError(
            kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: secret })),
            'ThrottlingException',
          );
        }
        const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: secret }));
        expect(bytes((await kms.send(new DecryptCommand({ CiphertextBlob }))).Plaintext)).toEqual(secret);
      } finally {
        emulator.clearFaults();
      }
    });

    it('fails Decrypt and GenerateDataKey with internal and unavailable faults', async () => {
      const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: secret }));
      emulator.injectFault({ operation: 'Decrypt', kind: 'internal', times: 1 });
      emulator.injectFault({ operation: 'GenerateDataKey', kind: 'unavailable', times: 1 });
      try {
        await expectSdkError(kms.send(new DecryptCommand({ CiphertextBlob })), KMSInternalException, 500);
        const unavailable = await failure(
          kms.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, KeySpec: 'AES_256' })),
        );
        expect(unavailable.$metadata?.httpStatusCode).toBe(503);
        expect(bytes((await kms.send(new DecryptCommand({ CiphertextBlob }))).Plaintext)).toEqual(secret);
      } finally {
        emulator.clearFaults();
      }
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Persistence
// ---------------------------------------------------------------------------------------------

describe('KMS emulator persistence of symmetric keys', () => {
  let stateDir: string;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'kms-emulator-symmetric-'));
  });

  afterAll(async () => {
    await rm(stateDir, { recursive: true, force: true });
  });

  it('decrypts after a restart on the same state what was encrypted before it', async () => {
    const dir = join(stateDir, 'restart');
    const first = await startKmsEmulator({ stateDir: dir });
    let kms = kmsClient(first);
    const key = await createSymmetricKey(kms, { Description: 'persisted' });
    const disabled = await createSymmetricKey(kms);
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/totp-secrets', TargetKeyId: key.KeyId }));
    const { CiphertextBlob } = await kms.send(
      new EncryptCommand({ KeyId: 'alias/totp-secrets', Plaintext: secret, EncryptionContext: context }),
    );
    const dataKey = await kms.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, KeySpec: 'AES_256' }));
    await kms.send(new DisableKeyCommand({ KeyId: disabled.KeyId }));
    kms.destroy();
    await first.stop();

    const second = await startKmsEmulator({ stateDir: dir });
    kms = kmsClient(second);
    try {
      expect((await kms.send(new DescribeKeyCommand({ KeyId: 'alias/totp-secrets' }))).KeyMetadata).toEqual(key);
      expect((await kms.send(new DescribeKeyCommand({ KeyId: disabled.KeyId }))).KeyMetadata?.KeyState).toBe(
        'Disabled',
      );
      const decrypted = await kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context }));
      expect(bytes(decrypted.Plaintext)).toEqual(secret);
      expect(decrypted.KeyId).toBe(key.Arn);
      const named = await kms.send(
        new DecryptCommand({ CiphertextBlob, EncryptionContext: context, KeyId: 'alias/totp-secrets' }),
      );
      expect(bytes(named.Plaintext)).toEqual(secret);
      const unwrapped = await kms.send(new DecryptCommand({ CiphertextBlob: dataKey.CiphertextBlob }));
      expect(bytes(unwrapped.Plaintext)).toEqual(bytes(dataKey.Plaintext));
      await expectSdkError(kms.send(new DecryptCommand({ CiphertextBlob })), InvalidCiphertextException);
    } finally {
      kms.destroy();
      await second.stop();
    }
  });

  it('keeps the key material in the state file, and the blob follows its documented format', async () => {
    const dir = join(stateDir, 'format');
    const emulator = await startKmsEmulator({ stateDir: dir });
    const kms = kmsClient(emulator);
    let blob: Buffer;
    let key: KeyMetadata;
    try {
      key = await createSymmetricKey(kms);
      blob = bytes(
        (await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: secret, EncryptionContext: context })))
          .CiphertextBlob,
      );
    } finally {
      kms.destroy();
      await emulator.stop();
    }
    const state = JSON.parse(await readFile(join(dir, 'kms-emulator-state.json'), 'utf8'));
    const saved = state.keys.find((entry: { keyId: string }) => entry.keyId === key.KeyId);
    expect(saved).toMatchObject({ keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'ENCRYPT_DECRYPT' });
    expect(saved).not.toHaveProperty('privateKeyPem');
    const material = Buffer.from(saved.secretKey, 'base64');
    expect(material).toHaveLength(32);

    const opened = openIndependently(material, blob, { purpose: context.purpose, user_id: context.user_id });
    expect(opened).toEqual({ version: 1, keyId: key.KeyId, plaintext: secret });
    expect(() => openIndependently(material, blob, { user_id: context.user_id })).toThrow();
  });

  it('loads a state file written before symmetric keys existed (no keyUsage: signing keys)', async () => {
    const dir = join(stateDir, 'older');
    const first = await startKmsEmulator({ stateDir: dir });
    let kms = kmsClient(first);
    const { KeyMetadata: signing } = await kms.send(
      new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }),
    );
    kms.destroy();
    await first.stop();
    const file = join(dir, 'kms-emulator-state.json');
    const state = JSON.parse(await readFile(file, 'utf8'));
    for (const entry of state.keys) delete entry.keyUsage;
    await writeFile(file, JSON.stringify(state), { mode: 0o600 });

    const second = await startKmsEmulator({ stateDir: dir });
    kms = kmsClient(second);
    try {
      expect((await kms.send(new DescribeKeyCommand({ KeyId: signing!.KeyId }))).KeyMetadata).toEqual(signing);
      const signed = await kms.send(
        new SignCommand({ KeyId: signing!.KeyId, Message: secret, SigningAlgorithm: 'ECDSA_SHA_256' }),
      );
      expect(signed.KeyId).toBe(signing!.Arn);
    } finally {
      kms.destroy();
      await second.stop();
    }
  });

  it('refuses to start on a symmetric key without usable key material instead of dropping it', async () => {
    const dir = join(stateDir, 'damaged');
    const first = await startKmsEmulator({ stateDir: dir });
    const kms = kmsClient(first);
    await createSymmetricKey(kms);
    kms.destroy();
    await first.stop();
    const file = join(dir, 'kms-emulator-state.json');
    const state = JSON.parse(await readFile(file, 'utf8'));
    state.keys[0].secretKey = Buffer.alloc(16, 7).toString('base64');
    await writeFile(file, JSON.stringify(state), { mode: 0o600 });
    const refused = await failure(startKmsEmulator({ stateDir: dir }));
    expect(refused.message).toMatch(/Cannot load KMS emulator state/);
    expect(refused.message).not.toContain(state.keys[0].secretKey);
  });
});
