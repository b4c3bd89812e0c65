/** The KMS operations the emulator implements, and the dispatch table from operation name to handler. */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { blobKeyId, type EncryptionContext, openBlob, sealBlob } from './ciphertext';
import { KmsError, notFound, unsupported } from './errors';
import {
  assertEnabled,
  assertNotPendingDeletion,
  type EncryptionKey,
  type KeyRecord,
  type KeyStore,
  keyRecord,
  keySpecOf,
  type SigningKey,
  tagList,
} from './key-store';
import { isPlainObject, type Params } from './params';
import { signDigest, verifyDigest } from './signing';
import {
  ALIAS_NAME_LENGTH,
  ALL_ENCRYPTION_ALGORITHMS,
  ALL_KEY_SPECS,
  ALL_KEY_USAGES,
  ALL_ORIGINS,
  ALL_SIGNING_ALGORITHMS,
  DATA_KEY_BYTES,
  DATA_KEY_SPECS,
  type DataKeySpec,
  isImplementedKeySpec,
  KEY_ID_LENGTH,
  KEY_SPECS,
  MAX_CIPHERTEXT_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_PLAINTEXT_BYTES,
  MAX_TAGS_PER_KEY,
  MESSAGE_TYPES,
  nowInSeconds,
  type SigningAlgorithm,
} from './vocabulary';

type EncryptionAlgorithm = (typeof ALL_ENCRYPTION_ALGORITHMS)[number];

export type Operation = (store: KeyStore, params: Params) => Promise<object> | object;

function keyMetadata(store: KeyStore, key: KeyRecord): object {
  return {
    AWSAccountId: store.accountId,
    KeyId: key.keyId,
    Arn: store.keyArn(key.keyId),
    CreationDate: key.creationDate,
    Enabled: key.keyState === 'Enabled',
    Description: key.description,
    KeyUsage: key.keyUsage,
    KeyState: key.keyState,
    DeletionDate: key.deletionDate,
    PendingDeletionWindowInDays: key.pendingWindowInDays,
    Origin: 'AWS_KMS',
    KeyManager: 'CUSTOMER',
    KeySpec: key.keySpec,
    CustomerMasterKeySpec: key.keySpec,
    // Like KMS, a signing key lists its signing algorithms and an encryption key its encryption algorithms.
    ...(key.keyUsage === 'SIGN_VERIFY'
      ? { SigningAlgorithms: keySpecOf(key).signingAlgorithms.map((algorithm) => algorithm.name) }
      : { EncryptionAlgorithms: keySpecOf(key).encryptionAlgorithms }),
    MultiRegion: false,
  };
}

