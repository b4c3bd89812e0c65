import type { APIGatewayProxyEvent } from 'aws-lambda';
import { beforeEach, describe, expect, it } from 'vitest';
import { disableClient, InvalidClientRegistrationError, type NewClient, registerClient } from '../../lambda/accounts';
import { fromProxyEvent } from '../../lambda/handlers/apigw';
import { PREFLIGHT_MAX_AGE_SECONDS } from '../../lambda/oauth/cors';
import type { HttpRequest, HttpResponse } from '../../lambda/oauth/http';
import { MAX_ALLOWED_ORIGINS, normalizeOrigin, parseOrigin } from '../../lambda/oauth/origin';
import { handleRevocationRequest } from '../../lambda/oauth/revocation-endpoint';
import { handleTokenRequest } from '../../lambda/oauth/token-endpoint';
import { basic, type MemoryDeps, memoryDeps, seed, tokenRequest } from '../support/memory';

const APP_ORIGIN = 'https://app.example.test';
const DEV_ORIGIN = 'http://localhost:5173';
const SPA_SECRETLESS: NewClient = {
  clientId: 'spa',
  isPublic: true,
  scopes: ['read'],
  grantTypes: ['password', 'refresh_token'],
};
const BROWSER_SECRET = 'browser-secret';

let deps: MemoryDeps;
beforeEach(async () => {
  deps = memoryDeps();
  await seed(deps);
  const ports = { clients: deps.clients, clock: deps.clock, random: { bytes: () => new Uint8Array(32) } };
  await registerClient(ports, { ...SPA_SECRETLESS, allowedOrigins: [APP_ORIGIN, DEV_ORIGIN] });
  await registerClient(ports, { ...SPA_SECRETLESS, clientId: 'spa-off', allowedOrigins: [APP_ORIGIN] });
  await disableClient(ports, 'spa-off');
  await registerClient(ports, {
    ...SPA_SECRETLESS,
    clientId: 'web',
    isPublic: false,
    secret: BROWSER_SECRET,
    allowedOrigins: [APP_ORIGIN],
  });
});

const login = { grant_type: 'password', username: 'alice', password: 'correct horse' };
const token = (params: Record<string, string>, headers: Record<string, string> = {}) =>
  handleTokenRequest(tokenRequest(params, { headers }), deps);
const revoke = (params: Record<string, string>, headers: Record<string, string> = {}) =>
  handleRevocationRequest({ ...tokenRequest(params, { headers }), path: '/revoke' }, deps);
const json = (response: HttpResponse) => JSON.parse(response.body) as Record<string, unknown>;

/** The response's CORS headers (Access-Control-*), by name. */
function corsHeaders(response: HttpResponse): Record<string, string> {
  return Object.fromEntries(Object.entries(response.headers).filter(([name]) => /^access-control-/i.test(name)));
}

function expectAllowed(response: HttpResponse, origin: string) {
  expect(corsHeaders(response)).toEqual({
    'Access-Control-Allow-Origin': origin,
    'Access-Control-Expose-Headers': 'WWW-Authenticate, Retry-After',
  });
  expect(response.headers.Vary).toBe('Origin');
}

function expectNoCors(response: HttpResponse) {
  expect(corsHeaders(response)).toEqual({});
}

/** A request as API Gateway delivers it, with the given header lines (a name may repeat). */
function proxied(method: string, path: string, lines: [string, string][], body = ''): HttpRequest {
  const multiValueHeaders: Record<string, string[]> = {};
  const headers: Record<string, string> = {};
  for (const [name, value] of lines) {
    (multiValueHeaders[name] ??= []).push(value);
    headers[name] = value;
  }
  return fromProxyEvent({
    resource: path,
    path,
    httpMethod: method,
    headers,
    multiValueHeaders,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body,
    isBase64Encoded: false,
    requestContext: { requestId: 'req-cors', identity: { sourceIp: '198.51.100.4' } },
  } as unknown as APIGatewayProxyEvent);
}

