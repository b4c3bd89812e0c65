import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/net';
import { LogAudit } from '../support/log-audit';

/** `npm start` as a newcomer runs it: a child process, its banner, its curl line, Ctrl-C. */
interface Started {
  child: ChildProcess;
  output: () => string;
  banner: Record<string, string>;
  curl: { clientId: string; secret: string; username: string; password: string };
}

const children: ChildProcess[] = [];
let stateDir: string;

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

async function start(port: number): Promise<Started> {
  const child = spawn(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'local/start.ts'], {
    env: { ...process.env, PORT: String(port), LOCAL_STATE_DIR: stateDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + 90_000;
  while (!output.includes('Ctrl-C stops everything.')) {
    if (child.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
    if (Date.now() > deadline) throw new Error(`npm start did not come up:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const banner = Object.fromEntries([...output.matchAll(/^ {2}([A-Za-z ]+?):\s+(\S+)/gm)].map((m) => [m[1]!, m[2]!]));
  const curl = /curl -s -u '([^:]+):([^']+)' -d grant_type=password -d username='([^']+)' -d password='([^']+)'/.exec(
    output,
  );
  if (curl === null) throw new Error(`no curl line in:\n${output}`);
  return {
    child,
    output: () => output,
    banner,
    curl: { clientId: curl[1]!, secret: curl[2]!, username: curl[3]!, password: curl[4]! },
  };
}

async function stop(started: Started): Promise<number | null> {
  started.child.kill('SIGINT');
  return new Promise((resolve) => started.child.once('exit', (code) => resolve(code)));
}

function token(endpoint: string, curl: Started['curl'], params: Record<string, string>) {
  return fetch(endpoint, {
    method: 'POST',
    headers: {
      Authorization: `Basic ${Buffer.from(`${curl.clientId}:${curl.secret}`).toString('base64')}`,
      'Content-Type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams(params),
  });
}

describe('npm start', () => {
  it('serves verifiable tokens, stops everything on Ctrl-C, and keeps its state across restarts', async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'ropc-start-'));
    const port = await freePort();
    const first = await start(port);
    const issuer = `http://127.0.0.1:${port}`;
    expect(first.banner).toMatchObject({ Issuer: issuer, 'Token endpoint': `${issuer}/token` });
    expect(first.banner['DynamoDB Local']).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(first.banner['KMS emulator']).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // LOCAL_STATE_DIR is set, so the banner gives the operator's shell the line that lets ropc-admin find it.
    expect(first.output()).toContain(`\n  export LOCAL_STATE_DIR='${stateDir}'\n`);

    const response = await token(`${issuer}/token`, first.curl, {
      grant_type: 'password',
      username: first.curl.username,
      password: first.curl.password,
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { access_token: string; refresh_token: string };
    const audit = new LogAudit();
    audit.secret(first.curl.secret, first.curl.password);
    audit.tokens(body);
    const jwks = createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(body.access_token, jwks, { issuer, typ: 'at+jwt', algorithms: ['RS256'] });
    expect(payload.client_id).toBe(first.curl.clientId);

    expect(await stop(first)).toBe(0);
    // DynamoDB Local and the KMS emulator went down with it.
    for (const url of [first.banner['DynamoDB Local']!, first.banner['KMS emulator']!]) {
      await expect(fetch(url, { method: 'POST', body: '{}' })).rejects.toThrow();
    }

    const second = await start(port);
    expect(second.curl).toEqual(first.curl);
    // The refresh token issued before the restart is still valid: tables and keys persisted.
    const refreshed = await token(`${issuer}/token`, second.curl, {
      grant_type: 'refresh_token',
      refresh_token: body.refresh_token,
    });
    expect(refreshed.status).toBe(200);
    const { payload: again } = await jwtVerify(
      ((await refreshed.json()) as { access_token: string }).access_token,
      createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`)),
      { issuer },
    );
    expect(again.sub).toBe(payload.sub);
    expect(await stop(second)).toBe(0);

    // The request log (what follows the banner, which prints the demo credentials on purpose) holds no secret.
    const afterBanner = (output: string) => output.slice(output.indexOf('Ctrl-C stops everything.')).split('\n');
    const logLines = [...afterBanner(first.output()), ...afterBanner(second.output())].filter(Boolean);
    expect(logLines).toContainEqual(expect.stringMatching(/^password_grant_succeeded /));
    audit.expectClean(logLines);
  }, 240_000);
});
