/**
 * `ropc-admin users import` through `runCli` against DynamoDB Local and the KMS emulator: the users it
 * imports log in through the token endpoint with their old password (and keep their old sub), a bad file
 * imports nothing and says why line by line, a re-run skips and counts what exists, stdin works and
 * leaves no spool behind, and no password hash is ever printed or logged.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import bcrypt from 'bcryptjs';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../bin/admin/cli';
import { formatProgress, MAX_LINE_BYTES } from '../../bin/admin/import';
import { IMPORT_CLAIM } from '../../contract/tables';
import { DynamoUserStore } from '../../lambda/adapters/user-store';
import type { ServiceConfig } from '../../lambda/config';
import { createTokenEndpointDeps } from '../../lambda/handlers/runtime';
import { handleTokenRequest } from '../../lambda/oauth/token-endpoint';
import { prepareUsername } from '../../lambda/oauth/username';
import { hashPassword } from '../../lambda/passwords';
import { hashProblem } from '../../lambda/passwords/formats';
import type { KmsEmulator } from '../../local/kms-emulator';
import { LOCAL_CREDENTIALS, LOCAL_REGION, writeStackState } from '../../local/state';
import { documentClient, emulatedServices } from '../support/aws';
import { basic, FAST_SCRYPT, tokenRequest } from '../support/memory';

const STACK_TRACE = /\n\s+at /;

let kms: KmsEmulator;
let config: ServiceConfig;
let stateDir: string;
let workDir: string;
let db: ReturnType<typeof documentClient>;
let clientSecret: string;
/** Every hash any test put in a file, and everything the CLI printed or logged: checked at the end. */
const hashes = new Set<string>();
const printed: string[] = [];

/** Two real scrypt hashes in the service's format, made once (each run costs time). */
let hashOf: Record<'old' | 'other', string>;

beforeAll(async () => {
  ({ kms, config } = await emulatedServices('alias/ropc-token-service/import-test'));
  stateDir = await mkdtemp(join(tmpdir(), 'ropc-admin-import-state-'));
  workDir = await mkdtemp(join(tmpdir(), 'ropc-admin-import-files-'));
  await writeStackState(stateDir, {
    issuer: config.issuer,
    tokenEndpoint: `${config.issuer}/token`,
    dynamodbEndpoint: config.dynamodbEndpoint!,
    kmsEndpoint: config.kmsEndpoint!,
    region: LOCAL_REGION,
    tables: config.tables,
    signingKeyAlias: config.signingKeyId,
    scrypt: FAST_SCRYPT,
    accessTokenTtl: 900,
    pid: process.pid,
    startedAt: new Date().toISOString(),
  });
  db = documentClient(config.dynamodbEndpoint!);
  hashOf = {
    old: await hashPassword('the old password', FAST_SCRYPT),
    other: await hashPassword('another password', FAST_SCRYPT),
  };
  for (const hash of Object.values(hashOf)) hashes.add(hash);
  const client = await runJson(['clients', 'create', 'legacy-app', '--scopes', 'read']);
  clientSecret = client.client_secret as string;
});

afterAll(async () => {
  db?.destroy();
  await kms?.stop();
  await rm(stateDir, { recursive: true, force: true });
  await rm(workDir, { recursive: true, force: true });
});

interface Run {
  code: number;
  out: string;
  err: string;
}

async function run(argv: string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<Run> {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    stdin: options.stdin ?? '',
    stdout: (text) => void (out += text),
    stderr: (text) => void (err += text),
    env: { LOCAL_STATE_DIR: stateDir, ...options.env },
  });
  printed.push(out, err);
  return { code, out, err };
}

async function runJson(argv: string[], stdin?: string): Promise<Record<string, unknown>> {
  const result = await run([...argv, '--json'], { stdin });
  expect(result.err).toBe('');
  expect(result.code).toBe(0);
  expect(result.out.trimEnd().split('\n')).toHaveLength(1);
  return JSON.parse(result.out) as Record<string, unknown>;
}

