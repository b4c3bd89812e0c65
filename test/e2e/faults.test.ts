import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DynamoDbLocal, startDynamoDbLocal } from '../../local/dynamodb-local';
import { type LocalStack, startLocalStack } from '../../local/stack';
import { LogAudit } from '../support/log-audit';
import { FAST_SCRYPT } from '../support/memory';
import { seedStack } from '../support/seed';

/**
 * Dependency faults against the local stack: KMS throttling and errors through the emulator's fault
 * injection, and DynamoDB Local stopped and restarted between waves of requests. Every answer must be a
 * valid token or a 503, and afterwards every refresh-token family must still work.
 */
const audit = new LogAudit();
let dataDir: string;
let dynamodb: DynamoDbLocal;
let stack: LocalStack;
const SECRET = 'fault-secret';
const USERS = Array.from({ length: 6 }, (_, i) => ({
  username: `user-${i}`,
  password: `password ${i} ${randomUUID()}`,
}));

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'ropc-faults-'));
  dynamodb = await startDynamoDbLocal({ dbPath: dataDir });
  stack = await startLocalStack({
    dynamodbEndpoint: dynamodb.endpoint,
    tablePrefix: 'faults',
    config: { scrypt: FAST_SCRYPT },
    logSink: audit.sink,
  });
  await seedStack(stack, { clients: [{ clientId: 'fault-app', secret: SECRET }], users: USERS });
}, 120_000);

afterAll(() => {
  audit.secret(SECRET, ...USERS.map((user) => user.password));
  audit.expectClean();
});

afterAll(async () => {
  await stack?.stop();
  await dynamodb?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function post(params: Record<string, string>) {
  const response = await fetch(stack.tokenEndpoint, {
    method: 'POST',
    headers: {
      Authorization: `Basic ${Buffer.from(`fault-app:${SECRET}`).toString('base64')}`,
      'Content-Type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams(params),
  });
  const body = (await response.json()) as Record<string, string>;
  audit.tokens(body);
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body };
}

/** One refresh-token family per user; a 503 leaves the family on the token it had. */
const families = new Map<string, string>();

async function wave(): Promise<number[]> {
  const results = await Promise.all(
    USERS.flatMap((user) => [
      post({ grant_type: 'refresh_token', refresh_token: families.get(user.username)! }).then((result) => {
        if (result.status === 200) families.set(user.username, result.body.refresh_token!);
        return result;
      }),
      post({ grant_type: 'password', username: user.username, password: user.password }),
    ]),
  );
  for (const result of results) {
    expect([200, 503]).toContain(result.status);
    if (result.status === 503) {
      expect(result.body.error).toBe('temporarily_unavailable');
      expect(result.retryAfter).toBe('1');
    } else {
      expect(result.body.access_token).toEqual(expect.any(String));
    }
  }
  return results.map((result) => result.status);
}

describe('dependency faults', () => {
  it('answers a token or a 503 through KMS throttling, KMS errors and a DynamoDB outage, and every family survives', async () => {
    for (const user of USERS) {
      const login = await post({ grant_type: 'password', username: user.username, password: user.password });
      expect(login.status).toBe(200);
      families.set(user.username, login.body.refresh_token!);
    }
    expect(await wave()).toEqual(Array(12).fill(200));

    stack.kms.injectFault({ operation: 'Sign', kind: 'throttle' });
    expect(await wave()).toEqual(Array(12).fill(503));
    stack.kms.clearFaults();

    stack.kms.injectFault({ operation: 'Sign', kind: 'internal' });
    expect(await wave()).toEqual(Array(12).fill(503));
    stack.kms.clearFaults();

    // A brief fault is absorbed by the SDK's retries: the client never sees it.
    stack.kms.injectFault({ operation: 'Sign', kind: 'internal', times: 2 });
    expect(await wave()).toEqual(Array(12).fill(200));
    stack.kms.clearFaults();

    const port = dynamodb.port;
    await dynamodb.stop();
    expect(await wave()).toEqual(Array(12).fill(503));
    dynamodb = await startDynamoDbLocal({ dbPath: dataDir, port });

    // Recovered: every family continues from the last token it was given, none was consumed by a 503.
    expect(await wave()).toEqual(Array(12).fill(200));
    const jwks = createRemoteJWKSet(new URL(`${stack.url}/.well-known/jwks.json`));
    for (const user of USERS) {
      const result = await post({ grant_type: 'refresh_token', refresh_token: families.get(user.username)! });
      expect(result.status).toBe(200);
      await jwtVerify(result.body.access_token!, jwks, { issuer: stack.issuer });
    }
  }, 120_000);
});
