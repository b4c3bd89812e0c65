import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { CreateKeyCommand, type KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient, createKmsClient, SDK_TIMEOUTS } from '../../lambda/adapters/aws-clients';
import { callDependency } from '../../lambda/adapters/aws-errors';
import { DependencyUnavailableError } from '../../lambda/oauth/errors';
import { type KmsEmulator, startKmsEmulator } from '../../local/kms-emulator';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/state';

/**
 * Left waiting on a dependency that stops answering, a call would last until the token function timed
 * out (10 s by default); each failure here must come well before that (the attempts' timeouts, 6 s, plus a margin for noisy machines).
 */
const WELL_BEFORE_MS = 8_500;

/** A stand-in for DynamoDB on 127.0.0.1 that does whatever `respond` does with each request. */
interface SlowServer {
  readonly endpoint: string;
  /** Requests received: one per attempt. */
  readonly requests: () => number;
  /** Resolves once every connection a client opened has been closed (by the client: this server never closes one). */
  readonly allClosed: () => Promise<void>;
  readonly stop: () => Promise<void>;
}

async function slowServer(respond: (request: IncomingMessage, response: ServerResponse) => void): Promise<SlowServer> {
  let requests = 0;
  const open = new Set<Socket>();
  const server: Server = createServer((request, response) => {
    requests += 1;
    request.resume();
    respond(request, response);
  });
  server.on('connection', (socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests: () => requests,
    allClosed: async () => {
      for (let waited = 0; open.size > 0 && waited < 2_000; waited += 20)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(open.size, 'connections the client left open').toBe(0);
    },
    stop: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Runs `call` through callDependency; the error it rejects with and how long that took. */
async function failure(
  dependency: 'dynamodb' | 'kms',
  call: () => Promise<unknown>,
): Promise<{ error: unknown; elapsedMs: number }> {
  const started = performance.now();
  try {
    await callDependency(dependency, call);
  } catch (error) {
    return { error, elapsedMs: performance.now() - started };
  }
  throw new Error('expected the call to fail');
}

function expectUnavailable(error: unknown, dependency: 'dynamodb' | 'kms'): void {
  expect(error).toBeInstanceOf(DependencyUnavailableError);
  expect((error as DependencyUnavailableError).dependency).toBe(dependency);
  expect(((error as Error).cause as Error).name).toBe('TimeoutError');
}

const getItem = (db: DynamoDBDocumentClient) => () =>
  db.send(new GetCommand({ TableName: 'clients', Key: { clientId: 'app' } }));

describe('the DynamoDB client, against an endpoint that is too slow', () => {
  let server: SlowServer | undefined;
  let db: DynamoDBDocumentClient | undefined;
  const connect = async (respond: Parameters<typeof slowServer>[0]) => {
    server = await slowServer(respond);
    db = createDocumentClient({
      region: LOCAL_REGION,
      dynamodbEndpoint: server.endpoint,
      credentials: LOCAL_CREDENTIALS,
    });
    return { server, db };
  };

  afterEach(async () => {
    db?.destroy();
    await server?.stop();
    db = undefined;
    server = undefined;
  });

  it('aborts every attempt at its request timeout when no answer comes, and reports the dependency unavailable', async () => {
    // Accepts the request and never answers.
    const { server, db } = await connect(() => undefined);
    const { error, elapsedMs } = await failure('dynamodb', getItem(db));
    expectUnavailable(error, 'dynamodb');
    expect(server.requests()).toBe(SDK_TIMEOUTS.maxAttempts);
    expect(elapsedMs).toBeGreaterThanOrEqual(SDK_TIMEOUTS.requestTimeoutMs - 50);
    expect(elapsedMs).toBeLessThan(WELL_BEFORE_MS);
    await server.allClosed();
  });

  it('aborts an attempt whose response stops in the middle of its body', async () => {
    const { server, db } = await connect((_, response) => {
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0', 'content-length': '64' });
      response.write('{"Item":');
    });
    const { error, elapsedMs } = await failure('dynamodb', getItem(db));
    expectUnavailable(error, 'dynamodb');
    expect(server.requests()).toBe(SDK_TIMEOUTS.maxAttempts);
    expect(elapsedMs).toBeLessThan(WELL_BEFORE_MS);
    await server.allClosed();
  });

  it('waits for an answer that comes within the request timeout', async () => {
    const { server, db } = await connect((_, response) => {
      setTimeout(() => {
        response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
        response.end('{"Item":{"clientId":{"S":"app"}}}');
      }, SDK_TIMEOUTS.requestTimeoutMs / 4);
    });
    await expect(callDependency('dynamodb', getItem(db))).resolves.toMatchObject({ Item: { clientId: 'app' } });
    expect(server.requests()).toBe(1);
  });
});

describe('the KMS client, against the emulator with a latency fault', () => {
  let emulator: KmsEmulator;
  let kms: KMSClient;
  let keyId: string;
  const sign = () =>
    kms.send(
      new SignCommand({ KeyId: keyId, Message: Buffer.from('m'), SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' }),
    );

  beforeAll(async () => {
    emulator = await startKmsEmulator({ region: LOCAL_REGION });
    kms = createKmsClient({ region: LOCAL_REGION, kmsEndpoint: emulator.endpoint, credentials: LOCAL_CREDENTIALS });
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' }));
    keyId = KeyMetadata!.KeyId!;
  });

  afterAll(async () => {
    kms?.destroy();
    await emulator?.stop();
  });

  afterEach(() => emulator.clearFaults());

  it('aborts a Sign that KMS holds past the request timeout, then signs again once KMS answers', async () => {
    emulator.injectFault({ operation: 'Sign', kind: 'latency', latencyMs: 60_000 });
    const { error, elapsedMs } = await failure('kms', sign);
    expectUnavailable(error, 'kms');
    expect(elapsedMs).toBeGreaterThanOrEqual(SDK_TIMEOUTS.requestTimeoutMs - 50);
    expect(elapsedMs).toBeLessThan(WELL_BEFORE_MS);

    emulator.clearFaults();
    expect((await callDependency('kms', sign)).Signature).toBeDefined();
  });

  it('retries an attempt held past the request timeout and takes the next answer', async () => {
    emulator.injectFault({ operation: 'Sign', kind: 'latency', latencyMs: 60_000, times: 1 });
    const started = performance.now();
    const signed = await callDependency('kms', sign);
    expect(signed.Signature).toBeDefined();
    expect(signed.$metadata.attempts).toBe(2);
    expect(performance.now() - started).toBeLessThan(WELL_BEFORE_MS);
  });
});
