import { createPublicKey, randomBytes, randomUUID, verify as rsaVerify } from 'node:crypto';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteClient, disableClient, registerClient } from '../../lambda/accounts';
import { DynamoClientStore } from '../../lambda/adapters/client-store';
import { CorruptItemError } from '../../lambda/adapters/items';
import { KmsJwtSigner } from '../../lambda/adapters/kms-signer';
import { DynamoRefreshTokenStore, familyMarkerKey } from '../../lambda/adapters/refresh-token-store';
import type { ServiceConfig } from '../../lambda/config';
import { createTokenEndpointDeps } from '../../lambda/handlers/runtime';
import { DependencyUnavailableError } from '../../lambda/oauth/errors';
import type { TokenEndpointDeps } from '../../lambda/oauth/grants/grant';
import { type RefreshToken, RefreshTokenConflictError } from '../../lambda/oauth/ports';
import { handleTokenRequest } from '../../lambda/oauth/token-endpoint';
import { decodePhc } from '../../lambda/passwords/phc';
import { hashRefreshToken } from '../../lambda/tokens/refresh-token';
import type { KmsEmulator } from '../../local/kms-emulator';
import { freePort } from '../../local/net';
import { LOCAL_CREDENTIALS } from '../../local/state';
import { documentClient, emulatedServices, kmsClient } from '../support/aws';
import { basic, refreshTokenRecord, tokenRequest } from '../support/memory';
import { seed } from '../support/seed';

const ALIAS = 'alias/ropc-token-service/test';
let kms: KmsEmulator;
let config: ServiceConfig;
let deps: TokenEndpointDeps;
let db: ReturnType<typeof documentClient>;

beforeAll(async () => {
  // TTL off: these tables behave like DynamoDB before its (late) TTL sweep reaches an expired item.
  ({ kms, config } = await emulatedServices(ALIAS, { enableTtl: false }));
  deps = createTokenEndpointDeps(config, { credentials: LOCAL_CREDENTIALS, logSink: () => undefined });
  db = documentClient(config.dynamodbEndpoint!);
  await seed(db, config.tables, {
    clients: [{ clientId: 'app', secret: 'app-secret', scopes: ['read', 'write'] }],
    users: [{ username: 'alice', password: 'pw-alice', userId: 'u-alice', scopes: ['read', 'write'] }],
  });
});

afterAll(async () => {
  db?.destroy();
  await kms?.stop();
});

const auth = { authorization: basic('app', 'app-secret') };
async function login(): Promise<string> {
  const response = await handleTokenRequest(
    tokenRequest({ grant_type: 'password', username: 'alice', password: 'pw-alice' }, auth),
    deps,
  );
  expect(response.status).toBe(200);
  return JSON.parse(response.body).refresh_token;
}
const refresh = (token: string) =>
  handleTokenRequest(tokenRequest({ grant_type: 'refresh_token', refresh_token: token }, auth), deps);

function record(overrides: Partial<RefreshToken> = {}): RefreshToken {
  return refreshTokenRecord(Math.floor(Date.now() / 1000), overrides);
}

