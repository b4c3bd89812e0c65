/**
 * Usernames prepared by the RFC 8265 profile (lambda/oauth/username.ts) where they enter: the token endpoint
 * (its real deps, DynamoDB Local and the KMS emulator), the lockout counters, and the operator CLI; and
 * users stored as typed before names were prepared, who keep working.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../bin/admin/cli';
import { configFromEnv, configToEnv, type ServiceConfig } from '../../lambda/config';
import { createTokenEndpointDeps } from '../../lambda/handlers/runtime';
import type { TokenEndpointDeps } from '../../lambda/oauth/grants/grant';
import { handleTokenRequest } from '../../lambda/oauth/token-endpoint';
import { hashPassword } from '../../lambda/passwords';
import type { KmsEmulator } from '../../local/kms-emulator';
import { LOCAL_CREDENTIALS, LOCAL_REGION, writeStackState } from '../../local/state';
import { documentClient, emulatedServices } from '../support/aws';
import { basic, FAST_SCRYPT, tokenRequest } from '../support/memory';
import { seed } from '../support/seed';

const ALIAS = 'alias/ropc-token-service/usernames';
const auth = basic('app', 'app-secret');
const ALICE_ID = randomUUID();
const BOB_ID = randomUUID();
let kms: KmsEmulator;
let config: ServiceConfig;
let db: ReturnType<typeof documentClient>;
let stateDir: string;

/** A user as stored before names were prepared: the name exactly as the operator typed it. */
async function storeAsTyped(username: string, password: string, userId = randomUUID()): Promise<void> {
  const at = new Date().toISOString();
  await db.send(
    new PutCommand({
      TableName: config.tables.users,
      Item: {
        username,
        userId,
        passwordHash: await hashPassword(password, FAST_SCRYPT),
        scopes: ['read'],
        disabled: false,
        createdAt: at,
        passwordChangedAt: at,
      },
    }),
  );
}

beforeAll(async () => {
  ({ kms, config } = await emulatedServices(ALIAS));
  db = documentClient(config.dynamodbEndpoint!);
  await seed(db, config.tables, {
    clients: [{ clientId: 'app', secret: 'app-secret', scopes: ['read'] }],
    users: [
      { username: 'alice', password: 'pw-alice', userId: ALICE_ID },
      { username: 'erin', password: 'pw-erin' },
    ],
  });
  await storeAsTyped('Bob Smith', 'pw-bob', BOB_ID);
  await storeAsTyped('Carol', 'pw-carol');
  stateDir = await mkdtemp(join(tmpdir(), 'ropc-usernames-'));
  await writeStackState(stateDir, {
    issuer: config.issuer,
    tokenEndpoint: `${config.issuer}/token`,
    dynamodbEndpoint: config.dynamodbEndpoint!,
    kmsEndpoint: config.kmsEndpoint!,
    region: LOCAL_REGION,
    tables: config.tables,
    signingKeyAlias: ALIAS,
    scrypt: FAST_SCRYPT,
    accessTokenTtl: config.accessTokenTtl,
    pid: process.pid,
    startedAt: new Date().toISOString(),
  });
});

afterAll(async () => {
  db?.destroy();
  await kms?.stop();
  if (stateDir !== undefined) await rm(stateDir, { recursive: true, force: true });
});

/** The token endpoint as the function builds it, its clock stopped (the pair backoff waits seconds). */
function endpoint(env: Record<string, string> = {}) {
  const lines: Record<string, unknown>[] = [];
  const configured = configFromEnv({ ...configToEnv(config), AWS_REGION: config.region, ...env });
  const now = Date.now();
  const deps: TokenEndpointDeps = {
    ...createTokenEndpointDeps(configured, {
      credentials: LOCAL_CREDENTIALS,
      logSink: (line) => lines.push(JSON.parse(line)),
    }),
    clock: () => now,
  };
  return {
    login: async (username: string, password: string, ip = '198.51.100.40') => {
      const response = await handleTokenRequest(
        tokenRequest({ grant_type: 'password', username, password }, { authorization: auth, sourceIp: ip }),
        deps,
      );
      return { status: response.status, body: JSON.parse(response.body) as Record<string, unknown> };
    },
    lastFailure: () => lines.filter((line) => line.event === 'password_grant_failed').at(-1),
  };
}

async function cli(argv: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    stdin,
    stdout: (text) => void (out += text),
    stderr: (text) => void (err += text),
    env: { LOCAL_STATE_DIR: stateDir },
  });
  return { code, out, err };
}

async function storedUser(username: string): Promise<Record<string, unknown> | undefined> {
  const { Item } = await db.send(new GetCommand({ TableName: config.tables.users, Key: { username } }));
  return Item;
}

