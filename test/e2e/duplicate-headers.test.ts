import { randomUUID } from 'node:crypto';
import { Agent } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/stack';
import { type RawRequest, sendRaw } from '../support/fuzz/http';
import { LogAudit } from '../support/log-audit';
import { FAST_SCRYPT } from '../support/memory';
import { seedStack } from '../support/seed';

/**
 * Over HTTP: a form parameter or a header sent twice is refused with 400 invalid_request
 * by /token and /revoke, whatever the values and however the header names are cased. Node's fetch merges
 * repeated headers, so these requests go out through node:http with raw header lines (both spellings on
 * the wire), through the API Gateway emulation, to the same handler the Lambda function runs.
 */
const FORM = 'application/x-www-form-urlencoded';
const CLIENT_ID = 'dup-app';
const SECRET = `dup-secret-${randomUUID()}`;
const USERNAME = 'dana';
const PASSWORD = `dup password ${randomUUID()}`;
const BASIC = `Basic ${Buffer.from(`${CLIENT_ID}:${SECRET}`).toString('base64')}`;

let stack: LocalStack;
let origin: URL;
let agent: Agent;
const audit = new LogAudit();

beforeAll(async () => {
  stack = await startLocalStack({
    dynamodbEndpoint: inject('dynamodbEndpoint'),
    tablePrefix: `dup-${randomUUID().slice(0, 8)}`,
    config: { scrypt: FAST_SCRYPT, scopesSupported: ['read'] },
    logSink: audit.sink,
  });
  origin = new URL(stack.url);
  agent = new Agent({ keepAlive: false });
  await seedStack(stack, {
    clients: [{ clientId: CLIENT_ID, secret: SECRET, scopes: ['read'] }],
    users: [{ username: USERNAME, password: PASSWORD, scopes: ['read'] }],
  });
});

afterAll(async () => {
  agent?.destroy();
  await stack?.stop();
});

afterAll(() => {
  audit.secret(SECRET, PASSWORD, BASIC);
  audit.expectClean();
});

const LOGIN = new URLSearchParams({ grant_type: 'password', username: USERNAME, password: PASSWORD }).toString();

async function send(path: string, headers: [string, string][], body: string) {
  const request: RawRequest = { method: 'POST', path, headers, body: Buffer.from(body) };
  const response = await sendRaw(origin, request, agent);
  const json = JSON.parse(response.body.toString()) as Record<string, unknown>;
  if (typeof json.access_token === 'string') audit.tokens(json);
  return { status: response.status, body: json };
}

async function refreshToken(): Promise<string> {
  const response = await send(
    '/token',
    [
      ['Content-Type', FORM],
      ['Authorization', BASIC],
    ],
    LOGIN,
  );
  expect(response.status).toBe(200);
  return String(response.body.refresh_token);
}

describe('repeated parameters and headers over HTTP', () => {
  it('refuses username=&username=… at /token, and the same login without the empty duplicate succeeds', async () => {
    const headers: [string, string][] = [
      ['Content-Type', FORM],
      ['Authorization', BASIC],
    ];
    const repeated = await send('/token', headers, `username=&${LOGIN}`);
    expect(repeated).toEqual({
      status: 400,
      body: { error: 'invalid_request', error_description: 'parameter username is repeated' },
    });
    expect((await send('/token', headers, LOGIN)).status).toBe(200);
  });

  it('refuses token=&token=… at /revoke', async () => {
    const token = await refreshToken();
    const response = await send(
      '/revoke',
      [
        ['Content-Type', FORM],
        ['Authorization', BASIC],
      ],
      `token=&token=${encodeURIComponent(token)}`,
    );
    expect(response).toEqual({
      status: 400,
      body: { error: 'invalid_request', error_description: 'parameter token is repeated' },
    });
  });

  const headerCases: [string, [string, string][], string][] = [
    [
      'Authorization and authorization',
      [
        ['Content-Type', FORM],
        ['Authorization', BASIC],
        ['authorization', BASIC],
      ],
      'header authorization is repeated',
    ],
    [
      'Authorization twice',
      [
        ['Content-Type', FORM],
        ['Authorization', BASIC],
        ['Authorization', BASIC],
      ],
      'header authorization is repeated',
    ],
    [
      'Content-Type and CONTENT-TYPE',
      [
        ['Content-Type', FORM],
        ['CONTENT-TYPE', FORM],
        ['Authorization', BASIC],
      ],
      'header content-type is repeated',
    ],
  ];

  it.each(headerCases)('/token refuses %s with 400 invalid_request', async (_name, headers, description) => {
    expect(await send('/token', headers, LOGIN)).toEqual({
      status: 400,
      body: { error: 'invalid_request', error_description: description },
    });
  });

  it.each(headerCases)('/revoke refuses %s with 400 invalid_request', async (_name, headers, description) => {
    const token = await refreshToken();
    const body = `token=${encodeURIComponent(token)}`;
    expect(await send('/revoke', headers, body)).toEqual({
      status: 400,
      body: { error: 'invalid_request', error_description: description },
    });
    // Not revoked by the refused request: the token still refreshes.
    const refreshed = await send(
      '/token',
      [
        ['Content-Type', FORM],
        ['Authorization', BASIC],
      ],
      `grant_type=refresh_token&refresh_token=${encodeURIComponent(token)}`,
    );
    expect(refreshed.status, JSON.stringify(refreshed.body)).toBe(200);
  });
});
