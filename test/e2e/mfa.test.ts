import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as OTPAuth from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/net';

/**
 * The second factor end to end: `npm start` in a child process, `ropc-admin users mfa enroll --json`
 * against it, and a client speaking Auth0's MFA wire format over HTTP, with its TOTP codes made by the
 * otpauth package from the otpauth:// URI the CLI printed (an independent implementation, not ours).
 */
const run = promisify(execFile);
const OTP = 'http://auth0.com/oauth/grant-type/mfa-otp';
const RECOVERY = 'http://auth0.com/oauth/grant-type/mfa-recovery-code';

let child: ChildProcess | undefined;
let stateDir: string;
let issuer: string;
let demo: { clientId: string; secret: string; username: string; password: string };

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'ropc-mfa-'));
  auditLog = join(stateDir, 'audit.jsonl');
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  child = spawn(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'local/start.ts'], {
    env: { ...process.env, PORT: String(port), LOCAL_STATE_DIR: stateDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + 90_000;
  while (!output.includes('Ctrl-C stops everything.')) {
    if (child.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
    if (Date.now() > deadline) throw new Error(`npm start did not come up:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const curl = /curl -s -u '([^:]+):([^']+)' -d grant_type=password -d username='([^']+)' -d password='([^']+)'/.exec(
    output,
  );
  if (curl === null) throw new Error(`no curl line in:\n${output}`);
  demo = { clientId: curl[1]!, secret: curl[2]!, username: curl[3]!, password: curl[4]! };
}, 120_000);

afterAll(async () => {
  if (child !== undefined && child.exitCode === null) {
    child.kill('SIGINT');
    await new Promise((resolve) => child!.once('exit', resolve));
  }
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

let auditLog: string;

async function admin(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['node_modules/tsx/dist/cli.mjs', 'bin/ropc-admin.ts', ...args],
      {
        env: { ...process.env, LOCAL_STATE_DIR: stateDir, ROPC_ADMIN_AUDIT_LOG: auditLog },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/**
 * POST /token as the demo client, from `localAddress` (any of 127.0.0.0/8 reaches the server, which sees
 * it as the caller's IP): requests from distinct addresses are not refused by each other's lockout
 * reservation, so what makes all but one of them fail is the second factor's own conditions.
 */
function token(
  params: Record<string, string>,
  localAddress = '127.0.0.1',
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: any }> {
  const body = new URLSearchParams(params).toString();
  const url = new URL(`${issuer}/token`);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        localAddress,
        headers: {
          Authorization: `Basic ${Buffer.from(`${demo.clientId}:${demo.secret}`).toString('base64')}`,
          'Content-Type': 'application/x-www-form-urlencoded',
          'Content-Length': Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A fresh loopback address per call: each password step starts its own (username, IP) streak. */
let nextAddress = 2;
const freshAddress = () => `127.0.${Math.floor(nextAddress / 250) + 10}.${(nextAddress++ % 250) + 2}`;

const passwordGrant = (password = demo.password, from = freshAddress()) =>
  token({ grant_type: 'password', username: demo.username, password }, from);

/** An mfa_token, from a password step at `from`. */
async function mfaToken(from = freshAddress()): Promise<string> {
  const response = await passwordGrant(demo.password, from);
  expect(response.status).toBe(403);
  return response.body.mfa_token;
}

describe('the second factor through npm start', () => {
  let totp: OTPAuth.TOTP;
  let recoveryCodes: string[];

  it('enrolls the demo user with the CLI, and shows that the user has MFA', async () => {
    // A token issued before the enrollment stops working: the enrollment ends the user's sessions.
    const before = await passwordGrant();
    expect(before.status).toBe(200);
    const enrolled = await admin('users', 'mfa', 'enroll', demo.username, '--json');
    expect(enrolled.stderr).toBe('');
    expect(enrolled.code).toBe(0);
    const printed = JSON.parse(enrolled.stdout) as { otpauth_uri: string; secret: string; recovery_codes: string[] };
    expect(Object.keys(printed).sort()).toEqual(['otpauth_uri', 'recovery_codes', 'secret']);
    totp = OTPAuth.URI.parse(printed.otpauth_uri) as OTPAuth.TOTP;
    expect(totp).toBeInstanceOf(OTPAuth.TOTP);
    expect(totp.secret.base32).toBe(printed.secret);
    expect(totp.issuer).toBe('ropc-token-service');
    expect(totp.label).toBe(demo.username);
    recoveryCodes = printed.recovery_codes;
    expect(recoveryCodes).toHaveLength(10);
    const refresh = await token({ grant_type: 'refresh_token', refresh_token: before.body.refresh_token });
    expect(refresh.status).toBe(400);

    const again = await admin('users', 'mfa', 'enroll', demo.username);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/enrolled already.*users mfa disable/);

    const shown = JSON.parse((await admin('users', 'show', demo.username, '--json')).stdout);
    expect(shown.mfa).toMatchObject({ recovery_codes_left: 10 });
    const listed = await admin('users', 'list');
    expect(listed.stdout).toMatch(new RegExp(`^${demo.username}\\s.*yes \\(10 codes\\)$`, 'm'));
    expect(listed.stdout + JSON.stringify(shown)).not.toContain(printed.secret);

    // The operator's audit line names the event, and holds neither the secret nor a code.
    const audit = await readFile(auditLog, 'utf8');
    const lines = audit
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.filter((line) => line.command === 'users mfa enroll')).toEqual([
      expect.objectContaining({ event: 'operator_action', action: 'mfa_enrolled', outcome: 'succeeded' }),
      expect.objectContaining({ event: 'operator_action', action: 'mfa_enrolled', outcome: 'failed' }),
    ]);
    for (const secret of [printed.secret, ...recoveryCodes]) expect(audit).not.toContain(secret);
  });

  it('answers the right password with 403 mfa_required, a wrong one with the usual invalid_grant', async () => {
    const required = await passwordGrant();
    expect(required.status).toBe(403);
    expect(required.body).toEqual({
      error: 'mfa_required',
      error_description: 'Multifactor authentication required',
      mfa_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });
    expect(required.headers['cache-control']).toBe('no-store');
    expect(required.headers.pragma).toBe('no-cache');
    const wrong = await passwordGrant('not the password');
    expect(wrong.status).toBe(400);
    expect(wrong.body).toEqual({ error: 'invalid_grant', error_description: 'invalid username or password' });
  });

  it('issues verifiable tokens for the TOTP code, refuses the same code again, and lists the grants', async () => {
    const code = totp.generate();
    const issued = await token({ grant_type: OTP, mfa_token: await mfaToken(), otp: code });
    expect(issued.status).toBe(200);
    expect(issued.body).toMatchObject({ token_type: 'Bearer' });
    expect(issued.body.refresh_token).toBeTypeOf('string');
    const { payload } = await jwtVerify(
      issued.body.access_token,
      createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`)),
      { issuer },
    );
    expect(payload.client_id).toBe(demo.clientId);
    const replayed = await token({ grant_type: OTP, mfa_token: await mfaToken(), otp: code });
    expect(replayed.status).toBe(400);
    expect(replayed.body.error).toBe('invalid_grant');
    const metadata = (await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json()) as {
      grant_types_supported: string[];
    };
    expect(metadata.grant_types_supported).toEqual(expect.arrayContaining([OTP, RECOVERY]));
  });

  it('takes a recovery code once', async () => {
    const first = await token({ grant_type: RECOVERY, mfa_token: await mfaToken(), recovery_code: recoveryCodes[0]! });
    expect(first.status).toBe(200);
    expect(first.body.access_token).toBeTypeOf('string');
    const second = await token({ grant_type: RECOVERY, mfa_token: await mfaToken(), recovery_code: recoveryCodes[0]! });
    expect(second.status).toBe(400);
    expect(second.body.error).toBe('invalid_grant');
    const shown = JSON.parse((await admin('users', 'show', demo.username, '--json')).stdout);
    expect(shown.mfa).toMatchObject({ recovery_codes_left: 9 });
  });

  it('gives exactly one token response for parallel uses of one mfa_token and one recovery code', async () => {
    const mfa = await mfaToken();
    const responses = await Promise.all(
      Array.from({ length: 8 }, () =>
        token({ grant_type: RECOVERY, mfa_token: mfa, recovery_code: recoveryCodes[1]! }, freshAddress()),
      ),
    );
    expect(responses.map((response) => response.status).sort()).toEqual([200, 400, 400, 400, 400, 400, 400, 400]);
    for (const refused of responses.filter((response) => response.status !== 200))
      expect(refused.body.error).toBe('invalid_grant');
  });

  it('gives exactly one token response for parallel uses of one TOTP code', async () => {
    // A new step's code (the last accepted step is refused), each with its own mfa_token.
    await new Promise((resolve) => setTimeout(resolve, (30 - (Math.floor(Date.now() / 1000) % 30) + 1) * 1000));
    const tokens: string[] = [];
    for (let index = 0; index < 6; index++) tokens.push(await mfaToken());
    const code = totp.generate();
    const responses = await Promise.all(
      tokens.map((mfa) => token({ grant_type: OTP, mfa_token: mfa, otp: code }, freshAddress())),
    );
    expect(responses.filter((response) => response.status === 200)).toHaveLength(1);
    expect(responses.filter((response) => response.status === 400)).toHaveLength(5);
  }, 60_000);

  it('disables the second factor with the CLI: the password alone logs in again', async () => {
    const disabled = await admin('users', 'mfa', 'disable', demo.username);
    expect(disabled.code).toBe(0);
    expect((await passwordGrant()).status).toBe(200);
    expect((await admin('users', 'mfa', 'disable', demo.username)).code).toBe(1);
    const shown = JSON.parse((await admin('users', 'show', demo.username, '--json')).stdout);
    expect(shown.mfa).toBeNull();
    expect(await readFile(auditLog, 'utf8')).toContain('"action":"mfa_disabled"');
  });
});
