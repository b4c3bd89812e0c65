/**
 * `ropc-admin clients create|update … --allowed-origin URL` against DynamoDB Local, through `runCli`: the
 * browser origins of a client (CORS), validated as usage (exit 2), repeatable, stored in their
 * serialization, shown by clients list and clients show.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../bin/admin/cli';
import type { TableNames } from '../../contract/tables';
import { MAX_ALLOWED_ORIGINS } from '../../lambda/oauth/origin';
import { LOCAL_REGION, writeStackState } from '../../local/state';
import { documentClient, freshTables } from '../support/aws';

let stateDir: string;
let tables: TableNames;
let db: ReturnType<typeof documentClient>;

beforeAll(async () => {
  let endpoint: string;
  ({ endpoint, tables } = await freshTables());
  stateDir = await mkdtemp(join(tmpdir(), 'ropc-admin-origins-'));
  await writeStackState(stateDir, {
    issuer: 'http://127.0.0.1:3000',
    tokenEndpoint: 'http://127.0.0.1:3000/token',
    dynamodbEndpoint: endpoint,
    kmsEndpoint: 'http://127.0.0.1:1',
    region: LOCAL_REGION,
    tables,
    signingKeyAlias: 'alias/ropc-token-service/test',
    scrypt: { N: 1024, r: 8, p: 1 },
    accessTokenTtl: 900,
    pid: process.pid,
    startedAt: new Date().toISOString(),
  });
  db = documentClient(endpoint);
});

afterAll(async () => {
  db?.destroy();
  if (stateDir !== undefined) await rm(stateDir, { recursive: true, force: true });
});

interface Run {
  code: number;
  out: string;
  err: string;
}

async function run(argv: string[]): Promise<Run> {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    stdin: '',
    stdout: (text) => void (out += text),
    stderr: (text) => void (err += text),
    env: { LOCAL_STATE_DIR: stateDir },
  });
  return { code, out, err };
}

async function runJson(argv: string[]): Promise<Record<string, unknown>> {
  const result = await run([...argv, '--json']);
  expect(result.err).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.out) as Record<string, unknown>;
}

/** A failure: the exit code, one line on stderr, nothing on stdout. */
function expectFailure(result: Run, code: number, message: RegExp): void {
  expect(result.code).toBe(code);
  expect(result.out).toBe('');
  expect(result.err).toMatch(/^ropc-admin: .+\n$/);
  expect(result.err.trimEnd().split('\n')).toHaveLength(1);
  expect(result.err).toMatch(message);
}

async function storedOrigins(clientId: string): Promise<unknown> {
  const { Item } = await db.send(
    new GetCommand({ TableName: tables.clients, Key: { clientId }, ConsistentRead: true }),
  );
  return Item === undefined ? 'no item' : Item.allowedOrigins;
}

const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