describe('allowed origins', () => {
  it.each([
    ['https://app.example.test', 'https://app.example.test'],
    ['https://App.Example.TEST', 'https://app.example.test'],
    ['HTTPS://app.example.test:443', 'https://app.example.test'],
    ['https://app.example.test:8443', 'https://app.example.test:8443'],
    ['https://bücher.example', 'https://xn--bcher-kva.example'],
    ['https://203.0.113.5', 'https://203.0.113.5'],
    ['https://my_host.example.test', 'https://my_host.example.test'],
    ['http://localhost:5173', 'http://localhost:5173'],
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
    ['http://[::1]:3000', 'http://[::1]:3000'],
    ['http://LOCALHOST', 'http://localhost'],
  ])('accepts %s as %s', (value, origin) => {
    expect(parseOrigin(value)).toEqual({ origin });
    expect(normalizeOrigin(origin)).toBe(origin);
  });

  it.each([
    ['', /empty/],
    ['app.example.test', /not scheme:\/\/host/],
    ['https://app.example.test/', /no path/],
    ['https://app.example.test/login', /no path/],
    ['https://app.example.test?x=1', /no path, query or fragment/],
    ['https://app.example.test#top', /no path, query or fragment/],
    ['https://user:pw@app.example.test', /not scheme:\/\/host/],
    ['http://app.example.test', /only for localhost/],
    ['http://192.168.1.10:8080', /only for localhost/],
    ['ftp://app.example.test', /the scheme is ftp/],
    ['null', /not scheme:\/\/host/],
    ['*', /not scheme:\/\/host/],
    ['https://*.example.test', /not a domain name/],
    ['https://app..example.test', /not a domain name/],
    ['https://app.example.test.', /not a domain name/],
    ['https://app.example.test:99999', /malformed/],
    ['https://app example.test', /whitespace/],
    [' https://app.example.test', /whitespace/],
    ['https://app.example.test\n', /whitespace/],
    ['https://app.exa\tmple.test', /whitespace/],
    ['https://app.example.test\u0007', /control/],
    ['https://app.exa\u200bmple.test', /format character/],
    [`https://${'a'.repeat(300)}.test`, /longer than 300/],
  ])('refuses %j', (value, problem) => {
    const parsed = parseOrigin(value);
    expect(parsed).toEqual({ problem: expect.stringMatching(problem) });
    expect(normalizeOrigin(value)).toBeUndefined();
  });
});