async function createKey(store: KeyStore, params: Params): Promise<object> {
  const keySpecParam = params.optionalEnum('KeySpec', ALL_KEY_SPECS);
  const legacySpecParam = params.optionalEnum('CustomerMasterKeySpec', ALL_KEY_SPECS);
  const keyUsage = params.optionalEnum('KeyUsage', ALL_KEY_USAGES) ?? 'ENCRYPT_DECRYPT';
  const origin = params.optionalEnum('Origin', ALL_ORIGINS) ?? 'AWS_KMS';
  const description = params.optionalString('Description', { min: 0, max: 8192 }) ?? '';
  const tags = params.optionalTags('Tags') ?? [];
  // Kept and answered by GetKeyPolicy; not enforced (the emulator has no IAM), hence no lockout safety check.
  const policy = params.optionalString('Policy', { max: 32768 });
  if (policy !== undefined) checkKeyPolicy(policy);
  params.optionalBoolean('BypassPolicyLockoutSafetyCheck');
  if (keySpecParam && legacySpecParam) {
    throw new KmsError(
      'ValidationException',
      'You cannot specify KeySpec and CustomerMasterKeySpec in the same request.',
    );
  }
  const keySpec = keySpecParam ?? legacySpecParam ?? 'SYMMETRIC_DEFAULT';
  if (origin !== 'AWS_KMS') throw unsupported(`Origin ${origin} is not supported by the KMS emulator.`);
  if (params.optionalBoolean('MultiRegion'))
    throw unsupported('Multi-Region keys are not supported by the KMS emulator.');
  if (params.optionalString('CustomKeyStoreId'))
    throw unsupported('Custom key stores are not supported by the KMS emulator.');
  if (!isImplementedKeySpec(keySpec)) {
    throw unsupported(
      `KeySpec ${keySpec} is not supported by the KMS emulator (${Object.keys(KEY_SPECS).join(', ')} only).`,
    );
  }
  const spec = KEY_SPECS[keySpec];
  if (!spec.validUsages.includes(keyUsage)) {
    throw new KmsError('ValidationException', `KeyUsage ${keyUsage} is not compatible with KeySpec ${keySpec}.`);
  }
  if (keyUsage !== spec.usage) {
    throw unsupported(
      `KeyUsage ${keyUsage} with KeySpec ${keySpec} is not supported by the KMS emulator (${spec.usage} only).`,
    );
  }
  if (new Set(tags.map((tag) => tag.TagKey)).size > MAX_TAGS_PER_KEY) {
    throw new KmsError('LimitExceededException', `A key can have at most ${MAX_TAGS_PER_KEY} tags.`);
  }

  const attributes = {
    keyId: randomUUID(),
    keySpec,
    description,
    creationDate: nowInSeconds(),
    keyState: 'Enabled' as const,
    tags: new Map(tags.map((tag) => [tag.TagKey, tag.TagValue])),
    ...(policy === undefined ? {} : { policy }),
  };
  const key = keyRecord(attributes, spec.usage, await spec.generate());
  store.keys.set(key.keyId, key);
  await store.save();
  return { KeyMetadata: keyMetadata(store, key) };
}

/**
 * What KMS checks of a key policy's form (MalformedPolicyDocumentException otherwise): a JSON object whose
 * Statement is one statement or a non-empty list of them, each with an Effect and a Principal.
 */
function checkKeyPolicy(policy: string): void {
  const malformed = (why: string) =>
    new KmsError('MalformedPolicyDocumentException', `The key policy is not syntactically correct: ${why}.`);
  let document: unknown;
  try {
    document = JSON.parse(policy);
  } catch {
    throw malformed('it is not JSON');
  }
  if (!isPlainObject(document)) throw malformed('it is not a JSON object');
  const statements = Array.isArray(document.Statement) ? document.Statement : [document.Statement];
  if (statements.length === 0 || statements.some((statement) => !isPlainObject(statement)))
    throw malformed('it has no Statement');
  for (const statement of statements as Record<string, unknown>[]) {
    if (statement.Effect !== 'Allow' && statement.Effect !== 'Deny') throw malformed('a statement has no Effect');
    if (statement.Principal === undefined) throw malformed('a statement has no Principal');
  }
}

/** The key's policy as CreateKey set it (or KMS's default); like KMS, by key ID or key ARN only. */
function getKeyPolicy(store: KeyStore, params: Params): object {
  const key = managedKey(store, params);
  const policyName = params.optionalString('PolicyName', { min: 1, max: 128 }) ?? 'default';
  if (policyName !== 'default') throw notFound(`No such policy: ${policyName}`);
  return { Policy: key.policy ?? store.defaultKeyPolicy(), PolicyName: 'default' };
}

function describeKey(store: KeyStore, params: Params): object {
  const key = store.resolveKey(params.string('KeyId', KEY_ID_LENGTH), { allowAlias: true });
  return { KeyMetadata: keyMetadata(store, key) };
}

function getPublicKey(store: KeyStore, params: Params): object {
  const key = store.resolveKey(params.string('KeyId', KEY_ID_LENGTH), { allowAlias: true });
  assertEnabled(store, key);
  if (key.keyUsage !== 'SIGN_VERIFY') {
    throw unsupported(`${store.keyArn(key.keyId)} is a symmetric key, which has no public key.`);
  }
  return {
    KeyId: store.keyArn(key.keyId),
    PublicKey: key.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    KeySpec: key.keySpec,
    CustomerMasterKeySpec: key.keySpec,
    KeyUsage: 'SIGN_VERIFY',
    SigningAlgorithms: keySpecOf(key).signingAlgorithms.map((algorithm) => algorithm.name),
  };
}