describe('clients create --allowed-origin', () => {
  it('registers a public browser client with its origin, shown by clients list and clients show', async () => {
    const id = unique('spa');
    expect(
      await runJson(['clients', 'create', id, '--public', '--allowed-origin', 'https://app.example.test']),
    ).toEqual({ client_id: id, public: true });
    expect(await storedOrigins(id)).toEqual(['https://app.example.test']);

    const listed = (await runJson(['clients', 'list'])).clients as Record<string, unknown>[];
    expect(listed.find((client) => client.client_id === id)?.allowed_origins).toEqual(['https://app.example.test']);
    const human = await run(['clients', 'list']);
    expect(human.code).toBe(0);
    const [header, ...rows] = human.out.trimEnd().split('\n');
    expect(header).toMatch(/\sALLOWED ORIGINS$/);
    expect(rows.find((row) => row.startsWith(id))).toMatch(/\shttps:\/\/app\.example\.test$/);

    expect((await runJson(['clients', 'show', id])).allowed_origins).toEqual(['https://app.example.test']);
    expect((await run(['clients', 'show', id])).out).toMatch(/^Allowed origins\s+https:\/\/app\.example\.test$/m);
  });

  it('takes the option repeatedly: every origin in its serialization, duplicates dropped, in the order given', async () => {
    const id = unique('multi');
    await runJson([
      'clients',
      'create',
      id,
      '--public',
      '--allowed-origin',
      'https://App.Example.test:443',
      '--allowed-origin=http://localhost:5173',
      '--allowed-origin',
      'https://app.example.test',
      '--allowed-origin',
      'https://bücher.example',
    ]);
    expect(await storedOrigins(id)).toEqual([
      'https://app.example.test',
      'http://localhost:5173',
      'https://xn--bcher-kva.example',
    ]);
    const listed = (await runJson(['clients', 'list'])).clients as Record<string, unknown>[];
    expect(listed.find((client) => client.client_id === id)?.allowed_origins).toHaveLength(3);
    const row = (await run(['clients', 'list'])).out.split('\n').find((line) => line.startsWith(id));
    expect(row).toMatch(/\shttps:\/\/app\.example\.test,http:\/\/localhost:5173,https:\/\/xn--bcher-kva\.example$/);
  });

  it('stores no origins for a client registered without the option, and shows none', async () => {
    const id = unique('plain');
    await runJson(['clients', 'create', id, '--public']);
    expect(await storedOrigins(id)).toBeUndefined();
    const listed = (await runJson(['clients', 'list'])).clients as Record<string, unknown>[];
    expect(listed.find((client) => client.client_id === id)?.allowed_origins).toEqual([]);
    expect((await run(['clients', 'list'])).out.split('\n').find((line) => line.startsWith(id))).toMatch(/\s-$/);
  });

  it.each<[string, string[], RegExp]>([
    [
      'a URL with a trailing slash',
      ['https://app.example.test/'],
      /invalid --allowed-origin "https:\/\/app\.example\.test\/": an origin has no path/,
    ],
    ['a URL with a path', ['https://app.example.test/login'], /no path, query or fragment/],
    ['plain http on a public host', ['http://app.example.test'], /plain http is only for localhost.*use https/],
    ['another scheme', ['ftp://app.example.test'], /the scheme is ftp, not https/],
    ['a bare host', ['app.example.test'], /it is not scheme:\/\/host\[:port\]/],
    ['a wildcard', ['https://*.example.test'], /its host is not a domain name/],
    ['the opaque origin', ['null'], /it is not scheme:\/\/host/],
    ['an empty value', [''], /it is empty/],
    [
      'a control character',
      ['https://app.example.test\u0007'],
      /invalid --allowed-origin "https:\/\/app\.example\.test\\u0007": it contains whitespace or a control/,
    ],
    [
      `more than ${MAX_ALLOWED_ORIGINS} origins`,
      Array.from({ length: MAX_ALLOWED_ORIGINS + 1 }, (_, i) => `https://app${i}.example.test`),
      /at most 20 origins, got 21/,
    ],
  ])('refuses %s with exit status 2 and registers nothing', async (_case, origins, message) => {
    const id = unique('bad');
    const result = await run([
      'clients',
      'create',
      id,
      '--public',
      ...origins.flatMap((origin) => ['--allowed-origin', origin]),
    ]);
    expectFailure(result, 2, message);
    expect(await storedOrigins(id)).toBe('no item');
  });

  it('refuses the option without a value, and on a command it does not apply to', async () => {
    expectFailure(
      await run(['clients', 'create', unique('x'), '--allowed-origin']),
      2,
      /option --allowed-origin needs a value/,
    );
    expectFailure(
      await run(['clients', 'list', '--allowed-origin', 'https://app.example.test']),
      2,
      /option --allowed-origin does not apply to "clients list"/,
    );
  });

  it('is in the help of clients create', async () => {
    const help = await run(['clients', 'create', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('[--allowed-origin URL]...');
  });
});

describe('clients update --allowed-origin', () => {
  it('replaces the origins as a whole, and none removes them', async () => {
    const id = unique('upd');
    await runJson(['clients', 'create', id, '--public', '--allowed-origin', 'https://old.example.test']);

    const updated = await runJson([
      'clients',
      'update',
      id,
      '--allowed-origin',
      'https://New.example.test',
      '--allowed-origin',
      'http://127.0.0.1:8080',
    ]);
    expect(updated.allowed_origins).toEqual(['https://new.example.test', 'http://127.0.0.1:8080']);
    expect(await storedOrigins(id)).toEqual(['https://new.example.test', 'http://127.0.0.1:8080']);

    expect((await runJson(['clients', 'update', id, '--allowed-origin', 'none'])).allowed_origins).toEqual([]);
    expect(await storedOrigins(id)).toBeUndefined();
  });

  it('leaves the origins alone when only another field changes', async () => {
    const id = unique('keep');
    await runJson(['clients', 'create', id, '--public', '--allowed-origin', 'https://app.example.test']);
    await runJson(['clients', 'update', id, '--scopes', 'read write']);
    expect(await storedOrigins(id)).toEqual(['https://app.example.test']);
  });

  it('refuses an invalid origin, and none beside an origin, with exit status 2 and changes nothing', async () => {
    const id = unique('keep-bad');
    await runJson(['clients', 'create', id, '--public', '--allowed-origin', 'https://app.example.test']);
    expectFailure(await run(['clients', 'update', id, '--allowed-origin', 'http://evil.example.test']), 2, /use https/);
    expectFailure(
      await run(['clients', 'update', id, '--allowed-origin', 'none', '--allowed-origin', 'https://x.example.test']),
      2,
      /--allowed-origin none removes every origin: give it alone/,
    );
    expect(await storedOrigins(id)).toEqual(['https://app.example.test']);
  });

  it('fails with exit status 1 for an unknown client', async () => {
    expectFailure(
      await run(['clients', 'update', unique('nobody'), '--allowed-origin', 'https://app.example.test']),
      1,
      /there is no client/,
    );
  });
});
