import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { configToEnv } from '../../lambda/config';
import { DEFAULT_LIFETIMES, DEFAULT_LOCKOUT_LIMITS } from '../../lambda/oauth/config';
import { localTableNames } from '../../local/bootstrap';
import { LOCAL_REGION } from '../../local/state';
import { FAST_SCRYPT } from '../support/memory';

/**
 * The token function's Lambda entry point as Lambda calls it, (event, context), with DynamoDB and KMS
 * unreachable: every invocation answers 503 and logs dependency_unavailable, so the lines show what the
 * handler adds from the Lambda context, on stdout where Lambda takes them.
 */
const saved = { ...process.env };
// Nothing listens on port 9 (discard): connections are refused at once.
const NOWHERE = 'http://127.0.0.1:9';

beforeAll(() => {
  Object.assign(process.env, {
    ...configToEnv({
      issuer: 'https://auth.example.test',
      defaultAudience: 'api',
      ...DEFAULT_LIFETIMES,
      ...DEFAULT_LOCKOUT_LIMITS,
      scopesSupported: [],
      scrypt: FAST_SCRYPT,
      tables: localTableNames('lambda-logging'),
      signingKeyId: 'alias/ropc-token-service/lambda-logging',
      keyCacheSeconds: 60,
      dynamodbEndpoint: NOWHERE,
      kmsEndpoint: NOWHERE,
    }),
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    SERVICE_NAME: 'ropc-logging-test',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    _X_AMZN_TRACE_ID: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
  });
});

afterAll(() => {
  process.env = saved;
});

function lambdaContext(awsRequestId: string): Context {
  return {
    functionName: 'ropc-logging-test-TokenFunction',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:ropc-logging-test-TokenFunction',
    memoryLimitInMB: '1024',
    awsRequestId,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 10_000,
  } as Context;
}

const PASSWORD = 'correct horse battery staple';

function passwordGrant(apiRequestId: string): APIGatewayProxyEvent {
  return {
    httpMethod: 'POST',
    resource: '/token',
    path: '/token',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    multiValueHeaders: {},
    body: new URLSearchParams({
      grant_type: 'password',
      client_id: 'app',
      username: 'alice',
      password: PASSWORD,
    }).toString(),
    isBase64Encoded: false,
    requestContext: { requestId: apiRequestId, identity: { sourceIp: '203.0.113.9' } },
  } as unknown as APIGatewayProxyEvent;
}

describe('the token function on Lambda', () => {
  it('puts the Lambda request id, function name, cold start and trace id on its log lines, and counts the event', async () => {
    const { handler } = await import('../../lambda/handlers/token');
    const written: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    let statuses: number[];
    try {
      statuses = [];
      for (const [lambdaId, apiId] of [
        ['lambda-1', 'api-1'],
        ['lambda-2', 'api-2'],
      ] as const) {
        statuses.push((await handler(passwordGrant(apiId), lambdaContext(lambdaId))).statusCode);
      }
    } finally {
      write.mockRestore();
    }
    expect(statuses).toEqual([503, 503]);
    const text = written.join('');
    expect(text).not.toContain(PASSWORD);
    const lines = text
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, any>);
    const logged = lines.filter((line) => line.event === 'dependency_unavailable');
    expect(logged).toEqual([
      expect.objectContaining({
        level: 'WARN',
        service: 'ropc-logging-test',
        cold_start: true,
        function_name: 'ropc-logging-test-TokenFunction',
        function_request_id: 'lambda-1',
        xray_trace_id: '1-5759e988-bd862e3fe1be46a994272793',
        requestId: 'api-1',
      }),
      expect.objectContaining({ cold_start: false, function_request_id: 'lambda-2', requestId: 'api-2' }),
    ]);
    const counted = lines.filter((line) => line.dependency_unavailable === 1);
    expect(counted).toHaveLength(2);
    for (const metric of counted)
      expect(metric).toMatchObject({
        service: 'ropc-logging-test',
        _aws: { CloudWatchMetrics: [{ Dimensions: [['service']] }] },
      });
  });
});
