import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { fromProxyEvent } from '../../lambda/handlers/apigw';
import { createJwksHandler } from '../../lambda/handlers/jwks';
import { createMetadataHandler } from '../../lambda/handlers/metadata';
import { createTokenHandler } from '../../lambda/handlers/token';
import { basic, CONFIDENTIAL_SECRET, memoryDeps, memoryLogger, SETTINGS, seed } from '../support/memory';

function event(overrides: Partial<APIGatewayProxyEvent> = {}): APIGatewayProxyEvent {
  return {
    resource: '/token',
    path: '/token',
    httpMethod: 'POST',
    headers: {},
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    requestContext: {
      requestId: 'req-9',
      identity: { sourceIp: '198.51.100.4' },
    } as APIGatewayProxyEvent['requestContext'],
    ...overrides,
  };
}

describe('fromProxyEvent', () => {
  it('decodes a base64 body byte for byte and lower-cases headers', () => {
    const request = fromProxyEvent(
      event({
        body: Buffer.from([0x61, 0x3d, 0xc3, 0xa9]).toString('base64'),
        isBase64Encoded: true,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        multiValueHeaders: { 'Content-Type': ['application/x-www-form-urlencoded'] },
      }),
    );
    expect([...request.body]).toEqual([0x61, 0x3d, 0xc3, 0xa9]);
    expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(request).toMatchObject({ method: 'POST', path: '/token', sourceIp: '198.51.100.4', requestId: 'req-9' });
  });

  it('joins repeated headers so a doubled Authorization cannot pass as one', () => {
    const request = fromProxyEvent(
      event({ multiValueHeaders: { Authorization: ['Basic a', 'Basic b'] }, headers: { Authorization: 'Basic b' } }),
    );
    expect(request.headers.authorization).toBe('Basic a, Basic b');
  });

  it('takes a text body as UTF-8 and a missing one as empty', () => {
    expect(fromProxyEvent(event({ body: 'a=é' })).body.toString('utf8')).toBe('a=é');
    expect(fromProxyEvent(event({ headers: null as never, multiValueHeaders: null as never })).body.length).toBe(0);
  });
});

describe('token handler', () => {
  it('serves a base64-encoded form post end to end', async () => {
    const deps = memoryDeps();
    await seed(deps);
    const body = Buffer.from('grant_type=password&username=alice&password=correct+horse').toString('base64');
    const result = await createTokenHandler(deps)(
      event({
        body,
        isBase64Encoded: true,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basic('app', CONFIDENTIAL_SECRET),
        },
      }),
    );
    expect(result.statusCode).toBe(200);
    expect(result.isBase64Encoded).toBe(false);
    expect(JSON.parse(result.body).token_type).toBe('Bearer');
  });
});

describe('JWKS handler', () => {
  const jwk = { kty: 'RSA', n: 'abc', e: 'AQAB', kid: 'k1', alg: 'RS256', use: 'sig' } as const;
  const handler = createJwksHandler({ publicJwks: async () => [jwk] }, memoryLogger());

  it('serves the keys with max-age and an ETag, and 304 on a match', async () => {
    const first = await handler(event({ httpMethod: 'GET', path: '/.well-known/jwks.json' }));
    expect(first.statusCode).toBe(200);
    expect(JSON.parse(first.body)).toEqual({ keys: [jwk] });
    expect(first.headers).toMatchObject({
      'Cache-Control': 'public, max-age=300',
      'Content-Type': 'application/jwk-set+json',
    });
    const etag = first.headers!.ETag as string;
    const second = await handler(event({ httpMethod: 'GET', headers: { 'If-None-Match': etag } }));
    expect(second.statusCode).toBe(304);
    expect(second.body).toBe('');
  });

  it('answers POST with 405 and Allow: GET', async () => {
    const response = await handler(event({ httpMethod: 'POST' }));
    expect(response.statusCode).toBe(405);
    expect(response.headers!.Allow).toBe('GET');
  });

  it('answers 503 when the key source is unavailable', async () => {
    const { DependencyUnavailableError } = await import('../../lambda/oauth/errors');
    const failing = createJwksHandler(
      { publicJwks: async () => Promise.reject(new DependencyUnavailableError('kms')) },
      memoryLogger(),
    );
    const response = await failing(event({ httpMethod: 'GET' }));
    expect(response.statusCode).toBe(503);
    expect(JSON.parse(response.body).error).toBe('temporarily_unavailable');
  });
});

describe('metadata handler', () => {
  it('serves RFC 8414 metadata derived from the issuer', async () => {
    const response = await createMetadataHandler(
      { ...SETTINGS, issuer: 'https://auth.example.test/prod/' },
      memoryLogger(),
    )(event({ httpMethod: 'GET' }));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toEqual({
      issuer: 'https://auth.example.test/prod/',
      token_endpoint: 'https://auth.example.test/prod/token',
      jwks_uri: 'https://auth.example.test/prod/.well-known/jwks.json',
      revocation_endpoint: 'https://auth.example.test/prod/revoke',
      revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
      grant_types_supported: ['password', 'refresh_token'],
      response_types_supported: [],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
      scopes_supported: ['read', 'write', 'admin'],
    });
  });
});