describe('DynamoRefreshTokenStore against DynamoDB Local', () => {
  it('stores a token with its TTL attribute and reads it back', async () => {
    const store = new DynamoRefreshTokenStore(db, config.tables.refreshTokens);
    const token = record();
    await store.create(token);
    expect(await store.get(token.tokenHash)).toEqual({ ...token, successorHash: undefined });
    const { GetCommand } = await import('@aws-sdk/lib-dynamodb');
    const { Item } = await db.send(
      new GetCommand({ TableName: config.tables.refreshTokens, Key: { tokenHash: token.tokenHash } }),
    );
    expect(Item?.expiresAt).toBe(token.idleExpiresAt);
  });

  it('rotates once and reports the conflict with the stored state on a second rotation', async () => {
    const store = new DynamoRefreshTokenStore(db, config.tables.refreshTokens);
    const current = record();
    await store.create(current);
    const next = record({ familyId: current.familyId, generation: 1 });
    await store.rotate(current, next, current.issuedAt);
    const error = await store.rotate(current, record(), current.issuedAt).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RefreshTokenConflictError);
    expect((error as RefreshTokenConflictError).current).toMatchObject({
      state: 'rotated',
      successorHash: next.tokenHash,
    });
  });

  it('refuses to rotate an expired token even though DynamoDB has not deleted it', async () => {
    const store = new DynamoRefreshTokenStore(db, config.tables.refreshTokens);
    const now = Math.floor(Date.now() / 1000);
    const expired = record({ issuedAt: now - 100, idleExpiresAt: now - 10 });
    await store.create(expired);
    expect(await store.get(expired.tokenHash)).toBeDefined();
    await expect(store.rotate(expired, record(), now)).rejects.toBeInstanceOf(RefreshTokenConflictError);
    expect((await store.get(expired.tokenHash))?.state).toBe('active');
  });

  it('revokes a whole family with one marker: no token of it, earlier or later, can rotate afterwards', async () => {
    const store = new DynamoRefreshTokenStore(db, config.tables.refreshTokens);
    const a = record();
    const b = record({ familyId: a.familyId, generation: 1 });
    const c = record({ familyId: a.familyId, generation: 2 });
    await store.create(a);
    await store.rotate(a, b, a.issuedAt);
    await store.rotate(b, c, a.issuedAt);
    const other = record();
    await store.create(other);

    // The first token comes back (reuse): revoking from it reaches the family's live token, c.
    expect(await store.revokeFamily({ ...a, state: 'rotated' })).toBe(true);
    expect((await store.get(a.tokenHash))?.state).toBe('revoked');
    const error = await store
      .rotate(c, record({ familyId: a.familyId, generation: 3 }), a.issuedAt)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RefreshTokenConflictError);
    expect((error as RefreshTokenConflictError).current).toMatchObject({ tokenHash: c.tokenHash, state: 'revoked' });
    // The item of c is untouched; the marker is what refuses it.
    expect((await store.get(c.tokenHash))?.state).toBe('active');
    expect(await store.revokeFamily(c)).toBe(false);
    expect((await store.get(c.tokenHash))?.state).toBe('revoked');

    // Another family is not affected, and the marker never reads as a token.
    await store.rotate(other, record({ familyId: other.familyId, generation: 1 }), other.issuedAt);
    const { GetCommand } = await import('@aws-sdk/lib-dynamodb');
    const { Item } = await db.send(
      new GetCommand({ TableName: config.tables.refreshTokens, Key: { tokenHash: familyMarkerKey(a.familyId) } }),
    );
    expect(Item).toEqual({
      tokenHash: familyMarkerKey(a.familyId),
      familyId: a.familyId,
      revokedAt: expect.any(Number),
      expiresAt: a.familyExpiresAt,
    });
  });

  it('revokes a family of 200 tokens in one round trip', async () => {
    const store = new DynamoRefreshTokenStore(db, config.tables.refreshTokens);
    const familyId = randomUUID();
    const tokens = Array.from({ length: 200 }, (_, generation) => record({ familyId, generation }));
    await store.create(tokens[0]!);
    for (let i = 1; i < tokens.length; i++) await store.rotate(tokens[i - 1]!, tokens[i]!, tokens[0]!.issuedAt);
    const calls: string[] = [];
    db.middlewareStack.add(
      (next, context) => async (args) => {
        calls.push(String(context.commandName));
        return next(args);
      },
      { step: 'initialize', name: 'countCalls' },
    );
    try {
      expect(await store.revokeFamily({ ...tokens[0]!, state: 'rotated' })).toBe(true);
    } finally {
      db.middlewareStack.remove('countCalls');
    }
    // The marker and the presented token, in parallel, whatever the family's length.
    expect(calls).toEqual(['UpdateItemCommand', 'UpdateItemCommand']);
    await expect(store.rotate(tokens.at(-1)!, record({ familyId }), tokens[0]!.issuedAt)).rejects.toBeInstanceOf(
      RefreshTokenConflictError,
    );
  });
});