/** What KMS answers when a key's usage does not allow the operation (Sign with an encryption key, say). */
function invalidKeyUsage(store: KeyStore, key: KeyRecord, operation: string): KmsError {
  return new KmsError(
    'InvalidKeyUsageException',
    `${store.keyArn(key.keyId)} key usage is ${key.keyUsage} which is not valid for ${operation}.`,
  );
}

/** DryRun: every check has passed, and KMS says so instead of acting. */
function refuseDryRun(dryRun: boolean | undefined): void {
  if (dryRun) {
    throw new KmsError(
      'DryRunOperationException',
      'The request would have succeeded, but the DryRun option is set.',
      412,
    );
  }
}

interface SignatureRequest {
  key: SigningKey;
  algorithm: SigningAlgorithm;
  digest: Buffer;
}

/** The parts Sign and Verify share: key, algorithm and the digest to sign or check. */
function signatureRequest(store: KeyStore, params: Params, operation: 'Sign' | 'Verify'): SignatureRequest {
  const keyId = params.string('KeyId', KEY_ID_LENGTH);
  const message = params.blob('Message', { min: 1, max: MAX_MESSAGE_BYTES });
  const messageType = params.optionalEnum('MessageType', MESSAGE_TYPES) ?? 'RAW';
  const algorithmName = params.enum('SigningAlgorithm', ALL_SIGNING_ALGORITHMS);
  const dryRun = params.optionalBoolean('DryRun');

  const key = store.resolveKey(keyId, { allowAlias: true });
  assertEnabled(store, key);
  if (key.keyUsage !== 'SIGN_VERIFY') throw invalidKeyUsage(store, key, operation);
  const algorithm = keySpecOf(key).signingAlgorithms.find((candidate) => candidate.name === algorithmName);
  if (!algorithm) {
    throw new KmsError(
      'InvalidKeyUsageException',
      `Algorithm ${algorithmName} is incompatible with key spec ${key.keySpec}.`,
    );
  }
  if (messageType === 'EXTERNAL_MU') {
    throw new KmsError('ValidationException', 'MessageType EXTERNAL_MU is only valid with ML-DSA keys.');
  }
  if (messageType === 'DIGEST' && message.length !== algorithm.digestLength) {
    throw new KmsError('ValidationException', `Digest is invalid length for algorithm ${algorithmName}.`);
  }
  refuseDryRun(dryRun);
  const digest = messageType === 'DIGEST' ? message : createHash(algorithm.hash).update(message).digest();
  return { key, algorithm, digest };
}

function sign(store: KeyStore, params: Params): object {
  const { key, algorithm, digest } = signatureRequest(store, params, 'Sign');
  return {
    KeyId: store.keyArn(key.keyId),
    Signature: signDigest(key, algorithm, digest).toString('base64'),
    SigningAlgorithm: algorithm.name,
  };
}

function verify(store: KeyStore, params: Params): object {
  const signature = params.blob('Signature', { min: 1, max: 6144 });
  const { key, algorithm, digest } = signatureRequest(store, params, 'Verify');
  if (!verifyDigest(key, algorithm, digest, signature)) {
    throw new KmsError('KMSInvalidSignatureException', 'The signature verification failed.');
  }
  return { KeyId: store.keyArn(key.keyId), SignatureValid: true, SigningAlgorithm: algorithm.name };
}

/** The symmetric key an encryption operation names: any identifier, enabled, with usage ENCRYPT_DECRYPT. */
function encryptionKey(store: KeyStore, identifier: string, operation: string): EncryptionKey {
  const key = store.resolveKey(identifier, { allowAlias: true });
  assertEnabled(store, key);
  if (key.keyUsage !== 'ENCRYPT_DECRYPT') throw invalidKeyUsage(store, key, operation);
  return key;
}

