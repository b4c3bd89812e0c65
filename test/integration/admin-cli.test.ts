/**
 * The operator CLI (bin/admin) against DynamoDB Local: every implemented command through `runCli`, with a
 * local stack state in a temp dir, plus one run of the real entry as a child process.
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliDeps, runCli } from '../../bin/admin/cli';
import { type StackOutput, stackSettingsFromOutputs } from '../../bin/admin/stack-outputs';
import { resolveTarget } from '../../bin/admin/target';
import {
  ACCESS_TOKEN_TTL_OUTPUT,
  CLIENTS_TABLE_NAME_OUTPUT,
  ISSUER_OUTPUT,
  LOGIN_ATTEMPTS_TABLE_NAME_OUTPUT,
  REFRESH_TOKENS_TABLE_NAME_OUTPUT,
  SCRYPT_PARAMS_OUTPUT,
  SIGNING_KEY_ALIAS_OUTPUT,
  SIGNING_KEYS_TABLE_NAME_OUTPUT,
  TOKEN_ENDPOINT_OUTPUT,
  USERS_TABLE_NAME_OUTPUT,
} from '../../contract/stack-outputs';
import type { TableNames } from '../../contract/tables';
import { DynamoClientStore } from '../../lambda/adapters/client-store';
import { DynamoLoginAttemptStore } from '../../lambda/adapters/login-attempt-store';
import { DynamoRefreshTokenStore, familyKey, legacyTokenItem } from '../../lambda/adapters/refresh-token-store';
import { DynamoUserRefreshTokens } from '../../lambda/adapters/user-refresh-tokens';
import { hashClientSecret } from '../../lambda/oauth/client-secret';
import { attemptSubject } from '../../lambda/oauth/lockout';
import type { RefreshToken } from '../../lambda/oauth/ports';
import {
  DEFAULT_SCRYPT_PARAMS,
  hashPassword,
  MAX_PASSWORD_LENGTH,
  needsRehash,
  verifyPassword,
} from '../../lambda/passwords';
import { freePort } from '../../local/net';
import { LOCAL_REGION, type LocalStackState, writeStackState } from '../../local/state';
import { documentClient, freshTables } from '../support/aws';

const REPO = join(import.meta.dirname, '..', '..');
const FAST_SCRYPT = { N: 1024, r: 8, p: 1 };
const STACK_TRACE = /\n\s+at /;

let stateDir: string;
let emptyDir: string;
let tables: TableNames;
let endpoint: string;
let db: ReturnType<typeof documentClient>;
let refreshTokens: DynamoRefreshTokenStore;

function state(overrides: Partial<LocalStackState> = {}): LocalStackState {
  return {
    issuer: 'http://127.0.0.1:3000',
    tokenEndpoint: 'http://127.0.0.1:3000/token',
    dynamodbEndpoint: endpoint,
    kmsEndpoint: 'http://127.0.0.1:1',
    region: LOCAL_REGION,
    tables,
    signingKeyAlias: 'alias/ropc-token-service/test',
    scrypt: FAST_SCRYPT,
    accessTokenTtl: 900,
    pid: process.pid,
    startedAt: new Date().toISOString(),
    ...overrides,
  };
}

beforeAll(async () => {
  ({ endpoint, tables } = await freshTables());
  stateDir = await mkdtemp(join(tmpdir(), 'ropc-admin-'));
  emptyDir = await mkdtemp(join(tmpdir(), 'ropc-admin-empty-'));
  await writeStackState(stateDir, state());
  db = documentClient(endpoint);
  refreshTokens = new DynamoRefreshTokenStore(db, tables.refreshTokens);
});

afterAll(async () => {
  db?.destroy();
  await rm(stateDir, { recursive: true, force: true });
  await rm(emptyDir, { recursive: true, force: true });
});

interface Run {
  code: number;
  out: string;
  err: string;
}

async function run(
  argv: string[],
  options: { stdin?: string; env?: Record<string, string | undefined>; deps?: CliDeps } = {},
): Promise<Run> {
  let out = '';
  let err = '';
  const code = await runCli(
    argv,
    {
      stdin: options.stdin ?? '',
      stdout: (text) => void (out += text),
      stderr: (text) => void (err += text),
      env: options.env ?? { LOCAL_STATE_DIR: stateDir },
    },
    options.deps,
  );
  return { code, out, err };
}

/** Runs a command that must succeed with --json and returns the one object it printed. */
async function runJson(argv: string[], stdin?: string): Promise<Record<string, unknown>> {
  const result = await run([...argv, '--json'], { stdin });
  expect(result.err).toBe('');
  expect(result.code).toBe(0);
  expect(result.out.endsWith('\n')).toBe(true);
  expect(result.out.trimEnd().split('\n')).toHaveLength(1);
  return JSON.parse(result.out) as Record<string, unknown>;
}

/** A failure: the given exit code, one readable line on stderr, nothing on stdout. */
function expectFailure(result: Run, code: number, message: RegExp): void {
  expect(result.code).toBe(code);
  expect(result.out).toBe('');
  expect(result.err).toMatch(/^ropc-admin: .+\n$/);
  expect(result.err.trimEnd().split('\n')).toHaveLength(1);
  expect(result.err).not.toMatch(STACK_TRACE);
  expect(result.err).toMatch(message);
}

async function rawItem(table: string, key: Record<string, string>): Promise<Record<string, unknown> | undefined> {
  const { Item } = await db.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }));
  return Item;
}

const clientItem = (clientId: string) => rawItem(tables.clients, { clientId });
const userItem = (username: string) => rawItem(tables.users, { username });

