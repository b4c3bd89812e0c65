/**
 * Keys, aliases and tags: their in-memory records, their persistence to the state file (when a
 * state directory is given), and key lookup by key ID, key ARN, alias name or alias ARN.
 */
import { createPrivateKey, createPublicKey, createSecretKey, type KeyObject, randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { KmsError, notFound } from './errors';
import type { Tag } from './params';
import {
  ARN_PATTERN,
  isImplementedKeySpec,
  KEY_ID_PATTERN,
  KEY_SPECS,
  type KeySpec,
  type KeyState,
  type KeyUsage,
  partitionOf,
  SYMMETRIC_KEY_BYTES,
} from './vocabulary';

/** What describes a key apart from its usage and material, as CreateKey and the state file give it. */
export interface KeyAttributes {
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
  /** The key policy CreateKey was given, as given; undefined: KMS's default key policy. */
  readonly policy?: string;
}

/** An asymmetric SIGN_VERIFY key: RSA_2048 or ECC_NIST_P256. */
export interface SigningKey extends KeyAttributes {
  readonly keyUsage: 'SIGN_VERIFY';
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** A SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key: 256 bits of AES key material. */
export interface EncryptionKey extends KeyAttributes {
  readonly keyUsage: 'ENCRYPT_DECRYPT';
  readonly secretKey: KeyObject;
}

export type KeyRecord = SigningKey | EncryptionKey;

/**
 * A key record from its attributes and its key material: a private key for a SIGN_VERIFY key, a
 * secret key for an ENCRYPT_DECRYPT one.
 */
export function keyRecord(attributes: KeyAttributes, usage: KeyUsage, material: KeyObject): KeyRecord {
  if (usage === 'ENCRYPT_DECRYPT') {
    if (material.type !== 'secret' || material.symmetricKeySize !== SYMMETRIC_KEY_BYTES) {
      throw new Error(`key ${attributes.keyId} needs ${SYMMETRIC_KEY_BYTES} bytes of symmetric key material`);
    }
    return { ...attributes, keyUsage: usage, secretKey: material };
  }
  if (material.type !== 'private') throw new Error(`key ${attributes.keyId} needs a private key`);
  return { ...attributes, keyUsage: usage, privateKey: material, publicKey: createPublicKey(material) };
}

export interface AliasRecord {
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
  policy?: string;
  /** Absent in state files written before symmetric keys: those hold SIGN_VERIFY keys only. */
  keyUsage?: KeyUsage;
  /** The private key of a SIGN_VERIFY key, PKCS#8 PEM. */
  privateKeyPem?: string;
  /** The key material of an ENCRYPT_DECRYPT key, base64. */
  secretKey?: string;
}

interface PersistedState {
  version: 1;
  keys: PersistedKey[];
  aliases: AliasRecord[];
}

const STATE_FILE_NAME = 'kms-emulator-state.json';

/** In-memory keys and aliases, optionally mirrored to a JSON state file. */
export class KeyStore {
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

  /** What GetKeyPolicy answers for a key created without a policy: KMS's default key policy (IAM decides). */
  defaultKeyPolicy(): string {
    return JSON.stringify({
      Version: '2012-10-17',
      Id: 'key-default-1',
      Statement: [
        {
          Sid: 'Enable IAM User Permissions',
          Effect: 'Allow',
          Principal: { AWS: `arn:${this.partition}:iam::${this.accountId}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    });
  }

  keyArn(keyId: string): string {
    return `arn:${this.partition}:kms:${this.region}:${this.accountId}:key/${keyId}`;
  }

  aliasArn(aliasName: string): string {
    return `arn:${this.partition}:kms:${this.region}:${this.accountId}:${aliasName}`;
  }

  /**
   * Finds a key the way KMS does: key ID or key ARN always; alias name or alias ARN only for
   * operations that accept them (DescribeKey, GetPublicKey, Sign, Verify and the encryption operations).
   */
  resolveKey(identifier: string, { allowAlias }: { allowAlias: boolean }): KeyRecord {
    const arn = ARN_PATTERN.exec(identifier);
    if (arn) {
      const [, partition, region, accountId, resourceType, resource = ''] = arn;
      if (partition !== this.partition || region !== this.region || accountId !== this.accountId) {
        throw notFound(
          resourceType === 'key' ? `Key '${identifier}' does not exist` : `Alias ${identifier} is not found.`,
        );
      }
      return resourceType === 'key'
        ? this.keyById(resource)
        : this.keyByAlias(`alias/${resource}`, allowAlias, identifier);
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
    if (!allowAlias)
      throw notFound(`Invalid keyId '${identifier}': this operation takes a key ID or key ARN, not an alias`);
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
        policy: key.policy,
        keyUsage: key.keyUsage,
        ...(key.keyUsage === 'SIGN_VERIFY'
          ? { privateKeyPem: key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() }
          : { secretKey: key.secretKey.export().toString('base64') }),
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
      for (const { privateKeyPem, secretKey, keyUsage = 'SIGN_VERIFY', tags, ...saved } of state.keys) {
        if (!isImplementedKeySpec(saved.keySpec)) throw new Error(`unsupported key spec in key ${saved.keyId}`);
        if (KEY_SPECS[saved.keySpec].usage !== keyUsage) {
          throw new Error(`key usage ${keyUsage} does not fit key spec ${saved.keySpec} in key ${saved.keyId}`);
        }
        const material =
          keyUsage === 'SIGN_VERIFY'
            ? createPrivateKey(privateKeyPem ?? '')
            : createSecretKey(Buffer.from(secretKey ?? '', 'base64'));
        const attributes = { ...saved, tags: new Map(tags.map((tag) => [tag.TagKey, tag.TagValue])) };
        this.keys.set(saved.keyId, keyRecord(attributes, keyUsage, material));
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

export const tagList = (key: KeyRecord): Tag[] => [...key.tags].map(([TagKey, TagValue]) => ({ TagKey, TagValue }));

export function keySpecOf(key: KeyRecord) {
  return KEY_SPECS[key.keySpec];
}

/** Sign, Verify, GetPublicKey and the encryption operations need an enabled key. */
export function assertEnabled(store: KeyStore, key: KeyRecord): void {
  if (key.keyState === 'Disabled') throw new KmsError('DisabledException', `${store.keyArn(key.keyId)} is disabled.`);
  assertNotPendingDeletion(store, key);
}

export function assertNotPendingDeletion(store: KeyStore, key: KeyRecord): void {
  if (key.keyState === 'PendingDeletion') {
    throw new KmsError('KMSInvalidStateException', `${store.keyArn(key.keyId)} is pending deletion.`);
  }
}
