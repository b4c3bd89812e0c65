import { CreateKeyCommand, DisableKeyCommand, GetPublicKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SigningKeyManager } from '../../lambda/adapters/key-manager';
import { KmsJwtSigner, signingKeyRecord } from '../../lambda/adapters/kms-signer';
import { DynamoSigningKeyStore } from '../../lambda/adapters/signing-key-store';
import type { ServiceConfig } from '../../lambda/config';
import { createSigner, createTokenEndpointDeps } from '../../lambda/handlers/runtime';
import { handleTokenRequest } from '../../lambda/oauth/token-endpoint';
import type { SigningKeyRecord } from '../../lambda/tokens/key-registry';
import type { KmsEmulator } from '../../local/kms-emulator';
import { type CallRecord, instrument, stages } from '../../local/sdk-calls';
import { documentClient, emulatedServices, kmsClient } from '../support/aws';
import { basic, tokenRequest } from '../support/memory';
import { seed } from '../support/seed';

const ALIAS = 'alias/ropc-token-service/signer-test';
let kms: KmsEmulator;
let config: ServiceConfig;

/** Registry records of real emulator keys, by the label the key-view tests give them. */
const LABELS = ['A', 'B', 'C', 'D', 'E', 'R'] as const;
const records = new Map<string, SigningKeyRecord>();

beforeAll(async () => {
  ({ kms, config } = await emulatedServices(ALIAS));
  const db = documentClient(config.dynamodbEndpoint!);
  await seed(db, config.tables, {
    clients: [{ clientId: 'app', secret: 'app-secret' }],
    users: [{ username: 'alice', password: 'pw-alice' }],
  });
  db.destroy();
  // The signers publish and sign only with records whose public key KMS holds under their ARN.
  const client = kmsClient(kms.endpoint);
  for (const label of LABELS) {
    const { KeyMetadata } = await client.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' }));
    records.set(label, signingKeyRecord(await client.send(new GetPublicKeyCommand({ KeyId: KeyMetadata!.Arn })), 0, 0));
  }
  client.destroy();
});

afterAll(async () => {
  await kms?.stop();
});