function unique(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** What seedSessions stores: a family item (live or revoked), or a legacy token item (one per token). */
type Session = 'family' | 'revokedFamily' | 'legacyActive' | 'legacyRotated';

/** Stores one refresh-token family per entry for the user, and returns their family ids. */
async function seedSessions(userId: string, username: string, kinds: readonly Session[]): Promise<string[]> {
  const now = Math.floor(Date.now() / 1000);
  const familyIds: string[] = [];
  for (const [generation, kind] of kinds.entries()) {
    const familyId = randomBytes(16).toString('base64url');
    const common = { familyId, clientId: 'app', userId, username, scope: ['read'], generation };
    const times = { issuedAt: now, idleExpiresAt: now + 3600, familyExpiresAt: now + 86_400 };
    if (kind === 'family' || kind === 'revokedFamily') {
      await refreshTokens.createFamily({
        ...common,
        ...times,
        currentHash: randomBytes(32).toString('base64url'),
        familyIssuedAt: now,
        ...(kind === 'revokedFamily' ? { revokedAt: now - 100 } : {}),
      });
    } else {
      const token: RefreshToken = {
        ...common,
        ...times,
        tokenHash: randomBytes(32).toString('base64url'),
        state: kind === 'legacyActive' ? 'active' : 'rotated',
      };
      await db.send(new PutCommand({ TableName: tables.refreshTokens, Item: legacyTokenItem(token) }));
    }
    familyIds.push(familyId);
  }
  return familyIds;
}

/** Whether each family is revoked: its item (for a family of legacy tokens, the item only revoking writes) says so. */
async function familiesRevoked(familyIds: readonly string[]): Promise<boolean[]> {
  return Promise.all(
    familyIds.map(async (familyId) => {
      const item = await rawItem(tables.refreshTokens, { tokenHash: familyKey(familyId) });
      return item?.revokedAt !== undefined;
    }),
  );
}

async function createUser(username: string, password = 'initial password'): Promise<string> {
  const result = await runJson(['users', 'create', username, '--password-stdin'], `${password}\n`);
  return result.user_id as string;
}

describe('clients create', () => {
  it('creates a confidential client, prints its secret once and stores only the hash', async () => {
    const id = unique('web');
    const result = await runJson([
      'clients',
      'create',
      id,
      '--scopes',
      'read write',
      '--audience',
      'https://api.example.test',
    ]);
    expect(Object.keys(result).sort()).toEqual(['client_id', 'client_secret']);
    expect(result.client_id).toBe(id);
    const secret = result.client_secret as string;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/); // 256 bits, base64url

    const item = await clientItem(id);
    expect(item).toEqual({
      clientId: id,
      secretHash: hashClientSecret(secret),
      isPublic: false,
      scopes: ['read', 'write'],
      audience: 'https://api.example.test',
      grantTypes: ['password', 'refresh_token'],
      disabled: false,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect(JSON.stringify(item)).not.toContain(secret);
  });

  it('prints the secret exactly once in human output', async () => {
    const id = unique('svc');
    const { code, out, err } = await run(['clients', 'create', id, '--grant-types', 'password']);
    expect(code).toBe(0);
    expect(err).toBe('');
    const secret = /^client_secret: (\S+)$/m.exec(out)?.[1] ?? '';
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(out.split(secret)).toHaveLength(2);
    expect(out).toMatch(/confidential client/);
    expect((await clientItem(id))?.grantTypes).toEqual(['password']);
    expect((await clientItem(id))?.secretHash).toBe(hashClientSecret(secret));
  });

  it('creates a public client without a secret', async () => {
    const id = unique('spa');
    expect(await runJson(['clients', 'create', id, '--public'])).toEqual({ client_id: id, public: true });
    const item = await clientItem(id);
    expect(item?.isPublic).toBe(true);
    expect(item).not.toHaveProperty('secretHash');
    expect(item?.scopes).toEqual([]);

    const human = await run(['clients', 'create', unique('spa'), '--public', '--scopes', 'read']);
    expect(human.code).toBe(0);
    expect(human.out).toMatch(/public client .* no client secret/);
    expect(human.out).not.toMatch(/client_secret:/);
  });

  it('refuses an existing client id (exit 1) and leaves the client unchanged', async () => {
    const id = unique('dup');
    const first = await runJson(['clients', 'create', id]);
    const result = await run(['clients', 'create', id, '--public']);
    expectFailure(result, 1, new RegExp(`client "${id}" already exists`));
    expect((await clientItem(id))?.secretHash).toBe(hashClientSecret(first.client_secret as string));
  });

  it.each([
    ['0', 0],
    ['60', 60],
  ])('stores --refresh-grace %s as a number the client store reads back', async (value, seconds) => {
    const id = unique('grace');
    expect(Object.keys(await runJson(['clients', 'create', id, '--refresh-grace', value])).sort()).toEqual([
      'client_id',
      'client_secret',
    ]);
    expect((await clientItem(id))?.refreshGraceSeconds).toBe(seconds);
    const client = await new DynamoClientStore(db, tables.clients).getClient(id);
    expect(client?.refreshGraceSeconds).toBe(seconds);
  });

  it('takes --refresh-grace=SECONDS too, for public clients as well', async () => {
    const id = unique('grace-spa');
    expect(await runJson(['clients', 'create', id, '--public', '--refresh-grace=15'])).toEqual({
      client_id: id,
      public: true,
    });
    expect((await clientItem(id))?.refreshGraceSeconds).toBe(15);
  });

  it("stores no refresh-token grace without --refresh-grace, so that the stack's applies", async () => {
    const id = unique('no-grace');
    await runJson(['clients', 'create', id]);
    expect(await clientItem(id)).not.toHaveProperty('refreshGraceSeconds');
    expect(await new DynamoClientStore(db, tables.clients).getClient(id)).not.toHaveProperty('refreshGraceSeconds');
  });

  it.each([
    [['--refresh-grace', '-1'], /invalid --refresh-grace "-1": use a whole number of seconds from 0 to 60/],
    [['--refresh-grace', '61'], /invalid --refresh-grace "61": use a whole number of seconds from 0 to 60/],
    [['--refresh-grace', '1.5'], /invalid --refresh-grace "1.5": use a whole number of seconds from 0 to 60/],
    [['--refresh-grace', 'abc'], /invalid --refresh-grace "abc": use a whole number of seconds from 0 to 60/],
    [['--refresh-grace', '1e1'], /invalid --refresh-grace "1e1": use a whole number of seconds from 0 to 60/],
    [['--refresh-grace', ''], /invalid --refresh-grace "": use a whole number of seconds from 0 to 60/],
    [['--refresh-grace=-5'], /invalid --refresh-grace "-5": use a whole number of seconds from 0 to 60/],
    [['--refresh-grace'], /option --refresh-grace needs a value/],
    [['--refresh-grace', '--public'], /option --refresh-grace needs a value/],
    [['--refresh-grace', '5', '--refresh-grace', '6'], /option --refresh-grace is given more than once/],
  ])('refuses %j as a usage error (exit 2) and creates nothing', async (options, message) => {
    const id = unique('bad-grace');
    expectFailure(await run(['clients', 'create', id, ...options]), 2, message);
    expect(await clientItem(id)).toBeUndefined();
  });

  it.each([
    [['clients', 'create', 'bad\tid'], /invalid client ID/],
    [['clients', 'create', 'x'.repeat(129)], /invalid client ID/],
    [
      ['clients', 'create', 'ok', '--grant-types', 'password,client_credentials'],
      /unsupported grant type "client_credentials"/,
    ],
    [['clients', 'create', 'ok', '--grant-types', 'password,'], /invalid --grant-types/],
    [['clients', 'create', 'ok', '--scopes', 'read "quoted"'], /invalid --scopes/],
    [['clients', 'create', 'ok', '--audience', 'has space'], /invalid --audience/],
    [['clients', 'create'], /missing ID/],
    [['clients', 'create', 'ok', 'extra'], /unexpected argument "extra"/],
    [['clients', 'create', 'ok', '--password-stdin'], /--password-stdin does not apply to "clients create"/],
    [['clients', 'create', 'ok', '--secret', 'x'], /secrets and passwords are read from stdin/],
    [['clients', 'create', 'ok', '--scopes'], /--scopes needs a value/],
    [['clients', 'create', 'ok', '--scopes', 'a', '--scopes', 'b'], /--scopes is given more than once/],
  ])('rejects %j as a usage error (exit 2)', async (argv, message) => {
    expectFailure(await run(argv), 2, message);
    expect(await clientItem('ok')).toBeUndefined();
  });
});

describe('clients list, disable, delete', () => {
  it('lists clients as a table and as JSON, without secret hashes', async () => {
    const confidential = unique('list-a');
    const publicId = unique('list-b');
    await runJson(['clients', 'create', confidential, '--scopes', 'read', '--audience', 'aud-1']);
    await runJson(['clients', 'create', publicId, '--public', '--grant-types', 'password']);

    const json = await runJson(['clients', 'list']);
    const clients = json.clients as Record<string, unknown>[];
    expect(Object.keys(json)).toEqual(['clients']);
    expect(clients.find((c) => c.client_id === confidential)).toEqual({
      client_id: confidential,
      public: false,
      grant_types: ['password', 'refresh_token'],
      scopes: ['read'],
      audience: 'aud-1',
      refresh_grace_seconds: null,
      trust_end_user_ip: false,
      allowed_origins: [],
      disabled: false,
      created_at: expect.any(String),
    });
    expect(clients.find((c) => c.client_id === publicId)).toMatchObject({
      public: true,
      grant_types: ['password'],
      audience: null,
      refresh_grace_seconds: null,
    });
    const ids = clients.map((c) => c.client_id as string);
    expect(ids).toEqual([...ids].sort((a, b) => a.localeCompare(b)));
    expect(JSON.stringify(json)).not.toMatch(/sha256:|secret/i);

    const human = await run(['clients', 'list']);
    expect(human.code).toBe(0);
    const lines = human.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^CLIENT ID\s+TYPE\s+GRANT TYPES\s+SCOPES\s+AUDIENCE\s+REFRESH GRACE\s+DISABLED\s+CREATED\s+ALLOWED ORIGINS$/,
    );
    expect(lines.find((line) => line.startsWith(confidential))).toMatch(
      new RegExp(
        `^${confidential}\\s+confidential\\s+password,refresh_token\\s+read\\s+aud-1\\s+default\\s+no\\s+\\d{4}-`,
      ),
    );
    expect(lines.find((line) => line.startsWith(publicId))).toMatch(/\spublic\s+password\s+-\s+-\s+default\s+no\s/);
    expect(human.out).not.toContain('sha256:');
  });

  it("shows each client's own refresh-token grace, and which clients use the stack's", async () => {
    const strict = unique('list-grace-0');
    const lenient = unique('list-grace-60');
    const plain = unique('list-grace-none');
    await runJson(['clients', 'create', strict, '--refresh-grace', '0']);
    await runJson(['clients', 'create', lenient, '--public', '--refresh-grace', '60']);
    await runJson(['clients', 'create', plain]);

    const clients = (await runJson(['clients', 'list'])).clients as Record<string, unknown>[];
    const grace = (id: string) => clients.find((c) => c.client_id === id)?.refresh_grace_seconds;
    expect([grace(strict), grace(lenient), grace(plain)]).toEqual([0, 60, null]);

    const human = await run(['clients', 'list']);
    expect(human.code).toBe(0);
    const lines = human.out.trimEnd().split('\n');
    const column = lines[0]!.indexOf('REFRESH GRACE');
    const cell = (id: string) =>
      lines
        .find((line) => line.startsWith(id))
        ?.slice(column)
        .split(/\s+/)[0];
    expect([cell(strict), cell(lenient), cell(plain)]).toEqual(['0s', '60s', 'default']);
  });

  it('disables a client', async () => {
    const id = unique('dis');
    await runJson(['clients', 'create', id]);
    expect(await runJson(['clients', 'disable', id])).toEqual({ client_id: id, disabled: true });
    expect((await clientItem(id))?.disabled).toBe(true);
    const human = await run(['clients', 'disable', id]);
    expect(human).toEqual({ code: 0, out: `Disabled client "${id}".\n`, err: '' });
  });

  it('deletes a client', async () => {
    const id = unique('del');
    await runJson(['clients', 'create', id]);
    expect(await runJson(['clients', 'delete', id])).toEqual({ client_id: id, deleted: true });
    expect(await clientItem(id)).toBeUndefined();
    expectFailure(await run(['clients', 'delete', id]), 1, new RegExp(`there is no client "${id}" in the local stack`));
  });

  it('reports a missing client (exit 1)', async () => {
    expectFailure(await run(['clients', 'disable', 'no-such-client']), 1, /there is no client "no-such-client"/);
    expect(await clientItem('no-such-client')).toBeUndefined();
  });
});

describe('client ids of any printable ASCII characters', () => {
  const RULE = /a client ID is 1 to 128 printable ASCII characters \(RFC 6749 VSCHAR, %x20-7E/;

  it("creates 'acme:web app', lists it in the table and in JSON, disables and deletes it", async () => {
    const id = 'acme:web app';
    const human = await run(['clients', 'create', id, '--scopes', 'read']);
    expect(human.code).toBe(0);
    expect(human.err).toBe('');
    expect(human.out).toMatch(/^Created confidential client "acme:web app"\.\n/);
    const secret = /^client_secret: (\S+)$/m.exec(human.out)?.[1] ?? '';
    expect((await clientItem(id))?.secretHash).toBe(hashClientSecret(secret));

    const listed = (await runJson(['clients', 'list'])).clients as Record<string, unknown>[];
    expect(listed.find((client) => client.client_id === id)).toMatchObject({ client_id: id, public: false });

    const table = await run(['clients', 'list']);
    expect(table.code).toBe(0);
    const lines = table.out.trimEnd().split('\n');
    // Quoted, so that the space in the id is not a column break: the other columns stay where the header says.
    const line = lines.find((candidate) => candidate.startsWith('"acme:web app"'));
    expect(line).toMatch(/^"acme:web app"\s+confidential\s+password,refresh_token\s+read\s+-\s+default\s+no\s+\d{4}-/);
    expect(line!.indexOf('confidential')).toBe(lines[0]!.indexOf('TYPE'));

    expect(await run(['clients', 'disable', id])).toEqual({
      code: 0,
      out: 'Disabled client "acme:web app".\n',
      err: '',
    });
    expect((await clientItem(id))?.disabled).toBe(true);
    expect(await runJson(['clients', 'delete', id])).toEqual({ client_id: id, deleted: true });
    expect(await clientItem(id)).toBeUndefined();
    expectFailure(await run(['clients', 'delete', id]), 1, /there is no client "acme:web app" in the local stack/);
  });

  it('takes quotes, %, +, ~ and a backslash, and prints them escaped as a JSON string', async () => {
    const id = `q "x" 100%+~\\ ${randomUUID().slice(0, 8)}`;
    const created = await run(['clients', 'create', id, '--public']);
    expect(created.code).toBe(0);
    expect(created.out).toContain(`Created public client ${JSON.stringify(id)}:`);
    const duplicate = await run(['clients', 'create', id, '--public']);
    expectFailure(duplicate, 1, /already exists/);
    expect(duplicate.err).toContain(`client ${JSON.stringify(id)} already exists`);

    const json = await runJson(['clients', 'list']);
    expect((json.clients as Record<string, unknown>[]).map((client) => client.client_id)).toContain(id);
    const line = (await run(['clients', 'list'])).out.split('\n').find((candidate) => candidate.startsWith('"q '));
    expect(line?.startsWith(`${JSON.stringify(id)}  `)).toBe(true);
  });

  it('creates an id of exactly 128 characters', async () => {
    const id = `${unique('long')}-${'x'.repeat(128)}`.slice(0, 128);
    expect(await runJson(['clients', 'create', id, '--public'])).toEqual({ client_id: id, public: true });
    expect((await clientItem(id))?.clientId).toBe(id);
  });

  it.each([
    ['129 characters', 'x'.repeat(129), /: it is 129 characters long; /],
    ['a newline', 'acme\nweb', /"acme\\nweb": it contains U\+000A; /],
    ['a tab', 'acme\tweb', /"acme\\tweb": it contains U\+0009; /],
    ['DEL', 'acme\x7f', /"acme\\u007f": it contains U\+007F; /],
    ['a non-ASCII letter', 'acmé', /"acmé": it contains "é" \(U\+00E9\); /],
    ['nothing', '', /"": it is empty; /],
  ])('refuses an id with %s (exit 2), naming the rule, and creates nothing', async (_case, id, problem) => {
    const result = await run(['clients', 'create', id], { env: { LOCAL_STATE_DIR: emptyDir } });
    expectFailure(result, 2, RULE);
    expect(result.err).toMatch(problem);
    if (id !== '') expect(await clientItem(id)).toBeUndefined();
    for (const command of ['disable', 'delete']) expectFailure(await run(['clients', command, id]), 2, RULE);
  });
});

describe('users', () => {
  it("creates a user with the password from stdin, hashed with the stack's scrypt params", async () => {
    const name = unique('alice');
    const password = 'correct horse battery staple';
    const result = await runJson(
      ['users', 'create', name, '--password-stdin', '--scopes', 'read profile'],
      `${password}\n`,
    );
    expect(result).toEqual({ username: name, user_id: expect.stringMatching(/^[0-9a-f-]{36}$/), created: true });
    expect(JSON.stringify(result)).not.toContain(password);

    const item = await userItem(name);
    expect(item).toEqual({
      username: name,
      userId: result.user_id,
      passwordHash: expect.stringMatching(/^\$scrypt\$/),
      scopes: ['read', 'profile'],
      disabled: false,
      createdAt: expect.any(String),
      passwordChangedAt: item?.createdAt,
    });
    const hash = item?.passwordHash as string;
    expect(await verifyPassword(password, hash)).toBe(true);
    expect(await verifyPassword(`${password}\n`, hash)).toBe(false);
    expect(needsRehash(hash, FAST_SCRYPT)).toBe(false);
    expect(needsRehash(hash, DEFAULT_SCRYPT_PARAMS)).toBe(true);
    expect(JSON.stringify(item)).not.toContain(password);
  });

  it('strips exactly one trailing newline (\\n or \\r\\n)', async () => {
    const crlf = unique('bob.smith');
    await createUser(crlf, 'pw number one\r');
    const hash1 = (await userItem(crlf))?.passwordHash as string;
    expect(await verifyPassword('pw number one', hash1)).toBe(true);

    const twoNewlines = unique('émile');
    await runJson(['users', 'create', twoNewlines, '--password-stdin'], 'pw number two\n\n');
    const hash2 = (await userItem(twoNewlines))?.passwordHash as string;
    expect(await verifyPassword('pw number two\n', hash2)).toBe(true);
    expect(await verifyPassword('pw number two', hash2)).toBe(false);
  });

  it('prints neither the password nor the hash in human output', async () => {
    const name = unique('carol');
    const { code, out, err } = await run(['users', 'create', name, '--password-stdin'], {
      stdin: 'hunter2-but-longer',
    });
    expect(code).toBe(0);
    expect(err).toBe('');
    const item = await userItem(name);
    expect(out).toBe(`Created user "${name}" (user id ${String(item?.userId)}).\n`);
    expect(out + err).not.toContain('hunter2');
  });

  it('requires --password-stdin (exit 2) and never takes a password argument', async () => {
    const name = unique('nopw');
    expectFailure(await run(['users', 'create', name], { stdin: 'secret\n' }), 2, /needs --password-stdin/);
    expectFailure(await run(['users', 'create', name, '--password', 'secret']), 2, /--password is not accepted/);
    expectFailure(await run(['users', 'set-password', name]), 2, /needs --password-stdin/);
    expect(await userItem(name)).toBeUndefined();
  });

  it.each([
    ['', /password read from stdin is empty/],
    ['\n', /password read from stdin is empty/],
    ['\r\n', /password read from stdin is empty/],
    ['x'.repeat(MAX_PASSWORD_LENGTH + 1), new RegExp(`longer than ${MAX_PASSWORD_LENGTH} characters`)],
  ])('rejects the password %j from stdin (exit 2)', async (stdin, message) => {
    const name = unique('badpw');
    const result = await run(['users', 'create', name, '--password-stdin'], { stdin });
    expectFailure(result, 2, message);
    expect(await userItem(name)).toBeUndefined();
  });

  it('accepts a password of exactly the maximum length', async () => {
    const name = unique('longpw');
    await createUser(name, 'y'.repeat(MAX_PASSWORD_LENGTH));
    expect(await verifyPassword('y'.repeat(MAX_PASSWORD_LENGTH), (await userItem(name))?.passwordHash as string)).toBe(
      true,
    );
  });

  it.each([[' alice'], ['alice '], ['al\u0000ice'], ['al\tice'], ['a'.repeat(257)]])(
    'rejects the username %j (exit 2)',
    async (name) => {
      expectFailure(await run(['users', 'create', name, '--password-stdin'], { stdin: 'pw' }), 2, /invalid user NAME/);
      expect(await userItem(name)).toBeUndefined();
    },
  );

  it('refuses an existing username (exit 1) and keeps the old password', async () => {
    const name = unique('dupuser');
    const userId = await createUser(name, 'first password');
    expectFailure(
      await run(['users', 'create', name, '--password-stdin'], { stdin: 'second password' }),
      1,
      /already exists/,
    );
    const item = await userItem(name);
    expect(item?.userId).toBe(userId);
    expect(await verifyPassword('first password', item?.passwordHash as string)).toBe(true);
  });

  describe('the passwords it accepts (NIST SP 800-63B)', () => {
    it.each([
      ['shorter than 8 characters', 'seven77', /at least 8 characters \(this one has 7\)/],
      ['a common password', 'password1', /list of common and breached passwords/],
      ['a common password in other case', 'PassWord1', /list of common and breached passwords/],
      ['a breached one from the list', 'trustno1', /list of common and breached passwords/],
    ])('refuses a password %s (exit 2), creating nothing', async (_case, password, message) => {
      const name = unique('weak');
      expectFailure(await run(['users', 'create', name, '--password-stdin'], { stdin: password }), 2, message);
      expect(await userItem(name)).toBeUndefined();
    });

    it('accepts 8 characters without composition rules, and any long passphrase', async () => {
      for (const password of ['kiwibird', 'correct horse battery staple', 'ŝĉâŭĝĥ-ĵô']) {
        const name = unique('ok');
        await createUser(name, password);
        expect(await verifyPassword(password, (await userItem(name))?.passwordHash as string)).toBe(true);
      }
    });

    it('applies to set-password too, keeping the old password', async () => {
      const name = unique('keeps');
      await createUser(name, 'a fine old password');
      expectFailure(
        await run(['users', 'set-password', name, '--password-stdin'], { stdin: 'qwerty123' }),
        2,
        /common/,
      );
      expect(await verifyPassword('a fine old password', (await userItem(name))?.passwordHash as string)).toBe(true);
    });

    it('raises the minimum with PASSWORD_MIN_LENGTH (8 to 64), and refuses a bad value naming it', async () => {
      const env = (value: string) => ({ LOCAL_STATE_DIR: stateDir, PASSWORD_MIN_LENGTH: value });
      const name = unique('longer');
      expectFailure(
        await run(['users', 'create', name, '--password-stdin'], { stdin: 'ten chars!', env: env('12') }),
        2,
        /at least 12 characters \(this one has 10\)/,
      );
      expect(
        (await run(['users', 'create', name, '--password-stdin'], { stdin: 'twelve chars', env: env('12') })).code,
      ).toBe(0);
      for (const bad of ['7', '65', 'abc', '9.5'])
        expectFailure(
          await run(['users', 'create', unique('x'), '--password-stdin'], { stdin: 'whatever it is', env: env(bad) }),
          2,
          /PASSWORD_MIN_LENGTH=.*from 8 to 64/,
        );
    });
  });

  it("sets a new password and revokes the user's refresh tokens", async () => {
    const name = unique('dave');
    const userId = await createUser(name, 'old password');
    const before = (await userItem(name))?.passwordChangedAt as string;
    const families = await seedSessions(userId, name, ['family', 'family', 'legacyRotated']);
    await new Promise((resolve) => setTimeout(resolve, 5));

    const result = await runJson(['users', 'set-password', name, '--password-stdin'], 'new password\n');
    expect(result).toEqual({ username: name, password_changed: true, revoked_refresh_tokens: 3 });
    const item = await userItem(name);
    expect(await verifyPassword('new password', item?.passwordHash as string)).toBe(true);
    expect(await verifyPassword('old password', item?.passwordHash as string)).toBe(false);
    expect(item?.userId).toBe(userId);
    expect(Date.parse(item?.passwordChangedAt as string)).toBeGreaterThan(Date.parse(before));
    // Every family is revoked, the legacy one through the item its tokens' use checks.
    expect(await familiesRevoked(families)).toEqual([true, true, true]);
  });

  it('reports set-password for a missing user before reading stdin (exit 1)', async () => {
    expectFailure(
      await run(['users', 'set-password', 'nobody-here', '--password-stdin'], { stdin: 'pw' }),
      1,
      /there is no user "nobody-here"/,
    );
  });

  it('disables (revoking refresh tokens) and enables a user', async () => {
    const name = unique('erin');
    const userId = await createUser(name);
    const families = await seedSessions(userId, name, ['family', 'legacyActive']);

    expect(await runJson(['users', 'disable', name])).toEqual({
      username: name,
      disabled: true,
      revoked_refresh_tokens: 2,
    });
    expect((await userItem(name))?.disabled).toBe(true);
    expect(await familiesRevoked(families)).toEqual([true, true]);

    expect(await runJson(['users', 'enable', name])).toEqual({ username: name, disabled: false });
    expect((await userItem(name))?.disabled).toBe(false);
    // Enabling does not bring revoked tokens back.
    expect(await familiesRevoked(families)).toEqual([true, true]);

    const human = await run(['users', 'disable', name]);
    expect(human).toEqual({ code: 0, out: `Disabled user "${name}"; revoked 0 refresh tokens.\n`, err: '' });
  });

  it('deletes a user and revokes its refresh tokens', async () => {
    const name = unique('frank');
    const userId = await createUser(name);
    const families = await seedSessions(userId, name, ['family']);
    expect(await runJson(['users', 'delete', name])).toEqual({
      username: name,
      user_id: userId,
      deleted: true,
      revoked_refresh_tokens: 1,
    });
    expect(await userItem(name)).toBeUndefined();
    expect(await familiesRevoked(families)).toEqual([true]);
    expectFailure(await run(['users', 'delete', name]), 1, /there is no user/);
  });

  it.each([['disable'], ['enable'], ['delete']])('reports users %s for a missing user (exit 1)', async (command) => {
    expectFailure(await run(['users', command, 'ghost']), 1, /there is no user "ghost" in the local stack/);
    expect(await userItem('ghost')).toBeUndefined();
  });
});

describe('tokens revoke', () => {
  it("revokes every refresh token of the user and no one else's", async () => {
    const name = unique('gina');
    const other = unique('hank');
    const userId = await createUser(name);
    const otherId = await createUser(other);
    const families = await seedSessions(userId, name, ['family', 'legacyActive', 'legacyRotated', 'revokedFamily']);
    const otherFamilies = await seedSessions(otherId, other, ['family', 'legacyRotated']);
    const familyItem = (familyId: string) => rawItem(tables.refreshTokens, { tokenHash: familyKey(familyId) });
    const alreadyRevokedAt = (await familyItem(families[3] ?? ''))?.revokedAt;

    const before = Math.floor(Date.now() / 1000);
    expect(await runJson(['tokens', 'revoke', '--username', name])).toEqual({
      username: name,
      revoked_refresh_tokens: 3,
    });
    expect(await familiesRevoked(families)).toEqual([true, true, true, true]);
    expect(await familiesRevoked(otherFamilies)).toEqual([false, false]);
    const item = await familyItem(families[0] ?? '');
    expect(item?.revokedAt).toBeGreaterThanOrEqual(before);
    expect(item?.revokedAt).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    // The one that was revoked already keeps its time.
    expect((await familyItem(families[3] ?? ''))?.revokedAt).toBe(alreadyRevokedAt);

    // A later legacy token of a revoked family, which the index did not show, cannot move into the family model.
    const now = Math.floor(Date.now() / 1000);
    const unseen: RefreshToken = {
      tokenHash: randomBytes(32).toString('base64url'),
      familyId: families[2] ?? '',
      clientId: 'app',
      userId,
      username: name,
      scope: ['read'],
      generation: 5,
      issuedAt: now,
      idleExpiresAt: now + 3600,
      familyExpiresAt: now + 86_400,
      state: 'active',
    };
    await db.send(new PutCommand({ TableName: tables.refreshTokens, Item: legacyTokenItem(unseen) }));
    const moved = {
      familyId: unseen.familyId,
      clientId: 'app',
      userId,
      username: name,
      scope: ['read'],
      generation: 6,
      currentHash: randomBytes(32).toString('base64url'),
      issuedAt: now,
      familyIssuedAt: now,
      idleExpiresAt: now + 3600,
      familyExpiresAt: now + 86_400,
    };
    await expect(refreshTokens.migrate(unseen, moved, now)).rejects.toMatchObject({ revoked: true });
    // The other user's family still rotates.
    const otherFamily = (await refreshTokens.getFamily(otherFamilies[0] ?? ''))!;
    await refreshTokens.rotate(
      otherFamily,
      {
        ...otherFamily,
        generation: 1,
        currentHash: randomBytes(32).toString('base64url'),
        previous: { hash: otherFamily.currentHash, rotatedAt: now, sealedSuccessor: 'AAAA' },
      },
      now,
    );

    const again = await run(['tokens', 'revoke', '--username', name]);
    expect(again).toEqual({ code: 0, out: `Revoked 0 refresh tokens of user "${name}".\n`, err: '' });
  });

  it('follows the indexes across pages', async () => {
    const userId = randomUUID();
    const families = await seedSessions(userId, 'paged', [
      'family',
      'legacyRotated',
      'family',
      'revokedFamily',
      'legacyActive',
      'family',
      'family',
    ]);
    const revoker = new DynamoUserRefreshTokens(db, tables.refreshTokens, 2);
    expect(await revoker.revokeAllForUser(userId, 1_700_000_000)).toBe(6);
    expect(await familiesRevoked(families)).toEqual([true, true, true, true, true, true, true]);
    expect((await rawItem(tables.refreshTokens, { tokenHash: familyKey(families[6] ?? '') }))?.revokedAt).toBe(
      1_700_000_000,
    );
    expect(await revoker.revokeAllForUser(userId)).toBe(0);
  });

  it('needs --username and an existing user', async () => {
    expectFailure(await run(['tokens', 'revoke']), 2, /needs --username/);
    expectFailure(await run(['tokens', 'revoke', 'someone']), 2, /unexpected argument "someone"/);
    expectFailure(await run(['tokens', 'revoke', '--username', 'ghost']), 1, /there is no user "ghost"/);
  });
});

describe('command line and target errors', () => {
  it('prints usage for every command with --help', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const { code, out, err } = await run(argv, { env: { LOCAL_STATE_DIR: emptyDir } });
      expect(code).toBe(0);
      expect(err).toBe('');
      for (const command of [
        'clients create ID [--public] [--scopes "a b"] [--audience A] [--grant-types password,refresh_token]',
        '[--refresh-grace SECONDS]',
        'clients list',
        'clients show ID',
        'clients update ID [--scopes "a b"] [--refresh-grace SECONDS|default]',
        'clients disable ID',
        'clients enable ID',
        'clients delete ID',
        'users create NAME --password-stdin [--scopes "a b"]',
        'users list',
        'users show NAME',
        'users update NAME --scopes "a b"',
        'users set-password NAME --password-stdin',
        'users disable NAME',
        'users enable NAME',
        'users delete NAME',
        'users unlock NAME',
        'tokens revoke --username NAME',
        'keys list',
        'keys rotate',
        'keys revoke KID',
        '--stack NAME',
        '--region R',
        '--json',
        '--version',
      ]) {
        expect(out).toContain(command);
      }
      for (const group of ['clients', 'users', 'tokens', 'keys']) expect(out).toMatch(new RegExp(`^  ${group}: `, 'm'));
    }
  });

  it.each([
    [[], /missing command \(run "ropc-admin --help" for usage\)/],
    [
      ['frobnicate'],
      /unknown command "frobnicate" \(the command groups are clients, users, tokens, keys\) \(run "ropc-admin --help" for usage\)/,
    ],
    [['clients'], /missing command after "clients" \(one of create\|list\|show\|update\|disable\|enable\|delete\)/],
    [['clients', 'rename', 'x'], /unknown command "clients rename"/],
    [['clients', 'list', '--verbose'], /unknown option --verbose/],
    [['clients', 'list', '--json=yes'], /option --json takes no value/],
    [['clients', 'list', '--stack', '--json'], /option --stack needs a value/],
    [['clients', 'list', '--region', 'eu-west-1'], /--region only applies with --stack/],
  ])('rejects %j with exit 2', async (argv, message) => {
    expectFailure(await run(argv), 2, message);
  });

  it.each([
    [['keys', 'rotate', '--propagation', 'soon'], /invalid duration "soon"/],
    [['keys', 'rotate', '--propagation', '5x'], /invalid duration/],
  ])('rejects %j with exit 2', async (argv, message) => {
    expectFailure(await run([...argv, '--json']), 2, message);
  });

  it('tells the user to run npm start when there is no local stack state', async () => {
    const result = await run(['clients', 'list'], { env: { LOCAL_STATE_DIR: emptyDir } });
    expectFailure(result, 1, /the local stack is not running \(no .*stack\.json\): start it with `npm start`/);
    expect(result.err).toContain(emptyDir);
    // It says where it looked and why: npm start may run with another LOCAL_STATE_DIR.
    expect(result.err).toContain(`looked in ${emptyDir}, from LOCAL_STATE_DIR=${emptyDir}`);
  });

  it('reports an unreadable or incomplete stack.json and tells the user to restart npm start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ropc-admin-bad-'));
    try {
      await writeFile(join(dir, 'stack.json'), '{ not json');
      expectFailure(
        await run(['clients', 'list'], { env: { LOCAL_STATE_DIR: dir } }),
        1,
        /cannot read the local stack state .*`npm start`/,
      );
      const { users: _users, ...withoutUsers } = tables;
      await writeStackState(dir, state({ tables: withoutUsers as TableNames }));
      expectFailure(
        await run(['clients', 'list'], { env: { LOCAL_STATE_DIR: dir } }),
        1,
        /stack\.json is invalid \(tables\.users\).*`npm start`/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports usage errors before looking for the stack', async () => {
    expectFailure(
      await run(['users', 'create', ' x', '--password-stdin'], { env: { LOCAL_STATE_DIR: emptyDir } }),
      2,
      /invalid user NAME/,
    );
  });

  it('reports an unreachable DynamoDB Local clearly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ropc-admin-down-'));
    try {
      const down = `http://127.0.0.1:${await freePort()}`;
      await writeStackState(dir, state({ dynamodbEndpoint: down }));
      const result = await run(['clients', 'list'], { env: { LOCAL_STATE_DIR: dir } });
      expectFailure(
        result,
        1,
        new RegExp(
          `cannot reach DynamoDB Local at ${down} .*is the local stack running\\? Start it with \`npm start\``,
        ),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports missing tables as stale local state', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ropc-admin-stale-'));
    try {
      await writeStackState(dir, state({ tables: { ...tables, clients: 'no-such-table' } }));
      const result = await run(['clients', 'list'], { env: { LOCAL_STATE_DIR: dir } });
      expectFailure(result, 1, /a table of the local stack does not exist .*`npm start`/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('--stack NAME (CloudFormation outputs)', () => {
  const outputs: StackOutput[] = [
    { OutputKey: CLIENTS_TABLE_NAME_OUTPUT, OutputValue: 'prod-clients' },
    { OutputKey: USERS_TABLE_NAME_OUTPUT, OutputValue: 'prod-users' },
    { OutputKey: REFRESH_TOKENS_TABLE_NAME_OUTPUT, OutputValue: 'prod-refresh-tokens' },
    { OutputKey: LOGIN_ATTEMPTS_TABLE_NAME_OUTPUT, OutputValue: 'prod-login-attempts' },
    { OutputKey: SIGNING_KEYS_TABLE_NAME_OUTPUT, OutputValue: 'prod-signing-keys' },
    { OutputKey: ACCESS_TOKEN_TTL_OUTPUT, OutputValue: '600' },
    { OutputKey: SIGNING_KEY_ALIAS_OUTPUT, OutputValue: 'alias/ropc-token-service/prod' },
    { OutputKey: ISSUER_OUTPUT, OutputValue: 'https://auth.example.com' },
    { OutputKey: TOKEN_ENDPOINT_OUTPUT, OutputValue: 'https://auth.example.com/token' },
    { OutputKey: SCRYPT_PARAMS_OUTPUT, OutputValue: 'N=65536,r=8,p=2' },
    { OutputKey: 'SomethingElse', OutputValue: 'ignored' },
  ];

  it('uses the documented output keys', () => {
    expect([
      CLIENTS_TABLE_NAME_OUTPUT,
      USERS_TABLE_NAME_OUTPUT,
      REFRESH_TOKENS_TABLE_NAME_OUTPUT,
      LOGIN_ATTEMPTS_TABLE_NAME_OUTPUT,
      SIGNING_KEY_ALIAS_OUTPUT,
      ISSUER_OUTPUT,
      TOKEN_ENDPOINT_OUTPUT,
      SCRYPT_PARAMS_OUTPUT,
    ]).toEqual([
      'ClientsTableName',
      'UsersTableName',
      'RefreshTokensTableName',
      'LoginAttemptsTableName',
      'SigningKeyAlias',
      'Issuer',
      'TokenEndpoint',
      'ScryptParams',
    ]);
  });

  it('maps the outputs to the target', async () => {
    expect(stackSettingsFromOutputs('prod', outputs)).toEqual({
      tables: {
        clients: 'prod-clients',
        users: 'prod-users',
        refreshTokens: 'prod-refresh-tokens',
        loginAttempts: 'prod-login-attempts',
        signingKeys: 'prod-signing-keys',
        // A stack from before MFA: no such output.
        mfaChallenges: '',
      },
      signingKeyAlias: 'alias/ropc-token-service/prod',
      issuer: 'https://auth.example.com',
      tokenEndpoint: 'https://auth.example.com/token',
      scrypt: { N: 65536, r: 8, p: 2 },
      accessTokenTtl: 600,
    });
    const calls: [string, string | undefined][] = [];
    const target = await resolveTarget({
      stack: 'prod',
      region: 'eu-west-1',
      env: {},
      describeStackOutputs: async (name, region) => {
        calls.push([name, region]);
        return outputs;
      },
    });
    try {
      expect(calls).toEqual([['prod', 'eu-west-1']]);
      expect(target).toMatchObject({
        kind: 'stack',
        description: 'stack "prod" in eu-west-1',
        region: 'eu-west-1',
        tables: {
          clients: 'prod-clients',
          users: 'prod-users',
          refreshTokens: 'prod-refresh-tokens',
          loginAttempts: 'prod-login-attempts',
          signingKeys: 'prod-signing-keys',
        },
        accessTokenTtl: 600,
        scrypt: { N: 65536, r: 8, p: 2 },
        signingKeyAlias: 'alias/ropc-token-service/prod',
        issuer: 'https://auth.example.com',
      });
      expect(target.dynamodbEndpoint).toBeUndefined();
    } finally {
      target.close();
    }
  });

  it('defaults to DEFAULT_SCRYPT_PARAMS without a ScryptParams output and rejects a bad one', () => {
    const withoutScrypt = outputs.filter((output) => output.OutputKey !== SCRYPT_PARAMS_OUTPUT);
    expect(stackSettingsFromOutputs('prod', withoutScrypt).scrypt).toEqual(DEFAULT_SCRYPT_PARAMS);
    expect(() =>
      stackSettingsFromOutputs('prod', [
        ...withoutScrypt,
        { OutputKey: SCRYPT_PARAMS_OUTPUT, OutputValue: 'N=1000,r=8,p=1' },
      ]),
    ).toThrow(/stack "prod" has an invalid ScryptParams output/);
  });

  it('reports a missing stack, missing outputs and AWS failures (exit 1)', async () => {
    const missing = await run(['clients', 'list', '--stack', 'nope', '--region', 'eu-west-1'], {
      deps: { describeStackOutputs: async () => undefined },
    });
    expectFailure(missing, 1, /there is no CloudFormation stack "nope" in eu-west-1/);

    const partial = await run(['clients', 'list', '--stack', 'half'], {
      deps: {
        describeStackOutputs: async () =>
          outputs.filter((o) => o.OutputKey !== USERS_TABLE_NAME_OUTPUT && o.OutputKey !== ISSUER_OUTPUT),
      },
    });
    expectFailure(partial, 1, /stack "half" lacks the outputs UsersTableName, Issuer/);

    const noCredentials = await run(['clients', 'list', '--stack', 'prod'], {
      deps: {
        describeStackOutputs: async () => {
          throw Object.assign(new Error('Could not load credentials from any providers'), {
            name: 'CredentialsProviderError',
          });
        },
      },
    });
    expectFailure(noCredentials, 1, /cannot read the CloudFormation stack "prod": no usable AWS credentials/);
  });
});

describe('the real entry', () => {
  function spawnCli(
    args: string[],
    stdin: string,
    env: Record<string, string | undefined> = {},
    cwd: string = REPO,
  ): Promise<Run> {
    const merged: Record<string, string | undefined> = { ...process.env, LOCAL_STATE_DIR: stateDir, ...env };
    for (const [key, value] of Object.entries(merged)) if (value === undefined) delete merged[key];
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [join(REPO, 'bin', 'ropc-admin.js'), ...args], {
        cwd,
        env: merged,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (chunk: Buffer) => void (out += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => void (err += chunk.toString('utf8')));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
      child.stdin.end(stdin);
    });
  }

  it('targets a deployed stack with --stack through the real SDK: DescribeStacks, then its tables', async () => {
    // A stand-in for CloudFormation's query API (DescribeStacks only) with this file's tables as the
    // stack's outputs; the SDK reaches it and DynamoDB Local through its AWS_ENDPOINT_URL_* settings.
    const outputs: Record<string, string> = {
      [CLIENTS_TABLE_NAME_OUTPUT]: tables.clients,
      [USERS_TABLE_NAME_OUTPUT]: tables.users,
      [REFRESH_TOKENS_TABLE_NAME_OUTPUT]: tables.refreshTokens,
      [LOGIN_ATTEMPTS_TABLE_NAME_OUTPUT]: tables.loginAttempts,
      [SIGNING_KEYS_TABLE_NAME_OUTPUT]: tables.signingKeys,
      [SIGNING_KEY_ALIAS_OUTPUT]: 'alias/ropc-token-service/cfn-test/signing',
      [ISSUER_OUTPUT]: 'https://auth.example.com',
      [TOKEN_ENDPOINT_OUTPUT]: 'https://auth.example.com/token',
      [SCRYPT_PARAMS_OUTPUT]: 'N=1024,r=8,p=1',
    };
    const requests: URLSearchParams[] = [];
    const cloudFormation = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => void (body += chunk.toString('utf8')));
      request.on('end', () => {
        const params = new URLSearchParams(body);
        requests.push(params);
        const members = Object.entries(outputs)
          .map(([key, value]) => `<member><OutputKey>${key}</OutputKey><OutputValue>${value}</OutputValue></member>`)
          .join('');
        response.writeHead(200, { 'Content-Type': 'text/xml' });
        response.end(
          `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member>` +
            `<StackName>${params.get('StackName')}</StackName><StackStatus>CREATE_COMPLETE</StackStatus>` +
            `<CreationTime>2026-12-01T00:00:00Z</CreationTime><Outputs>${members}</Outputs>` +
            `</member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeStacksResponse>`,
        );
      });
    });
    await new Promise<void>((resolve) => cloudFormation.listen(0, '127.0.0.1', resolve));
    const { port } = cloudFormation.address() as AddressInfo;
    try {
      const id = unique('deployed');
      await runJson(['clients', 'create', id, '--public']);
      const listed = await spawnCli(['clients', 'list', '--stack', 'cfn-test', '--region', 'eu-west-1', '--json'], '', {
        AWS_ENDPOINT_URL_CLOUDFORMATION: `http://127.0.0.1:${port}`,
        AWS_ENDPOINT_URL_DYNAMODB: endpoint,
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
      });
      expect(listed.err).toBe('');
      expect(listed.code).toBe(0);
      expect(
        (JSON.parse(listed.out) as { clients: { client_id: string }[] }).clients.map((c) => c.client_id),
      ).toContain(id);
      expect(requests.map((params) => [params.get('Action'), params.get('StackName')])).toEqual([
        ['DescribeStacks', 'cfn-test'],
      ]);
    } finally {
      await new Promise((resolve) => cloudFormation.close(resolve));
    }
  });

  it("finds the default local stack state in the project root's .local when run from a subfolder", async (context) => {
    const defaultDir = join(REPO, '.local');
    const file = join(defaultDir, 'stack.json');
    // The repository's own state directory: never touch a stack that a developer's `npm start` is running.
    if (existsSync(file)) context.skip('a local stack is running in this checkout (.local/stack.json exists)');
    const fromLambda = (args: string[]) => spawnCli(args, '', { LOCAL_STATE_DIR: undefined }, join(REPO, 'lambda'));

    const missing = await fromLambda(['clients', 'list']);
    expectFailure(missing, 1, /the local stack is not running/);
    expect(missing.err).toContain(`(no ${file})`);
    expect(missing.err).toContain(`looked in ${defaultDir}, the default, as LOCAL_STATE_DIR is not set`);

    const id = unique('from-subfolder');
    await runJson(['clients', 'create', id, '--public']);
    const ours = state({ startedAt: `${new Date().toISOString()} ${randomUUID()}` });
    const createdDir = await mkdir(defaultDir, { recursive: true });
    await writeStackState(defaultDir, ours);
    try {
      const listed = await fromLambda(['clients', 'list', '--json']);
      expect(listed.err).toBe('');
      expect(listed.code).toBe(0);
      expect(
        (JSON.parse(listed.out) as { clients: { client_id: string }[] }).clients.map((c) => c.client_id),
      ).toContain(id);
    } finally {
      // Only what this test wrote (a stack started meanwhile would have replaced it).
      const now = await readFile(file, 'utf8').catch(() => undefined);
      if (now !== undefined && (JSON.parse(now) as LocalStackState).startedAt === ours.startedAt) await rm(file);
      if (createdDir !== undefined) await rmdir(defaultDir).catch(() => undefined);
    }
  });

  it('runs bin/ropc-admin.js with process stdin, stdout and exit code', async () => {
    const name = unique('ivy');
    const created = await spawnCli(['users', 'create', name, '--password-stdin', '--json'], 'piped password\n');
    expect(created.err).toBe('');
    expect(created.code).toBe(0);
    expect(JSON.parse(created.out)).toMatchObject({ username: name, created: true });
    expect(await verifyPassword('piped password', (await userItem(name))?.passwordHash as string)).toBe(true);

    const id = unique('spawned');
    await runJson(['clients', 'create', id, '--public']);
    const listed = await spawnCli(['clients', 'list', '--json'], '');
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.out) as { clients: { client_id: string }[] }).clients.map((c) => c.client_id)).toContain(
      id,
    );

    const failed = await spawnCli(['clients', 'bogus'], '');
    expect(failed.code).toBe(2);
    expect(failed.out).toBe('');
    expect(failed.err).toMatch(/^ropc-admin: unknown command "clients bogus"/);
  });
});

