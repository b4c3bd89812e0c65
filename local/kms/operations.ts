/** The KMS operations the emulator implements, and the dispatch table from operation name to handler. */
import { createHash, createPublicKey, randomUUID } from 'node:crypto';
import { KmsError, notFound, unsupported } from './errors';
import {
  assertEnabled,
  assertNotPendingDeletion,
  type KeyRecord,
  type KeyStore,
  keySpecOf,
  tagList,
} from './key-store';
import { isPlainObject, type Params } from './params';
import { signDigest, verifyDigest } from './signing';
import {
  ALIAS_NAME_LENGTH,
  ALL_KEY_SPECS,
  ALL_KEY_USAGES,
  ALL_ORIGINS,
  ALL_SIGNING_ALGORITHMS,
  isImplementedKeySpec,
  KEY_ID_LENGTH,
  KEY_SPECS,
  MAX_MESSAGE_BYTES,
  MAX_TAGS_PER_KEY,
  MESSAGE_TYPES,
  nowInSeconds,
  type SigningAlgorithm,
} from './vocabulary';

export type Operation = (store: KeyStore, params: Params) => Promise<object> | object;

function keyMetadata(store: KeyStore, key: KeyRecord): object {
  return {
    AWSAccountId: store.accountId,
    KeyId: key.keyId,
    Arn: store.keyArn(key.keyId),
    CreationDate: key.creationDate,
    Enabled: key.keyState === 'Enabled',
    Description: key.description,
    KeyUsage: 'SIGN_VERIFY',
    KeyState: key.keyState,
    DeletionDate: key.deletionDate,
    PendingDeletionWindowInDays: key.pendingWindowInDays,
    Origin: 'AWS_KMS',
    KeyManager: 'CUSTOMER',
    KeySpec: key.keySpec,
    CustomerMasterKeySpec: key.keySpec,
    SigningAlgorithms: keySpecOf(key).signingAlgorithms.map((algorithm) => algorithm.name),
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
    throw unsupported(`KeySpec ${keySpec} is not supported by the KMS emulator (RSA_2048 and ECC_NIST_P256 only).`);
  }
  const spec = KEY_SPECS[keySpec];
  if (!(spec.validUsages as readonly string[]).includes(keyUsage)) {
    throw new KmsError('ValidationException', `KeyUsage ${keyUsage} is not compatible with KeySpec ${keySpec}.`);
  }
  if (keyUsage !== 'SIGN_VERIFY')
    throw unsupported(`KeyUsage ${keyUsage} is not supported by the KMS emulator (SIGN_VERIFY only).`);
  if (new Set(tags.map((tag) => tag.TagKey)).size > MAX_TAGS_PER_KEY) {
    throw new KmsError('LimitExceededException', `A key can have at most ${MAX_TAGS_PER_KEY} tags.`);
  }

  const privateKey = await spec.generate();
  const key: KeyRecord = {
    keyId: randomUUID(),
    keySpec,
    description,
    creationDate: nowInSeconds(),
    keyState: 'Enabled',
    tags: new Map(tags.map((tag) => [tag.TagKey, tag.TagValue])),
    ...(policy === undefined ? {} : { policy }),
    privateKey,
    publicKey: createPublicKey(privateKey),
  };
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
  return {
    KeyId: store.keyArn(key.keyId),
    PublicKey: key.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    KeySpec: key.keySpec,
    CustomerMasterKeySpec: key.keySpec,
    KeyUsage: 'SIGN_VERIFY',
    SigningAlgorithms: keySpecOf(key).signingAlgorithms.map((algorithm) => algorithm.name),
  };
}

interface SignatureRequest {
  key: KeyRecord;
  algorithm: SigningAlgorithm;
  digest: Buffer;
}

/** The parts Sign and Verify share: key, algorithm and the digest to sign or check. */
function signatureRequest(store: KeyStore, params: Params): SignatureRequest {
  const keyId = params.string('KeyId', KEY_ID_LENGTH);
  const message = params.blob('Message', { min: 1, max: MAX_MESSAGE_BYTES });
  const messageType = params.optionalEnum('MessageType', MESSAGE_TYPES) ?? 'RAW';
  const algorithmName = params.enum('SigningAlgorithm', ALL_SIGNING_ALGORITHMS);
  const dryRun = params.optionalBoolean('DryRun');

  const key = store.resolveKey(keyId, { allowAlias: true });
  assertEnabled(store, key);
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
  if (dryRun) {
    throw new KmsError(
      'DryRunOperationException',
      'The request would have succeeded, but the DryRun option is set.',
      412,
    );
  }
  const digest = messageType === 'DIGEST' ? message : createHash(algorithm.hash).update(message).digest();
  return { key, algorithm, digest };
}

function sign(store: KeyStore, params: Params): object {
  const { key, algorithm, digest } = signatureRequest(store, params);
  return {
    KeyId: store.keyArn(key.keyId),
    Signature: signDigest(key, algorithm, digest).toString('base64'),
    SigningAlgorithm: algorithm.name,
  };
}

function verify(store: KeyStore, params: Params): object {
  const signature = params.blob('Signature', { min: 1, max: 6144 });
  const { key, algorithm, digest } = signatureRequest(store, params);
  if (!verifyDigest(key, algorithm, digest, signature)) {
    throw new KmsError('KMSInvalidSignatureException', 'The signature verification failed.');
  }
  return { KeyId: store.keyArn(key.keyId), SignatureValid: true, SigningAlgorithm: algorithm.name };
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
  // Real KMS requires the old and new targets to share key type and usage; every key here is an
  // asymmetric SIGN_VERIFY key, so that always holds.
  const alias = store.alias(aliasName);
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
): { page: T[]; NextMarker?: string; Truncated: boolean } {
  const limit = params.optionalInteger('Limit', { min: 1, max: maxLimit }) ?? maxLimit;
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
