import { createPublicKey, randomBytes, randomUUID, verify as rsaVerify } from 'node:crypto';
import { GetCommand, PutCommand, QueryCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteClient, disableClient, registerClient } from '../../lambda/accounts';
import { DynamoClientStore } from '../../lambda/adapters/client-store';
import { CorruptItemError } from '../../lambda/adapters/items';
import { KmsJwtSigner } from '../../lambda/adapters/kms-signer';
import { DynamoRefreshTokenStore, familyKey, legacyTokenItem } from '../../lambda/adapters/refresh-token-store';
import type { ServiceConfig } from '../../lambda/config';
import { createTokenEndpointDeps } from '../../lambda/handlers/runtime';
import { DependencyUnavailableError } from '../../lambda/oauth/errors';
import type { TokenEndpointDeps } from '../../lambda/oauth/grants/grant';
import { handleTokenRequest } from '../../lambda/oauth/token-endpoint';
import { decodePhc } from '../../lambda/passwords/phc';
import { hashRefreshToken, openSuccessor, parseRefreshToken } from '../../lambda/tokens/refresh-token';
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

const store = () => new DynamoRefreshTokenStore(db, config.tables.refreshTokens);

/** Where a token stands in its family as DynamoDB holds it (as tokenStanding in test/support/memory.ts). */
async function standing(token: string): Promise<'current' | 'previous' | 'spent' | 'revoked' | undefined> {
  const presented = parseRefreshToken(token);
  if (presented?.format !== 'family') return undefined;
  const family = await store().getFamily(presented.familyId);
  if (family === undefined) return undefined;
  if (family.revokedAt !== undefined) return 'revoked';
  if (family.currentHash === presented.hash) return 'current';
  return family.previous?.hash === presented.hash ? 'previous' : 'spent';
}

/** The family's item as DynamoDB holds it. */
async function familyItem(token: string): Promise<Record<string, unknown> | undefined> {
  const { Item } = await db.send(
    new GetCommand({ TableName: config.tables.refreshTokens, Key: { tokenHash: familyKey(token.split('.')[0]!) } }),
  );
  return Item;
}

/** Calls the SDK client makes while `run` runs, by command name. */
async function callsDuring(run: () => Promise<unknown>): Promise<string[]> {
  const calls: string[] = [];
  const name = `count-${randomUUID()}`;
  db.middlewareStack.add(
    (next, context) => async (args) => {
      calls.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name },
  );
  try {
    await run();
  } finally {
    db.middlewareStack.remove(name);
  }
  return calls;
}

/** A refresh whose refresh-token store uses `db`, the client callsDuring counts the calls of. */
const refreshThroughCountedStore = (token: string) =>
  handleTokenRequest(tokenRequest({ grant_type: 'refresh_token', refresh_token: token }, auth), {
    ...deps,
    refreshTokens: store(),
  });

/** Sleeps into the next second: times are whole seconds. */
const nextSecond = () => new Promise((resolve) => setTimeout(resolve, 1001 - (Date.now() % 1000)));
const json = (response: { body: string }) => JSON.parse(response.body) as Record<string, unknown>;