describe('users unlock and trusted back ends', () => {
  it('clears the failure counters of that user only', async () => {
    const name = unique('locked');
    await runJson(['users', 'create', name, '--password-stdin'], 'a password for unlock');
    const attempts = new DynamoLoginAttemptStore(db, tables.loginAttempts);
    const now = Math.floor(Date.now() / 1000);
    for (let i = 0; i < 7; i++) await attempts.recordFailure(attemptSubject(name, '198.51.100.7'), now);
    await attempts.recordFailure(attemptSubject('someone-else', '198.51.100.7'), now);
    expect((await attempts.read(attemptSubject(name, '198.51.100.7'), now)).pairFailures).toBe(7);

    expect(await runJson(['users', 'unlock', name])).toEqual({ username: name, unlocked: true, cleared_counters: 2 });
    expect(await attempts.read(attemptSubject(name, '198.51.100.7'), now)).toMatchObject({
      pairFailures: 0,
      userFailuresThisHour: 0,
    });
    expect((await attempts.read(attemptSubject('someone-else', '198.51.100.7'), now)).pairFailures).toBe(1);
    expectFailure(await run(['users', 'unlock', unique('nobody')]), 1, /there is no user/);
  });

  it('registers a confidential client trusted with X-End-User-IP, and refuses the flag for public ones', async () => {
    const id = unique('bff');
    await runJson(['clients', 'create', id, '--trust-end-user-ip']);
    expect(await clientItem(id)).toMatchObject({ trustEndUserIp: true, isPublic: false });
    expectFailure(
      await run(['clients', 'create', unique('spa'), '--public', '--trust-end-user-ip']),
      2,
      /confidential clients only/,
    );
  });
});

