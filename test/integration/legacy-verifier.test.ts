import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLambdaClient } from '../../lambda/adapters/aws-clients';
import { LambdaLegacyVerifier, LEGACY_VERIFIER_TIMEOUT_MS } from '../../lambda/adapters/legacy-verifier';
import { DynamoUserStore } from '../../lambda/adapters/user-store';
import type { ServiceConfig } from '../../lambda/config';
import { createTokenEndpointDeps } from '../../lambda/handlers/runtime';
import { handleTokenRequest } from '../../lambda/oauth/token-endpoint';
import type { KmsEmulator } from '../../local/kms-emulator';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/state';
import { LEGACY_VERIFIER_ARN } from '../iam/legacy-verifier';
import { documentClient, emulatedServices } from '../support/aws';
import { basic, tokenRequest } from '../support/memory';
import { seed } from '../support/seed';

/**
 * The Lambda adapter of the legacy verifier through the real @aws-sdk/client-lambda, against a stand-in for
 * the Lambda Invoke API (POST /2015-03-31/functions/{FunctionName}/invocations) that runs a verifier the
 * way Lambda runs a function: the event in the body, the handler's result as the body, a thrown error as
 * an error payload with X-Amz-Function-Error. The token function's login goes through it too, with its
 * own role's clients, so the authorization proof (test/iam/) sees the Invoke and the user's creation.
 */
interface Invocation {
  readonly path: string;
  readonly invocationType: string | undefined;
  readonly event: unknown;
}

const invocations: Invocation[] = [];
/** What the stand-in's function does, by password (the legacy system's own rules). */
async function legacyHandler(event: { username: string; password: string }): Promise<unknown> {
  switch (event.password) {
    case 'legacy right':
      return { verified: true, sub: `legacy-${event.username}`, scopes: ['read'] };
    case 'slow':
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      return { verified: true };
    case 'throws':
      throw new Error('LDAP server unreachable');
    case 'malformed':
      return { verified: 'yes' };
    case 'not json':
      return undefined;
    default:
      return { verified: false };
  }
}

let server: Server;
let endpoint: string;