describe('refresh-token families on DynamoDB Local', () => {
  it('rotates with one conditional UpdateItem: no transaction, one item per family however often it rotates', async () => {
    let token = await login();
    const calls = await callsDuring(async () => {
      const response = await refreshThroughCountedStore(token);
      expect(response.status).toBe(200);
      token = json(response).refresh_token as string;
    });
    // The refresh-token table sees one read of the family and one write: the conditional rotation.
    expect(calls).toEqual(['GetItemCommand', 'UpdateItemCommand']);
    for (let i = 0; i < 30; i++) token = json(await refresh(token)).refresh_token as string;
    const familyId = token.split('.')[0]!;
    const { Items } = await db.send(
      new ScanCommand({
        TableName: config.tables.refreshTokens,
        FilterExpression: 'familyId = :familyId',
        ExpressionAttributeValues: { ':familyId': familyId },
      }),
    );
    expect(Items).toHaveLength(1);
    expect(Items?.[0]).toMatchObject({ tokenHash: familyKey(familyId), generation: 31 });
    // The family's user is indexed for revocation by `familiesByUser`, not by the legacy `byUser` index.
    const byIndex = async (IndexName: string, attribute: string) =>
      (
        await db.send(
          new QueryCommand({
            TableName: config.tables.refreshTokens,
            IndexName,
            KeyConditionExpression: '#user = :user',
            ExpressionAttributeNames: { '#user': attribute },
            ExpressionAttributeValues: { ':user': 'u-alice' },
          }),
        )
      ).Items?.map((item) => item.tokenHash);
    expect(await byIndex('familiesByUser', 'familyUserId')).toContain(familyKey(familyId));
    expect(await byIndex('byUser', 'userId')).not.toContain(familyKey(familyId));
  });

  it('gives all of 20 parallel refreshes of one token the same successor within the grace', async () => {
    const token = await login();
    const responses = await Promise.all(Array.from({ length: 20 }, () => refresh(token)));
    expect(responses.map((response) => response.status)).toEqual(Array(20).fill(200));
    const successors = new Set(responses.map((response) => json(response).refresh_token));
    expect(successors.size).toBe(1);
    expect(new Set(responses.map((response) => json(response).access_token)).size).toBe(20);
    const [successor] = [...successors] as string[];
    expect(await standing(successor!)).toBe('current');
    expect((await familyItem(token))?.generation).toBe(1);
    expect((await refresh(successor!)).status).toBe(200);
  });

  it('gives exactly one of 20 parallel refreshes a new token with a grace of 0, and revokes the family', async () => {
    const strict = createTokenEndpointDeps(
      { ...config, refreshTokenGraceSeconds: 0 },
      { credentials: LOCAL_CREDENTIALS, logSink: () => undefined },
    );
    const token = await login();
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        handleTokenRequest(tokenRequest({ grant_type: 'refresh_token', refresh_token: token }, auth), strict),
      ),
    );
    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect(statuses.filter((status) => status === 400)).toHaveLength(19);
    // A loser presented a spent token: that is reuse, so the winner's token is revoked too.
    const winner = json(responses.find((response) => response.status === 200)!).refresh_token as string;
    expect(await standing(winner)).toBe('revoked');
    expect((await refresh(winner)).status).toBe(400);
  });

  it('refuses a retry after the grace and revokes the family', async () => {
    const short = createTokenEndpointDeps(
      { ...config, refreshTokenGraceSeconds: 1 },
      { credentials: LOCAL_CREDENTIALS, logSink: () => undefined },
    );
    const use = (token: string) =>
      handleTokenRequest(tokenRequest({ grant_type: 'refresh_token', refresh_token: token }, auth), short);
    const token = await login();
    await nextSecond();
    const successor = json(await use(token)).refresh_token as string;
    await nextSecond();
    expect((await use(token)).status).toBe(400);
    expect(await standing(successor)).toBe('revoked');
  });

  it('refuses a token two generations back within the grace and revokes the family', async () => {
    const first = await login();
    const second = json(await refresh(first)).refresh_token as string;
    const third = json(await refresh(second)).refresh_token as string;
    expect((await refresh(first)).status).toBe(400);
    expect(await standing(third)).toBe('revoked');
    expect((await refresh(third)).status).toBe(400);
  });

  it('refuses an expired family whose item DynamoDB has not deleted yet, and leaves it as it was', async () => {
    const token = await login();
    const familyId = token.split('.')[0]!;
    const now = Math.floor(Date.now() / 1000);
    await db.send(
      new UpdateCommand({
        TableName: config.tables.refreshTokens,
        Key: { tokenHash: familyKey(familyId) },
        UpdateExpression: 'SET idleExpiresAt = :past, expiresAt = :past',
        ExpressionAttributeValues: { ':past': now - 1 },
      }),
    );
    const before = await familyItem(token);
    const response = await refresh(token);
    expect(response.status).toBe(400);
    expect(json(response).error).toBe('invalid_grant');
    expect(await familyItem(token)).toEqual(before);
  });

  it('keeps the sealed successor closed to anything read from the table', async () => {
    const first = await login();
    const second = json(await refresh(first)).refresh_token as string;
    const item = (await familyItem(first))!;
    const binding = { familyId: first.split('.')[0]!, generation: item.generation as number };
    const sealed = item.sealedSuccessor as string;
    // Every value the item holds, tried as the key: none opens it, and none is the live token.
    for (const value of Object.values(item).map(String)) {
      expect(openSuccessor(value, sealed, binding)).toBeUndefined();
      expect(value).not.toContain(second.split('.')[1]);
    }
    expect(openSuccessor(first, sealed, binding)).toBe(second);
  });

  it('moves a legacy token (one item per token) into a family on first use, and keeps its retry and reuse', async () => {
    const legacy = randomBytes(32).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const familyId = randomUUID();
    const olderToken = randomBytes(32).toString('base64url');
    const older = refreshTokenRecord(now - 600, {
      tokenHash: hashRefreshToken(olderToken),
      familyId,
      userId: 'u-alice',
      generation: 2,
      state: 'rotated',
      familyIssuedAt: now,
    });
    const record = refreshTokenRecord(now - 60, {
      tokenHash: hashRefreshToken(legacy),
      familyId,
      userId: 'u-alice',
      scope: ['read'],
      generation: 3,
      familyIssuedAt: now,
    });
    for (const item of [older, record])
      await db.send(new PutCommand({ TableName: config.tables.refreshTokens, Item: legacyTokenItem(item) }));

    let answer: Record<string, unknown> = {};
    const calls = await callsDuring(async () => {
      answer = json(await refreshThroughCountedStore(legacy));
    });
    const next = answer.refresh_token as string;
    expect(next.startsWith(`${familyId}.`)).toBe(true);
    expect(answer.scope).toBe('read');
    // One read of the legacy token; the move is one transaction (the token, the family's new item).
    expect(calls).toEqual(['GetItemCommand', 'TransactWriteItemsCommand']);
    expect((await store().getLegacyToken(record.tokenHash))?.state).toBe('rotated');
    expect(await store().getFamily(familyId)).toMatchObject({ generation: 4, familyIssuedAt: now });
    // Its retry within the grace gets the same successor; the successor rotates in the family model.
    expect(json(await refresh(legacy)).refresh_token).toBe(next);
    // The same through the token function's own clients (whose calls the authorization proof evaluates).
    const another = randomBytes(32).toString('base64url');
    const anotherRecord = refreshTokenRecord(now - 60, {
      tokenHash: hashRefreshToken(another),
      userId: 'u-alice',
      familyIssuedAt: now,
    });
    await db.send(new PutCommand({ TableName: config.tables.refreshTokens, Item: legacyTokenItem(anotherRecord) }));
    const moved = json(await refresh(another)).refresh_token as string;
    expect(moved.startsWith(`${anotherRecord.familyId}.`)).toBe(true);
    expect(json(await refresh(another)).refresh_token).toBe(moved);
    const after = json(await refresh(next)).refresh_token as string;
    expect(await standing(after)).toBe('current');
    // A token of the chain rotated before the move is reuse: the moved family is revoked.
    expect((await refresh(olderToken)).status).toBe(400);
    expect(await standing(after)).toBe('revoked');
    expect((await refresh(after)).status).toBe(400);
  });
});

describe('token endpoint on DynamoDB Local and the KMS emulator', () => {
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
    expect(await standing(token)).toBe('current');
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
    expect(await standing(current)).toBe('current');

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
    expect(await standing(token)).toBe('current');
    expect(await clients.setDisabled(clientId, false)).toBe(true);
    expect((await refreshAs(token)).status).toBe(200);
  });
});
