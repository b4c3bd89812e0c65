import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/net';

/** `npm start` (local/start.ts) with service settings in its environment. */
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

interface Started {
  readonly child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

async function start(env: Record<string, string>): Promise<Started & { stateDir: string }> {
  const parent = await mkdtemp(join(tmpdir(), 'ropc-start-settings-'));
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
  return { child, output: () => output, exited, stateDir };
}

async function until(started: Started, text: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (!started.output().includes(text)) {
    if (started.child.exitCode !== null) throw new Error(`npm start exited early:\n${started.output()}`);
    if (Date.now() > deadline) throw new Error(`npm start did not come up:\n${started.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('npm start with REFRESH_TOKEN_GRACE_SECONDS', () => {
  it.each([
    ['61', 'REFRESH_TOKEN_GRACE_SECONDS must be a whole number from 0 to 60, got 61'],
    ['-1', 'REFRESH_TOKEN_GRACE_SECONDS must be a whole number from 0 to 60, got -1'],
    ['abc', 'REFRESH_TOKEN_GRACE_SECONDS="abc": expected a number'],
  ])('refuses %j before starting anything, naming the variable, with a non-zero exit', async (value, message) => {
    const started = await start({ REFRESH_TOKEN_GRACE_SECONDS: value });
    expect(await started.exited).toBe(1);
    expect(started.output()).toContain(`npm start failed: invalid configuration: ${message}`);
    expect(started.output()).not.toMatch(/\n\s+at /);
    expect(started.output()).not.toContain('Starting ropc-token-service');
    expect(existsSync(started.stateDir)).toBe(false);
  });

  it('serves with the grace it was given, and says so in its banner', async () => {
    const started = await start({ REFRESH_TOKEN_GRACE_SECONDS: '0' });
    await until(started, 'Ctrl-C stops everything.');
    expect(started.output()).toMatch(/^ {2}Refresh grace: +0 s /m);
    started.child.kill('SIGINT');
    expect(await started.exited).toBe(0);
  });
});

describe('npm start with the lockout limits', () => {
  it.each([
    ['LOCKOUT_PAIR_THRESHOLD', 'abc', 'LOCKOUT_PAIR_THRESHOLD="abc": expected a number'],
    [
      'LOCKOUT_USER_FAILURES_PER_HOUR',
      '0',
      'LOCKOUT_USER_FAILURES_PER_HOUR must be a whole number from 1 to 100000, got 0',
    ],
    [
      'LOCKOUT_IP_FAILURES_PER_DAY',
      '1000001',
      'LOCKOUT_IP_FAILURES_PER_DAY must be a whole number from 1 to 1000000, got 1000001',
    ],
  ])(
    'refuses %s=%j before starting anything, naming the variable, with a non-zero exit',
    async (name, value, message) => {
      const started = await start({ [name]: value });
      expect(await started.exited).toBe(1);
      expect(started.output()).toContain(`npm start failed: invalid configuration: ${message}`);
      expect(started.output()).not.toMatch(/\n\s+at /);
      expect(started.output()).not.toContain('Starting ropc-token-service');
      expect(existsSync(started.stateDir)).toBe(false);
    },
  );

  it('says in its banner which limits it was given, and refuses logins from an address past its budget', async () => {
    const started = await start({
      LOCKOUT_PAIR_THRESHOLD: '2',
      LOCKOUT_USER_FAILURES_PER_HOUR: '40',
      LOCKOUT_IP_FAILURES_PER_DAY: '3',
    });
    await until(started, 'Ctrl-C stops everything.');
    expect(started.output()).toMatch(
      /^ {2}Lockout: +after 2 failures per username and IP \(LOCKOUT_PAIR_THRESHOLD\), 40 per username an hour \(LOCKOUT_USER_FAILURES_PER_HOUR\), 3 per IP a day \(LOCKOUT_IP_FAILURES_PER_DAY\)$/m,
    );
    const banner = started.output();
    const [, endpoint] = banner.match(/Token endpoint: +(\S+)/)!;
    const [, clientId, secret] = banner.match(/Demo client: +(\S+) +secret (\S+)/)!;
    const [, username, password] = banner.match(/Demo user: +(\S+) +password (\S+)/)!;
    const login = (user: string, pass: string) =>
      fetch(endpoint!, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` },
        body: new URLSearchParams({ grant_type: 'password', username: user, password: pass }),
      }).then((response) => response.status);
    expect(await login(username!, password!)).toBe(200);
    // Three failures spend this address's budget of 3: the demo user's right password is refused next.
    for (const user of ['nobody-1', 'nobody-2', 'nobody-3']) expect(await login(user, 'wrong')).toBe(400);
    expect(await login(username!, password!)).toBe(400);
    started.child.kill('SIGINT');
    expect(await started.exited).toBe(0);
  });
});