beforeAll(async () => {
  server = createServer(async (request, response) => {
    const body = await read(request);
    const event = JSON.parse(body);
    invocations.push({
      path: decodeURIComponent(request.url ?? ''),
      invocationType: request.headers['x-amz-invocation-type'] as string | undefined,
      event,
    });
    try {
      const result = await legacyHandler(event);
      if (response.destroyed) return;
      response.writeHead(200, { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST' });
      response.end(result === undefined ? 'null-ish' : JSON.stringify(result));
    } catch (error) {
      response.writeHead(200, {
        'content-type': 'application/json',
        'x-amz-executed-version': '$LATEST',
        'x-amz-function-error': 'Unhandled',
      });
      response.end(JSON.stringify({ errorType: 'Error', errorMessage: (error as Error).message }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

function read(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => resolve(body));
    request.on('error', reject);
  });
}

async function verifier(timeoutMs = LEGACY_VERIFIER_TIMEOUT_MS) {
  const lambda = await createLambdaClient({
    region: LOCAL_REGION,
    lambdaEndpoint: endpoint,
    credentials: LOCAL_CREDENTIALS,
    principal: 'token',
    timeoutMs,
  });
  return { lambda, verifier: new LambdaLegacyVerifier(lambda, LEGACY_VERIFIER_ARN, timeoutMs) };
}

const request = (password: string) => ({ username: 'carol', password, clientId: 'app' });

describe('the legacy verifier as a Lambda function', () => {
  it('invokes the function by its ARN, synchronously, with exactly the request as its event', async () => {
    const { lambda, verifier: legacy } = await verifier();
    try {
      invocations.length = 0;
      await expect(legacy.verify(request('legacy right'))).resolves.toEqual({
        verified: true,
        sub: 'legacy-carol',
        scopes: ['read'],
      });
      expect(invocations).toEqual([
        {
          path: `/2015-03-31/functions/${LEGACY_VERIFIER_ARN}/invocations`,
          invocationType: 'RequestResponse',
          event: { username: 'carol', password: 'legacy right', clientId: 'app' },
        },
      ]);
    } finally {
      lambda.destroy();
    }
  });

  it('reads {"verified": false} as not verified', async () => {
    const { lambda, verifier: legacy } = await verifier();
    try {
      await expect(legacy.verify(request('wrong'))).resolves.toEqual({ verified: false });
    } finally {
      lambda.destroy();
    }
  });

  it.each([
    ['a function error (the handler threw)', 'throws', 'LegacyVerifierFunctionError'],
    ['an answer that is not a verdict', 'malformed', 'LegacyVerifierMalformedAnswer'],
    ['an answer that is not JSON', 'not json', 'LegacyVerifierMalformedAnswer'],
  ])('rejects %s as a fault', async (_, password, name) => {
    const { lambda, verifier: legacy } = await verifier();
    try {
      await expect(legacy.verify(request(password))).rejects.toMatchObject({ name });
    } finally {
      lambda.destroy();
    }
  });

  it('gives up on a function that does not answer within the timeout, with one attempt only', async () => {
    const { lambda, verifier: legacy } = await verifier(300);
    try {
      invocations.length = 0;
      const error = await legacy.verify(request('slow')).then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(error).toBeInstanceOf(Error);
      // Waiting out the stand-in's answer: no second attempt came meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 1_700));
      expect(
        invocations.filter((invocation) => (invocation.event as { password: string }).password === 'slow'),
      ).toHaveLength(1);
    } finally {
      lambda.destroy();
    }
  });

  it('is a fault when nothing answers at the endpoint at all', async () => {
    const lambda = await createLambdaClient({
      region: LOCAL_REGION,
      lambdaEndpoint: 'http://127.0.0.1:9',
      credentials: LOCAL_CREDENTIALS,
      timeoutMs: LEGACY_VERIFIER_TIMEOUT_MS,
    });
    try {
      await expect(
        new LambdaLegacyVerifier(lambda, LEGACY_VERIFIER_ARN).verify(request('legacy right')),
      ).rejects.toBeInstanceOf(Error);
    } finally {
      lambda.destroy();
    }
  });
});

describe('lazy migration in the token function, with DynamoDB Local and the KMS emulator', () => {
  let kms: KmsEmulator;
  let config: ServiceConfig;

  beforeAll(async () => {
    ({ kms, config } = await emulatedServices('alias/ropc-token-service/legacy-verifier-test'));
    config = { ...config, legacyVerifierFunctionArn: LEGACY_VERIFIER_ARN };
    const db = documentClient(config.dynamodbEndpoint!);
    try {
      await seed(db, config.tables, { clients: [{ clientId: 'app', secret: 'app-secret' }] });
    } finally {
      db.destroy();
    }
  });

  afterAll(async () => {
    await kms?.stop();
  });

  it('creates the verified user with one conditional write and logs in; the next login reads it', async () => {
    const lines: string[] = [];
    const deps = createTokenEndpointDeps(config, {
      logSink: (line) => lines.push(line),
      credentials: LOCAL_CREDENTIALS,
      lambdaEndpoint: endpoint,
    });
    const login = (username: string, password: string) =>
      handleTokenRequest(
        tokenRequest({ grant_type: 'password', username, password }, { authorization: basic('app', 'app-secret') }),
        deps,
      );
    invocations.length = 0;
    expect((await login('dave', 'legacy right')).status).toBe(200);
    expect((await login('dave', 'legacy right')).status).toBe(200);
    expect(invocations).toHaveLength(1);
    const db = documentClient(config.dynamodbEndpoint!);
    try {
      const users = new DynamoUserStore(db, config.tables.users);
      expect(await users.getUser('dave')).toMatchObject({ userId: 'legacy-dave', scopes: ['read'], disabled: false });
      // The conditional write refuses a second creation: the first one stands.
      const again = await users.createMigratedUser(
        { username: 'dave', userId: 'other', passwordHash: 'x', scopes: [], disabled: false },
        new Date().toISOString(),
      );
      expect(again).toBe('taken');
      expect((await users.getUser('dave'))?.userId).toBe('legacy-dave');
    } finally {
      db.destroy();
    }
    // While a `users import` holds its claim, a verified first login creates no user: a 503, not counted.
    const claimDb = documentClient(config.dynamodbEndpoint!);
    const claimStore = new DynamoUserStore(claimDb, config.tables.users);
    const holder = 'import-in-progress';
    await claimStore.claimImport(holder, Date.now(), Date.now() + 60_000);
    try {
      const paused = await login('grace', 'legacy right');
      expect(paused.status).toBe(503);
      expect(paused.headers['Retry-After']).toBe('5');
      expect(JSON.parse(paused.body)).toMatchObject({ error: 'temporarily_unavailable' });
      expect(await claimStore.getUser('grace')).toBeUndefined();
    } finally {
      await claimStore.releaseImport(holder);
    }
    expect((await login('grace', 'legacy right')).status).toBe(200);
    expect((await claimStore.getUser('grace'))?.userId).toBe('legacy-grace');
    claimDb.destroy();
    expect((await login('erin', 'wrong')).status).toBe(400);
    const fault = await login('frank', 'throws');
    expect(fault.status).toBe(503);
    expect(fault.headers['Retry-After']).toBe('1');
    const events = lines.map((line) => JSON.parse(line) as { event?: string });
    expect(events.filter((line) => line.event === 'user_migrated')).toHaveLength(2);
    expect(events.filter((line) => line.event === 'user_migration_paused')).toHaveLength(1);
    expect(lines.join('\n')).not.toContain('legacy right');
  });
});
