import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { fromProxyEvent } from '../../lambda/handlers/apigw';
import { createJwksHandler } from '../../lambda/handlers/jwks';
import { createMetadataHandler } from '../../lambda/handlers/metadata';
import { createTokenHandler } from '../../lambda/handlers/token';
import { InvalidRequestError } from '../../lambda/oauth/errors';
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

function thrown(fn: () => unknown): unknown {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error;
  }
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

  it('refuses to read a header that arrived more than once, in one spelling or in several', () => {
    const request = fromProxyEvent(
      event({
        headers: { Authorization: 'Basic b', 'Content-Type': 'application/x-www-form-urlencoded', 'X-Ok': 'ok' },
        multiValueHeaders: {
          Authorization: ['Basic a', 'Basic b'],
          'Content-Type': ['application/x-www-form-urlencoded'],
          'content-type': ['application/json'],
          'X-Ok': ['ok'],
        },
      }),
    );
    for (const name of ['authorization', 'content-type']) {
      const error = thrown(() => request.headers[name]);
      expect(error, name).toBeInstanceOf(InvalidRequestError);
      expect((error as InvalidRequestError).description).toBe(`header ${name} is repeated`);
    }
    expect(request.headers['x-ok']).toBe('ok');
    // Enumerating the map (a log line, a spread) never throws: the ambiguous headers are not listed.
    expect({ ...request.headers }).toEqual({ 'x-ok': 'ok' });
  });

  it('refuses two spellings of one name in the single-value headers too', () => {
    const request = fromProxyEvent(
      event({ headers: { Authorization: 'Basic a', authorization: 'Basic a' }, multiValueHeaders: {} }),
    );
    expect(() => request.headers.authorization).toThrow(InvalidRequestError);
    expect(() => request.headers.authorization).toThrow('header authorization is repeated');
  });

  it('joins the lines of a list-valued field (RFC 9110 §5.3), in any spelling', () => {
    const request = fromProxyEvent(
      event({
        headers: { Accept: 'text/html', accept: 'application/json', 'X-Forwarded-For': '192.0.2.2' },
        multiValueHeaders: {
          Accept: ['text/html'],
          accept: ['application/json'],
          'X-Forwarded-For': ['192.0.2.1', '192.0.2.2'],
        },
      }),
    );
    expect(request.headers.accept).toBe('text/html, application/json');
    expect(request.headers['x-forwarded-for']).toBe('192.0.2.1, 192.0.2.2');
  });

  it('does not echo odd header names', () => {
    const request = fromProxyEvent(event({ multiValueHeaders: { 'X-<b>': ['1', '2'] } }));
    expect(() => request.headers['x-<b>']).toThrow('header a header is repeated');
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

  describe('headers repeated, or differing only in case, are refused on /token and /revoke', () => {
    const FORM = 'application/x-www-form-urlencoded';
    const BODIES = {
      '/token': 'grant_type=password&username=alice&password=correct+horse',
      '/revoke': 'token=some-refresh-token',
    } as const;
    const SUCCESS = { '/token': 200, '/revoke': 200 } as const;
    /** A REST API proxy event as API Gateway builds it: every header line in multiValueHeaders, the last in headers. */
    function proxyEvent(path: '/token' | '/revoke', lines: [string, string][]): APIGatewayProxyEvent {
      const headers: Record<string, string> = {};
      const multiValueHeaders: Record<string, string[]> = {};
      for (const [name, value] of lines) {
        headers[name] = value;
        (multiValueHeaders[name] ??= []).push(value);
      }
      return event({ resource: path, path, headers, multiValueHeaders, body: BODIES[path] });
    }
    const auth = basic('app', CONFIDENTIAL_SECRET);
    const cases: [string, [string, string][]][] = [
      [
        'Authorization and authorization',
        [
          ['Content-Type', FORM],
          ['Authorization', auth],
          ['authorization', auth],
        ],
      ],
      [
        'two Authorization lines',
        [
          ['Content-Type', FORM],
          ['Authorization', auth],
          ['Authorization', auth],
        ],
      ],
      [
        'Content-Type and content-type',
        [
          ['Content-Type', FORM],
          ['content-type', FORM],
          ['Authorization', auth],
        ],
      ],
    ];

    for (const path of ['/token', '/revoke'] as const) {
      it.each(cases)(`${path}: %s → 400 invalid_request`, async (_name, lines) => {
        const deps = memoryDeps();
        await seed(deps);
        const handler = createTokenHandler(deps);
        const result = await handler(proxyEvent(path, lines));
        expect(result.statusCode).toBe(400);
        expect(JSON.parse(result.body)).toMatchObject({ error: 'invalid_request' });
        expect(JSON.parse(result.body).error_description).toMatch(/^header (authorization|content-type) is repeated$/);
        // The same request with each header once succeeds: the refusal is the repetition's.
        const once = lines.filter(
          ([name], i) => lines.findIndex(([other]) => other.toLowerCase() === name.toLowerCase()) === i,
        );
        expect((await handler(proxyEvent(path, once))).statusCode).toBe(SUCCESS[path]);
      });
    }

    it('/token: two spellings of X-End-User-IP → 400 invalid_request', async () => {
      const deps = memoryDeps();
      await seed(deps);
      const result = await createTokenHandler(deps)(
        proxyEvent('/token', [
          ['Content-Type', FORM],
          ['Authorization', auth],
          ['X-End-User-IP', '203.0.113.7'],
          ['x-end-user-ip', '198.51.100.9'],
        ]),
      );
      expect(result.statusCode).toBe(400);
      expect(JSON.parse(result.body)).toEqual({
        error: 'invalid_request',
        error_description: 'header x-end-user-ip is repeated',
      });
    });
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

  it('matches an ETag sent in one of several If-None-Match lines (a list-valued field)', async () => {
    const etag = (await handler(event({ httpMethod: 'GET' }))).headers!.ETag as string;
    const response = await handler(
      event({
        httpMethod: 'GET',
        headers: { 'If-None-Match': etag },
        multiValueHeaders: { 'If-None-Match': ['"other"'], 'if-none-match': [etag] },
      }),
    );
    expect(response.statusCode).toBe(304);
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
      grant_types_supported: [
        'password',
        'refresh_token',
        'http://auth0.com/oauth/grant-type/mfa-otp',
        'http://auth0.com/oauth/grant-type/mfa-recovery-code',
      ],
      response_types_supported: [],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
      scopes_supported: ['read', 'write', 'admin'],
    });
  });
});