/** EncryptionAlgorithm, defaulting like KMS to SYMMETRIC_DEFAULT, the only one a symmetric key has. */
function encryptionAlgorithm(key: EncryptionKey, name: EncryptionAlgorithm | undefined): EncryptionAlgorithm {
  const algorithm = name ?? 'SYMMETRIC_DEFAULT';
  if (!keySpecOf(key).encryptionAlgorithms.includes(algorithm)) {
    throw new KmsError(
      'InvalidKeyUsageException',
      `Algorithm ${algorithm} is incompatible with key spec ${key.keySpec}.`,
    );
  }
  return algorithm;
}

const invalidCiphertext = () =>
  // Deliberately one answer for a tampered blob, a foreign one and a wrong encryption context.
  new KmsError('InvalidCiphertextException', 'The ciphertext or its encryption context is not valid.');

interface OpenedCiphertext {
  key: EncryptionKey;
  algorithm: EncryptionAlgorithm;
  plaintext: Buffer;
}

/**
 * Decrypt's core, which ReEncrypt shares. The blob names its key, so KeyId may be left out; when it is
 * given, it must name the blob's key (IncorrectKeyException otherwise), as in KMS.
 */
function openCiphertext(
  store: KeyStore,
  request: {
    blob: Buffer;
    context: EncryptionContext;
    keyId: string | undefined;
    algorithm: EncryptionAlgorithm | undefined;
    operation: string;
  },
): OpenedCiphertext {
  const named = blobKeyId(request.blob);
  let key: EncryptionKey;
  if (request.keyId !== undefined) {
    key = encryptionKey(store, request.keyId, request.operation);
    if (named !== undefined && named !== key.keyId) {
      throw new KmsError(
        'IncorrectKeyException',
        'The key ID in the request does not identify a CMK that can perform this operation.',
      );
    }
  } else {
    const found = named === undefined ? undefined : store.keys.get(named);
    if (found?.keyUsage !== 'ENCRYPT_DECRYPT') throw invalidCiphertext();
    assertEnabled(store, found);
    key = found;
  }
  const algorithm = encryptionAlgorithm(key, request.algorithm);
  const plaintext = openBlob(key, request.blob, request.context);
  if (plaintext === undefined) throw invalidCiphertext();
  return { key, algorithm, plaintext };
}

function encrypt(store: KeyStore, params: Params): object {
  const keyId = params.string('KeyId', KEY_ID_LENGTH);
  const plaintext = params.blob('Plaintext', { min: 1, max: MAX_PLAINTEXT_BYTES });
  const context = params.stringMap('EncryptionContext');
  const algorithmName = params.optionalEnum('EncryptionAlgorithm', ALL_ENCRYPTION_ALGORITHMS);
  const dryRun = params.optionalBoolean('DryRun');

  const key = encryptionKey(store, keyId, 'Encrypt');
  const algorithm = encryptionAlgorithm(key, algorithmName);
  refuseDryRun(dryRun);
  return {
    CiphertextBlob: sealBlob(key, plaintext, context).toString('base64'),
    KeyId: store.keyArn(key.keyId),
    EncryptionAlgorithm: algorithm,
  };
}

function decrypt(store: KeyStore, params: Params): object {
  const blob = params.blob('CiphertextBlob', { min: 1, max: MAX_CIPHERTEXT_BYTES });
  const context = params.stringMap('EncryptionContext');
  const keyId = params.optionalString('KeyId', KEY_ID_LENGTH);
  const algorithmName = params.optionalEnum('EncryptionAlgorithm', ALL_ENCRYPTION_ALGORITHMS);
  const dryRun = params.optionalBoolean('DryRun');

  const { key, algorithm, plaintext } = openCiphertext(store, {
    blob,
    context,
    keyId,
    algorithm: algorithmName,
    operation: 'Decrypt',
  });
  refuseDryRun(dryRun);
  return { KeyId: store.keyArn(key.keyId), Plaintext: plaintext.toString('base64'), EncryptionAlgorithm: algorithm };
}

