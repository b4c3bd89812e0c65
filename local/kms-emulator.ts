/**
 * Local emulator of the AWS KMS JSON API ("TrentService"), for tests and local runs.
 *
 * It speaks the real wire protocol (POST /, `X-Amz-Target: TrentService.<Operation>`,
 * `application/x-amz-json-1.1`, base64 blobs, epoch-second timestamps, errors as
 * `{"__type": ..., "message": ...}`), so the unmodified `@aws-sdk/client-kms` works against it
 * with `endpoint: emulator.endpoint` and any region and static credentials.
 *
 * Scope: asymmetric signing keys only (RSA_2048, ECC_NIST_P256 with KeyUsage SIGN_VERIFY) and the
 * operations in OPERATIONS below. Private keys never leave the emulator except in its own state
 * file (when `stateDir` is given); neither keys nor message contents are ever logged.
 *
 * Test-only control endpoint (not part of KMS): `POST /_emulator/faults` with a KmsFault as JSON
 * adds a fault, `DELETE /_emulator/faults` clears them, `GET /_emulator/faults` lists them.
 */
import {
  constants as cryptoConstants,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  privateEncrypt,
  publicDecrypt,
  randomBytes,
  randomUUID,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

export interface KmsEmulatorOptions {
  /** 0 or omitted = a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** When set, keys, aliases, tags and key states persist in a JSON file in this directory. */
  stateDir?: string;
  /** Default us-east-1. */
  region?: string;
  /** Default 000000000000. */
  accountId?: string;
}

export interface KmsFault {
  /** KMS operation name such as 'Sign'; omitted = every operation. */
  operation?: string;
  kind: 'throttle' | 'internal' | 'unavailable' | 'latency';
  /** Required for 'latency'. */
  latencyMs?: number;
  /** How many requests the fault applies to; omitted = until cleared. */
  times?: number;
}

export interface KmsEmulator {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  readonly port: number;
  readonly region: string;
  readonly accountId: string;
  injectFault(fault: KmsFault): void;
  clearFaults(): void;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** An error answered the way KMS answers it: `__type` name, message and HTTP status. */
class KmsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = type;
  }
}

const notFound = (message: string) => new KmsError('NotFoundException', message);
const serializationError = (message: string) => new KmsError('SerializationException', message);
const unsupported = (message: string) => new KmsError('UnsupportedOperationException', message);

/**
 * KMS-style constraint violation: "1 validation error detected: Value null at 'keyId' failed to
 * satisfy constraint: Member must not be null". `value` is echoed when a string, shown as null when
 * null, and left out when undefined (blobs, which may be sensitive).
 */
function validationError(field: string, constraint: string, value?: string | null): KmsError {
  const member = field.charAt(0).toLowerCase() + field.slice(1);
  const shown = value === undefined ? '' : value === null ? 'null ' : `'${value}' `;
  return new KmsError(
    'ValidationException',
    `1 validation error detected: Value ${shown}at '${member}' failed to satisfy constraint: ${constraint}`,
  );
}

// ---------------------------------------------------------------------------------------------
// KMS vocabulary
// ---------------------------------------------------------------------------------------------

/** Every KeySpec real KMS knows: a valid but unimplemented one is "unsupported", not "invalid". */
const ALL_KEY_SPECS = [
  'RSA_2048', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521',
  'ECC_SECG_P256K1', 'ECC_NIST_EDWARDS25519', 'SYMMETRIC_DEFAULT', 'HMAC_224', 'HMAC_256',
  'HMAC_384', 'HMAC_512', 'SM2', 'ML_DSA_44', 'ML_DSA_65', 'ML_DSA_87',
] as const;
const ALL_KEY_USAGES = ['SIGN_VERIFY', 'ENCRYPT_DECRYPT', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT'] as const;
const ALL_ORIGINS = ['AWS_KMS', 'EXTERNAL', 'AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE'] as const;
const ALL_SIGNING_ALGORITHMS = [
  'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512',
  'ECDSA_SHA_256', 'ECDSA_SHA_384', 'ECDSA_SHA_512', 'SM2DSA', 'ML_DSA_SHAKE_256', 'ED25519_SHA_512',
  'ED25519_PH_SHA_512',
] as const;
const MESSAGE_TYPES = ['RAW', 'DIGEST', 'EXTERNAL_MU'] as const;

type HashName = 'sha256' | 'sha384' | 'sha512';

interface SigningAlgorithm {
  readonly name: string;
  readonly scheme: 'pkcs1' | 'pss' | 'ecdsa';
  readonly hash: HashName;
  /** Digest length in bytes, also the PSS salt length (KMS uses salt length = digest length). */
  readonly digestLength: number;
}

function signingAlgorithm(name: string, scheme: SigningAlgorithm['scheme'], bits: 256 | 384 | 512): SigningAlgorithm {
  return { name, scheme, hash: `sha${bits}`, digestLength: bits / 8 };
}

const RSA_SIGNING_ALGORITHMS = [
  signingAlgorithm('RSASSA_PSS_SHA_256', 'pss', 256),
  signingAlgorithm('RSASSA_PSS_SHA_384', 'pss', 384),
  signingAlgorithm('RSASSA_PSS_SHA_512', 'pss', 512),
  signingAlgorithm('RSASSA_PKCS1_V1_5_SHA_256', 'pkcs1', 256),
  signingAlgorithm('RSASSA_PKCS1_V1_5_SHA_384', 'pkcs1', 384),
  signingAlgorithm('RSASSA_PKCS1_V1_5_SHA_512', 'pkcs1', 512),
];

const generateKeyPairAsync = promisify(generateKeyPair);

/** The key specs this emulator implements, and what real KMS allows for each. */
const KEY_SPECS = {
  RSA_2048: {
    validUsages: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'],
    signingAlgorithms: RSA_SIGNING_ALGORITHMS,
    generate: async () => (await generateKeyPairAsync('rsa', { modulusLength: 2048, publicExponent: 0x10001 })).privateKey,
  },
  ECC_NIST_P256: {
    validUsages: ['SIGN_VERIFY', 'KEY_AGREEMENT'],
    signingAlgorithms: [signingAlgorithm('ECDSA_SHA_256', 'ecdsa', 256)],
    generate: async () => (await generateKeyPairAsync('ec', { namedCurve: 'prime256v1' })).privateKey,
  },
} as const;

type KeySpec = keyof typeof KEY_SPECS;
type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion';

const isImplementedKeySpec = (spec: string): spec is KeySpec => Object.hasOwn(KEY_SPECS, spec);

const KEY_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ARN_PATTERN = /^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):(key|alias)\/(.+)$/;
const ALIAS_NAME_PATTERN = /^[a-zA-Z0-9:/_-]+$/;
const KEY_ID_LENGTH = { min: 1, max: 2048 };
const ALIAS_NAME_LENGTH = { min: 1, max: 256, pattern: ALIAS_NAME_PATTERN };
const MAX_MESSAGE_BYTES = 4096;
const MAX_TAGS_PER_KEY = 50;