describe('token endpoint on DynamoDB Local and the KMS emulator', () => {
  it('rejects an expired-but-undeleted refresh token over the real store', async () => {
    const store = new DynamoRefreshTokenStore(db, config.tables.refreshTokens);
    const token = `expired-token-${randomUUID()}`;
    const now = Math.floor(Date.now() / 1000);
    await store.create(record({ tokenHash: hashRefreshToken(token), issuedAt: now - 7200, idleExpiresAt: now - 1 }));
    const response = await refresh(token);
    expect((await store.get(hashRefreshToken(token)))?.state).toBe('active');
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body).error).toBe('invalid_grant');
  });

  it('gives exactly one of 20 parallel refreshes of one token a new token', async () => {
    const token = await login();
    const responses = await Promise.all(Array.from({ length: 20 }, () => refresh(token)));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    // Every loser is refused (invalid_grant) or told to retry (503); none is a server error.
    expect(statuses.every((s) => s === 200 || s === 400 || s === 503)).toBe(true);
    expect(statuses.filter((s) => s === 400).length).toBeGreaterThan(0);
    // A loser saw the token rotated: that is reuse, so the whole family, the winner's token included, is revoked.
    const winner = JSON.parse(responses.find((r) => r.status === 200)!.body).refresh_token as string;
    const afterwards = await refresh(winner);
    expect(afterwards.status).toBe(400);
    expect(JSON.parse(afterwards.body).error).toBe('invalid_grant');
  });

  it('signs with KMS: the JWT verifies with the key KMS publishes, kid is its RFC 7638 thumbprint', async () => {
    const response = await handleTokenRequest(
      tokenRequest({ grant_type: 'password', username: 'alice', password: 'pw-alice' }, auth),
      deps,
    );
    const jwt = JSON.parse(response.body).access_token as string;
    const [header, payload, signature] = jwt.split('.') as [string, string, string];
    const signer = new KmsJwtSigner(kmsClient(kms.endpoint), ALIAS);
    const [jwk] = await signer.publicJwks();
    expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toEqual({
      alg: 'RS256',
      typ: 'at+jwt',
      kid: jwk!.kid,
    });
    const key = createPublicKey({ key: { kty: 'RSA', n: jwk!.n, e: jwk!.e }, format: 'jwk' });
    expect(rsaVerify('sha256', Buffer.from(`${header}.${payload}`), key, Buffer.from(signature, 'base64url'))).toBe(
      true,
    );
  });

  it('replaces a hash made with outdated scrypt parameters at the first login, through the user store', async () => {
    const outdated = { N: 2 ** 11, r: 8, p: 1 };
    await seed(db, config.tables, {
      users: [{ username: 'olga', password: 'pw-olga', userId: 'u-olga', scrypt: outdated }],
    });
    const hashOf = async () => (await deps.users.getUser('olga'))?.passwordHash ?? '';
    expect(decodePhc(await hashOf()).params).toEqual(outdated);
    const response = await handleTokenRequest(
      tokenRequest({ grant_type: 'password', username: 'olga', password: 'pw-olga' }, auth),
      deps,
    );
    expect(response.status).toBe(200);
    expect(decodePhc(await hashOf()).params).toEqual(config.scrypt);
  });

  it('starts a new failure streak over one that has expired but is not yet deleted (TTL is late)', async () => {
    const subject = { userKey: `streak-${randomUUID()}`, ip: '198.51.100.7' };
    const start = Math.floor(Date.now() / 1000);
    expect((await deps.loginAttempts.recordFailure(subject, start)).pairFailures).toBe(1);
    expect((await deps.loginAttempts.recordFailure(subject, start + 10)).pairFailures).toBe(2);
    // A quiet day later the streak is over, though the item is still there (TTL is off on these tables).
    const later = start + 24 * 3600 + 11;
    expect((await deps.loginAttempts.read(subject, later)).pairFailures).toBe(0);
    expect((await deps.loginAttempts.recordFailure(subject, later)).pairFailures).toBe(1);
    expect((await deps.loginAttempts.read(subject, later)).pairFailures).toBe(1);
  });

  it('answers 503 while KMS throttles, without consuming the refresh token, and recovers', async () => {
    const token = await login();
    kms.injectFault({ operation: 'Sign', kind: 'throttle' });
    try {
      const failed = await refresh(token);
      expect(failed.status).toBe(503);
      expect(failed.headers['Retry-After']).toBe('1');
      expect(JSON.parse(failed.body).error).toBe('temporarily_unavailable');
    } finally {
      kms.clearFaults();
    }
    const store = new DynamoRefreshTokenStore(db, config.tables.refreshTokens);
    expect((await store.get(hashRefreshToken(token)))?.state).toBe('active');
    expect((await refresh(token)).status).toBe(200);
  });

  it('answers 503 when DynamoDB is unreachable', async () => {
    const closedPort = await freePort();
    const offline = createTokenEndpointDeps(
      { ...config, dynamodbEndpoint: `http://127.0.0.1:${closedPort}` },
      { credentials: LOCAL_CREDENTIALS, logSink: () => undefined },
    );
    const response = await handleTokenRequest(
      tokenRequest({ grant_type: 'password', username: 'alice', password: 'pw-alice' }, auth),
      offline,
    );
    expect(response.status).toBe(503);
    expect(JSON.parse(response.body)).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'the service is temporarily unavailable, retry later',
    });
  });

  it('maps KMS errors to DependencyUnavailableError only when they are transient', async () => {
    const signer = new KmsJwtSigner(kmsClient(kms.endpoint), ALIAS);
    kms.injectFault({ kind: 'internal' });
    try {
      await expect(signer.signingKey()).rejects.toBeInstanceOf(DependencyUnavailableError);
    } finally {
      kms.clearFaults();
    }
    const missing = new KmsJwtSigner(kmsClient(kms.endpoint), 'alias/does-not-exist');
    const error = await missing.signingKey().catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(DependencyUnavailableError);
    expect((error as Error).name).toBe('NotFoundException');
  });
});