function reEncrypt(store: KeyStore, params: Params): object {
  const blob = params.blob('CiphertextBlob', { min: 1, max: MAX_CIPHERTEXT_BYTES });
  const sourceContext = params.stringMap('SourceEncryptionContext');
  const sourceKeyId = params.optionalString('SourceKeyId', KEY_ID_LENGTH);
  const destinationKeyId = params.string('DestinationKeyId', KEY_ID_LENGTH);
  const destinationContext = params.stringMap('DestinationEncryptionContext');
  const sourceAlgorithmName = params.optionalEnum('SourceEncryptionAlgorithm', ALL_ENCRYPTION_ALGORITHMS);
  const destinationAlgorithmName = params.optionalEnum('DestinationEncryptionAlgorithm', ALL_ENCRYPTION_ALGORITHMS);
  const dryRun = params.optionalBoolean('DryRun');

  const source = openCiphertext(store, {
    blob,
    context: sourceContext,
    keyId: sourceKeyId,
    algorithm: sourceAlgorithmName,
    operation: 'ReEncrypt',
  });
  const destination = encryptionKey(store, destinationKeyId, 'ReEncrypt');
  const destinationAlgorithm = encryptionAlgorithm(destination, destinationAlgorithmName);
  refuseDryRun(dryRun);
  return {
    CiphertextBlob: sealBlob(destination, source.plaintext, destinationContext).toString('base64'),
    SourceKeyId: store.keyArn(source.key.keyId),
    KeyId: store.keyArn(destination.keyId),
    SourceEncryptionAlgorithm: source.algorithm,
    DestinationEncryptionAlgorithm: destinationAlgorithm,
  };
}

const DATA_KEY_SPEC_NAMES = Object.keys(DATA_KEY_SPECS) as DataKeySpec[];

/** What GenerateDataKey and GenerateDataKeyWithoutPlaintext share: a fresh data key and its sealed copy. */
function dataKey(
  store: KeyStore,
  params: Params,
  operation: string,
): { key: EncryptionKey; plaintext: Buffer; blob: Buffer } {
  const keyId = params.string('KeyId', KEY_ID_LENGTH);
  const context = params.stringMap('EncryptionContext');
  const keySpec = params.optionalEnum('KeySpec', DATA_KEY_SPEC_NAMES);
  const numberOfBytes = params.optionalInteger('NumberOfBytes', DATA_KEY_BYTES);
  const dryRun = params.optionalBoolean('DryRun');
  // Exactly one of them; KMS answers both cases with this message.
  if ((keySpec === undefined) === (numberOfBytes === undefined)) {
    throw new KmsError('ValidationException', 'Please specify either number of bytes or key spec.');
  }

  const key = encryptionKey(store, keyId, operation);
  refuseDryRun(dryRun);
  const plaintext = randomBytes(keySpec === undefined ? (numberOfBytes as number) : DATA_KEY_SPECS[keySpec]);
  return { key, plaintext, blob: sealBlob(key, plaintext, context) };
}

function generateDataKey(store: KeyStore, params: Params): object {
  const { key, plaintext, blob } = dataKey(store, params, 'GenerateDataKey');
  return {
    CiphertextBlob: blob.toString('base64'),
    Plaintext: plaintext.toString('base64'),
    KeyId: store.keyArn(key.keyId),
  };
}

function generateDataKeyWithoutPlaintext(store: KeyStore, params: Params): object {
  const { key, blob } = dataKey(store, params, 'GenerateDataKeyWithoutPlaintext');
  return { CiphertextBlob: blob.toString('base64'), KeyId: store.keyArn(key.keyId) };
}

/** AliasName rules: the length/pattern constraints, then KMS's own naming rules. */
function aliasNameParam(params: Params): string {
  const aliasName = params.string('AliasName', ALIAS_NAME_LENGTH);
  if (!aliasName.startsWith('alias/') || aliasName.length === 'alias/'.length) {
    throw new KmsError(
      'InvalidAliasNameException',
      `Alias name '${aliasName}' must begin with 'alias/' followed by a name.`,
    );
  }
  if (aliasName.startsWith('alias/aws/')) {
    throw new KmsError(
      'InvalidAliasNameException',
      `Alias name '${aliasName}' must not begin with 'alias/aws/': that prefix is reserved for AWS managed keys.`,
    );
  }
  return aliasName;
}