/** bin/ropc-admin.js as a process of its own, on this file's local stack. */
function spawnCli(args: string[]): { process: ChildProcess; done: Promise<Run> } {
  const child = spawn(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'ropc-admin.js'), ...args], {
    env: { ...process.env, LOCAL_STATE_DIR: stateDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => void (out += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => void (err += chunk.toString('utf8')));
  const done = new Promise<Run>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      printed.push(out, err);
      resolve({ code: code ?? -1, out, err });
    });
  });
  return { process: child, done };
}

/** Polls `condition` every 20 ms, for at most 60 s. */
async function until(condition: () => Promise<boolean>): Promise<void> {
  for (const started = Date.now(); !(await condition()); ) {
    if (Date.now() - started > 60_000) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The first item of the import claim, if any import holds (or held and left) it. */
function claimItem(): Promise<Record<string, unknown> | undefined> {
  return userItem(`${IMPORT_CLAIM.keyPrefix}0`);
}

/** A JSON Lines file in the test's directory. */
async function jsonLines(lines: readonly (string | Record<string, unknown>)[]): Promise<string> {
  const path = join(workDir, `${randomUUID()}.jsonl`);
  await writeFile(path, lines.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n'));
  return path;
}

/** Why prepareUsername refuses `raw`: the oracle for the import's message. */
function problemOf(raw: string): string {
  const prepared = prepareUsername(raw);
  if (prepared.ok) throw new Error(`${raw} is a valid username`);
  return prepared.problem;
}

function unique(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

async function userItem(username: string): Promise<Record<string, unknown> | undefined> {
  const { Item } = await db.send(
    new GetCommand({ TableName: config.tables.users, Key: { username }, ConsistentRead: true }),
  );
  return Item;
}

async function login(username: string, password: string) {
  const deps = createTokenEndpointDeps(config, { logSink: () => undefined, credentials: LOCAL_CREDENTIALS });
  return handleTokenRequest(
    tokenRequest(
      { grant_type: 'password', username, password, scope: 'read' },
      { authorization: basic('legacy-app', clientSecret) },
    ),
    deps,
  );
}

describe('users import', () => {
  it('imports users that then log in with their old password and keep their old sub', async () => {
    const withSub = unique('ada');
    const withoutSub = unique('grace');
    const disabled = unique('linus');
    const sub = `legacy|${randomUUID()}`;
    const file = await jsonLines([
      { username: withSub, password_hash: hashOf.old, sub, scopes: 'read write' },
      { username: withoutSub, password_hash: hashOf.other, scopes: ['read'] },
      { username: disabled, password_hash: hashOf.old, sub: `legacy|${randomUUID()}`, scopes: 'read', disabled: true },
    ]);
    const result = await run(['users', 'import', file]);
    expect(result).toEqual({ code: 0, out: 'Imported 3 users, skipped 0 that already exist.\n', err: '' });

    const response = await login(withSub, 'the old password');
    expect(response.status).toBe(200);
    const token = JSON.parse(response.body) as { access_token: string; scope: string };
    expect(decodeJwt(token.access_token)).toMatchObject({ sub, client_id: 'legacy-app', scope: 'read' });

    const second = await login(withoutSub, 'another password');
    expect(second.status).toBe(200);
    const generated = decodeJwt((JSON.parse(second.body) as { access_token: string }).access_token).sub;
    expect(generated).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

    // A wrong password and a disabled user are refused as any other login is.
    expect((await login(withSub, 'not the password')).status).toBe(400);
    expect(JSON.parse((await login(disabled, 'the old password')).body)).toMatchObject({ error: 'invalid_grant' });

    // Every other command sees them as users it created: the same attributes, the same profile.
    const shown = await runJson(['users', 'show', withSub]);
    expect(shown).toMatchObject({ username: withSub, user_id: sub, scopes: ['read', 'write'], disabled: false });
    expect((await runJson(['users', 'show', disabled])).disabled).toBe(true);
    const created = unique('created');
    await runJson(['users', 'create', created, '--password-stdin'], 'a created password\n');
    expect(Object.keys((await userItem(withoutSub))!).sort()).toEqual(Object.keys((await userItem(created))!).sort());
  });

  it('keys users by the prepared username, the one logins look up', async () => {
    const raw = unique('Ünïcode');
    const prepared = prepareUsername(raw);
    expect(prepared.ok).toBe(true);
    const key = prepared.ok ? prepared.username : raw;
    const result = await runJson(['users', 'import', await jsonLines([{ username: raw, password_hash: hashOf.old }])]);
    expect(result).toEqual({ imported: 1, skipped: 0, failed: [] });
    expect((await userItem(key))?.username).toBe(key);
  });

  it('checks the whole file first: with bad lines nothing is written, and every bad line is named', async () => {
    const good = [unique('good'), unique('good'), unique('good')];
    const dupSub = `legacy|${randomUUID()}`;
    const lines = [
      { username: good[0], password_hash: hashOf.old, sub: dupSub },
      '{"username": "broken", "password_hash": ',
      { username: good[1], password_hash: hashOf.old, role: 'admin' },
      { username: ' padded', password_hash: hashOf.old },
      { username: unique('badhash'), password_hash: 'plaintext-password' },
      { username: good[0], password_hash: hashOf.other },
      { username: unique('dupsub'), password_hash: hashOf.old, sub: dupSub },
      { username: unique('scope'), password_hash: hashOf.old, scopes: 'read "quoted"' },
      { username: unique('flag'), password_hash: hashOf.old, disabled: 'no' },
      { username: unique('sub'), password_hash: hashOf.old, sub: 'has spaces' },
      '["an", "array"]',
      { password_hash: hashOf.old },
      '',
      { username: good[2], password_hash: hashOf.old, scopes: ['read', 42] },
    ];
    const result = await run(['users', 'import', await jsonLines(lines)]);
    expect(result.code).toBe(1);
    expect(result.out).toBe('');
    expect(result.err).not.toMatch(STACK_TRACE);
    const [summary, ...details] = result.err.trimEnd().split('\n');
    expect(summary).toMatch(/^ropc-admin: nothing was imported: 12 lines of .+\.jsonl are invalid$/);
    expect(details).toEqual([
      expect.stringMatching(/^line 2: not valid JSON( \(at column \d+\))?$/),
      expect.stringMatching(/^line 3: unknown key "role" \(known: username, password_hash, sub, scopes, disabled\)$/),
      `line 4: invalid username " padded": ${problemOf(' padded')}`,
      expect.stringMatching(/^line 5: password_hash is not usable: /),
      `line 6: username "${good[0]}" is on line 1 already`,
      `line 7: sub "${dupSub}" is on line 1 already`,
      expect.stringMatching(/^line 8: invalid scope "\\"quoted\\"": /),
      'line 9: disabled must be true or false',
      'line 10: invalid sub "has spaces": use 1 to 255 visible ASCII characters, no spaces',
      'line 11: not a JSON object',
      'line 12: username is missing',
      expect.stringMatching(/^line 14: invalid scope \(a number\): /),
    ]);
    for (const username of good) expect(await userItem(username)).toBeUndefined();
  });

  it('counts duplicates after preparation: two spellings of one prepared username are one user', async () => {
    const base = unique('mixed');
    const variant = base.toUpperCase();
    const same =
      (prepareUsername(base) as { username?: string }).username ===
      (prepareUsername(variant) as { username?: string }).username;
    const result = await run([
      'users',
      'import',
      await jsonLines([
        { username: base, password_hash: hashOf.old },
        { username: variant, password_hash: hashOf.old },
      ]),
      '--json',
    ]);
    if (same) {
      expect(result.code).toBe(1);
      expect(JSON.parse(result.out).failed).toEqual([
        { line: 2, error: expect.stringMatching(/is on line 1 already/) },
      ]);
    } else {
      expect(result.code).toBe(0);
      expect(JSON.parse(result.out)).toEqual({ imported: 2, skipped: 0, failed: [] });
    }
  });

  it('lists at most 50 bad lines, then how many more, in words and in --json', async () => {
    const lines = Array.from({ length: 63 }, (_, index) => ({ username: `cap-${index}`, password_hash: 'x' }));
    const file = await jsonLines(lines);
    const human = await run(['users', 'import', file]);
    expect(human.code).toBe(1);
    const details = human.err.trimEnd().split('\n').slice(1);
    expect(details).toHaveLength(51);
    expect(details[0]).toMatch(/^line 1: password_hash is not usable: /);
    expect(details[49]).toMatch(/^line 50: /);
    expect(details[50]).toBe('… and 13 more');
    expect(human.err).toMatch(/nothing was imported: 63 lines of /);

    const json = await run(['users', 'import', file, '--json']);
    expect(json.code).toBe(1);
    const object = JSON.parse(json.out) as { imported: number; skipped: number; failed: { line: number }[] };
    expect(Object.keys(object)).toEqual(['imported', 'skipped', 'failed']);
    expect(object.imported).toBe(0);
    expect(object.skipped).toBe(0);
    expect(object.failed.map((failure) => failure.line)).toEqual(Array.from({ length: 50 }, (_, index) => index + 1));
    // On stderr only the summary: stdout holds the result.
    expect(json.err.trimEnd().split('\n')).toHaveLength(1);
  });

  it('skips and counts users that exist on a re-run, and never changes them', async () => {
    const existing = unique('existing');
    await runJson(['users', 'create', existing, '--password-stdin', '--scopes', 'read'], 'the password it had\n');
    const before = await userItem(existing);
    const first = [unique('first'), unique('first')];
    const later = unique('later');
    const initial = await jsonLines(first.map((username) => ({ username, password_hash: hashOf.old })));
    expect(await runJson(['users', 'import', initial])).toEqual({ imported: 2, skipped: 0, failed: [] });
    const importedItem = await userItem(first[0]!);

    const rerun = await jsonLines([
      ...first.map((username) => ({ username, password_hash: hashOf.other, scopes: 'read' })),
      { username: existing, password_hash: hashOf.other },
      { username: later, password_hash: hashOf.old, scopes: 'read' },
    ]);
    const result = await run(['users', 'import', rerun]);
    expect(result).toEqual({ code: 0, out: 'Imported 1 user, skipped 3 that already exist.\n', err: '' });
    expect(await userItem(existing)).toEqual(before);
    expect(await userItem(first[0]!)).toEqual(importedItem);
    expect((await login(existing, 'the password it had')).status).toBe(200);
    expect((await login(later, 'the old password')).status).toBe(200);
  });

  it('while another import holds the claim: a second import and users create are refused, and say why', async () => {
    const store = new DynamoUserStore(db, config.tables.users);
    const holder = randomUUID();
    const until = Date.now() + 60_000;
    await store.claimImport(holder, Date.now(), until);
    const name = unique('waiting');
    try {
      const file = await jsonLines([{ username: name, password_hash: hashOf.old, scopes: 'read' }]);
      const second = await run(['users', 'import', file]);
      expect(second.code).toBe(1);
      expect(second.out).toBe('');
      expect(second.err).toContain('a users import into');
      expect(second.err).toContain(`its claim lapses at ${new Date(until).toISOString()}`);
      expect(second.err).not.toMatch(STACK_TRACE);
      const create = await run(['users', 'create', name, '--password-stdin'], { stdin: 'a password for later\n' });
      expect(create.code).toBe(1);
      expect(create.err).toContain('no user can be created until it ends');
      expect(await userItem(name)).toBeUndefined();
      // The claim's items are no user of the list.
      const listed = await runJson(['users', 'list']);
      expect(JSON.stringify(listed)).not.toContain('\\u0001');
    } finally {
      await store.releaseImport(holder);
    }
    const file = await jsonLines([{ username: name, password_hash: hashOf.old, scopes: 'read' }]);
    expect(await runJson(['users', 'import', file])).toEqual({ imported: 1, skipped: 0, failed: [] });
    expect(await runJson(['users', 'import', file])).toEqual({ imported: 0, skipped: 1, failed: [] });
    expect((await login(name, 'the old password')).status).toBe(200);
  });

  it('reads stdin with -, and leaves no spooled copy behind, whether it imports or refuses', async () => {
    const spools = async () =>
      (await readdir(tmpdir())).filter(
        (name) => name.startsWith('ropc-admin-import-') && !name.includes('-state-') && !name.includes('-files-'),
      );
    const before = await spools();
    const username = unique('piped');
    const stdin = `${JSON.stringify({ username, password_hash: hashOf.old, sub: `legacy|${username}`, scopes: ['read'] })}\r\n\n`;
    expect(await runJson(['users', 'import', '-'], stdin)).toEqual({ imported: 1, skipped: 0, failed: [] });
    const response = await login(username, 'the old password');
    expect(decodeJwt((JSON.parse(response.body) as { access_token: string }).access_token).sub).toBe(
      `legacy|${username}`,
    );

    const refused = await run(['users', 'import', '-', '--json'], { stdin: `${stdin}not json\n` });
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.out)).toEqual({
      imported: 0,
      skipped: 0,
      failed: [{ line: 3, error: expect.stringMatching(/^not valid JSON/) }],
    });
    expect(await spools()).toEqual(before);
  });

  it('reads a named pipe, as the shell passes <(…), by spooling it as stdin is', async () => {
    const pipe = join(workDir, `${randomUUID()}.fifo`);
    execFileSync('mkfifo', [pipe]);
    const username = unique('fifo');
    const writing = writeFile(pipe, `${JSON.stringify({ username, password_hash: hashOf.old })}\n`);
    const result = await run(['users', 'import', pipe, '--json']);
    await writing;
    expect(JSON.parse(result.out)).toEqual({ imported: 1, skipped: 0, failed: [] });
    expect((await userItem(username))?.username).toBe(username);
  });

  it('refuses what cannot be read: a missing FILE is a usage error, a missing or unreadable file a failure', async () => {
    const usage = await run(['users', 'import']);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/^ropc-admin: missing FILE \(usage: ropc-admin users import FILE\|-\)\n$/);

    const missing = await run(['users', 'import', join(workDir, 'nowhere.jsonl')]);
    expect(missing).toMatchObject({ code: 1, out: '' });
    expect(missing.err).toMatch(/^ropc-admin: cannot read .*nowhere\.jsonl \(no such file, ENOENT\)\n$/);

    const directory = await run(['users', 'import', workDir]);
    expect(directory.code).toBe(1);
    expect(directory.err).toMatch(/^ropc-admin: cannot read .+: it is a directory\n$/);

    const notUtf8 = join(workDir, `${randomUUID()}.jsonl`);
    await writeFile(
      notUtf8,
      Buffer.concat([Buffer.from('{"username": "'), Buffer.from([0xff, 0xfe]), Buffer.from('"}\n')]),
    );
    const decoded = await run(['users', 'import', notUtf8]);
    expect(decoded.code).toBe(1);
    expect(decoded.err.split('\n')[1]).toBe('line 1: not valid UTF-8');
  });

  it("checks a bcrypt hash as the service's hash formats say, and a login then works if they accept it", async () => {
    const username = unique('bcrypt');
    const hash = bcrypt.hashSync('a bcrypt password', 4);
    hashes.add(hash);
    const problem = hashProblem(hash);
    const result = await run([
      'users',
      'import',
      await jsonLines([{ username, password_hash: hash, scopes: 'read' }]),
      '--json',
    ]);
    if (problem === undefined) {
      expect(result.code).toBe(0);
      expect(JSON.parse(result.out)).toEqual({ imported: 1, skipped: 0, failed: [] });
      expect((await login(username, 'a bcrypt password')).status).toBe(200);
    } else {
      expect(result.code).toBe(1);
      expect(JSON.parse(result.out).failed).toEqual([{ line: 1, error: `password_hash is not usable: ${problem}` }]);
      expect(await userItem(username)).toBeUndefined();
    }
  });

  it('records a user_migrated line with the user id for each user it writes, then the import, never a hash', async () => {
    const log = join(workDir, `${randomUUID()}.audit.jsonl`);
    const existing = unique('audited-existing');
    await runJson(['users', 'create', existing, '--password-stdin'], 'a password it has\n');
    const fresh = [unique('audited'), unique('audited')];
    const file = await jsonLines([
      { username: fresh[0], password_hash: hashOf.old, sub: `legacy-${fresh[0]}` },
      { username: existing, password_hash: hashOf.old },
      { username: fresh[1], password_hash: hashOf.old },
    ]);
    expect((await run(['users', 'import', file], { env: { ROPC_ADMIN_AUDIT_LOG: log } })).code).toBe(0);
    const bad = await jsonLines([{ username: unique('audited'), password_hash: 'not-a-hash' }]);
    expect((await run(['users', 'import', bad], { env: { ROPC_ADMIN_AUDIT_LOG: log } })).code).toBe(1);
    const text = await readFile(log, 'utf8');
    printed.push(text);
    const lines = text
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const perUser = (username: string, userId: unknown) =>
      expect.objectContaining({
        event: 'operator_action',
        command: 'users import',
        // The users it created came over from a legacy system: user_migrated, as lazy migration logs it.
        action: 'user_migrated',
        method: 'import',
        subject: username,
        userId,
        outcome: 'succeeded',
      });
    expect(lines).toEqual([
      perUser(fresh[0]!, `legacy-${fresh[0]}`),
      perUser(fresh[1]!, (await userItem(fresh[1]!))?.userId),
      expect.objectContaining({
        event: 'operator_action',
        command: 'users import',
        action: 'user_migrated',
        method: 'import',
        imported: 2,
        skipped: 1,
        subject: file,
        outcome: 'succeeded',
      }),
      expect.objectContaining({ event: 'operator_action', command: 'users import', outcome: 'failed' }),
    ]);
    expect(typeof lines[1]!.userId).toBe('string');
  });

  it('reads any file in bounded memory: an overlong line is refused, the lines after it keep their numbers', async () => {
    const path = join(workDir, `${randomUUID()}.jsonl`);
    const username = unique('after-long');
    await writeFile(
      path,
      [
        // A byte-order mark before the first line is not part of it.
        `\uFEFF${JSON.stringify({ username: unique('bom'), password_hash: hashOf.old })}`,
        JSON.stringify({ username: unique('long'), password_hash: 'x'.repeat(MAX_LINE_BYTES) }),
        JSON.stringify({ username, password_hash: hashOf.old, disabled: 1 }),
      ].join('\n'),
    );
    const result = await run(['users', 'import', path, '--json']);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.out).failed).toEqual([
      { line: 2, error: `longer than ${MAX_LINE_BYTES} bytes` },
      { line: 3, error: 'disabled must be true or false' },
    ]);
  });

  it('shows progress as count, rate and time left', () => {
    expect(formatProgress(12_300, 100_000, 3_000)).toBe(
      'Importing users: 12,300 of 100,000 (12%), 4,100/s, about 22 s left',
    );
    expect(formatProgress(0, 5, 0)).toBe('Importing users: 0 of 5 (0%), 0/s');
    expect(formatProgress(1_000, 100_000, 1_000)).toBe(
      'Importing users: 1,000 of 100,000 (1%), 1,000/s, about 1 min 39 s left',
    );
    expect(formatProgress(100, 1_000_000, 1_000)).toBe(
      'Importing users: 100 of 1,000,000 (0%), 100/s, about 2 h 46 min left',
    );
  });

  it('prints no progress line when stderr is not a terminal', async () => {
    const file = await jsonLines(
      Array.from({ length: 250 }, (_, index) => ({
        username: `piped-${randomUUID()}-${index}`,
        password_hash: hashOf.old,
      })),
    );
    const result = await run(['users', 'import', file]);
    expect(result).toEqual({ code: 0, out: 'Imported 250 users, skipped 0 that already exist.\n', err: '' });
  });

  it('describes itself in --help', async () => {
    const help = await run(['users', 'import', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^Usage: ropc-admin users import FILE\|-\n/);
    expect(help.out).toContain('"password_hash"');
    expect(help.out).toMatch(/nothing is imported/);
    expect(help.out).toMatch(/FILE\s+a JSON Lines file/);
    expect((await run(['users', '--help'])).out).toContain('users import FILE|-');
  });

  it('after an import process is killed, the next run on this machine takes its claim over at once', async () => {
    const prefix = unique('killed');
    const count = 30_000;
    const file = await jsonLines(
      Array.from({ length: count }, (_, index) => ({
        username: `${prefix}-${index}`,
        password_hash: hashOf.old,
        scopes: 'read',
      })),
    );
    const child = spawnCli(['users', 'import', file]);
    // Killed once its claim is taken and its first users are written: no chance to release anything.
    await until(async () => (await claimItem()) !== undefined && (await userItem(`${prefix}-0`)) !== undefined);
    child.process.kill('SIGKILL');
    await child.done;
    expect(await claimItem()).toBeDefined();
    const rerun = await runJson(['users', 'import', file]);
    expect((rerun.imported as number) + (rerun.skipped as number)).toBe(count);
    expect(rerun.skipped as number).toBeGreaterThan(0);
    expect(await claimItem()).toBeUndefined();
    expect((await login(`${prefix}-${count - 1}`, 'the old password')).status).toBe(200);
  });

  it('stops between batches on SIGINT, says what it did, and releases its claim', async () => {
    const prefix = unique('interrupted');
    const count = 30_000;
    const file = await jsonLines(
      Array.from({ length: count }, (_, index) => ({ username: `${prefix}-${index}`, password_hash: hashOf.old })),
    );
    const child = spawnCli(['users', 'import', file]);
    await until(async () => (await userItem(`${prefix}-0`)) !== undefined);
    child.process.kill('SIGINT');
    const result = await child.done;
    expect(result.code).toBe(1);
    expect(result.out).toBe('');
    expect(result.err).toMatch(
      /^ropc-admin: interrupted: stopped after importing [\d,]+ users and skipping 0; run the same import again/,
    );
    expect(await claimItem()).toBeUndefined();
    // Users can be created again at once.
    await runJson(['users', 'create', `${prefix}-new`, '--password-stdin'], 'a password after the import\n');
    const rest = await runJson(['users', 'import', file]);
    expect((rest.imported as number) + (rest.skipped as number)).toBe(count);
    expect(rest.imported as number).toBeGreaterThan(0);
  });

  // Runs last: whatever the tests above printed or logged holds no hash, not even its salt or digest alone.
  it('never prints or logs a password hash', () => {
    const everything = printed.join('\n');
    for (const hash of hashes) {
      expect(everything).not.toContain(hash);
      for (const part of hash.split('$').filter((piece) => piece.length >= 16)) expect(everything).not.toContain(part);
    }
    expect(printed.length).toBeGreaterThan(20);
  });
});