describe('registerClient: allowedOrigins', () => {
  const ports = () => ({ clients: deps.clients, clock: deps.clock, random: { bytes: () => new Uint8Array(32) } });

  it('stores the origins in their serialization, duplicates dropped, in the order given', async () => {
    await registerClient(ports(), {
      ...SPA_SECRETLESS,
      clientId: 'listed',
      allowedOrigins: ['https://B.example.test', 'https://a.example.test:443', 'https://b.example.test'],
    });
    expect(deps.clients.clients.get('listed')?.allowedOrigins).toEqual([
      'https://b.example.test',
      'https://a.example.test',
    ]);
  });

  it('stores nothing when the client lists no origin', async () => {
    await registerClient(ports(), { ...SPA_SECRETLESS, clientId: 'none', allowedOrigins: [] });
    await registerClient(ports(), { ...SPA_SECRETLESS, clientId: 'absent' });
    expect(deps.clients.clients.get('none')).not.toHaveProperty('allowedOrigins');
    expect(deps.clients.clients.get('absent')).not.toHaveProperty('allowedOrigins');
  });

  it(`accepts ${MAX_ALLOWED_ORIGINS} origins`, async () => {
    const allowedOrigins = Array.from({ length: MAX_ALLOWED_ORIGINS }, (_, i) => `https://app${i}.example.test`);
    await registerClient(ports(), { ...SPA_SECRETLESS, clientId: 'many', allowedOrigins });
    expect(deps.clients.clients.get('many')?.allowedOrigins).toEqual(allowedOrigins);
  });

  it.each<[string, string[], RegExp]>([
    ['a URL with a path', ['https://app.example.test/'], /"https:\/\/app\.example\.test\/" is not an allowed origin/],
    ['plain http on a public host', ['http://app.example.test'], /use https/],
    [
      `more than ${MAX_ALLOWED_ORIGINS} origins`,
      Array.from({ length: MAX_ALLOWED_ORIGINS + 1 }, (_, i) => `https://app${i}.example.test`),
      /at most 20 allowed origins, got 21/,
    ],
  ])('refuses %s and registers nothing', async (_case, allowedOrigins, message) => {
    const error = await registerClient(ports(), { ...SPA_SECRETLESS, clientId: 'bad', allowedOrigins }).catch(
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(InvalidClientRegistrationError);
    expect((error as Error).message).toMatch(message);
    expect(deps.clients.clients.has('bad')).toBe(false);
  });
});

describe('POST /token: CORS', () => {
  it('echoes an origin the client lists on the token response, with Vary: Origin, never * or credentials', async () => {
    const response = await token({ ...login, client_id: 'spa' }, { origin: APP_ORIGIN });
    expect(response.status).toBe(200);
    expect(json(response).access_token).toEqual(expect.any(String));
    expectAllowed(response, APP_ORIGIN);
    expect(response.headers['Cache-Control']).toBe('no-store');
    expect(response.headers).not.toHaveProperty('Access-Control-Allow-Credentials');
  });

  it('echoes each origin the client lists, http on localhost included', async () => {
    expectAllowed(await token({ ...login, client_id: 'spa' }, { origin: DEV_ORIGIN }), DEV_ORIGIN);
  });

  it('matches the origin after normalization and echoes its serialization', async () => {
    const response = await token({ ...login, client_id: 'spa' }, { origin: 'https://APP.example.test:443' });
    expectAllowed(response, APP_ORIGIN);
  });

  it('lets the page read an error once the client is known: invalid_grant, unsupported_grant_type, invalid_scope', async () => {
    const wrong = await token({ ...login, password: 'wrong', client_id: 'spa' }, { origin: APP_ORIGIN });
    expect(wrong.status).toBe(400);
    expect(json(wrong).error).toBe('invalid_grant');
    expectAllowed(wrong, APP_ORIGIN);
    const unsupported = await token({ grant_type: 'client_credentials', client_id: 'spa' }, { origin: APP_ORIGIN });
    expect(json(unsupported).error).toBe('unsupported_grant_type');
    expectAllowed(unsupported, APP_ORIGIN);
    const scope = await token({ ...login, scope: 'admin', client_id: 'spa' }, { origin: APP_ORIGIN });
    expect(json(scope).error).toBe('invalid_scope');
    expectAllowed(scope, APP_ORIGIN);
  });

  it('gives an origin the client does not list no CORS headers, and the same answer otherwise', async () => {
    for (const origin of [
      'https://evil.example.test',
      'http://app.example.test',
      'null',
      'https://app.example.test/',
    ]) {
      const response = await token({ ...login, client_id: 'spa' }, { origin });
      expect(response.status, origin).toBe(200);
      expectNoCors(response);
      expect(response.headers.Vary).toBe('Origin');
    }
  });

  it('adds nothing to a request without an Origin', async () => {
    const response = await token({ ...login, client_id: 'spa' });
    expect(response.status).toBe(200);
    expectNoCors(response);
    expect(response.headers).not.toHaveProperty('Vary');
  });

  it('gives a client that lists no origin no CORS headers', async () => {
    const response = await token({ ...login, client_id: 'mobile' }, { origin: APP_ORIGIN });
    expect(response.status).toBe(200);
    expectNoCors(response);
  });

  it('lets a listed origin read invalid_client of a client that exists and lists it: wrong secret, disabled', async () => {
    const wrongSecret = await handleTokenRequest(
      tokenRequest(login, { authorization: basic('web', 'not the secret'), headers: { origin: APP_ORIGIN } }),
      deps,
    );
    expect(wrongSecret.status).toBe(401);
    expect(wrongSecret.headers['WWW-Authenticate']).toMatch(/^Basic /);
    expectAllowed(wrongSecret, APP_ORIGIN);
    const disabled = await token({ ...login, client_id: 'spa-off' }, { origin: APP_ORIGIN });
    expect(disabled.status).toBe(401);
    expect(json(disabled)).toEqual(json(wrongSecret));
    expectAllowed(disabled, APP_ORIGIN);
  });

  it('gives no CORS headers when the request names no registered client', async () => {
    const unknown = await token({ ...login, client_id: 'nobody' }, { origin: APP_ORIGIN });
    expect(unknown.status).toBe(401);
    expectNoCors(unknown);
    const anonymous = await token(login, { origin: APP_ORIGIN });
    expect(anonymous.status).toBe(401);
    expectNoCors(anonymous);
    const malformedId = await token({ ...login, client_id: 'x'.repeat(200) }, { origin: APP_ORIGIN });
    expect(malformedId.status).toBe(401);
    expectNoCors(malformedId);
  });

  it('gives no CORS headers to a request refused before its client is looked up', async () => {
    const noGrant = await token({ client_id: 'spa' }, { origin: APP_ORIGIN });
    expect(json(noGrant).error).toBe('invalid_request');
    expectNoCors(noGrant);
    const notForm = await handleTokenRequest(
      tokenRequest(
        { ...login, client_id: 'spa' },
        { contentType: 'application/json', headers: { origin: APP_ORIGIN } },
      ),
      deps,
    );
    expect(json(notForm).error).toBe('invalid_request');
    expectNoCors(notForm);
  });

  it('answers a repeated Origin with 400 invalid_request and no CORS headers, never a 5xx', async () => {
    const body = new URLSearchParams({ ...login, client_id: 'spa' }).toString();
    for (const lines of [
      [
        ['Origin', APP_ORIGIN],
        ['Origin', APP_ORIGIN],
      ],
      [
        ['Origin', APP_ORIGIN],
        ['origin', 'https://evil.example.test'],
      ],
    ] as [string, string][][]) {
      const request = proxied(
        'POST',
        '/token',
        [['Content-Type', 'application/x-www-form-urlencoded'], ...lines],
        body,
      );
      for (const handle of [handleTokenRequest, handleRevocationRequest]) {
        const response = await handle({ ...request, path: handle === handleTokenRequest ? '/token' : '/revoke' }, deps);
        expect(response.status).toBe(400);
        expect(json(response)).toEqual({ error: 'invalid_request', error_description: 'header origin is repeated' });
        expectNoCors(response);
      }
    }
    expect(deps.logger.entries.filter((entry) => entry.level === 'ERROR')).toEqual([]);
  });
});

describe('POST /revoke: CORS', () => {
  it('echoes an origin the client lists on the 200, and on a refusal once the client is known', async () => {
    const ok = await revoke({ token: 'unknown-token', client_id: 'spa' }, { origin: APP_ORIGIN });
    expect(ok.status).toBe(200);
    expectAllowed(ok, APP_ORIGIN);
    const missing = await revoke({ client_id: 'spa' }, { origin: APP_ORIGIN });
    expect(json(missing).error).toBe('invalid_request');
    expectAllowed(missing, APP_ORIGIN);
  });

  it('revokes a token a browser app holds, and lets it read the answer', async () => {
    const issued = await token({ ...login, client_id: 'spa' }, { origin: APP_ORIGIN });
    const refreshToken = String(json(issued).refresh_token);
    expectAllowed(await revoke({ token: refreshToken, client_id: 'spa' }, { origin: APP_ORIGIN }), APP_ORIGIN);
    const after = await token({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'spa' });
    expect(json(after).error).toBe('invalid_grant');
  });

  it('gives other origins and unknown clients no CORS headers', async () => {
    expectNoCors(await revoke({ token: 'x', client_id: 'spa' }, { origin: 'https://evil.example.test' }));
    expectNoCors(await revoke({ token: 'x', client_id: 'nobody' }, { origin: APP_ORIGIN }));
    expectNoCors(await revoke({ token: 'x', client_id: 'spa' }));
  });
});

describe('OPTIONS: the CORS preflight', () => {
  const preflight = (path: '/token' | '/revoke', headers: Record<string, string>) => {
    const request: HttpRequest = { ...tokenRequest({}, { method: 'OPTIONS', headers }), path, body: Buffer.alloc(0) };
    return path === '/token' ? handleTokenRequest(request, deps) : handleRevocationRequest(request, deps);
  };

  it.each(['/token', '/revoke'] as const)(
    'answers %s 204 for a POST from an origin a client could list, without reading any client',
    async (path) => {
      const lookups: string[] = [];
      const getClient = deps.clients.getClient.bind(deps.clients);
      deps.clients.getClient = (clientId) => {
        lookups.push(clientId);
        return getClient(clientId);
      };
      const response = await preflight(path, {
        origin: APP_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      });
      expect(response).toEqual({
        status: 204,
        headers: {
          'Access-Control-Allow-Origin': APP_ORIGIN,
          'Access-Control-Allow-Methods': 'POST',
          'Access-Control-Allow-Headers': 'Authorization, Content-Type',
          'Access-Control-Max-Age': String(PREFLIGHT_MAX_AGE_SECONDS),
          Vary: 'Origin',
        },
        body: '',
      });
      expect(lookups).toEqual([]);
    },
  );

  it('answers with the origin in its serialization', async () => {
    const response = await preflight('/token', {
      origin: 'https://APP.example.test:443',
      'access-control-request-method': 'POST',
    });
    expect(response.headers['Access-Control-Allow-Origin']).toBe(APP_ORIGIN);
  });

  it.each([
    ['without an Origin', { 'access-control-request-method': 'POST' }],
    ['without Access-Control-Request-Method (not a preflight)', { origin: APP_ORIGIN }],
    ['for a method other than POST', { origin: APP_ORIGIN, 'access-control-request-method': 'PUT' }],
    [
      'from an origin no client could list',
      { origin: 'http://evil.example.test', 'access-control-request-method': 'POST' },
    ],
    ['from the opaque origin "null"', { origin: 'null', 'access-control-request-method': 'POST' }],
  ])('refuses OPTIONS %s as any method but POST: 405, Allow: POST, no CORS headers', async (_case, headers) => {
    for (const path of ['/token', '/revoke'] as const) {
      const response = await preflight(path, headers);
      expect(response.status).toBe(405);
      expect(response.headers.Allow).toBe('POST');
      expect(json(response).error).toBe('method_not_allowed');
      expectNoCors(response);
    }
  });

  it('answers a preflight with a repeated Origin or Access-Control-Request-Method with 400 invalid_request', async () => {
    for (const lines of [
      [
        ['Origin', APP_ORIGIN],
        ['Origin', APP_ORIGIN],
        ['Access-Control-Request-Method', 'POST'],
      ],
      [
        ['Origin', APP_ORIGIN],
        ['Access-Control-Request-Method', 'POST'],
        ['Access-Control-Request-Method', 'POST'],
      ],
    ] as [string, string][][]) {
      const response = await handleTokenRequest(proxied('OPTIONS', '/token', lines), deps);
      expect(response.status).toBe(400);
      expect(json(response).error).toBe('invalid_request');
      expectNoCors(response);
    }
  });

  it('keeps 405 with Allow: POST for every other method, with or without an Origin', async () => {
    for (const method of ['GET', 'PUT', 'DELETE', 'PATCH', 'HEAD']) {
      const response = await handleTokenRequest(
        tokenRequest({ ...login, client_id: 'spa' }, { method, headers: { origin: APP_ORIGIN } }),
        deps,
      );
      expect(response.status, method).toBe(405);
      expect(response.headers.Allow).toBe('POST');
      expectNoCors(response);
    }
  });
});
