import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/net';

/**
 * Lazy migration through `npm start` (local/start.ts) with LEGACY_VERIFIER_MODULE: a verifier module this
 * test writes, run in the local stack's process under the Lambda function's contract, and a real HTTP
 * client of the token endpoint. The module notes each call (never the password) in a file beside it.
 */
const VERIFIER = `
import { appendFileSync } from 'node:fs';
const calls = new URL('./calls.log', import.meta.url);
export async function handler(event) {
  appendFileSync(calls, event.username + ' ' + event.clientId + '\\n');
  if (event.password === 'make it throw') throw new Error('the directory is down');
  if (event.username === 'legacy-user' && event.password === 'legacy password 1')
    return { verified: true, sub: 'legacy-sub-1', scopes: ['read', 'not a scope'] };
  return { verified: false };
}
`;

const children: ChildProcess[] = [];
const dirs: string[] = [];
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ropc-legacy-verifier-'));
  dirs.push(dir);
  await writeFile(join(dir, 'verifier.mjs'), VERIFIER);
  await writeFile(join(dir, 'no-handler.mjs'), 'export const verify = () => ({ verified: true });\n');
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  for (const path of dirs) await rm(path, { recursive: true, force: true });
});

interface Started {
  readonly child: ChildProcess;
  readonly stateDir: string;
  output(): string;
  readonly exited: Promise<number | null>;
}

async function start(env: Record<string, string>): Promise<Started> {
  const parent = await mkdtemp(join(tmpdir(), 'ropc-legacy-start-'));
  dirs.push(parent);
  const stateDir = join(parent, 'state');
  const child = spawn(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'local/start.ts'], {
    env: { ...process.env, PORT: String(await freePort()), LOCAL_STATE_DIR: stateDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stateDir, output: () => output, exited };
}

async function until(started: Started, text: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (!started.output().includes(text)) {
    if (started.child.exitCode !== null) throw new Error(`npm start exited early:\n${started.output()}`);
    if (Date.now() > deadline) throw new Error(`npm start did not come up:\n${started.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('npm start with LEGACY_VERIFIER_MODULE', () => {
  it('migrates a user the verifier vouches for, refuses one it does not, and answers 503 when it throws', async () => {
    const module = join(dir, 'verifier.mjs');
    const started = await start({ LEGACY_VERIFIER_MODULE: module });
    await until(started, 'Ctrl-C stops everything.');
    expect(started.output()).toContain(`  Legacy verifier: ${module} (LEGACY_VERIFIER_MODULE;`);
    const banner = started.output();
    const [, endpoint] = banner.match(/Token endpoint: +(\S+)/)!;
    const [, clientId, secret] = banner.match(/Demo client: +(\S+) +secret (\S+)/)!;
    const login = async (username: string, password: string) => {
      const response = await fetch(endpoint!, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` },
        body: new URLSearchParams({ grant_type: 'password', username, password, scope: 'read' }),
      });
      return {
        status: response.status,
        headers: response.headers,
        body: (await response.json()) as Record<string, unknown>,
      };
    };
    const calls = async () =>
      (await readFile(join(dir, 'calls.log'), 'utf8').catch(() => '')).split('\n').filter((line) => line !== '');

    // Verified: created here, with the verifier's sub and its valid scopes, and logged in.
    const first = await login('legacy-user', 'legacy password 1');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ token_type: 'Bearer', scope: 'read' });
    const claims = JSON.parse(Buffer.from(String(first.body.access_token).split('.')[1]!, 'base64url').toString());
    expect(claims).toMatchObject({ sub: 'legacy-sub-1', client_id: clientId });
    expect(await calls()).toEqual([`legacy-user ${clientId}`]);
    // The user exists now: the next login is checked here, without the verifier.
    expect((await login('legacy-user', 'legacy password 1')).status).toBe(200);
    expect((await login('legacy-user', 'some other password')).body).toEqual({
      error: 'invalid_grant',
      error_description: 'invalid username or password',
    });
    expect(await calls()).toHaveLength(1);

    // Not verified: the wrong-password answer, nothing created.
    const refused = await login('someone-else', 'legacy password 1');
    expect(refused.status).toBe(400);
    expect(refused.body).toEqual({ error: 'invalid_grant', error_description: 'invalid username or password' });

    // The verifier throws: 503 temporarily_unavailable with Retry-After.
    const fault = await login('third-user', 'make it throw');
    expect(fault.status).toBe(503);
    expect(fault.headers.get('retry-after')).toBe('1');
    expect(fault.body).toMatchObject({ error: 'temporarily_unavailable' });
    expect(await calls()).toEqual([`legacy-user ${clientId}`, `someone-else ${clientId}`, `third-user ${clientId}`]);

    const output = started.output();
    expect(output).not.toContain('legacy password 1');
    expect(output).not.toContain('make it throw');
    expect(output).toMatch(/user_migrated/);
    started.child.kill('SIGINT');
    expect(await started.exited).toBe(0);
    // DynamoDB Local's JVM and the KMS emulator start first.
  }, 150_000);

  it.each([
    ['a relative path', () => 'verifier.mjs', /use an absolute path to an ES module that exports handler\(event\)/],
    ['a missing file', () => join(dir, 'missing.mjs'), /no such file/],
    ['a module without a handler', () => join(dir, 'no-handler.mjs'), /the module exports no handler function/],
  ])('refuses %s before starting anything, naming the variable, with exit 1', async (_, path, message) => {
    const started = await start({ LEGACY_VERIFIER_MODULE: path() });
    expect(await started.exited).toBe(1);
    expect(started.output()).toContain(
      `npm start failed: invalid configuration: LEGACY_VERIFIER_MODULE=${JSON.stringify(path())}: `,
    );
    expect(started.output()).toMatch(message);
    expect(started.output()).not.toMatch(/\n\s+at /);
    expect(started.output()).not.toContain('Starting ropc-token-service');
    expect(existsSync(started.stateDir)).toBe(false);
  });
});