describe('the token endpoint finds a user by the prepared name', () => {
  it.each(['alice', 'ALICE', 'Alice', '\uff21\uff2c\uff29\uff23\uff25'])('logs %j in as alice', async (typed) => {
    const { status, body } = await endpoint().login(typed, 'pw-alice', '198.51.100.41');
    expect(status).toBe(200);
    expect(decodeJwt(body.access_token as string).sub).toBe(ALICE_ID);
  });

  it('refuses a name the profile refuses like an unknown user', async () => {
    const api = endpoint();
    const { status, body } = await api.login('ali\u200bce', 'pw-alice', '198.51.100.42');
    expect(status).toBe(400);
    expect(body).toEqual({ error: 'invalid_grant', error_description: 'invalid username or password' });
    expect(api.lastFailure()?.reason).toBe('unknown_user');
  });
});

describe('users stored as typed before names were prepared', () => {
  it('logs in "Bob Smith" (a name the profile refuses) as stored', async () => {
    const { status, body } = await endpoint().login('Bob Smith', 'pw-bob', '198.51.100.43');
    expect(status).toBe(200);
    expect(decodeJwt(body.access_token as string).sub).toBe(BOB_ID);
  });

  it('logs in "Carol" as stored; other forms of the name are not hers, as before', async () => {
    expect((await endpoint().login('Carol', 'pw-carol', '198.51.100.44')).status).toBe(200);
    expect((await endpoint().login('carol', 'pw-carol', '198.51.100.44')).status).toBe(400);
  });

  it('are shown, changed and their sessions ended by the CLI under the name as stored', async () => {
    const shown = await cli(['users', 'show', 'Bob Smith', '--json']);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.out)).toMatchObject({ username: 'Bob Smith', user_id: BOB_ID });
    const updated = await cli(['users', 'update', 'Carol', '--scopes', 'read', '--json']);
    expect([updated.code, JSON.parse(updated.out).username]).toEqual([0, 'Carol']);
    const revoked = await cli(['tokens', 'revoke', '--username', 'Bob Smith', '--json']);
    expect([revoked.code, JSON.parse(revoked.out).username]).toEqual([0, 'Bob Smith']);
  });

  it('keep their name: a new user of the same name as typed is refused', async () => {
    const result = await cli(['users', 'create', 'Carol', '--password-stdin'], 'a long enough password');
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/already exists/);
    expect(await storedUser('carol')).toBeUndefined();
  });
});

describe('the lockout counts every form of a name together', () => {
  it('locks alice from one address after failures as "Alice" and "alice" (threshold 2)', async () => {
    const api = endpoint({ LOCKOUT_PAIR_THRESHOLD: '2' });
    const ip = '198.51.100.45';
    expect((await api.login('Alice', 'wrong', ip)).status).toBe(400);
    expect((await api.login('alice', 'wrong', ip)).status).toBe(400);
    expect((await api.login('ALICE', 'pw-alice', ip)).status).toBe(400);
    expect(api.lastFailure()?.lockout).toBe('pair_backoff');

    // The CLI's unlock, given yet another form of the name, clears the same counters.
    const unlocked = await cli(['users', 'unlock', 'ALICE', '--json']);
    expect(unlocked.code).toBe(0);
    expect(JSON.parse(unlocked.out)).toMatchObject({ username: 'alice', unlocked: true });
    expect(JSON.parse(unlocked.out).cleared_counters).toBeGreaterThan(0);
    expect((await api.login('alice', 'pw-alice', ip)).status).toBe(200);
  });
});

describe('ropc-admin users create prepares the name', () => {
  it('stores the prepared form and says so when it differs from what was typed', async () => {
    const result = await cli(
      ['users', 'create', 'Dora', '--password-stdin', '--scopes', 'read'],
      'a long enough password',
    );
    expect(result.code).toBe(0);
    const stored = await storedUser('dora');
    expect(result.out).toBe(`Created user "dora" (from "Dora") (user id ${String(stored?.userId)}).\n`);
    expect(await storedUser('Dora')).toBeUndefined();
    expect((await endpoint().login('DORA', 'a long enough password', '198.51.100.46')).status).toBe(200);

    const again = await cli(['users', 'create', 'DORA', '--password-stdin'], 'another long password');
    expect([again.code, again.err]).toEqual([1, expect.stringMatching(/user "dora" already exists/)]);
  });

  it('prints nothing more when the name is already in its prepared form', async () => {
    const result = await cli(['users', 'create', 'frank', '--password-stdin', '--json'], 'a long enough password');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.out)).toMatchObject({ username: 'frank', created: true });
  });

  it.each([
    ['ali\u200bce', 'it contains U+200B (a format character)'],
    ['bob smith', 'it contains U+0020 (a space)'],
    ['snow\u2603', 'it contains "\u2603" (U+2603, a symbol)'],
  ])('refuses %j (exit 2), naming the problem, before reading a password', async (name, problem) => {
    const result = await cli(['users', 'create', name, '--password-stdin'], 'a long enough password');
    expect(result.code).toBe(2);
    expect(result.err).toContain(problem);
    expect(result.err).toContain('invalid user NAME');
    expect(await storedUser(name)).toBeUndefined();
  });
});
