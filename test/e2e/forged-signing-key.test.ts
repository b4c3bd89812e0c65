import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { createRemoteJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../../bin/admin/cli';
import { SIGNING_KEYS_TABLE } from '../../contract/tables';
import { createDocumentClient } from '../../lambda/adapters/aws-clients';
import { DynamoSigningKeyStore } from '../../lambda/adapters/signing-key-store';
import { rsaThumbprint } from '../../lambda/tokens/jwk';
import type { SigningKeyRecord } from '../../lambda/tokens/key-registry';
import { type LocalStack, localStackState, startLocalStack } from '../../local/stack';
import { LOCAL_CREDENTIALS, writeStackState } from '../../local/state';
import { LogAudit } from '../support/log-audit';
import { FAST_SCRYPT } from '../support/memory';
import { seedStack } from '../support/seed';

/**
 * Someone who can write the signing-key registry table, but not use the service's KMS keys, adds a row
 * with a public key of their own. The functions re-read the registry every second here (60 s in
 * production): for several periods the JWKS must not list the row, a token signed with the matching
 * private key must not verify against it, and the token endpoint keeps signing with its own key.
 */
let stack: LocalStack;
let stateDir: string;
let store: DynamoSigningKeyStore;
let db: ReturnType<typeof createDocumentClient>;
const audit = new LogAudit();
const KEY_CACHE_MS = 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const SECRET = 'forgery-secret';
const PASSWORD = `forgery password ${randomUUID()}`;
/** Kids are public (the JWKS lists them): the log audit's 256-bit shape check would take them for secrets. */
const kids = new Set<string>();

beforeAll(async () => {
  stack = await startLocalStack({
    dynamodbEndpoint: inject('dynamodbEndpoint'),
    tablePrefix: `forge-${randomUUID().slice(0, 8)}`,
    config: { scrypt: FAST_SCRYPT, keyCacheSeconds: KEY_CACHE_MS / 1000 },
    logSink: audit.sink,
  });
  stateDir = await mkdtemp(join(tmpdir(), 'ropc-forgery-'));
  await writeStackState(stateDir, localStackState(stack));
  await seedStack(stack, {
    clients: [{ clientId: 'rs-app', secret: SECRET, grantTypes: ['password'] }],
    users: [{ username: 'rita', password: PASSWORD }],
  });
  db = createDocumentClient({
    region: stack.region,
    dynamodbEndpoint: stack.dynamodbEndpoint,
    credentials: LOCAL_CREDENTIALS,
  });
  store = new DynamoSigningKeyStore(db, stack.tables.signingKeys);
  // The registry in use, with a rotated key that signs (created by `keys rotate`, with the first key's policy).
  const code = await runCli(['keys', 'rotate', '--propagation', '0', '--json'], {
    stdin: '',
    stdout: () => undefined,
    stderr: () => undefined,
    env: { LOCAL_STATE_DIR: stateDir },
  });
  expect(code).toBe(0);
  // The functions hand over a cache period after it signs from, with views up to a period old.
  await sleep(3 * KEY_CACHE_MS + 1000);
  for (const key of await store.list()) kids.add(key.kid);
});

afterAll(async () => {
  audit.secret(SECRET, PASSWORD);
  let lines = audit.lines;
  for (const kid of kids) lines = lines.map((line) => line.replaceAll(kid, '<kid>'));
  audit.expectClean(lines);
  db?.destroy();
  await stack?.stop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

const jwksUrl = () => new URL(`${stack.url}/.well-known/jwks.json`);
type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

async function publishedKids(): Promise<string[]> {
  const response = await fetch(jwksUrl());
  expect(response.status).toBe(200);
  return ((await response.json()) as { keys: { kid: string }[] }).keys.map((key) => key.kid);
}

async function issue(): Promise<string> {
  const response = await fetch(stack.tokenEndpoint, {
    method: 'POST',
    headers: {
      Authorization: `Basic ${Buffer.from(`rs-app:${SECRET}`).toString('base64')}`,
      'Content-Type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'password', username: 'rita', password: PASSWORD }),
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { access_token: string };
  audit.tokens(body);
  return body.access_token;
}

/** An attacker's RSA key pair, and the registry row that would make it the newest signing key. */
async function forgedRow(keyArn: string): Promise<{ row: SigningKeyRecord; privateKey: PrivateKey }> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { modulusLength: 2048 });
  const { n, e } = await exportJWK(publicKey);
  const kid = rsaThumbprint(n!, e!);
  kids.add(kid);
  const now = Math.floor(Date.now() / 1000);
  return {
    row: { kid, keyArn, alg: 'RS256', n: n!, e: e!, createdAt: now, signsFrom: now - 60, state: 'active' },
    privateKey,
  };
}

/** An access token for any user, scope and audience, signed with the attacker's key. */
function forgedToken(kid: string, privateKey: PrivateKey): Promise<string> {
  return new SignJWT({ client_id: 'rs-app', scope: 'admin everything' })
    .setProtectedHeader({ alg: 'RS256', kid, typ: 'at+jwt' })
    .setIssuer(stack.issuer)
    .setSubject('any-user-at-all')
    .setAudience(stack.issuer)
    .setIssuedAt()
    .setExpirationTime('15m')
    .setJti(randomUUID())
    .sign(privateKey);
}

/**
 * For several of the functions' cache periods: the JWKS never lists `kid`, the forged token never
 * verifies, and every token the endpoint issues verifies against the JWKS.
 */
async function expectRefusedFor(ms: number, kid: string, forged: string): Promise<void> {
  const jwks = createRemoteJWKSet(jwksUrl(), { cacheMaxAge: 0, cooldownDuration: 0 });
  for (const end = Date.now() + ms; Date.now() < end; ) {
    expect(await publishedKids()).not.toContain(kid);
    await expect(jwtVerify(forged, jwks, { issuer: stack.issuer, typ: 'at+jwt' })).rejects.toThrow();
    await jwtVerify(await issue(), jwks, { issuer: stack.issuer, typ: 'at+jwt', algorithms: ['RS256'] });
    await sleep(250);
  }
}

function rejections(kid: string): Record<string, unknown>[] {
  return audit.lines
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.event === 'signing_key_rejected' && line.kid === kid);
}

describe('a key-registry row that KMS does not vouch for', () => {
  it("is never published, and a token signed with the row's key does not verify: a key KMS does not hold", async () => {
    const { row, privateKey } = await forgedRow(
      `arn:aws:kms:${stack.region}:${stack.kms.accountId}:key/${randomUUID()}`,
    );
    const forged = await forgedToken(row.kid, privateKey);
    await store.write([row]);
    try {
      await expectRefusedFor(3 * KEY_CACHE_MS, row.kid, forged);
      expect(rejections(row.kid)).toContainEqual(
        expect.objectContaining({ reason: 'kms_refused', error: 'NotFoundException', key_arn: row.keyArn }),
      );
      // Never the key material.
      expect(audit.lines.some((line) => line.includes(row.n))).toBe(false);
    } finally {
      await db.send(
        new DeleteCommand({ TableName: stack.tables.signingKeys, Key: { [SIGNING_KEYS_TABLE.partitionKey]: row.kid } }),
      );
    }
  });

  it("is never published when it names the service's real key with another key's public key", async () => {
    const real = await store.list();
    // The key that signs now, as the token endpoint shows it (registry keys created in one second tie on createdAt).
    const signingKid = decodeProtectedHeader(await issue()).kid;
    const signing = real.find((key) => key.kid === signingKid)!;
    expect(signing).toBeDefined();
    const { row, privateKey } = await forgedRow(signing.keyArn);
    const forged = await forgedToken(row.kid, privateKey);
    await store.write([row]);
    await expectRefusedFor(3 * KEY_CACHE_MS, row.kid, forged);
    expect(rejections(row.kid)).toContainEqual(
      expect.objectContaining({ reason: 'public_key_mismatch', key_arn: signing.keyArn }),
    );
    // The service's own keys stay published, and its rotated key still signs.
    expect((await publishedKids()).sort()).toEqual(real.map((key) => key.kid).sort());
    expect(decodeProtectedHeader(await issue()).kid).toBe(signing.kid);
  });
});
