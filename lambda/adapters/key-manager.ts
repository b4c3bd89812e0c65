import {
  CreateAliasCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  GetKeyPolicyCommand,
  GetPublicKeyCommand,
  type KMSClient,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { signingKeyTag } from '../../contract/signing-keys';
import {
  DEFAULT_PROPAGATION_SECONDS,
  type KeyPhase,
  keysToDelete,
  phaseAt,
  planRevocation,
  planRotation,
  type SigningKeyRecord,
} from '../tokens/key-registry';
import { signingKeyRecord } from './kms-signer';
import type { DynamoSigningKeyStore } from './signing-key-store';

/** KMS's waiting period before a scheduled key deletion (7–30 days; the longest leaves time to undo). */
export const KEY_DELETION_WINDOW_DAYS = 30;

/** Allowed for a registry write to become readable (DynamoDB answers in milliseconds). */
const REGISTRY_WRITE_SECONDS = 1;

export interface KeyManagerOptions {
  /** The deployment the keys belong to (the value of their tag). */
  readonly deployment: string;
  /** The first key (an alias such as alias/ropc-token-service/signing): registered on first use. */
  readonly bootstrapKeyId: string;
  readonly accessTokenTtl: number;
  readonly clock?: () => number;
}

export interface KeyStatus {
  readonly key: SigningKeyRecord;
  readonly phase: KeyPhase;
}

/**
 * Operates the key registry against KMS: the same code runs behind `ropc-admin keys …` and the
 * scheduled rotation. New keys are RSA_2048 SIGN_VERIFY, tagged, with an alias next to the first key's,
 * and get the first key's key policy: who may sign with them and read them is what it is for the first key
 * (KMS's default key policy would let any principal whose IAM policies allow kms:Sign sign with them).
 */
export class SigningKeyManager {
  private readonly clock: () => number;

  constructor(
    private readonly kms: KMSClient,
    private readonly store: DynamoSigningKeyStore,
    private readonly options: KeyManagerOptions,
  ) {
    this.clock = options.clock ?? Date.now;
  }

  private now(): number {
    return Math.floor(this.clock() / 1000);
  }

  /**
   * Where a new key's schedule starts: after the KMS calls that created it, rounded up to a whole second,
   * plus a second for the registry write to land. Every instance hands over to a key only a cache period
   * after it signs from, so a JWKS read that began before the record existed is out of every cache by then.
   */
  private scheduleStart(): number {
    return Math.ceil(this.clock() / 1000) + REGISTRY_WRITE_SECONDS;
  }

  async list(): Promise<KeyStatus[]> {
    const keys = await this.registered();
    const now = this.now();
    return keys.sort((a, b) => b.createdAt - a.createdAt).map((key) => ({ key, phase: phaseAt(key, keys, now) }));
  }

  /** Creates a key that is published now and signs after `propagationSeconds`. */
  async rotate(
    propagationSeconds = DEFAULT_PROPAGATION_SECONDS,
  ): Promise<{ created: SigningKeyRecord; scheduledForDeletion: string[] }> {
    const keys = await this.registered();
    const options = { propagationSeconds, accessTokenTtl: this.options.accessTokenTtl };
    planRotation(keys, this.now(), options); // a bad propagation period fails before a key is created
    const key = await this.createKey(this.now());
    const plan = planRotation(keys, this.scheduleStart(), options);
    const created = { ...key, signsFrom: plan.signsFrom };
    await this.store.write([created, ...plan.retire]);
    return { created, scheduledForDeletion: await this.sweep() };
  }

  /**
   * Unpublishes a key and stops it signing at once; a new key is created if none would be left. The KMS key
   * is disabled first: from then on KMS refuses to sign with it, and every signer that meets the refusal
   * reads the registry again at once instead of when its cache expires. Should a later step fail, the key
   * stays disabled (no token is signed with it) and running the revocation again completes it.
   */
  async revoke(
    kid: string,
  ): Promise<{ revoked: SigningKeyRecord; created?: SigningKeyRecord; scheduledForDeletion: string[] }> {
    const keys = await this.registered();
    const now = this.now();
    const plan = planRevocation(keys, kid, now);
    await this.disable(plan.updates[0]!.keyArn);
    // An emergency key signs from now: signers skip the hand-over wait when no settled key is left.
    const created = plan.needsNewKey ? await this.createKey(now) : undefined;
    await this.store.write([...plan.updates, ...(created === undefined ? [] : [created])]);
    return { revoked: plan.updates[0]!, created, scheduledForDeletion: await this.sweep() };
  }

  /**
   * Schedules the KMS deletion of revoked keys and of retired keys that have left the JWKS. The first key
   * belongs to the deployment (CloudFormation, or the local stack) and is left to it.
   */
  async sweep(): Promise<string[]> {
    const now = this.now();
    const candidates = keysToDelete(await this.store.list(), now);
    const bootstrapArn = candidates.length === 0 ? undefined : await this.bootstrapArn();
    const due = candidates.filter((key) => key.keyArn !== bootstrapArn);
    for (const key of due) {
      try {
        await this.kms.send(
          new ScheduleKeyDeletionCommand({ KeyId: key.keyArn, PendingWindowInDays: KEY_DELETION_WINDOW_DAYS }),
        );
      } catch (error) {
        // Already pending deletion (an earlier sweep that stopped short): record it and go on.
        if (!(error instanceof Error && error.name === 'KMSInvalidStateException')) throw error;
      }
      await this.store.write([{ ...key, deletionScheduledAt: now }]);
    }
    return due.map((key) => key.kid);
  }

  /** Disables a KMS key; one already disabled stays so, one pending deletion or deleted cannot sign anyway. */
  private async disable(keyArn: string): Promise<void> {
    try {
      await this.kms.send(new DisableKeyCommand({ KeyId: keyArn }));
    } catch (error) {
      if (
        !(error instanceof Error && (error.name === 'KMSInvalidStateException' || error.name === 'NotFoundException'))
      )
        throw error;
    }
  }

  /**
   * The first key's key policy, for a new key: read from KMS each time, so a key created after the first
   * key's policy changed gets the policy as it is now. It must keep the account's IAM policies in charge of
   * kms:PutKeyPolicy (the new key is created without KMS's lockout safety check, see createKey).
   */
  private async firstKeyPolicy(): Promise<string> {
    const { KeyMetadata } = await this.kms.send(new DescribeKeyCommand({ KeyId: this.options.bootstrapKeyId }));
    if (KeyMetadata?.Arn === undefined) throw new Error('KMS DescribeKey returned no key');
    // GetKeyPolicy takes a key id or ARN, not an alias.
    const { Policy } = await this.kms.send(new GetKeyPolicyCommand({ KeyId: KeyMetadata.Arn, PolicyName: 'default' }));
    if (Policy === undefined) throw new Error('KMS GetKeyPolicy returned no policy');
    const account = KeyMetadata.Arn.split(':')[4] ?? '';
    if (!letsAccount(Policy, account, 'kms:PutKeyPolicy')) {
      throw new Error(
        `the first signing key's policy must let the account (arn:…:iam::${account}:root) decide kms:PutKeyPolicy through IAM, or keys created with it could become unmanageable`,
      );
    }
    return Policy;
  }

  private async bootstrapArn(): Promise<string | undefined> {
    try {
      const { KeyMetadata } = await this.kms.send(new DescribeKeyCommand({ KeyId: this.options.bootstrapKeyId }));
      return KeyMetadata?.Arn;
    } catch (error) {
      if (error instanceof Error && error.name === 'NotFoundException') return undefined;
      throw error;
    }
  }

  /** The registry, with the first key registered if it is still empty (it signed since deployment). */
  private async registered(): Promise<SigningKeyRecord[]> {
    const keys = await this.store.list();
    if (keys.length > 0) return keys;
    const { KeyMetadata } = await this.kms.send(new DescribeKeyCommand({ KeyId: this.options.bootstrapKeyId }));
    const created = Math.floor((KeyMetadata?.CreationDate?.getTime() ?? 0) / 1000);
    const first = await this.describe(this.options.bootstrapKeyId, created, created);
    await this.store.write([first]);
    return [first];
  }

  /**
   * A new KMS key with the first key's policy, and its alias, signing from `now` unless the caller schedules
   * it. KMS's lockout safety check would require the policy to let the caller (the rotation function's
   * role, or the operator) make a later PutKeyPolicy call on the key; neither needs that, so the check is
   * skipped instead of granting it: firstKeyPolicy has checked that the account's IAM policies keep the
   * key manageable.
   */
  private async createKey(now: number): Promise<SigningKeyRecord> {
    const policy = await this.firstKeyPolicy();
    const { KeyMetadata } = await this.kms.send(
      new CreateKeyCommand({
        KeySpec: 'RSA_2048',
        KeyUsage: 'SIGN_VERIFY',
        Description: `ropc-token-service access-token signing key, created ${new Date(now * 1000).toISOString()}`,
        Tags: [signingKeyTag(this.options.deployment)],
        Policy: policy,
        BypassPolicyLockoutSafetyCheck: true,
      }),
    );
    if (KeyMetadata?.KeyId === undefined) throw new Error('KMS CreateKey returned no key');
    await this.kms.send(
      new CreateAliasCommand({ AliasName: this.aliasFor(now, KeyMetadata.KeyId), TargetKeyId: KeyMetadata.KeyId }),
    );
    return this.describe(KeyMetadata.KeyId, now, now);
  }

  private async describe(keyId: string, createdAt: number, signsFrom: number): Promise<SigningKeyRecord> {
    return signingKeyRecord(await this.kms.send(new GetPublicKeyCommand({ KeyId: keyId })), createdAt, signsFrom);
  }

  /**
   * alias/…/signing-20261128T053000Z-1234abcd: beside the first key's alias, so an alias-prefix condition
   * covers all; the key id's first characters keep two keys created in one second apart.
   */
  private aliasFor(now: number, keyId: string): string {
    const base = this.options.bootstrapKeyId.startsWith('alias/')
      ? this.options.bootstrapKeyId
      : 'alias/ropc-token-service/signing';
    const stamp = new Date(now * 1000).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
    return `${base}-${stamp}-${keyId.slice(0, 8)}`;
  }
}

/**
 * Whether a key policy has an Allow statement, without conditions, that names the account (its root ARN or
 * its bare id, as KMS accepts either) for `action`, by name or by a wildcard: IAM policies then decide it.
 */
function letsAccount(policy: string, account: string, action: string): boolean {
  let document: { Statement?: unknown };
  try {
    document = JSON.parse(policy) as { Statement?: unknown };
  } catch {
    return false;
  }
  const statements = [document.Statement ?? []].flat() as {
    Effect?: unknown;
    Principal?: unknown;
    Action?: unknown;
    Condition?: unknown;
  }[];
  return statements.some((statement) => {
    if (statement.Effect !== 'Allow' || statement.Condition !== undefined) return false;
    const principals = [(statement.Principal as { AWS?: unknown } | undefined)?.AWS ?? []].flat();
    const actions = [statement.Action ?? []].flat();
    return (
      principals.some((arn) => arn === account || (typeof arn === 'string' && arn.endsWith(`:iam::${account}:root`))) &&
      actions.some((name) => name === action || name === 'kms:*' || name === '*')
    );
  });
}
