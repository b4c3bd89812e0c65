/**
 * CORS for a browser app, end to end: a public client registered with `ropc-admin clients create my-spa
 * --public --allowed-origin …` against the local stack, then the requests a browser sends, over HTTP
 * through the local API Gateway emulation.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../../bin/admin/cli';
import { type LocalStack, localStackState, startLocalStack } from '../../local/stack';
import { writeStackState } from '../../local/state';
import { sendRaw } from '../support/fuzz/http';
import { LogAudit } from '../support/log-audit';
import { FAST_SCRYPT } from '../support/memory';
import { seedStack } from '../support/seed';

const APP_ORIGIN = 'https://app.example.test';
const FORM = 'application/x-www-form-urlencoded';
const PASSWORD = `cors password ${randomUUID()}`;

let stack: LocalStack;
let stateDir: string;
const audit = new LogAudit();

beforeAll(async () => {
  stack = await startLocalStack({
    dynamodbEndpoint: inject('dynamodbEndpoint'),
    tablePrefix: `cors-${randomUUID().slice(0, 8)}`,
    config: { scrypt: FAST_SCRYPT },
    logSink: audit.sink,
  });
  stateDir = await mkdtemp(join(tmpdir(), 'ropc-cors-'));
  await writeStackState(stateDir, localStackState(stack));
  await seedStack(stack, { users: [{ username: 'casey', password: PASSWORD }] });
  let out = '';
  let err = '';
  const code = await runCli(
    ['clients', 'create', 'my-spa', '--public', '--scopes', 'read', '--allowed-origin', APP_ORIGIN, '--json'],
    {
      stdin: '',
      stdout: (text) => void (out += text),
      stderr: (text) => void (err += text),
      env: { LOCAL_STATE_DIR: stateDir },
    },
  );
  expect({ code, err }).toEqual({ code: 0, err: '' });
  expect(JSON.parse(out)).toEqual({ client_id: 'my-spa', public: true });
});

afterAll(async () => {
  await stack?.stop();
  if (stateDir !== undefined) await rm(stateDir, { recursive: true, force: true });
});

afterAll(() => {
  audit.secret(PASSWORD);
  audit.expectClean();
});

const login = (extra: Record<string, string> = {}) =>
  new URLSearchParams({ grant_type: 'password', client_id: 'my-spa', username: 'casey', password: PASSWORD, ...extra });

/** The CORS headers of a response (Access-Control-*), by lower-case name. */
function cors(response: Response): Record<string, string> {
  return Object.fromEntries([...response.headers].filter(([name]) => name.startsWith('access-control-')));
}

describe('CORS through the local stack over HTTP', () => {
  it('answers the preflight of /token and /revoke for POST with Content-Type and Authorization', async () => {
    for (const path of ['/token', '/revoke']) {
      const response = await fetch(`${stack.url}${path}`, {
        method: 'OPTIONS',
        headers: {
          Origin: APP_ORIGIN,
          'Access-Control-Request-Method': 'POST',
          'Access-Control-Request-Headers': 'content-type',
        },
      });
      expect(response.status, path).toBe(204);
      expect(await response.text()).toBe('');
      expect(cors(response)).toEqual({
        'access-control-allow-origin': APP_ORIGIN,
        'access-control-allow-methods': 'POST',
        'access-control-allow-headers': 'Authorization, Content-Type',
        'access-control-max-age': '600',
      });
      expect(response.headers.get('vary')).toBe('Origin');
    }
  });

  it('gives the page at a listed origin the token response, with its origin echoed, and lets it revoke', async () => {
    const response = await fetch(stack.tokenEndpoint, {
      method: 'POST',
      headers: { 'Content-Type': FORM, Origin: APP_ORIGIN },
      body: login(),
    });
    expect(response.status).toBe(200);
    expect(cors(response)).toEqual({
      'access-control-allow-origin': APP_ORIGIN,
      'access-control-expose-headers': 'WWW-Authenticate, Retry-After',
    });
    expect(response.headers.get('vary')).toBe('Origin');
    const tokens = (await response.json()) as { access_token: string; refresh_token: string };
    audit.tokens(tokens);
    expect(tokens.access_token).toEqual(expect.any(String));

    const revoked = await fetch(`${stack.url}/revoke`, {
      method: 'POST',
      headers: { 'Content-Type': FORM, Origin: APP_ORIGIN },
      body: new URLSearchParams({ token: tokens.refresh_token, client_id: 'my-spa' }),
    });
    expect(revoked.status).toBe(200);
    expect(revoked.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
  });

  it('lets the page read invalid_grant', async () => {
    const response = await fetch(stack.tokenEndpoint, {
      method: 'POST',
      headers: { 'Content-Type': FORM, Origin: APP_ORIGIN },
      body: login({ password: 'not the password' }),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe('invalid_grant');
    expect(response.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
  });

  it('gives another origin the same answer without CORS headers', async () => {
    const response = await fetch(stack.tokenEndpoint, {
      method: 'POST',
      headers: { 'Content-Type': FORM, Origin: 'https://other.example.test' },
      body: login(),
    });
    expect(response.status).toBe(200);
    expect(cors(response)).toEqual({});
    await response.body?.cancel();
  });

  it('refuses a preflight from an origin no client could list, and one for another method, with 405', async () => {
    for (const headers of [
      { Origin: 'http://other.example.test', 'Access-Control-Request-Method': 'POST' },
      { Origin: APP_ORIGIN, 'Access-Control-Request-Method': 'DELETE' },
    ]) {
      const response = await fetch(stack.tokenEndpoint, { method: 'OPTIONS', headers });
      expect(response.status).toBe(405);
      expect(response.headers.get('allow')).toBe('POST');
      expect(cors(response)).toEqual({});
      await response.body?.cancel();
    }
  });

  it('answers a request with a repeated Origin 400 invalid_request, without CORS headers', async () => {
    // fetch joins repeated headers into one line: node:http sends each line as given.
    const agent = new Agent({ keepAlive: false });
    try {
      const response = await sendRaw(
        new URL(stack.url),
        {
          method: 'POST',
          path: '/token',
          headers: [
            ['Content-Type', FORM],
            ['Origin', APP_ORIGIN],
            ['Origin', 'https://other.example.test'],
          ],
          body: Buffer.from(login().toString()),
        },
        agent,
      );
      expect(response.status).toBe(400);
      expect(JSON.parse(response.body.toString())).toEqual({
        error: 'invalid_request',
        error_description: 'header origin is repeated',
      });
      expect(Object.keys(response.headers).filter((name) => name.startsWith('access-control-'))).toEqual([]);
    } finally {
      agent.destroy();
    }
  });

  it('shows the origin in clients list', async () => {
    let out = '';
    const code = await runCli(['clients', 'list', '--json'], {
      stdin: '',
      stdout: (text) => void (out += text),
      stderr: () => undefined,
      env: { LOCAL_STATE_DIR: stateDir },
    });
    expect(code).toBe(0);
    const { clients } = JSON.parse(out) as { clients: { client_id: string; allowed_origins: string[] }[] };
    expect(clients.find((client) => client.client_id === 'my-spa')?.allowed_origins).toEqual([APP_ORIGIN]);
  });
});