function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

const nowInSeconds = () => Date.now() / 1000;

// ---------------------------------------------------------------------------------------------
// Request parameters: typed, validated access to a request body
// ---------------------------------------------------------------------------------------------

interface StringConstraints {
  min?: number;
  max?: number;
  pattern?: RegExp;
}

interface Tag {
  TagKey: string;
  TagValue: string;
}

const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

class Params {
  private constructor(private readonly body: Record<string, unknown>) {}

  static parse(raw: Buffer): Params {
    if (raw.length === 0) return new Params({});
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      throw serializationError('The request body is not valid JSON.');
    }
    if (!isPlainObject(body)) throw serializationError('The request body must be a JSON object.');
    return new Params(body);
  }

  optionalString(field: string, { min = 1, max = Infinity, pattern }: StringConstraints = {}): string | undefined {
    const value = this.value(field);
    if (value === undefined) return undefined;
    if (typeof value !== 'string') throw serializationError(`'${field}' must be a string.`);
    if (value.length < min) throw validationError(field, `Member must have length greater than or equal to ${min}`, value);
    if (value.length > max) throw validationError(field, `Member must have length less than or equal to ${max}`, value);
    if (pattern && !pattern.test(value)) throw validationError(field, `Member must satisfy regular expression pattern: ${pattern.source}`, value);
    return value;
  }

  string(field: string, constraints?: StringConstraints): string {
    return this.optionalString(field, constraints) ?? this.missing(field);
  }

  optionalEnum<T extends string>(field: string, values: readonly T[]): T | undefined {
    const value = this.optionalString(field, { min: 0 });
    if (value === undefined) return undefined;
    if (!(values as readonly string[]).includes(value)) {
      throw validationError(field, `Member must satisfy enum value set: [${values.join(', ')}]`, value);
    }
    return value as T;
  }

  enum<T extends string>(field: string, values: readonly T[]): T {
    return this.optionalEnum(field, values) ?? this.missing(field);
  }

  /** A base64 blob; its value is never echoed in errors (it may be sensitive). */
  blob(field: string, { min = 1, max = Infinity }: { min?: number; max?: number } = {}): Buffer {
    const value = this.value(field);
    if (value === undefined) return this.missing(field);
    if (typeof value !== 'string' || !BASE64_PATTERN.test(value)) {
      throw serializationError(`'${field}' must be a base64-encoded string.`);
    }
    const bytes = Buffer.from(value, 'base64');
    if (bytes.length < min) throw validationError(field, `Member must have length greater than or equal to ${min}`);
    if (bytes.length > max) throw validationError(field, `Member must have length less than or equal to ${max}`);
    return bytes;
  }

  optionalInteger(field: string, { min, max }: { min: number; max: number }): number | undefined {
    const value = this.value(field);
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value)) throw serializationError(`'${field}' must be an integer.`);
    if (value < min) throw validationError(field, `Member must have value greater than or equal to ${min}`, String(value));
    if (value > max) throw validationError(field, `Member must have value less than or equal to ${max}`, String(value));
    return value;
  }

  optionalBoolean(field: string): boolean | undefined {
    const value = this.value(field);
    if (value === undefined) return undefined;
    if (typeof value !== 'boolean') throw serializationError(`'${field}' must be a boolean.`);
    return value;
  }

  optionalTags(field: string): Tag[] | undefined {
    const value = this.value(field);
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) throw serializationError(`'${field}' must be a list.`);
    return value.map((entry: unknown) => {
      if (!isPlainObject(entry)) throw serializationError(`'${field}' entries must be objects.`);
      const tag = new Params(entry);
      const TagKey = tag.string('TagKey', { min: 1, max: 128 });
      const TagValue = tag.string('TagValue', { min: 0, max: 256 });
      if (TagKey.toLowerCase().startsWith('aws:')) {
        throw new KmsError('TagException', `Tag keys must not begin with 'aws:' (got '${TagKey}').`);
      }
      return { TagKey, TagValue };
    });
  }

  private value(field: string): unknown {
    const value = Object.hasOwn(this.body, field) ? this.body[field] : undefined;
    return value === null ? undefined : value;
  }

  private missing(field: string): never {
    throw validationError(field, 'Member must not be null', null);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// Keys and their storage
// ---------------------------------------------------------------------------------------------

interface KeyRecord {
  readonly keyId: string;
  readonly keySpec: KeySpec;
  readonly description: string;
  /** Epoch seconds. */
  readonly creationDate: number;
  keyState: KeyState;
  deletionDate?: number;
  pendingWindowInDays?: number;
  /** Insertion-ordered TagKey → TagValue. */
  readonly tags: Map<string, string>;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

interface AliasRecord {
  readonly aliasName: string;
  targetKeyId: string;
  readonly creationDate: number;
  lastUpdatedDate: number;
}

interface PersistedKey {
  keyId: string;
  keySpec: KeySpec;
  description: string;
  creationDate: number;
  keyState: KeyState;
  deletionDate?: number;
  pendingWindowInDays?: number;
  tags: Tag[];
  privateKeyPem: string;
}

interface PersistedState {
  version: 1;
  keys: PersistedKey[];
  aliases: AliasRecord[];
}

const STATE_FILE_NAME = 'kms-emulator-state.json';

/** In-memory keys and aliases, optionally mirrored to a JSON state file. */
class KeyStore {
  readonly keys = new Map<string, KeyRecord>();
  readonly aliases = new Map<string, AliasRecord>();
  private readonly partition: string;
  private saving: Promise<void> = Promise.resolve();

  private constructor(
    readonly region: string,
    readonly accountId: string,
    private readonly stateFile: string | undefined,
  ) {
    this.partition = partitionOf(region);
  }

  static async open(region: string, accountId: string, stateDir?: string): Promise<KeyStore> {
    if (stateDir === undefined) return new KeyStore(region, accountId, undefined);
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    const stateFile = join(stateDir, STATE_FILE_NAME);
    const store = new KeyStore(region, accountId, stateFile);
    await store.load(stateFile);
    return store;
  }

  keyArn(keyId: string): string {
    return `arn:${this.partition}:kms:${this.region}:${this.accountId}:key/${keyId}`;
  }

  aliasArn(aliasName: string): string {
    return `arn:${this.partition}:kms:${this.region}:${this.accountId}:${aliasName}`;
  }

  /**
   * Finds a key the way KMS does: key ID or key ARN always; alias name or alias ARN only for
   * operations that accept them (DescribeKey, GetPublicKey, Sign, Verify).
   */
  resolveKey(identifier: string, { allowAlias }: { allowAlias: boolean }): KeyRecord {
    const arn = ARN_PATTERN.exec(identifier);
    if (arn) {
      const [, partition, region, accountId, resourceType, resource = ''] = arn;
      if (partition !== this.partition || region !== this.region || accountId !== this.accountId) {
        throw notFound(resourceType === 'key' ? `Key '${identifier}' does not exist` : `Alias ${identifier} is not found.`);
      }
      return resourceType === 'key' ? this.keyById(resource) : this.keyByAlias(`alias/${resource}`, allowAlias, identifier);
    }
    if (identifier.startsWith('alias/')) return this.keyByAlias(identifier, allowAlias, identifier);
    return this.keyById(identifier);
  }

  alias(aliasName: string): AliasRecord {
    const alias = this.aliases.get(aliasName);
    if (!alias) throw notFound(`Alias ${this.aliasArn(aliasName)} is not found.`);
    return alias;
  }

  /** Persists a snapshot taken now; writes are serialised and atomic (temp file + rename). */
  save(): Promise<void> {
    const { stateFile } = this;
    if (stateFile === undefined) return Promise.resolve();
    const text = JSON.stringify(this.snapshot(), null, 2);
    this.saving = this.saving.catch(() => undefined).then(() => writeFileAtomic(stateFile, text));
    return this.saving;
  }

  /** Waits for pending writes. */
  async flush(): Promise<void> {
    await this.saving.catch(() => undefined);
  }

  private keyById(keyId: string): KeyRecord {
    if (!KEY_ID_PATTERN.test(keyId)) throw notFound(`Invalid keyId '${keyId}'`);
    const key = this.keys.get(keyId);
    if (!key) throw notFound(`Key '${this.keyArn(keyId)}' does not exist`);
    return key;
  }

  private keyByAlias(aliasName: string, allowAlias: boolean, identifier: string): KeyRecord {
    if (!allowAlias) throw notFound(`Invalid keyId '${identifier}': this operation takes a key ID or key ARN, not an alias`);
    return this.keyById(this.alias(aliasName).targetKeyId);
  }

  private snapshot(): PersistedState {
    return {
      version: 1,
      keys: [...this.keys.values()].map((key) => ({
        keyId: key.keyId,
        keySpec: key.keySpec,
        description: key.description,
        creationDate: key.creationDate,
        keyState: key.keyState,
        deletionDate: key.deletionDate,
        pendingWindowInDays: key.pendingWindowInDays,
        tags: tagList(key),
        privateKeyPem: key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      })),
      aliases: [...this.aliases.values()].map((alias) => ({ ...alias })),
    };
  }

  private async load(file: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    try {
      const state = JSON.parse(text) as PersistedState;
      if (state.version !== 1 || !Array.isArray(state.keys) || !Array.isArray(state.aliases)) {
        throw new Error('unknown format');
      }
      for (const { privateKeyPem, tags, ...saved } of state.keys) {
        if (!isImplementedKeySpec(saved.keySpec)) throw new Error(`unsupported key spec in key ${saved.keyId}`);
        const privateKey = createPrivateKey(privateKeyPem);
        this.keys.set(saved.keyId, {
          ...saved,
          tags: new Map(tags.map((tag) => [tag.TagKey, tag.TagValue])),
          privateKey,
          publicKey: createPublicKey(privateKey),
        });
      }
      for (const alias of state.aliases) this.aliases.set(alias.aliasName, { ...alias });
    } catch (err) {
      // The message never includes file contents (it holds private keys).
      throw new Error(`Cannot load KMS emulator state from ${file}: ${(err as Error).message.slice(0, 200)}`);
    }
  }
}

async function writeFileAtomic(file: string, text: string): Promise<void> {
  const temp = `${file}.${randomUUID()}.tmp`;
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

const tagList = (key: KeyRecord): Tag[] => [...key.tags].map(([TagKey, TagValue]) => ({ TagKey, TagValue }));

function keySpecOf(key: KeyRecord) {
  return KEY_SPECS[key.keySpec];
}

/** Sign, Verify and GetPublicKey need an enabled key. */
function assertEnabled(store: KeyStore, key: KeyRecord): void {
  if (key.keyState === 'Disabled') throw new KmsError('DisabledException', `${store.keyArn(key.keyId)} is disabled.`);
  assertNotPendingDeletion(store, key);
}

function assertNotPendingDeletion(store: KeyStore, key: KeyRecord): void {
  if (key.keyState === 'PendingDeletion') {
    throw new KmsError('KMSInvalidStateException', `${store.keyArn(key.keyId)} is pending deletion.`);
  }
}

// ---------------------------------------------------------------------------------------------
// Signatures over a digest (RAW messages are hashed first, DIGEST messages are used as is)
// ---------------------------------------------------------------------------------------------

/** DER prefix of the PKCS#1 v1.5 DigestInfo for each hash (RFC 8017, section 9.2, note 1). */
const DIGEST_INFO_PREFIX: Record<HashName, Buffer> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

function signDigest(key: KeyRecord, algorithm: SigningAlgorithm, digest: Buffer): Buffer {
  switch (algorithm.scheme) {
    case 'pkcs1':
      return privateEncrypt(
        { key: key.privateKey, padding: cryptoConstants.RSA_PKCS1_PADDING },
        Buffer.concat([DIGEST_INFO_PREFIX[algorithm.hash], digest]),
      );
    case 'pss': {
      const modulusBits = rsaModulusBits(key);
      const encoded = leftPad(pssEncode(digest, algorithm, modulusBits - 1), Math.ceil(modulusBits / 8));
      return privateEncrypt({ key: key.privateKey, padding: cryptoConstants.RSA_NO_PADDING }, encoded);
    }
    case 'ecdsa':
      return ecdsaSign(ecPrivateScalar(key), digest);
  }
}

function verifyDigest(key: KeyRecord, algorithm: SigningAlgorithm, digest: Buffer, signature: Buffer): boolean {
  switch (algorithm.scheme) {
    case 'pkcs1': {
      const recovered = rsaPublicOperation(key, signature, cryptoConstants.RSA_PKCS1_PADDING);
      const expected = Buffer.concat([DIGEST_INFO_PREFIX[algorithm.hash], digest]);
      return recovered !== undefined && recovered.length === expected.length && timingSafeEqual(recovered, expected);
    }
    case 'pss': {
      const encoded = rsaPublicOperation(key, signature, cryptoConstants.RSA_NO_PADDING);
      return encoded !== undefined && pssVerify(digest, encoded, algorithm, rsaModulusBits(key) - 1);
    }
    case 'ecdsa':
      return ecdsaVerify(ecPublicPoint(key), digest, signature);
  }
}

function rsaModulusBits(key: KeyRecord): number {
  return key.privateKey.asymmetricKeyDetails?.modulusLength ?? 2048;
}

/** RSA public-key operation on a signature, or undefined when it is not even well formed. */
function rsaPublicOperation(key: KeyRecord, signature: Buffer, padding: number): Buffer | undefined {
  if (signature.length !== Math.ceil(rsaModulusBits(key) / 8)) return undefined;
  try {
    return publicDecrypt({ key: key.publicKey, padding }, signature);
  } catch {
    return undefined;
  }
}

function leftPad(bytes: Buffer, length: number): Buffer {
  return bytes.length >= length ? bytes : Buffer.concat([Buffer.alloc(length - bytes.length), bytes]);
}

function xor(a: Buffer, b: Buffer): Buffer {
  return Buffer.from(a.map((byte, i) => byte ^ (b[i] ?? 0)));
}

function mgf1(seed: Buffer, length: number, hash: HashName): Buffer {
  const blocks: Buffer[] = [];
  for (let counter = 0, produced = 0; produced < length; counter++) {
    const counterBytes = Buffer.alloc(4);
    counterBytes.writeUInt32BE(counter);
    const block = createHash(hash).update(seed).update(counterBytes).digest();
    blocks.push(block);
    produced += block.length;
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** EMSA-PSS-ENCODE (RFC 8017, section 9.1.1), MGF1 with the same hash, salt length = hash length. */
function pssEncode(digest: Buffer, algorithm: SigningAlgorithm, emBits: number): Buffer {
  const hashLength = algorithm.digestLength;
  const emLength = Math.ceil(emBits / 8);
  const salt = randomBytes(hashLength);
  const h = createHash(algorithm.hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
  const db = Buffer.alloc(emLength - hashLength - 1);
  db[db.length - salt.length - 1] = 0x01;
  salt.copy(db, db.length - salt.length);
  const maskedDb = xor(db, mgf1(h, db.length, algorithm.hash));
  maskedDb[0] = (maskedDb[0] ?? 0) & (0xff >> (8 * emLength - emBits));
  return Buffer.concat([maskedDb, h, Buffer.from([0xbc])]);
}

/** EMSA-PSS-VERIFY (RFC 8017, section 9.1.2) with salt length = hash length. */
function pssVerify(digest: Buffer, encoded: Buffer, algorithm: SigningAlgorithm, emBits: number): boolean {
  const hashLength = algorithm.digestLength;
  const emLength = Math.ceil(emBits / 8);
  const leading = encoded.subarray(0, encoded.length - emLength);
  const em = encoded.subarray(encoded.length - emLength);
  const topBitsMask = 0xff >> (8 * emLength - emBits);
  if (leading.some((byte) => byte !== 0) || em.length !== emLength || emLength < 2 * hashLength + 2) return false;
  if (em[emLength - 1] !== 0xbc || ((em[0] ?? 0) & ~topBitsMask) !== 0) return false;
  const maskedDb = em.subarray(0, emLength - hashLength - 1);
  const h = em.subarray(emLength - hashLength - 1, emLength - 1);
  const db = xor(maskedDb, mgf1(h, maskedDb.length, algorithm.hash));
  db[0] = (db[0] ?? 0) & topBitsMask;
  const separator = db.length - hashLength - 1;
  if (db.subarray(0, separator).some((byte) => byte !== 0) || db[separator] !== 0x01) return false;
  const salt = db.subarray(separator + 1);
  const expected = createHash(algorithm.hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
  return timingSafeEqual(h, expected);
}

// --- ECDSA on NIST P-256 over a precomputed digest (node:crypto always hashes, so this is BigInt math)

interface JacobianPoint {
  readonly x: bigint;
  readonly y: bigint;
  readonly z: bigint;
}

const P256 = {
  p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
  n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  g: {
    x: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
    y: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
    z: 1n,
  },
} as const;
const INFINITY: JacobianPoint = { x: 0n, y: 1n, z: 0n };

const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;
const modP = (a: bigint) => mod(a, P256.p);

function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [mod(a, m), m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) throw new Error('value is not invertible');
  return mod(oldS, m);
}

/** Point doubling for a = -3 ("dbl-2001-b"). */
function pointDouble(p: JacobianPoint): JacobianPoint {
  if (p.z === 0n || p.y === 0n) return INFINITY;
  const delta = modP(p.z * p.z);
  const gamma = modP(p.y * p.y);
  const beta = modP(p.x * gamma);
  const alpha = modP(3n * (p.x - delta) * (p.x + delta));
  const x = modP(alpha * alpha - 8n * beta);
  const z = modP((p.y + p.z) ** 2n - gamma - delta);
  const y = modP(alpha * (4n * beta - x) - 8n * gamma * gamma);
  return { x, y, z };
}

/** General point addition ("add-2007-bl"). */
function pointAdd(p: JacobianPoint, q: JacobianPoint): JacobianPoint {
  if (p.z === 0n) return q;
  if (q.z === 0n) return p;
  const z1z1 = modP(p.z * p.z);
  const z2z2 = modP(q.z * q.z);
  const u1 = modP(p.x * z2z2);
  const u2 = modP(q.x * z1z1);
  const s1 = modP(p.y * q.z * z2z2);
  const s2 = modP(q.y * p.z * z1z1);
  if (u1 === u2) return s1 === s2 ? pointDouble(p) : INFINITY;
  const h = modP(u2 - u1);
  const i = modP(4n * h * h);
  const j = modP(h * i);
  const r = modP(2n * (s2 - s1));
  const v = modP(u1 * i);
  const x = modP(r * r - j - 2n * v);
  const y = modP(r * (v - x) - 2n * s1 * j);
  const z = modP(((p.z + q.z) ** 2n - z1z1 - z2z2) * h);
  return { x, y, z };
}

function pointMultiply(point: JacobianPoint, scalar: bigint): JacobianPoint {
  let result = INFINITY;
  for (const bit of scalar.toString(2)) {
    result = pointDouble(result);
    if (bit === '1') result = pointAdd(result, point);
  }
  return result;
}

function affineX(point: JacobianPoint): bigint {
  const zInverse = modInverse(point.z, P256.p);
  return modP(point.x * zInverse * zInverse);
}

const toBigInt = (bytes: Uint8Array) => (bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`));
const fromBase64Url = (value: string | undefined) => toBigInt(Buffer.from(value ?? '', 'base64url'));

function ecPrivateScalar(key: KeyRecord): bigint {
  return fromBase64Url(key.privateKey.export({ format: 'jwk' }).d);
}

function ecPublicPoint(key: KeyRecord): JacobianPoint {
  const jwk = key.publicKey.export({ format: 'jwk' });
  return { x: fromBase64Url(jwk.x), y: fromBase64Url(jwk.y), z: 1n };
}

function ecdsaSign(privateScalar: bigint, digest: Buffer): Buffer {
  const { n } = P256;
  const z = toBigInt(digest);
  for (;;) {
    const k = toBigInt(randomBytes(32));
    if (k === 0n || k >= n) continue;
    const r = mod(affineX(pointMultiply(P256.g, k)), n);
    const s = mod(modInverse(k, n) * (z + r * privateScalar), n);
    if (r !== 0n && s !== 0n) return encodeEcdsaSignature(r, s);
  }
}

function ecdsaVerify(publicPoint: JacobianPoint, digest: Buffer, signature: Buffer): boolean {
  const { n } = P256;
  const decoded = decodeEcdsaSignature(signature);
  if (!decoded) return false;
  const { r, s } = decoded;
  if (r <= 0n || r >= n || s <= 0n || s >= n) return false;
  const w = modInverse(s, n);
  const u1 = mod(toBigInt(digest) * w, n);
  const u2 = mod(r * w, n);
  const point = pointAdd(pointMultiply(P256.g, u1), pointMultiply(publicPoint, u2));
  return point.z !== 0n && mod(affineX(point), n) === r;
}

/** ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } in DER, as KMS returns it. */
function encodeEcdsaSignature(r: bigint, s: bigint): Buffer {
  const integer = (value: bigint) => {
    const hex = value.toString(16);
    let bytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
    if ((bytes[0] ?? 0) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
    return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
  };
  const body = Buffer.concat([integer(r), integer(s)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

/** Strict DER decoding (short-form lengths suffice for P-256); undefined when malformed. */
function decodeEcdsaSignature(signature: Buffer): { r: bigint; s: bigint } | undefined {
  if (signature[0] !== 0x30 || signature[1] !== signature.length - 2) return undefined;
  const values: bigint[] = [];
  let offset = 2;
  for (let i = 0; i < 2; i++) {
    const length = signature[offset + 1];
    if (signature[offset] !== 0x02 || length === undefined || length === 0 || length > 33) return undefined;
    const bytes = signature.subarray(offset + 2, offset + 2 + length);
    const [first = 0, second = 0] = bytes;
    if (bytes.length !== length || first & 0x80 || (length > 1 && first === 0 && !(second & 0x80))) return undefined;
    values.push(toBigInt(bytes));
    offset += 2 + length;
  }
  const [r, s] = values;
  return offset === signature.length && r !== undefined && s !== undefined ? { r, s } : undefined;
}

// ---------------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------------

type Operation = (store: KeyStore, params: Params) => Promise<object> | object;

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
  params.optionalString('Policy', { max: 131072 }); // accepted and ignored: the emulator has no IAM
  if (keySpecParam && legacySpecParam) {
    throw new KmsError('ValidationException', 'You cannot specify KeySpec and CustomerMasterKeySpec in the same request.');
  }
  const keySpec = keySpecParam ?? legacySpecParam ?? 'SYMMETRIC_DEFAULT';
  if (origin !== 'AWS_KMS') throw unsupported(`Origin ${origin} is not supported by the KMS emulator.`);
  if (params.optionalBoolean('MultiRegion')) throw unsupported('Multi-Region keys are not supported by the KMS emulator.');
  if (params.optionalString('CustomKeyStoreId')) throw unsupported('Custom key stores are not supported by the KMS emulator.');
  if (!isImplementedKeySpec(keySpec)) {
    throw unsupported(`KeySpec ${keySpec} is not supported by the KMS emulator (RSA_2048 and ECC_NIST_P256 only).`);
  }
  const spec = KEY_SPECS[keySpec];
  if (!(spec.validUsages as readonly string[]).includes(keyUsage)) {
    throw new KmsError('ValidationException', `KeyUsage ${keyUsage} is not compatible with KeySpec ${keySpec}.`);
  }
  if (keyUsage !== 'SIGN_VERIFY') throw unsupported(`KeyUsage ${keyUsage} is not supported by the KMS emulator (SIGN_VERIFY only).`);
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
    privateKey,
    publicKey: createPublicKey(privateKey),
  };
  store.keys.set(key.keyId, key);
  await store.save();
  return { KeyMetadata: keyMetadata(store, key) };
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
    throw new KmsError('InvalidKeyUsageException', `Algorithm ${algorithmName} is incompatible with key spec ${key.keySpec}.`);
  }
  if (messageType === 'EXTERNAL_MU') {
    throw new KmsError('ValidationException', 'MessageType EXTERNAL_MU is only valid with ML-DSA keys.');
  }
  if (messageType === 'DIGEST' && message.length !== algorithm.digestLength) {
    throw new KmsError('ValidationException', `Digest is invalid length for algorithm ${algorithmName}.`);
  }
  if (dryRun) {
    throw new KmsError('DryRunOperationException', 'The request would have succeeded, but the DryRun option is set.', 412);
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
    throw new KmsError('InvalidAliasNameException', `Alias name '${aliasName}' must begin with 'alias/' followed by a name.`);
  }
  if (aliasName.startsWith('alias/aws/')) {
    throw new KmsError('InvalidAliasNameException', `Alias name '${aliasName}' must not begin with 'alias/aws/': that prefix is reserved for AWS managed keys.`);
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
function paginate<T>(items: T[], params: Params, maxLimit: number): { page: T[]; NextMarker?: string; Truncated: boolean } {
  const limit = params.optionalInteger('Limit', { min: 1, max: maxLimit }) ?? maxLimit;
  const marker = params.optionalString('Marker', { min: 1, max: 1024 });
  const start = marker === undefined ? 0 : decodeMarker(marker);
  if (start === undefined || start > items.length) throw new KmsError('InvalidMarkerException', 'The marker is not valid.');
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
  return { KeyId: store.keyArn(key.keyId), DeletionDate: key.deletionDate, KeyState: key.keyState, PendingWindowInDays: pendingWindowInDays };
}

async function tagResource(store: KeyStore, params: Params): Promise<object> {
  const key = managedKey(store, params);
  const tags = params.optionalTags('Tags') ?? [];
  assertNotPendingDeletion(store, key);
  const keys = new Set([...key.tags.keys(), ...tags.map((tag) => tag.TagKey)]);
  if (keys.size > MAX_TAGS_PER_KEY) throw new KmsError('LimitExceededException', `A key can have at most ${MAX_TAGS_PER_KEY} tags.`);
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
const OPERATIONS = new Map<string, Operation>([
  ['CreateKey', createKey],
  ['DescribeKey', describeKey],
  ['GetPublicKey', getPublicKey],
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

// ---------------------------------------------------------------------------------------------
// Fault injection
// ---------------------------------------------------------------------------------------------

const FAULT_KINDS: readonly KmsFault['kind'][] = ['throttle', 'internal', 'unavailable', 'latency'];

/** Checks a fault given in process or over HTTP; throws TypeError when malformed. */
function normalizeFault(input: unknown): KmsFault {
  if (!isPlainObject(input)) throw new TypeError('A fault must be an object.');
  const { operation, kind, latencyMs, times } = input;
  if (typeof kind !== 'string' || !(FAULT_KINDS as readonly string[]).includes(kind)) {
    throw new TypeError(`Fault kind must be one of ${FAULT_KINDS.join(', ')}.`);
  }
  if (operation !== undefined && (typeof operation !== 'string' || operation === '')) {
    throw new TypeError('Fault operation must be a non-empty string such as "Sign".');
  }
  if (latencyMs !== undefined && (typeof latencyMs !== 'number' || !Number.isFinite(latencyMs) || latencyMs < 0)) {
    throw new TypeError('Fault latencyMs must be a non-negative number.');
  }
  if (kind === 'latency' && latencyMs === undefined) throw new TypeError('A latency fault needs latencyMs.');
  if (times !== undefined && (typeof times !== 'number' || !Number.isInteger(times) || times < 1)) {
    throw new TypeError('Fault times must be a positive integer.');
  }
  return {
    kind: kind as KmsFault['kind'],
    ...(operation === undefined ? {} : { operation }),
    ...(latencyMs === undefined ? {} : { latencyMs }),
    ...(times === undefined ? {} : { times }),
  };
}

class FaultInjector {
  private faults: { fault: KmsFault; remaining: number }[] = [];

  add(fault: KmsFault): void {
    this.faults.push({ fault, remaining: fault.times ?? Infinity });
  }

  clear(): void {
    this.faults = [];
  }

  list(): KmsFault[] {
    return this.faults.map(({ fault, remaining }) => ({ ...fault, ...(Number.isFinite(remaining) ? { times: remaining } : {}) }));
  }

  /**
   * The faults that apply to one request, each use counted: every matching latency fault in
   * order, up to and including the first failing one.
   */
  take(operation: string): KmsFault[] {
    const applied: KmsFault[] = [];
    for (const entry of this.faults) {
      if (entry.fault.operation !== undefined && entry.fault.operation !== operation) continue;
      entry.remaining -= 1;
      applied.push(entry.fault);
      if (entry.fault.kind !== 'latency') break;
    }
    this.faults = this.faults.filter((entry) => entry.remaining > 0);
    return applied;
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';
const TARGET_PREFIX = 'TrentService.';
const CONTROL_PATH = '/_emulator/faults';
const MAX_BODY_BYTES = 1024 * 1024;

function sendJson(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': JSON_CONTENT_TYPE,
    'content-length': Buffer.byteLength(text),
    'x-amzn-RequestId': randomUUID(),
    ...headers,
  });
  res.end(text);
}

function sendError(res: ServerResponse, err: KmsError): void {
  sendJson(res, err.status, { __type: err.type, message: err.message }, { 'x-amzn-ErrorType': err.type });
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  if (size > MAX_BODY_BYTES) throw new KmsError('ValidationException', `The request body exceeds ${MAX_BODY_BYTES} bytes.`);
  return Buffer.concat(chunks);
}

function operationName(target: string | string[] | undefined): string {
  if (typeof target !== 'string' || !target.startsWith(TARGET_PREFIX)) {
    throw new KmsError('UnknownOperationException', 'The X-Amz-Target header must name a TrentService operation.');
  }
  return target.slice(TARGET_PREFIX.length);
}

class KmsHttpServer {
  private readonly shutdown = new AbortController();

  constructor(
    private readonly store: KeyStore,
    private readonly faults: FaultInjector,
  ) {}

  readonly listener = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    const handled = path === CONTROL_PATH ? this.handleControl(req, res) : this.handleKms(req, res, path);
    handled.catch((err: unknown) => this.handleUnexpected(res, err));
  };

  stop(): void {
    this.shutdown.abort();
  }

  private async handleKms(req: IncomingMessage, res: ServerResponse, path: string | undefined): Promise<void> {
    if (req.method !== 'POST' || path !== '/') {
      req.resume();
      throw new KmsError('UnknownOperationException', `${req.method} ${path} is not a KMS operation; send POST / with X-Amz-Target.`, 404);
    }
    const body = await readBody(req);
    const operation = operationName(req.headers['x-amz-target']);
    for (const fault of this.faults.take(operation)) {
      if (fault.kind === 'latency') {
        await sleep(fault.latencyMs ?? 0, undefined, { signal: this.shutdown.signal });
      } else {
        return this.answerFault(res, fault.kind);
      }
    }
    const handler = OPERATIONS.get(operation);
    if (!handler) throw unsupported(`The KMS emulator does not support operation ${operation}.`);
    const result = await handler(this.store, Params.parse(body));
    sendJson(res, 200, result);
  }

  private answerFault(res: ServerResponse, kind: Exclude<KmsFault['kind'], 'latency'>): void {
    switch (kind) {
      case 'throttle':
        return sendError(res, new KmsError('ThrottlingException', 'Rate exceeded'));
      case 'internal':
        return sendError(res, new KmsError('KMSInternalException', 'The request was rejected because an internal exception occurred. The request can be retried.', 500));
      case 'unavailable':
        // What a failing front end gives: a bare 503, no KMS error body.
        res.writeHead(503, { 'content-length': 0, connection: 'close' });
        res.end();
    }
  }

  private async handleControl(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (req.method === 'POST') {
      let fault: KmsFault;
      try {
        fault = normalizeFault(JSON.parse(body.toString('utf8')));
      } catch (err) {
        throw new KmsError('ValidationException', err instanceof TypeError ? err.message : 'The fault must be JSON.');
      }
      this.faults.add(fault);
    } else if (req.method === 'DELETE') {
      this.faults.clear();
    } else if (req.method !== 'GET') {
      throw new KmsError('UnsupportedOperationException', `Use POST, DELETE or GET on ${CONTROL_PATH}.`, 405);
    }
    sendJson(res, 200, { Faults: this.faults.list() }, { 'content-type': 'application/json' });
  }

  private handleUnexpected(res: ServerResponse, err: unknown): void {
    if (err instanceof KmsError) return sendError(res, err);
    if (this.shutdown.signal.aborted) {
      res.destroy();
      return;
    }
    // Only the error's name and message: never request contents or key material.
    const { name, message } = err instanceof Error ? err : { name: 'Error', message: String(err) };
    console.error(`[kms-emulator] internal error: ${name}: ${message}`);
    sendError(res, new KmsError('KMSInternalException', 'The KMS emulator failed to process the request.', 500));
  }
}

// ---------------------------------------------------------------------------------------------
// Start / stop
// ---------------------------------------------------------------------------------------------

export async function startKmsEmulator(options: KmsEmulatorOptions = {}): Promise<KmsEmulator> {
  const { port = 0, host = '127.0.0.1', stateDir, region = 'us-east-1', accountId = '000000000000' } = options;
  if (!/^\d{12}$/.test(accountId)) throw new TypeError('accountId must be 12 digits.');
  if (!/^[a-z0-9-]+$/.test(region)) throw new TypeError(`Invalid region '${region}'.`);

  const store = await KeyStore.open(region, accountId, stateDir);
  const faults = new FaultInjector();
  const kms = new KmsHttpServer(store, faults);
  const server = createServer(kms.listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const boundPort = (server.address() as AddressInfo).port;
  const endpoint = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;

  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    port: boundPort,
    region,
    accountId,
    injectFault: (fault) => faults.add(normalizeFault(fault)),
    clearFaults: () => faults.clear(),
    stop: () => {
      stopping ??= (async () => {
        kms.stop();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await store.flush();
      })();
      return stopping;
    },
  };
}