/** An alias target: key ID or key ARN only, never pending deletion. */
function aliasTarget(store: KeyStore, params: Params): KeyRecord {
  const key = store.resolveKey(params.string('TargetKeyId', KEY_ID_LENGTH), { allowAlias: false });
  assertNotPendingDeletion(store, key);
  return key;
}

async function createAlias(store: KeyStore, params: Params): Promise<object> {
  const aliasName = aliasNameParam(params);
  const key = aliasTarget(store, params);
  if (store.aliases.has(aliasName)) {
    throw new KmsError('AlreadyExistsException', `An alias with the name ${store.aliasArn(aliasName)} already exists`);
  }
  const now = nowInSeconds();
  store.aliases.set(aliasName, { aliasName, targetKeyId: key.keyId, creationDate: now, lastUpdatedDate: now });
  await store.save();
  return {};
}

async function updateAlias(store: KeyStore, params: Params): Promise<object> {
  const aliasName = aliasNameParam(params);
  const key = aliasTarget(store, params);
  const alias = store.alias(aliasName);
  // KMS keeps an alias on keys of one type and usage, so that code naming a key by alias cannot end up
  // signing with an encryption key. Here symmetric keys are the ENCRYPT_DECRYPT ones, so usage says both.
  const current = store.keys.get(alias.targetKeyId);
  if (current !== undefined && current.keyUsage !== key.keyUsage) {
    throw new KmsError(
      'ValidationException',
      `${store.aliasArn(aliasName)} names a ${current.keyUsage} key; it cannot name ${store.keyArn(key.keyId)}, a ${key.keyUsage} key.`,
    );
  }
  alias.targetKeyId = key.keyId;
  alias.lastUpdatedDate = nowInSeconds();
  await store.save();
  return {};
}

async function deleteAlias(store: KeyStore, params: Params): Promise<object> {
  const aliasName = aliasNameParam(params);
  store.alias(aliasName);
  store.aliases.delete(aliasName);
  await store.save();
  return {};
}

/** Marker-based paging like KMS: the marker is opaque to callers. */
function paginate<T>(
  items: T[],
  params: Params,
  maxLimit: number,
  defaultLimit = maxLimit,
): { page: T[]; NextMarker?: string; Truncated: boolean } {
  const limit = params.optionalInteger('Limit', { min: 1, max: maxLimit }) ?? defaultLimit;
  const marker = params.optionalString('Marker', { min: 1, max: 1024 });
  const start = marker === undefined ? 0 : decodeMarker(marker);
  if (start === undefined || start > items.length)
    throw new KmsError('InvalidMarkerException', 'The marker is not valid.');
  const end = start + limit;
  const truncated = end < items.length;
  return {
    page: items.slice(start, end),
    ...(truncated ? { NextMarker: encodeMarker(end) } : {}),
    Truncated: truncated,
  };
}

const encodeMarker = (offset: number) => Buffer.from(`offset:${offset}`).toString('base64url');

function decodeMarker(marker: string): number | undefined {
  const match = /^offset:(\d{1,9})$/.exec(Buffer.from(marker, 'base64url').toString('utf8'));
  return match ? Number(match[1]) : undefined;
}

function listAliases(store: KeyStore, params: Params): object {
  const keyId = params.optionalString('KeyId', KEY_ID_LENGTH);
  const targetKeyId = keyId === undefined ? undefined : store.resolveKey(keyId, { allowAlias: false }).keyId;
  const aliases = [...store.aliases.values()]
    .filter((alias) => targetKeyId === undefined || alias.targetKeyId === targetKeyId)
    .sort((a, b) => a.aliasName.localeCompare(b.aliasName));
  const { page, ...paging } = paginate(aliases, params, 100);
  return {
    Aliases: page.map((alias) => ({
      AliasName: alias.aliasName,
      AliasArn: store.aliasArn(alias.aliasName),
      TargetKeyId: alias.targetKeyId,
      CreationDate: alias.creationDate,
      LastUpdatedDate: alias.lastUpdatedDate,
    })),
    ...paging,
  };
}

