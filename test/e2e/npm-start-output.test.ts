import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/net';
import { LogAudit } from '../support/log-audit';

/** What `npm start` (local/start.ts) prints while it serves, and how it refuses a port that is taken. */
const children: ChildProcess[] = [];
const dirs: string[] = [];
const servers: Server[] = [];

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  for (const server of servers) server.close();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const READY = 'Ctrl-C stops everything.';

interface Started {
  readonly child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function spawnStart(env: Record<string, string>): Started {
  const child = spawn(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'local/start.ts'], {
    env: { ...process.env, LOG_FORMAT: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function until(started: Started, test: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (!test()) {
    if (started.child.exitCode !== null) throw new Error(`npm start exited before ${what}:\n${started.output()}`);
    if (Date.now() > deadline) throw new Error(`no ${what} from npm start:\n${started.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The demo credentials from the banner's curl line. */
function demo(output: string) {
  const curl = /curl -s -u '([^:]+):([^']+)' -d grant_type=password -d username='([^']+)' -d password='([^']+)'/.exec(
    output,
  );
  if (curl === null) throw new Error(`no curl line in:\n${output}`);
  return { clientId: curl[1]!, secret: curl[2]!, username: curl[3]!, password: curl[4]! };
}

/** Gets a token with the demo account; returns the log lines printed after the banner. */
async function tokenRequest(started: Started, port: number, audit: LogAudit): Promise<() => string[]> {
  await until(started, () => started.output().includes(READY), 'banner');
  const account = demo(started.output());
  audit.secret(account.secret, account.password);
  const response = await fetch(`http://127.0.0.1:${port}/token`, {
    method: 'POST',
    headers: {
      Authorization: `Basic ${Buffer.from(`${account.clientId}:${account.secret}`).toString('base64')}`,
      'Content-Type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'password', username: account.username, password: account.password }),
  });
  expect(response.status).toBe(200);
  audit.tokens((await response.json()) as { access_token: string; refresh_token: string });
  return () =>
    started
      .output()
      .slice(started.output().indexOf(READY) + READY.length)
      .split('\n')
      .filter(Boolean);
}

async function stop(started: Started): Promise<void> {
  started.child.kill('SIGINT');
  expect(await started.exited).toBe(0);
}

describe('npm start output', () => {
  it('prints an access line per request and readable events by default, and the JSON lines with LOG_FORMAT=json', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'ropc-start-output-'));
    dirs.push(stateDir);
    const port = await freePort();
    const audit = new LogAudit();

    const text = spawnStart({ PORT: String(port), LOCAL_STATE_DIR: stateDir });
    const textLines = await tokenRequest(text, port, audit);
    await until(text, () => textLines().some((line) => line.startsWith('POST /token')), 'access line');
    expect(textLines()).toContainEqual(expect.stringMatching(/^POST \/token 200 \d+ ms$/));
    expect(textLines()).toContainEqual(
      expect.stringMatching(/^password_grant_succeeded clientId=demo-client userId=\S+$/),
    );
    // No JSON line and no metric line in the readable form.
    expect(textLines().filter((line) => line.startsWith('{'))).toEqual([]);
    await stop(text);

    const json = spawnStart({ PORT: String(port), LOCAL_STATE_DIR: stateDir, LOG_FORMAT: 'json' });
    const jsonLines = await tokenRequest(json, port, audit);
    await until(json, () => jsonLines().some((line) => line.includes('"password_grant_succeeded"')), 'JSON log line');
    const parsed = jsonLines()
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(parsed).toContainEqual(
      expect.objectContaining({ level: 'INFO', event: 'password_grant_succeeded', clientId: 'demo-client' }),
    );
    expect(jsonLines().some((line) => line.startsWith('POST /token'))).toBe(false);
    await stop(json);

    // Neither form shows a password, a secret or a token.
    audit.expectClean([...textLines(), ...jsonLines()]);
  }, 240_000);

  it('refuses a port that is taken at once, naming it and how to choose another, before DynamoDB Local starts', async () => {
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const stateDir = join(await mkdtemp(join(tmpdir(), 'ropc-start-port-')), 'state');
    dirs.push(stateDir);

    const startedAt = Date.now();
    const started = spawnStart({ PORT: String(port), LOCAL_STATE_DIR: stateDir });
    const code = await started.exited;
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(Date.now() - startedAt).toBeLessThan(15_000);
    expect(started.output()).toContain(
      `npm start failed: port ${port} is already in use: stop what uses it, or choose another port, e.g. PORT=${port + 1} npm start`,
    );
    expect(started.output()).not.toContain('Starting ropc-token-service');
    expect(started.output()).not.toContain('DynamoDB Local');
  }, 30_000);
});