describe('arguments that begin with a dash', () => {
  it('takes a kid such as "-jAbc_1" as the KID argument, and -h still as help', async () => {
    const { parseCommandLine } = await import('../../bin/admin/args');
    expect(parseCommandLine(['keys', 'revoke', '-jAbc_1', '--json'])).toMatchObject({
      args: { KID: '-jAbc_1' },
      flags: { json: true },
    });
    expect(parseCommandLine(['keys', 'revoke', '-Yh7abc', '--json'])).toMatchObject({
      args: { KID: '-Yh7abc' },
      flags: { json: true },
    });
    expect(parseCommandLine(['keys', 'revoke', '--', '-x'])).toMatchObject({ args: { KID: '-x' } });
    expect(parseCommandLine(['keys', '-h'])).toEqual({ kind: 'help', group: 'keys' });
  });
});

describe('option values that begin with a dash', () => {
  it('still refuses a dash word as the value of a string option', async () => {
    const { parseCommandLine } = await import('../../bin/admin/args');
    expect(() => parseCommandLine(['clients', 'list', '--stack', '-prod'])).toThrow(/option --stack needs a value/);
  });

  it('takes a negative number as the value, for the option to judge', async () => {
    const { parseCommandLine } = await import('../../bin/admin/args');
    expect(parseCommandLine(['clients', 'create', 'app', '--refresh-grace', '-1', '--json'])).toMatchObject({
      args: { ID: 'app' },
      strings: { 'refresh-grace': '-1' },
      flags: { json: true },
    });
  });
});

