import { generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import { GetPublicKeyCommand, type KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import type { LogEvent } from '../../contract/audit-events';
import { KmsJwtSigner } from '../../lambda/adapters/kms-signer';
import { handleJwksRequest } from '../../lambda/handlers/jwks';
import { DependencyUnavailableError } from '../../lambda/oauth/errors';
import { rsaPublicJwk } from '../../lambda/tokens/jwk';
import type { SigningKeyRecord } from '../../lambda/tokens/key-registry';

const REGION = 'eu-west-1';
const ACCOUNT = '111122223333';
const BOOTSTRAP_ALIAS = 'alias/ropc-token-service/signing';
const NOW = 1_900_000_000_000;

interface FakeKey {
  readonly arn: string;
  readonly publicKey: KeyObject;
  readonly keySpec: string;
  readonly keyUsage: string;
  /** What GetPublicKey on the key answers instead of the key (a refusal, an outage). */
  failure?: Error;
}

/** An AWS service error as the SDK throws it. */
function awsError(name: string, fault: 'client' | 'server' = 'client'): Error {
  return Object.assign(new Error(name), {
    name,
    $fault: fault,
    $metadata: { httpStatusCode: fault === 'client' ? 400 : 503 },
  });
}

const rsaKeys = Array.from({ length: 4 }, () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey);
const eccKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;

/** A KMS that holds some keys, answers GetPublicKey and Sign for them, and counts the calls per key id. */
class FakeKms {
  readonly keys = new Map<string, FakeKey>();
  readonly aliases = new Map<string, string>();
  readonly calls: { command: string; keyId: string }[] = [];

  add(publicKey: KeyObject, keySpec = 'RSA_2048', keyUsage = 'SIGN_VERIFY'): FakeKey {
    const key: FakeKey = { arn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/${randomUUID()}`, publicKey, keySpec, keyUsage };
    this.keys.set(key.arn, key);
    return key;
  }

  getPublicKeyCalls(keyId?: string): number {
    return this.calls.filter((call) => call.command === 'GetPublicKey' && (keyId === undefined || call.keyId === keyId))
      .length;
  }

  readonly client = {
    send: async (command: unknown) => {
      if (command instanceof GetPublicKeyCommand) {
        const keyId = String(command.input.KeyId);
        this.calls.push({ command: 'GetPublicKey', keyId });
        const key = this.keys.get(this.aliases.get(keyId) ?? keyId);
        if (key === undefined) throw awsError('NotFoundException');
        if (key.failure !== undefined) throw key.failure;
        return {
          KeyId: key.arn,
          PublicKey: new Uint8Array(key.publicKey.export({ format: 'der', type: 'spki' })),
          KeySpec: key.keySpec,
          KeyUsage: key.keyUsage,
        };
      }
      if (command instanceof SignCommand) {
        const keyId = String(command.input.KeyId);
        this.calls.push({ command: 'Sign', keyId });
        if (!this.keys.has(keyId)) throw awsError('NotFoundException');
        return { KeyId: keyId, Signature: new Uint8Array([1, 2, 3]) };
      }
      throw new Error(`unexpected ${String(command)}`);
    },
  } as unknown as KMSClient;
}

/** The registry record the rotation writes for `key`, with `overrides` (a forged record's fields). */
function recordOf(key: { arn: string; publicKey: KeyObject }, overrides: Partial<SigningKeyRecord> = {}) {
  const jwk = rsaPublicJwk(key.publicKey.export({ format: 'der', type: 'spki' }));
  return {
    kid: jwk.kid,
    keyArn: key.arn,
    alg: 'RS256',
    n: jwk.n,
    e: jwk.e,
    createdAt: NOW / 1000 - 3600,
    signsFrom: NOW / 1000 - 3600,
    state: 'active',
    ...overrides,
  } as SigningKeyRecord;
}

function fixture(records: () => SigningKeyRecord[]) {
  const kms = new FakeKms();
  const logged: { event: LogEvent; fields?: Record<string, unknown> }[] = [];
  let clock = NOW;
  const signer = new KmsJwtSigner(kms.client, BOOTSTRAP_ALIAS, {
    registry: { list: async () => records() },
    cacheSeconds: 60,
    now: () => clock,
    logger: { warn: (event, fields) => logged.push({ event, fields }) },
  });
  return {
    kms,
    signer,
    logged,
    rejections: () => logged.filter((line) => line.event === 'signing_key_rejected').map((line) => line.fields),
    /** Past the cache period: the next request reads the registry again. */
    nextView: () => {
      clock += 61_000;
    },
    published: async () => (await signer.publicJwks()).map((jwk) => jwk.kid),
  };
}

describe('the signers trust a key-registry record only once KMS vouches for it', () => {
  it('publishes and signs with no record whose public key KMS does not hold under its ARN, and logs each once per read', async () => {
    let records: SigningKeyRecord[] = [];
    const f = fixture(() => records);
    const [real, other] = [f.kms.add(rsaKeys[0]!), f.kms.add(rsaKeys[1]!)];
    const ecc = f.kms.add(eccKey, 'ECC_NIST_P256');
    const attacker = { arn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/${randomUUID()}`, publicKey: rsaKeys[2]! };
    const attackerJwk = recordOf(attacker);
    const newest = { createdAt: NOW / 1000 - 10, signsFrom: NOW / 1000 - 10 };
    records = [
      recordOf(real),
      // A key KMS does not hold (an attacker's own key pair).
      { ...attackerJwk, ...newest },
      // A real key's ARN with another key's public key.
      recordOf(other, { kid: attackerJwk.kid, n: attackerJwk.n, e: attackerJwk.e, ...newest }),
      // A real key's ARN and public key, under a kid that is not its thumbprint.
      recordOf(other, { kid: 'not-the-thumbprint', ...newest }),
      // The right public key, named by another ARN than KMS answers with (its alias).
      { ...recordOf(other), keyArn: `arn:aws:kms:${REGION}:${ACCOUNT}:alias/other`, ...newest },
      // Not an RSA signing key.
      { ...recordOf({ arn: ecc.arn, publicKey: rsaKeys[3]! }), ...newest },
    ];
    f.kms.aliases.set(`arn:aws:kms:${REGION}:${ACCOUNT}:alias/other`, other.arn);

    expect(await f.published()).toEqual([recordOf(real).kid]);
    // The token function signs with the one key KMS vouches for, though the forged records are newer.
    expect((await f.signer.signingKey()).kid).toBe(recordOf(real).kid);
    expect(f.rejections()).toEqual([
      { kid: attackerJwk.kid, key_arn: attacker.arn, reason: 'kms_refused', error: 'NotFoundException' },
      { kid: attackerJwk.kid, key_arn: other.arn, reason: 'public_key_mismatch' },
      { kid: 'not-the-thumbprint', key_arn: other.arn, reason: 'public_key_mismatch' },
      {
        kid: recordOf(other).kid,
        key_arn: `arn:aws:kms:${REGION}:${ACCOUNT}:alias/other`,
        reason: 'key_arn_mismatch',
      },
      { kid: records[5]!.kid, key_arn: ecc.arn, reason: 'not_a_signing_key' },
    ]);
    // Never key material.
    expect(JSON.stringify(f.logged)).not.toContain(attackerJwk.n);
  });

  it('asks KMS once per key ARN for the instance, and asks again after a refusal at the next read', async () => {
    let records: SigningKeyRecord[] = [];
    const f = fixture(() => records);
    const first = f.kms.add(rsaKeys[0]!);
    const rotated = f.kms.add(rsaKeys[1]!);
    f.kms.aliases.set(BOOTSTRAP_ALIAS, first.arn);
    records = [recordOf(first), recordOf(rotated, { createdAt: NOW / 1000 - 60 })];
    rotated.failure = awsError('AccessDeniedException');

    // A new instance: the bootstrap key's answer also vouches for the first key's record.
    expect(await f.published()).toEqual([recordOf(first).kid]);
    expect(f.kms.getPublicKeyCalls(BOOTSTRAP_ALIAS)).toBe(1);
    expect(f.kms.getPublicKeyCalls(first.arn)).toBe(0);
    expect(f.kms.getPublicKeyCalls(rotated.arn)).toBe(1);
    expect(f.rejections()).toEqual([
      { kid: recordOf(rotated).kid, key_arn: rotated.arn, reason: 'kms_refused', error: 'AccessDeniedException' },
    ]);

    // The refusal was not kept: the next read asks again, and now KMS answers.
    rotated.failure = undefined;
    f.nextView();
    expect((await f.published()).sort()).toEqual([recordOf(first).kid, recordOf(rotated).kid].sort());
    expect(f.kms.getPublicKeyCalls(rotated.arn)).toBe(2);

    // Every later read uses the answers it has: no GetPublicKey at all.
    for (let view = 0; view < 3; view++) {
      f.nextView();
      expect(await f.published()).toHaveLength(2);
    }
    expect(f.kms.getPublicKeyCalls()).toBe(3);
    expect(f.rejections()).toHaveLength(1);
  });

  it('answers 503 rather than dropping a key while KMS is unavailable, and publishes it once KMS answers', async () => {
    let records: SigningKeyRecord[] = [];
    const f = fixture(() => records);
    const first = f.kms.add(rsaKeys[0]!);
    const rotated = f.kms.add(rsaKeys[1]!);
    f.kms.aliases.set(BOOTSTRAP_ALIAS, first.arn);
    records = [recordOf(first), recordOf(rotated)];
    rotated.failure = awsError('ThrottlingException');

    await expect(f.signer.publicJwks()).rejects.toBeInstanceOf(DependencyUnavailableError);
    await expect(f.signer.signingKey()).rejects.toBeInstanceOf(DependencyUnavailableError);
    const request = { method: 'GET', path: '/.well-known/jwks.json', headers: {}, body: Buffer.alloc(0) };
    const answer = await handleJwksRequest({ ...request, sourceIp: '203.0.113.1', requestId: 'r1' }, f.signer, {
      info: () => undefined,
      warn: () => undefined,
      error: () => undefined,
    });
    expect(answer.status).toBe(503);
    expect(f.rejections()).toEqual([]);

    rotated.failure = awsError('KMSInternalException', 'server');
    await expect(f.signer.publicJwks()).rejects.toBeInstanceOf(DependencyUnavailableError);

    rotated.failure = undefined;
    expect(await f.published()).toHaveLength(2);
  });

  it('checks no record that can be neither published nor used to sign: revoked, or retired and unpublished', async () => {
    const now = NOW / 1000;
    let records: SigningKeyRecord[] = [];
    const f = fixture(() => records);
    const signing = f.kms.add(rsaKeys[0]!);
    const gone = { arn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/${randomUUID()}`, publicKey: rsaKeys[1]! };
    records = [
      recordOf(signing),
      recordOf(gone, { state: 'revoked', revokedAt: now - 5, unpublishAfter: now - 5 }),
      recordOf(gone, { kid: 'retired', retiredAt: now - 2000, unpublishAfter: now - 800 }),
    ];
    expect(await f.published()).toEqual([recordOf(signing).kid]);
    expect(f.kms.getPublicKeyCalls(gone.arn)).toBe(0);
    expect(f.rejections()).toEqual([]);
  });

  it('lets the bootstrap key sign and be published when KMS vouches for no record in the registry', async () => {
    const attacker = { arn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/${randomUUID()}`, publicKey: rsaKeys[2]! };
    const f = fixture(() => [recordOf(attacker)]);
    const first = f.kms.add(rsaKeys[0]!);
    f.kms.aliases.set(BOOTSTRAP_ALIAS, first.arn);
    expect(await f.published()).toEqual([recordOf(first).kid]);
    const key = await f.signer.signingKey();
    expect(key.kid).toBe(recordOf(first).kid);
    await key.sign(new Uint8Array([0]));
    expect(f.kms.calls.filter((call) => call.command === 'Sign').map((call) => call.keyId)).toEqual([first.arn]);
    expect(f.rejections()).toEqual([
      { kid: recordOf(attacker).kid, key_arn: attacker.arn, reason: 'kms_refused', error: 'NotFoundException' },
    ]);
  });
});
