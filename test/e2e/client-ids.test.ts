import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import * as openid from 'openid-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../../bin/admin/cli';
import { type LocalStack, localStackState, startLocalStack } from '../../local/stack';
import { writeStackState } from '../../local/state';
import { LogAudit } from '../support/log-audit';
import { FAST_SCRYPT } from '../support/memory';
import { seedStack } from '../support/seed';

/**
 * Client ids with spaces, colons and other punctuation (any 1 to 128 printable ASCII characters), registered
 * with ropc-admin and used over HTTP: client_secret_basic with the id and secret form-urlencoded inside the
 * header (RFC 6749 §2.3.1), client_secret_post, and a public client's client_id parameter.
 */
let stack: LocalStack;
let stateDir: string;
const audit = new LogAudit();
const PASSWORD = `client-id password ${randomUUID()}`;
const CONFIDENTIAL_ID = 'acme:web app';
const PUBLIC_ID = `legacy "mobile" 100% + ~ 'v2': app`;
let secret: string;

beforeAll(async () => {
  stack = await startLocalStack({
    dynamodbEndpoint: inject('dynamodbEndpoint'),
    tablePrefix: `cid-${randomUUID().slice(0, 8)}`,
    config: { scrypt: FAST_SCRYPT, scopesSupported: ['read', 'write'] },
    logSink: audit.sink,
  });
  stateDir = await mkdtemp(join(tmpdir(), 'ropc-client-ids-'));
  await writeStackState(stateDir, localStackState(stack));
  await seedStack(stack, { users: [{ username: 'carla', password: PASSWORD, scopes: ['read', 'write'] }] });
  const created = await admin('clients', 'create', CONFIDENTIAL_ID, '--scopes', 'read write');
  expect(created.client_id).toBe(CONFIDENTIAL_ID);
  secret = created.client_secret as string;
  expect(await admin('clients', 'create', PUBLIC_ID, '--public', '--scopes', 'read')).toEqual({
    client_id: PUBLIC_ID,
    public: true,
  });
});

afterAll(async () => {
  audit.secret(secret, PASSWORD, basicHeader(CONFIDENTIAL_ID, secret));
  audit.expectClean();
  await stack?.stop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

async function admin(...argv: string[]): Promise<Record<string, unknown>> {
  let out = '';
  let err = '';
  const code = await runCli([...argv, '--json'], {
    stdin: '',
    stdout: (text) => void (out += text),
    stderr: (text) => void (err += text),
    env: { LOCAL_STATE_DIR: stateDir },
  });
  expect(err).toBe('');
  expect(code).toBe(0);
  return JSON.parse(out) as Record<string, unknown>;
}

/** application/x-www-form-urlencoded, as RFC 6749 Appendix B has it: a space is '+', ':' is %3A. */
const formEncode = (value: string) => new URLSearchParams({ v: value }).toString().slice('v='.length);

function basicHeader(id: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${formEncode(id)}:${formEncode(clientSecret)}`).toString('base64')}`;
}

interface TokenBody {
  access_token?: string;
  refresh_token?: string;
  error?: string;
}

async function postToken(
  params: Record<string, string>,
  authorization?: string,
): Promise<{ status: number; body: TokenBody }> {
  const response = await fetch(stack.tokenEndpoint, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      ...(authorization === undefined ? {} : { Authorization: authorization }),
    },
    body: new URLSearchParams(params),
  });
  const body = (await response.json()) as TokenBody;
  audit.tokens(body);
  return { status: response.status, body };
}

const password = { grant_type: 'password', username: 'carla', password: PASSWORD };

function clientIdClaim(body: TokenBody): unknown {
  return decodeJwt(body.access_token!).client_id;
}

describe('client ids of any printable ASCII characters, over HTTP', () => {
  it('client_secret_basic with the id and secret form-urlencoded: password grant, then refresh', async () => {
    const authorization = basicHeader(CONFIDENTIAL_ID, secret);
    expect(Buffer.from(authorization.slice('Basic '.length), 'base64').toString()).toMatch(/^acme%3Aweb\+app:/);
    const issued = await postToken(password, authorization);
    expect(issued.status).toBe(200);
    expect(clientIdClaim(issued.body)).toBe(CONFIDENTIAL_ID);

    const refreshed = await postToken(
      { grant_type: 'refresh_token', refresh_token: issued.body.refresh_token! },
      authorization,
    );
    expect(refreshed.status).toBe(200);
    expect(clientIdClaim(refreshed.body)).toBe(CONFIDENTIAL_ID);
    expect(refreshed.body.refresh_token).not.toBe(issued.body.refresh_token);
  });

  it('client_secret_post with the id as the client_id parameter: password grant, then refresh', async () => {
    const client = { client_id: CONFIDENTIAL_ID, client_secret: secret };
    const issued = await postToken({ ...password, ...client });
    expect(issued.status).toBe(200);
    expect(clientIdClaim(issued.body)).toBe(CONFIDENTIAL_ID);

    const refreshed = await postToken({
      grant_type: 'refresh_token',
      refresh_token: issued.body.refresh_token!,
      ...client,
    });
    expect(refreshed.status).toBe(200);
    expect(clientIdClaim(refreshed.body)).toBe(CONFIDENTIAL_ID);
  });

  it('openid-client with client_secret_basic: the library encodes the id, the server decodes it', async () => {
    const config = await openid.discovery(
      new URL(stack.issuer),
      CONFIDENTIAL_ID,
      undefined,
      openid.ClientSecretBasic(secret),
      { algorithm: 'oauth2', execute: [openid.allowInsecureRequests] },
    );
    const tokens = await openid.genericGrantRequest(config, 'password', { username: 'carla', password: PASSWORD });
    audit.tokens(tokens);
    expect(clientIdClaim(tokens)).toBe(CONFIDENTIAL_ID);
    const refreshed = await openid.refreshTokenGrant(config, tokens.refresh_token!);
    audit.tokens(refreshed);
    expect(clientIdClaim(refreshed)).toBe(CONFIDENTIAL_ID);
  });

  it('a public client whose id has quotes, %, +, ~ and a colon: password grant, then refresh', async () => {
    const issued = await postToken({ ...password, scope: 'read', client_id: PUBLIC_ID });
    expect(issued.status).toBe(200);
    expect(clientIdClaim(issued.body)).toBe(PUBLIC_ID);
    const refreshed = await postToken({
      grant_type: 'refresh_token',
      refresh_token: issued.body.refresh_token!,
      client_id: PUBLIC_ID,
    });
    expect(refreshed.status).toBe(200);
    expect(clientIdClaim(refreshed.body)).toBe(PUBLIC_ID);
  });

  it('splits unencoded Basic credentials at the first colon, so the id is not found', async () => {
    const raw = `Basic ${Buffer.from(`${CONFIDENTIAL_ID}:${secret}`).toString('base64')}`;
    audit.secret(raw);
    const response = await postToken(password, raw);
    expect(response).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });

  it.each([
    ['a tab', 'acme:web\tapp'],
    ['a newline', 'acme\n'],
    ['DEL', 'acme\x7f'],
    ['a non-ASCII letter', 'acmé'],
    ['129 characters', 'a'.repeat(129)],
    ['3000 characters', 'a'.repeat(3000)],
  ])('answers a client_id with %s as an unknown client: 401 invalid_client', async (_case, clientId) => {
    const posted = await postToken({ ...password, client_id: clientId });
    expect(posted).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    const basic = await postToken(password, basicHeader(clientId, 'whatever'));
    expect(basic).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });
});