describe('clients show, update, enable', () => {
  it('shows one client with the fields clients list prints for it, and never the secret or its hash', async () => {
    const id = unique('show');
    await runJson([
      'clients',
      'create',
      id,
      '--scopes',
      'read write',
      '--audience',
      'https://api.example.test',
      '--trust-end-user-ip',
      '--refresh-grace',
      '5',
    ]);
    const shown = await runJson(['clients', 'show', id]);
    expect(shown).toEqual({
      client_id: id,
      public: false,
      grant_types: ['password', 'refresh_token'],
      scopes: ['read', 'write'],
      audience: 'https://api.example.test',
      refresh_grace_seconds: 5,
      trust_end_user_ip: true,
      allowed_origins: [],
      disabled: false,
      created_at: (await clientItem(id))?.createdAt,
    });
    const listed = (await runJson(['clients', 'list'])).clients as Record<string, unknown>[];
    expect(listed.find((client) => client.client_id === id)).toEqual(shown);

    const human = await run(['clients', 'show', id]);
    expect(human.code).toBe(0);
    expect(human.err).toBe('');
    expect(human.out.trimEnd().split('\n')).toEqual([
      `Client ID           ${id}`,
      'Type                confidential',
      'Grant types         password,refresh_token',
      'Scopes              read write',
      'Audience            https://api.example.test',
      'Refresh grace       5s',
      'Trusts end-user IP  yes',
      'Allowed origins     -',
      'Disabled            no',
      `Created             ${shown.created_at}`,
    ]);
    expect(human.out + JSON.stringify(shown)).not.toMatch(/sha256:|secret/i);
  });

  it("shows a public client without its own audience or grace as using the stack's, and an id with a space quoted", async () => {
    const id = `acme:${unique('show spa')}`;
    await runJson(['clients', 'create', id, '--public', '--grant-types', 'password']);
    expect(await runJson(['clients', 'show', id])).toMatchObject({
      client_id: id,
      public: true,
      grant_types: ['password'],
      scopes: [],
      audience: null,
      refresh_grace_seconds: null,
      trust_end_user_ip: false,
    });
    const { out } = await run(['clients', 'show', id]);
    expect(out).toContain(`Client ID           ${JSON.stringify(id)}\n`);
    expect(out).toContain("Audience            - (the stack's)\n");
    expect(out).toContain("Refresh grace       default (the stack's)\n");
    expect(out).toContain('Scopes              -\n');
  });

  it('enables a disabled client', async () => {
    const id = unique('enable');
    await runJson(['clients', 'create', id]);
    await runJson(['clients', 'disable', id]);
    expect(await runJson(['clients', 'enable', id])).toEqual({ client_id: id, disabled: false });
    expect((await clientItem(id))?.disabled).toBe(false);
    expect(await run(['clients', 'enable', id])).toEqual({ code: 0, out: `Enabled client "${id}".\n`, err: '' });
  });

  it('replaces the scopes and changes nothing else', async () => {
    const id = unique('rescope');
    await runJson(['clients', 'create', id, '--scopes', 'read', '--refresh-grace', '7', '--trust-end-user-ip']);
    const before = await clientItem(id);
    const updated = await runJson(['clients', 'update', id, '--scopes', 'read write admin']);
    expect(updated).toEqual({ ...(await runJson(['clients', 'show', id])), scopes: ['read', 'write', 'admin'] });
    expect(updated.refresh_grace_seconds).toBe(7);
    expect(await clientItem(id)).toEqual({ ...before, scopes: ['read', 'write', 'admin'] });

    await runJson(['clients', 'update', id, '--scopes', '']);
    expect((await clientItem(id))?.scopes).toEqual([]);
  });

  it("sets the client's own refresh grace, and `default` gives it the stack's again", async () => {
    const id = unique('regrace');
    await runJson(['clients', 'create', id, '--scopes', 'read']);
    expect((await runJson(['clients', 'update', id, '--refresh-grace', '0'])).refresh_grace_seconds).toBe(0);
    expect((await clientItem(id))?.refreshGraceSeconds).toBe(0);
    const both = await runJson(['clients', 'update', id, '--refresh-grace=60', '--scopes', 'write']);
    expect(both).toMatchObject({ refresh_grace_seconds: 60, scopes: ['write'] });
    expect((await runJson(['clients', 'update', id, '--refresh-grace', 'default'])).refresh_grace_seconds).toBeNull();
    expect(await clientItem(id)).not.toHaveProperty('refreshGraceSeconds');
    expect((await clientItem(id))?.scopes).toEqual(['write']);
  });

  it('prints the client as it is now after an update', async () => {
    const id = unique('update-human');
    await runJson(['clients', 'create', id]);
    const { code, out, err } = await run(['clients', 'update', id, '--scopes', 'a b', '--refresh-grace', '12']);
    expect({ code, err }).toEqual({ code: 0, err: '' });
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toBe(`Updated client "${id}":`);
    expect(lines).toContain('Scopes              a b');
    expect(lines).toContain('Refresh grace       12s');
  });

  it.each([
    [[], /"clients update" needs at least one of --scopes, --refresh-grace.*: there is nothing to change/],
    [['--refresh-grace', '61'], /invalid --refresh-grace "61": .*from 0 to 60 .*, or default for the stack's\)/],
    [['--refresh-grace', '-1'], /invalid --refresh-grace "-1"/],
    [['--refresh-grace', 'stack'], /invalid --refresh-grace "stack"/],
    [['--scopes', 'a"b'], /invalid --scopes/],
    [['--public'], /option --public does not apply to "clients update"/],
    [['--audience', 'x'], /option --audience does not apply to "clients update"/],
  ])('refuses update %j as a usage error (exit 2) and changes nothing', async (options, message) => {
    const id = unique('update-bad');
    await runJson(['clients', 'create', id, '--scopes', 'read', '--refresh-grace', '3']);
    const before = await clientItem(id);
    expectFailure(await run(['clients', 'update', id, ...options]), 2, message);
    expect(await clientItem(id)).toEqual(before);
  });

  it.each([
    [['clients', 'show']],
    [['clients', 'enable']],
    [['clients', 'update', '--scopes', 'read']],
    [['clients', 'update', '--refresh-grace', 'default']],
  ])('%j of an unknown client fails (exit 1) and creates nothing', async (argv) => {
    const id = unique('ghost');
    const [group, name, ...options] = argv;
    expectFailure(
      await run([group!, name!, id, ...options]),
      1,
      new RegExp(`there is no client "${id}" in the local stack`),
    );
    expect(await clientItem(id)).toBeUndefined();
  });

  it('refuses an id outside the client-id rule before looking it up (exit 2)', async () => {
    expectFailure(
      await run(['clients', 'show', 'tab\there'], { env: { LOCAL_STATE_DIR: emptyDir } }),
      2,
      /invalid client ID/,
    );
    expectFailure(await run(['clients', 'update', '', '--scopes', 'a']), 2, /invalid client ID "": it is empty/);
  });
});

describe('users list, show, update', () => {
  it('lists users as a table and as JSON, by username, never with a password hash', async () => {
    const first = unique('list-user-a');
    const second = `${unique('list-user-b')} smith`;
    const firstId = await createUser(first);
    // A name with a space is refused now (RFC 8265): this one was stored as typed before names were prepared.
    const secondId = randomUUID();
    const at = new Date().toISOString();
    await db.send(
      new PutCommand({
        TableName: tables.users,
        Item: {
          username: second,
          userId: secondId,
          passwordHash: await hashPassword('initial password', FAST_SCRYPT),
          scopes: [],
          disabled: false,
          createdAt: at,
          passwordChangedAt: at,
        },
      }),
    );
    await runJson(['users', 'update', first, '--scopes', 'read write']);
    await runJson(['users', 'disable', second]);

    const json = await runJson(['users', 'list']);
    expect(Object.keys(json)).toEqual(['users']);
    const users = json.users as Record<string, unknown>[];
    const item = await userItem(first);
    expect(users.find((user) => user.username === first)).toEqual({
      username: first,
      user_id: firstId,
      scopes: ['read', 'write'],
      disabled: false,
      created_at: item?.createdAt,
      password_changed_at: item?.passwordChangedAt,
      mfa: null,
    });
    expect(users.find((user) => user.username === second)).toMatchObject({ user_id: secondId, disabled: true });
    const names = users.map((user) => user.username as string);
    expect(names).toEqual([...names].sort((a, b) => a.localeCompare(b)));
    expect(JSON.stringify(json)).not.toMatch(/\$scrypt|password_hash|passwordHash/);

    const human = await run(['users', 'list']);
    expect(human.code).toBe(0);
    const lines = human.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^USERNAME\s+USER ID\s+SCOPES\s+DISABLED\s+CREATED\s+PASSWORD CHANGED\s+MFA$/);
    expect(lines.find((line) => line.startsWith(`${first} `))).toMatch(
      new RegExp(`^${first}\\s+${firstId}\\s+read write\\s+no\\s+\\d{4}-\\S+\\s+\\d{4}-\\S+\\s+no$`),
    );
    // A username with a space is quoted, so that it does not read as two columns.
    expect(lines.find((line) => line.startsWith(`"${second}"`))).toMatch(new RegExp(`\\s${secondId}\\s+-\\s+yes\\s`));
    expect(human.out).not.toContain('$scrypt');
  });

  it('shows one user, never the password hash', async () => {
    const name = unique('show-user');
    const userId = await createUser(name);
    await runJson(['users', 'update', name, '--scopes', 'profile']);
    const item = await userItem(name);
    const shown = await runJson(['users', 'show', name]);
    expect(shown).toEqual({
      username: name,
      user_id: userId,
      scopes: ['profile'],
      disabled: false,
      created_at: item?.createdAt,
      password_changed_at: item?.passwordChangedAt,
      mfa: null,
    });
    const human = await run(['users', 'show', name]);
    expect(human.err).toBe('');
    expect(human.out.trimEnd().split('\n')).toEqual([
      `Username          "${name}"`,
      `User ID           ${userId}`,
      'Scopes            profile',
      'Disabled          no',
      `Created           ${item?.createdAt}`,
      `Password changed  ${item?.passwordChangedAt}`,
      'MFA               no',
    ]);
    expect(human.out + JSON.stringify(shown)).not.toContain('$scrypt');
  });

  it("replaces a user's scopes and changes nothing else: not the password, not the sessions", async () => {
    const name = unique('update-user');
    await createUser(name);
    await runJson(['users', 'update', name, '--scopes', 'read']);
    const before = await userItem(name);
    const updated = await runJson(['users', 'update', name, '--scopes', 'write admin']);
    expect(updated).toMatchObject({ username: name, scopes: ['write', 'admin'] });
    expect(updated).not.toHaveProperty('password_hash');
    expect(await userItem(name)).toEqual({ ...before, scopes: ['write', 'admin'] });

    const human = await run(['users', 'update', name, '--scopes', '']);
    expect(human.code).toBe(0);
    expect(human.out).toContain(`Updated user "${name}":\n`);
    expect(human.out).toContain('Scopes            -\n');
    expect(human.out).toContain('`ropc-admin tokens revoke --username NAME` ends them');
    expect((await userItem(name))?.scopes).toEqual([]);
  });

  it('needs --scopes to update a user (exit 2)', async () => {
    const name = unique('update-nothing');
    await createUser(name);
    const before = await userItem(name);
    expectFailure(await run(['users', 'update', name]), 2, /"users update" needs --scopes/);
    expectFailure(await run(['users', 'update', name, '--scopes', 'a\\b']), 2, /invalid --scopes/);
    expect(await userItem(name)).toEqual(before);
  });

  it.each([[['users', 'show']], [['users', 'update', '--scopes', 'read']]])(
    '%j of an unknown user fails (exit 1) and creates nothing',
    async (argv) => {
      const name = unique('ghost-user');
      const [group, command, ...options] = argv;
      expectFailure(
        await run([group!, command!, name, ...options]),
        1,
        new RegExp(`there is no user "${name}" in the local stack`),
      );
      expect(await userItem(name)).toBeUndefined();
    },
  );
});