/** Every key, pending deletion included, in creation order (KMS does not promise an order). */
function listKeys(store: KeyStore, params: Params): object {
  const { page, ...paging } = paginate([...store.keys.values()], params, 1000, 100);
  return { Keys: page.map((key) => ({ KeyId: key.keyId, KeyArn: store.keyArn(key.keyId) })), ...paging };
}

/** Key-ID-or-ARN lookup for the management operations, which do not take aliases. */
function managedKey(store: KeyStore, params: Params): KeyRecord {
  return store.resolveKey(params.string('KeyId', KEY_ID_LENGTH), { allowAlias: false });
}

async function enableKey(store: KeyStore, params: Params): Promise<object> {
  const key = managedKey(store, params);
  assertNotPendingDeletion(store, key);
  key.keyState = 'Enabled';
  await store.save();
  return {};
}

async function disableKey(store: KeyStore, params: Params): Promise<object> {
  const key = managedKey(store, params);
  assertNotPendingDeletion(store, key);
  key.keyState = 'Disabled';
  await store.save();
  return {};
}

async function scheduleKeyDeletion(store: KeyStore, params: Params): Promise<object> {
  const key = managedKey(store, params);
  const pendingWindowInDays = params.optionalInteger('PendingWindowInDays', { min: 7, max: 30 }) ?? 30;
  assertNotPendingDeletion(store, key);
  key.keyState = 'PendingDeletion';
  key.pendingWindowInDays = pendingWindowInDays;
  key.deletionDate = nowInSeconds() + pendingWindowInDays * 24 * 60 * 60;
  await store.save();
  return {
    KeyId: store.keyArn(key.keyId),
    DeletionDate: key.deletionDate,
    KeyState: key.keyState,
    PendingWindowInDays: pendingWindowInDays,
  };
}

async function tagResource(store: KeyStore, params: Params): Promise<object> {
  const key = managedKey(store, params);
  const tags = params.optionalTags('Tags') ?? [];
  assertNotPendingDeletion(store, key);
  const keys = new Set([...key.tags.keys(), ...tags.map((tag) => tag.TagKey)]);
  if (keys.size > MAX_TAGS_PER_KEY)
    throw new KmsError('LimitExceededException', `A key can have at most ${MAX_TAGS_PER_KEY} tags.`);
  for (const tag of tags) key.tags.set(tag.TagKey, tag.TagValue);
  await store.save();
  return {};
}

function listResourceTags(store: KeyStore, params: Params): object {
  const key = managedKey(store, params);
  const { page, ...paging } = paginate(tagList(key), params, 50);
  return { Tags: page, ...paging };
}

/** Dispatch table: X-Amz-Target `TrentService.<name>` → handler. */
export const OPERATIONS = new Map<string, Operation>([
  ['CreateKey', createKey],
  ['DescribeKey', describeKey],
  ['GetPublicKey', getPublicKey],
  ['GetKeyPolicy', getKeyPolicy],
  ['Sign', sign],
  ['Verify', verify],
  ['Encrypt', encrypt],
  ['Decrypt', decrypt],
  ['ReEncrypt', reEncrypt],
  ['GenerateDataKey', generateDataKey],
  ['GenerateDataKeyWithoutPlaintext', generateDataKeyWithoutPlaintext],
  ['ListKeys', listKeys],
  ['CreateAlias', createAlias],
  ['UpdateAlias', updateAlias],
  ['DeleteAlias', deleteAlias],
  ['ListAliases', listAliases],
  ['EnableKey', enableKey],
  ['DisableKey', disableKey],
  ['ScheduleKeyDeletion', scheduleKeyDeletion],
  ['TagResource', tagResource],
  ['ListResourceTags', listResourceTags],
]);