describe("a client's lifecycle and its refresh tokens, through the real stores", () => {
  const secret = 'reborn-secret';
  let clientId: string;
  let lines: string[];
  let logged: TokenEndpointDeps;
  let clients: DynamoClientStore;
  const register = () =>
    registerClient(
      { clients, clock: Date.now, random: { bytes: (length) => randomBytes(length) } },
      {
        clientId,
        secret,
        isPublic: false,
        scopes: ['read'],
        grantTypes: ['password', 'refresh_token'],
      },
    );
  const loginAs = async () => {
    const response = await handleTokenRequest(
      tokenRequest(
        { grant_type: 'password', username: 'alice', password: 'pw-alice' },
        { authorization: basic(clientId, secret) },
      ),
      logged,
    );
    expect(response.status).toBe(200);
    return JSON.parse(response.body).refresh_token as string;
  };
  const refreshAs = (token: string) =>
    handleTokenRequest(
      tokenRequest({ grant_type: 'refresh_token', refresh_token: token }, { authorization: basic(clientId, secret) }),
      logged,
    );
  /** Sleeps into the next second: times are whole seconds, and a registration must come after the family. */
  const nextSecond = () => new Promise((resolve) => setTimeout(resolve, 1001 - (Date.now() % 1000)));

  beforeAll(() => {
    clients = new DynamoClientStore(db, config.tables.clients);
    lines = [];
    logged = createTokenEndpointDeps(config, { credentials: LOCAL_CREDENTIALS, logSink: (line) => lines.push(line) });
  });

  it('refuses the tokens of a deleted client to a new client registered with the same id', async () => {
    clientId = `reborn-${randomUUID()}`;
    await register();
    const first = await loginAs();
    const rotated = await refreshAs(first);
    expect(rotated.status).toBe(200);
    const current = JSON.parse(rotated.body).refresh_token as string;

    await deleteClient({ clients }, clientId);
    expect((await refreshAs(current)).status).toBe(401);
    await nextSecond();
    await register();

    const response = await refreshAs(current);
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body)).toEqual({
      error: 'invalid_grant',
      error_description: 'the refresh token is invalid, expired or revoked',
    });
    const failure = lines.map((line) => JSON.parse(line)).findLast((entry) => entry.event === 'refresh_grant_failed');
    expect(failure).toMatchObject({ clientId, reason: 'client_reregistered' });
    // The old token is left as it was: nothing was committed for it.
    const store = new DynamoRefreshTokenStore(db, config.tables.refreshTokens);
    expect((await store.get(hashRefreshToken(current)))?.state).toBe('active');

    // The new registration's own sessions work.
    const fresh = await loginAs();
    expect((await refreshAs(fresh)).status).toBe(200);
  });

  it('reads a client item whose registration time is not an instant as corrupt', async () => {
    clientId = `undated-${randomUUID()}`;
    await register();
    await db.send(
      new UpdateCommand({
        TableName: config.tables.clients,
        Key: { clientId },
        UpdateExpression: 'SET createdAt = :bad',
        ExpressionAttributeValues: { ':bad': 'last tuesday' },
      }),
    );
    await expect(clients.getClient(clientId)).rejects.toBeInstanceOf(CorruptItemError);
  });

  it("stops a disabled client's refreshes (invalid_client), and they work again once it is enabled", async () => {
    clientId = `disabled-${randomUUID()}`;
    await register();
    const token = await loginAs();
    await disableClient({ clients }, clientId);
    const response = await refreshAs(token);
    expect(response.status).toBe(401);
    expect(JSON.parse(response.body).error).toBe('invalid_client');
    const store = new DynamoRefreshTokenStore(db, config.tables.refreshTokens);
    expect((await store.get(hashRefreshToken(token)))?.state).toBe('active');
    expect(await clients.setDisabled(clientId, false)).toBe(true);
    expect((await refreshAs(token)).status).toBe(200);
  });
});