describe('help, version and suggestions', () => {
  it('prints the help of each command after --help, without looking for a stack', async () => {
    const { COMMANDS } = await import('../../bin/admin/spec');
    const { usageLine } = await import('../../bin/admin/args');
    for (const command of COMMANDS) {
      // Two words ("users show") or three ("users mfa enroll").
      const words = command.id.split(' ');
      for (const argv of [
        [...words, '--help'],
        [...words, '-h'],
        ['help', ...words],
        ['--json', ...words, 'some-argument', '--help'],
      ]) {
        const { code, out, err } = await run(argv, { env: { LOCAL_STATE_DIR: emptyDir } });
        expect({ argv, code, err }).toEqual({ argv, code: 0, err: '' });
        expect(out.startsWith(`Usage: ropc-admin ${usageLine(command)}\n`)).toBe(true);
        const summary = command.summary.charAt(0).toUpperCase() + command.summary.slice(1);
        expect(out).toContain(summary);
        for (const option of command.options) expect(out).toMatch(new RegExp(`^  --${option}\\b.* {2}\\S`, 'm'));
        for (const positional of command.positionals) expect(out).toMatch(new RegExp(`^  ${positional}  \\S`, 'm'));
        expect(out).toContain('--stack NAME');
        // Only this command: no other command's usage line.
        const others = COMMANDS.filter((other) => other.id !== command.id && !usageLine(command).startsWith(other.id));
        for (const other of others) expect(out).not.toContain(`ropc-admin ${usageLine(other)}\n`);
      }
    }
    const update = await run(['clients', 'update', '--help']);
    expect(update.out).toMatch(/^ {2}--refresh-grace SECONDS\|default {2}.*default: the stack's$/m);
    expect(update.out).toMatch(/^ {2}ID {2}the client ID/m);
    expect((await run(['users', 'update', '--help'])).out).toMatch(/^ {2}--scopes "a b" {2}.*\(required\)$/m);
  });

  it('describes every option the commands take', async () => {
    const { COMMANDS, GLOBAL_OPTIONS } = await import('../../bin/admin/spec');
    const { OPTION_HELP } = await import('../../bin/admin/help');
    const options = new Set([...GLOBAL_OPTIONS, ...COMMANDS.flatMap((command) => command.options)]);
    expect([...options].filter((option) => !OPTION_HELP[option]?.[1])).toEqual([]);
  });

  it('prints the commands of a group after GROUP --help', async () => {
    const { code, out, err } = await run(['users', '--help'], { env: { LOCAL_STATE_DIR: emptyDir } });
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out.startsWith('Usage: ropc-admin users COMMAND')).toBe(true);
    for (const command of ['users list', 'users show NAME', 'users update NAME --scopes "a b"', 'users unlock NAME'])
      expect(out).toContain(command);
    expect(out).not.toContain('clients create');
    expect((await run(['help', 'keys'])).out).toContain('keys rotate [--propagation DURATION]');
  });

  it('prints the version of the package with --version', async () => {
    const { version } = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string };
    expect(await run(['--version'], { env: { LOCAL_STATE_DIR: emptyDir } })).toEqual({
      code: 0,
      out: `${version}\n`,
      err: '',
    });
    expect(await run(['--version', '--json'])).toEqual({ code: 0, out: `${JSON.stringify({ version })}\n`, err: '' });
    expectFailure(await run(['--version=1']), 2, /option --version takes no value/);
  });

  it.each([
    [
      ['clients', 'lst'],
      /unknown command "clients lst": did you mean "clients list"\? \(one of clients create\|list\|/,
    ],
    [['clients', 'shwo', 'app'], /unknown command "clients shwo": did you mean "clients show"\?/],
    [['users', 'updaet', 'alice'], /unknown command "users updaet": did you mean "users update"\?/],
    [
      ['clinets', 'list'],
      /unknown command "clinets": did you mean "clients"\? \(the command groups are clients, users, tokens, keys\)/,
    ],
    [['list'], /unknown command "list": did you mean "clients list" or "users list" or "keys list"\?/],
    [['clients', 'lst', '--help'], /unknown command "clients lst": did you mean "clients list"\?/],
    [['clients', 'create', 'app', '--scope', 'read'], /unknown option --scope: did you mean --scopes\?/],
    [
      ['clients', 'create', 'app', '--refresh-graec', '5'],
      /unknown option --refresh-graec: did you mean --refresh-grace\?/,
    ],
    [['users', 'list', '--jsno'], /unknown option --jsno: did you mean --json\?/],
    [['--scope', 'read', 'clients', 'create', 'app'], /unknown option --scope: did you mean --scopes\?/],
  ])('suggests the nearest for %j (exit 2)', async (argv, message) => {
    expectFailure(await run(argv), 2, message);
    expect(await clientItem('app')).toBeUndefined();
  });

  it.each([
    [['frobnicate', 'list'], /unknown command "frobnicate" \(the command groups/],
    [['clients', 'rename', 'x'], /unknown command "clients rename" \(one of/],
    // --scopes does not apply to clients list: it is not suggested there.
    [['clients', 'list', '--scope'], /unknown option --scope \(run "ropc-admin --help" for usage\)/],
  ])('suggests nothing when nothing is near, for %j (exit 2)', async (argv, message) => {
    const result = await run(argv);
    expectFailure(result, 2, message);
    expect(result.err).not.toContain('did you mean');
  });

  it('counts edits, a swap of neighbours as one', async () => {
    const { closest, editDistance } = await import('../../bin/admin/suggest');
    expect([editDistance('lst', 'list'), editDistance('shwo', 'show'), editDistance('', 'abc')]).toEqual([1, 1, 3]);
    expect(closest('lst', ['list', 'last', 'show'])).toEqual(['list', 'last']);
    expect(closest('xyz', ['list', 'show'])).toEqual([]);
  });
});

describe('the audit log (ROPC_ADMIN_AUDIT_LOG)', () => {
  const NOW = new Date('2026-11-28T12:00:00.000Z');

  async function withAuditLog(
    body: (run: (argv: string[], stdin?: string) => Promise<Run>, path: string) => Promise<void>,
  ): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'ropc-admin-audit-'));
    const path = join(dir, 'audit.jsonl');
    try {
      await body(
        (argv, stdin) =>
          run(argv, {
            stdin,
            env: { LOCAL_STATE_DIR: stateDir, ROPC_ADMIN_AUDIT_LOG: path },
            deps: { now: () => NOW },
          }),
        path,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async function lines(path: string): Promise<Record<string, unknown>[]> {
    const text = existsSync(path) ? await readFile(path, 'utf8') : '';
    return text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  it('appends one JSON line per state-changing command, with no secret, password or hash', async () => {
    await withAuditLog(async (audited, path) => {
      const client = unique('audited');
      const user = unique('audited-user');
      const created = await audited(['clients', 'create', client, '--json']);
      const secret = (JSON.parse(created.out) as { client_secret: string }).client_secret;
      expect((await audited(['clients', 'update', client, '--scopes', 'read'])).code).toBe(0);
      expect((await audited(['clients', 'show', client])).code).toBe(0);
      expect((await audited(['clients', 'list'])).code).toBe(0);
      expect((await audited(['users', 'create', user, '--password-stdin'], 'audited passphrase\n')).code).toBe(0);
      expect((await audited(['users', 'list'])).code).toBe(0);
      expect((await audited(['tokens', 'revoke', '--username', user])).code).toBe(0);
      expect((await audited(['clients', 'disable', 'no-such-client'])).code).toBe(1);

      const base = { timestamp: NOW.toISOString(), service: 'ropc-admin', event: 'operator_action', target: 'local' };
      expect(await lines(path)).toEqual([
        { ...base, level: 'INFO', command: 'clients create', subject: client, outcome: 'succeeded' },
        { ...base, level: 'INFO', command: 'clients update', subject: client, outcome: 'succeeded' },
        { ...base, level: 'INFO', command: 'users create', subject: user, outcome: 'succeeded' },
        { ...base, level: 'INFO', command: 'tokens revoke', subject: user, outcome: 'succeeded' },
        {
          ...base,
          level: 'WARN',
          command: 'clients disable',
          subject: 'no-such-client',
          outcome: 'failed',
          reason: 'unknown_client',
        },
      ]);
      const text = await readFile(path, 'utf8');
      expect(text).not.toContain(secret);
      expect(text).not.toMatch(/audited passphrase|\$scrypt|sha256:/);
      expect((await stat(path)).mode & 0o777).toBe(0o600);
    });
  });

  it('records nothing for a usage error, and the stack a command was aimed at when it cannot be reached', async () => {
    await withAuditLog(async (audited, path) => {
      expect((await audited(['clients', 'update', unique('nothing')])).code).toBe(2);
      expect((await audited(['clients', 'creat', 'x'])).code).toBe(2);
      expect(await lines(path)).toEqual([]);
      const missing = await run(['clients', 'disable', 'x', '--stack', 'prod', '--region', 'eu-west-1'], {
        env: { ROPC_ADMIN_AUDIT_LOG: path },
        deps: { now: () => NOW, describeStackOutputs: async () => undefined },
      });
      expect(missing.code).toBe(1);
      expect(await lines(path)).toEqual([
        {
          timestamp: NOW.toISOString(),
          level: 'WARN',
          service: 'ropc-admin',
          event: 'operator_action',
          command: 'clients disable',
          target: 'prod',
          region: 'eu-west-1',
          subject: 'x',
          outcome: 'failed',
          reason: 'error',
        },
      ]);
    });
  });

  it('refuses to act when the audit log cannot be opened (exit 1), and changes nothing', async () => {
    const id = unique('unaudited');
    const path = join(emptyDir, 'no-such-dir', 'audit.jsonl');
    const result = await run(['clients', 'create', id], {
      env: { LOCAL_STATE_DIR: stateDir, ROPC_ADMIN_AUDIT_LOG: path },
    });
    expectFailure(
      result,
      1,
      /cannot open the audit log .*no-such-dir.* from ROPC_ADMIN_AUDIT_LOG \(ENOENT\): nothing was done/,
    );
    expect(await clientItem(id)).toBeUndefined();
    // Reading commands are not audited, so they do not need the log.
    expect(
      (await run(['clients', 'list'], { env: { LOCAL_STATE_DIR: stateDir, ROPC_ADMIN_AUDIT_LOG: path } })).code,
    ).toBe(0);
  });
});