describe('the signer key cache stays off the critical path', () => {
  // A new instance (empty key cache, empty registry so the bootstrap key is read too): the reads the signer
  // needs overlap the grant's first lookups instead of adding stages before Sign.
  // The password grant's stages: its lookups, the lockout counters' reservation, then sign and store.
  it.each([
    ['password', 3],
    ['refresh_token', 3],
  ] as const)('a %s grant on a cold instance takes at most %i stages of DynamoDB/KMS calls', async (grant, goal) => {
    const auth = { authorization: basic('app', 'app-secret') };
    const warm = createTokenEndpointDeps(config, {
      logSink: () => undefined,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const issued = await handleTokenRequest(
      tokenRequest({ grant_type: 'password', username: 'alice', password: 'pw-alice' }, auth),
      warm,
    );
    const refreshToken = JSON.parse(issued.body).refresh_token as string;

    const db = documentClient(config.dynamodbEndpoint!);
    const kmsSdk = kmsClient(kms.endpoint);
    const calls: CallRecord[] = [];
    instrument(db, 'dynamodb', calls);
    instrument(kmsSdk, 'kms', calls);
    try {
      const cold = createTokenEndpointDeps(config, { logSink: () => undefined, sdk: { db, kms: kmsSdk } });
      const params: Record<string, string> =
        grant === 'password'
          ? { grant_type: grant, username: 'alice', password: 'pw-alice' }
          : { grant_type: grant, refresh_token: refreshToken };
      const response = await handleTokenRequest(tokenRequest(params, auth), cold);
      expect(response.status).toBe(200);
      const commands = calls.map((call) => call.command);
      expect(commands).toEqual(expect.arrayContaining(['Scan', 'GetPublicKey', 'Sign']));
      const path = stages(calls).map((stage) => stage.map((call) => call.command).sort());
      expect(path.length, JSON.stringify(path)).toBeLessThanOrEqual(goal);
      // The registry Scan and GetPublicKey ride in the first stage, with the lookups.
      expect(path[0]).toEqual(expect.arrayContaining(['Scan', 'GetPublicKey']));
    } finally {
      db.destroy();
      kmsSdk.destroy();
    }
  });
});

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** The registry record of the emulator key labelled `label`. */
function key(label: (typeof LABELS)[number]): SigningKeyRecord {
  return records.get(label)!;
}

/** The label of the key `kid` names, or the kid itself (the bootstrap key has none). */
function labelOf(kid: string): string {
  return [...records].find(([, record]) => record.kid === kid)?.[0] ?? kid;
}

/** Until `check` passes (a view installed in the background, after its KMS check). */
async function eventually(check: () => Promise<void>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await check();
    } catch (error) {
      if (attempt >= 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/** True when the promise settles within a few event-loop turns (it needs no I/O that is still pending). */
async function settlesNow(promise: Promise<unknown>): Promise<boolean> {
  return Promise.race([
    promise.then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 50)),
  ]);
}

describe('KmsJwtSigner key view', () => {
  let clock = 1_800_000_000_000;
  const reads: Deferred<SigningKeyRecord[]>[] = [];
  const registry = {
    list: () => {
      const read = deferred<SigningKeyRecord[]>();
      reads.push(read);
      return read.promise;
    },
  };

  function countingKms(): { client: KMSClient; getPublicKey: () => number } {
    const client = kmsClient(kms.endpoint);
    const calls: CallRecord[] = [];
    instrument(client, 'kms', calls);
    return { client, getPublicKey: () => calls.filter((call) => call.command === 'GetPublicKey').length };
  }

  it('refreshes ahead after half the cache period, waits only for a view a whole period old, keeps the newest read', async () => {
    reads.length = 0;
    const { client } = countingKms();
    const signer = new KmsJwtSigner(client, ALIAS, { registry, cacheSeconds: 60, now: () => clock });
    const kid = async () => labelOf((await signer.signingKey()).kid);

    const first = kid();
    expect(reads).toHaveLength(1);
    reads[0]!.resolve([key('A')]);
    expect(await first).toBe('A');

    clock += 29_000;
    expect(await kid()).toBe('A');
    expect(reads).toHaveLength(1);

    // Past half the period: served from the current view at once, while the next view loads.
    clock += 2_000;
    const ahead = kid();
    expect(await settlesNow(ahead)).toBe(true);
    expect(await ahead).toBe('A');
    expect(reads).toHaveLength(2);
    expect(await kid()).toBe('A'); // one refresh at a time
    expect(reads).toHaveLength(2);
    reads[1]!.resolve([key('B')]);
    await eventually(async () => expect(await kid()).toBe('B'));

    // 40 s after the refresh that began at 31 s: refreshed ahead again, without waiting.
    clock += 40_000;
    expect(await settlesNow(kid())).toBe(true);
    expect(reads).toHaveLength(3);

    // That refresh hangs; once the view in use is a whole period old, the next request waits for a new read.
    clock += 25_000;
    const blocked = kid();
    expect(reads).toHaveLength(4);
    expect(await settlesNow(blocked)).toBe(false);
    reads[3]!.resolve([key('C')]);
    expect(await blocked).toBe('C');

    // The hung refresh ends last, but it began earlier: the newer view stays.
    reads[2]!.resolve([key('D')]);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(await kid()).toBe('C');
    client.destroy();
  });

  it('keeps the current view when a refresh fails, and retries a failed read on the next request', async () => {
    reads.length = 0;
    const { client } = countingKms();
    const signer = new KmsJwtSigner(client, ALIAS, { registry, cacheSeconds: 60, now: () => clock });
    const kid = async () => labelOf((await signer.signingKey()).kid);

    const first = kid();
    reads[0]!.resolve([key('A')]);
    expect(await first).toBe('A');
    clock += 31_000;
    expect(await kid()).toBe('A');
    reads[1]!.reject(Object.assign(new Error('throttled'), { name: 'ThrottlingException' }));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(await kid()).toBe('A');
    expect(reads).toHaveLength(3); // the next request past half the period tries again
    reads[2]!.resolve([key('B')]);

    // A blocking read that fails is not cached: the request fails, the next one reads again.
    clock += 120_000;
    const failing = kid();
    reads[3]!.reject(new Error('registry unavailable'));
    await expect(failing).rejects.toThrow('registry unavailable');
    const retried = kid();
    expect(reads).toHaveLength(5);
    reads[4]!.resolve([key('E')]);
    expect(await retried).toBe('E');
    client.destroy();
  });

  it('reads the bootstrap key alongside the first registry read, once per instance, and not once the registry is in use', async () => {
    reads.length = 0;
    const { client, getPublicKey } = countingKms();
    const signer = new KmsJwtSigner(client, ALIAS, { registry, cacheSeconds: 60, now: () => clock });
    const kid = async () => labelOf((await signer.signingKey()).kid);

    signer.prepare();
    expect(reads).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(getPublicKey()).toBe(1); // started before the registry answered
    reads[0]!.resolve([]);
    const bootstrapKid = await kid();
    expect(bootstrapKid).toMatch(/^[A-Za-z0-9_-]{43}$/);

    clock += 61_000;
    const second = kid();
    reads[1]!.resolve([]);
    expect(await second).toBe(bootstrapKid);
    expect(getPublicKey()).toBe(1);

    // A registry record is checked against KMS once per instance, not once per read.
    clock += 61_000;
    const third = kid();
    reads[2]!.resolve([key('R')]);
    expect(await third).toBe('R');
    expect(getPublicKey()).toBe(2);
    clock += 61_000;
    const fourth = kid();
    reads[3]!.resolve([key('R')]);
    expect(await fourth).toBe('R');
    expect(getPublicKey()).toBe(2);
    client.destroy();
  });
});

/**
 * An emergency revocation through the real adapters (DynamoDB Local, the KMS emulator): a token function
 * instance whose key view is warm (read seconds ago; it is kept 60 s), the key manager behind
 * `ropc-admin keys revoke`, and a JWKS read by a new JWKS function instance.
 */
describe('an emergency revocation reaches a signer whose key view is warm', () => {
  const REVOKED_ALIAS = 'alias/ropc-token-service/revocation-test';
  const fixtures: { stop(): Promise<void> }[] = [];

  afterAll(async () => {
    for (const fixture of fixtures) await fixture.stop();
  });

  async function fixture() {
    const services = await emulatedServices(REVOKED_ALIAS);
    const { config } = services;
    const db = documentClient(config.dynamodbEndpoint!);
    await seed(db, config.tables, {
      clients: [{ clientId: 'app', secret: 'app-secret' }],
      users: [{ username: 'alice', password: 'pw-alice' }],
    });
    const tokenKms = kmsClient(services.kms.endpoint);
    const operatorKms = kmsClient(services.kms.endpoint);
    const calls: CallRecord[] = [];
    instrument(tokenKms, 'kms', calls);
    instrument(db, 'dynamodb', calls);
    const deps = createTokenEndpointDeps(config, { logSink: () => undefined, sdk: { db, kms: tokenKms } });
    const store = new DynamoSigningKeyStore(db, config.tables.signingKeys);
    const manager = new SigningKeyManager(operatorKms, store, {
      deployment: 'local',
      bootstrapKeyId: REVOKED_ALIAS,
      accessTokenTtl: config.accessTokenTtl,
    });
    const stop = async () => {
      db.destroy();
      tokenKms.destroy();
      operatorKms.destroy();
      await services.kms.stop();
    };
    fixtures.push({ stop });
    const count = (command: string) => calls.filter((call) => call.command === command).length;
    return {
      config,
      manager,
      store,
      operatorKms,
      /** A password grant on the warm instance; the access token when it succeeds. */
      async issue(): Promise<{ status: number; token?: string; retryAfter?: string }> {
        const response = await handleTokenRequest(
          tokenRequest(
            { grant_type: 'password', username: 'alice', password: 'pw-alice' },
            { authorization: basic('app', 'app-secret') },
          ),
          deps,
        );
        const body = JSON.parse(response.body) as { access_token?: string };
        return { status: response.status, token: body.access_token, retryAfter: response.headers['Retry-After'] };
      },
      /** Sign calls and registry reads the token instance made so far. */
      signs: () => count('Sign'),
      registryReads: () =>
        calls.filter((call) => call.command === 'Scan' && call.table === config.tables.signingKeys).length,
      /** What a new JWKS function instance publishes. */
      async verify(token: string) {
        const jwks = createSigner(config, { sdk: { db, kms: operatorKms } });
        const keys = await jwks.publicJwks();
        await jwtVerify(token, createLocalJWKSet({ keys }), { issuer: config.issuer, typ: 'at+jwt' });
        return keys.map((jwk) => jwk.kid);
      },
    };
  }

  const kidOf = (token: string | undefined) => decodeProtectedHeader(token ?? '').kid;

  it('signs the very next token with the other published key once the signing key is revoked', async () => {
    const f = await fixture();
    const { created: other } = await f.manager.rotate(); // published now, signs in 3 hours
    const before = await f.issue();
    expect(before.status).toBe(200);
    const doomed = kidOf(before.token);
    expect(doomed).not.toBe(other.kid);

    const signs = f.signs();
    await f.manager.revoke(String(doomed));
    const after = await f.issue();
    expect(after.status).toBe(200);
    expect(kidOf(after.token)).toBe(other.kid);
    const published = await f.verify(after.token!);
    expect(published).toEqual([other.kid]);
    // KMS refused the revoked key once; the instance read the registry again and signed with the other key.
    expect(f.signs() - signs).toBe(2);

    // It keeps that view: the next token takes one Sign.
    const next = await f.issue();
    expect(kidOf(next.token)).toBe(other.kid);
    expect(f.signs() - signs).toBe(3);
  });

  it('signs the next token with the key the revocation creates when it revokes the only key', async () => {
    const f = await fixture();
    const before = await f.issue(); // the first key, read from KMS while the registry is empty
    expect(before.status).toBe(200);
    const doomed = String(kidOf(before.token));

    const { created } = await f.manager.revoke(doomed);
    expect(created).toBeDefined();
    const after = await f.issue();
    expect(after.status).toBe(200);
    expect(kidOf(after.token)).toBe(created!.kid);
    expect(await f.verify(after.token!)).toEqual([created!.kid]);
  });

  it('signs with the other published key when KMS refuses a key the registry still lists as signing', async () => {
    const f = await fixture();
    const { created: other } = await f.manager.rotate();
    const before = await f.issue();
    const refusedKid = kidOf(before.token);
    expect(refusedKid).not.toBe(other.kid);
    const refused = (await f.store.list()).find((key) => key.kid === refusedKid)!;

    // What `keys revoke` does first, before its registry write.
    await f.operatorKms.send(new DisableKeyCommand({ KeyId: refused.keyArn }));
    const reads = f.registryReads();
    const after = await f.issue();
    expect(after.status).toBe(200);
    expect(kidOf(after.token)).toBe(other.kid);
    expect(f.registryReads() - reads).toBe(1);
    await f.verify(after.token!);
  });

  it('answers 503 while the only key is refused and no new key is registered, then signs with the new key', async () => {
    const f = await fixture();
    const before = await f.issue();
    const onlyKid = String(kidOf(before.token));
    await f.manager.list(); // registers the first key, as a revocation does before it disables the key
    const [only] = await f.store.list();
    await f.operatorKms.send(new DisableKeyCommand({ KeyId: only!.keyArn }));

    const signs = f.signs();
    const reads = f.registryReads();
    const refused = await f.issue();
    expect(refused.status).toBe(503);
    expect(refused.retryAfter).toBe('1');
    expect(f.signs() - signs).toBe(1);
    expect(f.registryReads() - reads).toBe(1);

    // The revocation completes (the key is disabled already): the client's retry is signed by the new key.
    const { created } = await f.manager.revoke(onlyKid);
    const retried = await f.issue();
    expect(retried.status).toBe(200);
    expect(kidOf(retried.token)).toBe(created!.kid);
    await f.verify(retried.token!);
  });

  it('retries once: when the replacement is refused too, the request gets a 503', async () => {
    const f = await fixture();
    await f.manager.rotate();
    await f.issue();
    for (const key of await f.store.list()) {
      await f.operatorKms.send(new DisableKeyCommand({ KeyId: key.keyArn }));
    }
    const signs = f.signs();
    const refused = await f.issue();
    expect(refused.status).toBe(503);
    expect(f.signs() - signs).toBe(2);
  });
});
