import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { HttpRequest, HttpResponse } from '../../lambda/oauth/http';
import type { RefreshToken } from '../../lambda/oauth/ports';
import { handleRevocationRequest } from '../../lambda/oauth/revocation-endpoint';
import { handleTokenRequest } from '../../lambda/oauth/token-endpoint';
import { hashRefreshToken } from '../../lambda/tokens/refresh-token';
import { basic, CONFIDENTIAL_SECRET, type MemoryDeps, memoryDeps, seed } from '../support/memory';

/**
 * Property-based tests of request validation (issue 5): whatever a client sends to the token or the
 * revocation endpoint, the answer is a well-formed RFC 6749 §5 / RFC 7009 response, never a 5xx, never
 * a thrown exception, and never carries the password or the client secret it was sent.
 */
const FORM = 'application/x-www-form-urlencoded';
const ALICE_PASSWORD = 'correct horse';
const BOB_PASSWORD = 'bob password';

/** Errors a 400 may carry (RFC 6749 §5.2, RFC 7009 §2.2.1). */
const ERRORS_400 = new Set([
  'invalid_request',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'unsupported_token_type',
]);
/** RFC 6749 §5.2: error and error_description use %x20-21 / %x23-5B / %x5D-7E only. */
const ERROR_TEXT = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const TOKEN_RESPONSE_KEYS = new Set(['access_token', 'token_type', 'expires_in', 'refresh_token', 'scope']);

type Endpoint = 'token' | 'revoke';

/** Refresh tokens seeded in every run, in each state a grant or a revocation can meet. */
const REFRESH_TOKENS = {
  appActive: 'rt-app-active-0000000000000000000000000000',
  appRotated: 'rt-app-rotated-000000000000000000000000000',
  appRevoked: 'rt-app-revoked-000000000000000000000000000',
  appExpired: 'rt-app-expired-000000000000000000000000000',
  mobileActive: 'rt-mobile-active-0000000000000000000000000',
  refreshOnlyActive: 'rt-refresh-only-active-0000000000000000000',
  bobActive: 'rt-bob-active-00000000000000000000000000000',
  ghostActive: 'rt-ghost-active-0000000000000000000000000000',
};

/** Client and user records are seeded once (the password hashes cost scrypt runs); each run gets fresh stores. */
let template: MemoryDeps;
beforeAll(async () => {
  template = memoryDeps();
  await seed(template);
});

function freshDeps(): MemoryDeps {
  const deps = memoryDeps();
  for (const [id, client] of template.clients.clients) deps.clients.clients.set(id, client);
  for (const [name, user] of template.users.users) deps.users.users.set(name, user);
  const now = Math.floor(deps.clock() / 1000);
  const record = (token: string, overrides: Partial<RefreshToken>): RefreshToken => ({
    tokenHash: hashRefreshToken(token),
    familyId: `family-${token}`,
    clientId: 'app',
    userId: 'u-alice',
    username: 'alice',
    scope: ['read', 'write'],
    generation: 0,
    issuedAt: now - 60,
    idleExpiresAt: now + 3600,
    familyExpiresAt: now + 7200,
    state: 'active',
    ...overrides,
  });
  const records = [
    record(REFRESH_TOKENS.appActive, {}),
    record(REFRESH_TOKENS.appRotated, {
      state: 'rotated',
      successorHash: hashRefreshToken(REFRESH_TOKENS.appActive),
      familyId: `family-${REFRESH_TOKENS.appActive}`,
    }),
    record(REFRESH_TOKENS.appRevoked, { state: 'revoked' }),
    record(REFRESH_TOKENS.appExpired, { idleExpiresAt: now - 1 }),
    record(REFRESH_TOKENS.mobileActive, { clientId: 'mobile', scope: ['read'] }),
    record(REFRESH_TOKENS.refreshOnlyActive, { clientId: 'refresh-only', scope: ['read'] }),
    record(REFRESH_TOKENS.bobActive, { userId: 'u-bob', username: 'bob', scope: ['read'] }),
    record(REFRESH_TOKENS.ghostActive, { userId: 'u-ghost', username: 'ghost', scope: ['read'] }),
  ];
  for (const r of records) deps.refreshTokens.tokens.set(r.tokenHash, r);
  return deps;
}

// ---------------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------------

/** Values that must never come back: each carries a marker, so finding it in a body is never a fluke. */
const secretValue = (marker: string) => fc.string({ unit: 'binary', maxLength: 12 }).map((rest) => `${marker}${rest}`);
const junk = fc.oneof(
  fc.string({ maxLength: 16 }),
  fc.string({ unit: 'binary', maxLength: 16 }),
  fc.constantFrom(
    ' ',
    '+',
    '%',
    '\uFEFF',
    '\u0000',
    '"',
    '\\',
    'null',
    'undefined',
    '__proto__',
    'constructor',
    'x'.repeat(2000),
  ),
);

const clientId = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('app', 'mobile', 'no-refresh', 'refresh-only', 'off', 'nobody') },
  { weight: 1, arbitrary: junk },
);
const clientSecret = fc.oneof(
  { weight: 3, arbitrary: fc.constant(CONFIDENTIAL_SECRET) },
  { weight: 2, arbitrary: secretValue('cs-marker-') },
);
const password = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(ALICE_PASSWORD, BOB_PASSWORD) },
  { weight: 2, arbitrary: secretValue('pw-marker-') },
);
const PARAM_VALUES: Record<string, fc.Arbitrary<string>> = {
  grant_type: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('password', 'refresh_token') },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        'authorization_code',
        'client_credentials',
        'Password',
        'password ',
        'urn:ietf:params:oauth:grant-type:jwt-bearer',
        'hasOwnProperty',
      ),
    },
    { weight: 1, arbitrary: junk },
  ),
  username: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('alice', 'bob', 'carol', 'ALICE', 'alice ') },
    { weight: 1, arbitrary: junk },
  ),
  password,
  client_id: clientId,
  client_secret: clientSecret,
  scope: fc.oneof(
    {
      weight: 4,
      arbitrary: fc.constantFrom(
        'read',
        'write',
        'read write',
        'admin',
        'read  read',
        ' read ',
        'write admin',
        'delete',
      ),
    },
    { weight: 1, arbitrary: fc.constantFrom('a"b', 'a\\b', '\u00e9', 'read\twrite') },
    { weight: 1, arbitrary: junk },
  ),
  refresh_token: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...Object.values(REFRESH_TOKENS)) },
    { weight: 1, arbitrary: junk },
  ),
  token: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...Object.values(REFRESH_TOKENS)) },
    { weight: 1, arbitrary: junk },
  ),
  token_type_hint: fc.oneof(fc.constantFrom('refresh_token', 'access_token', 'id_token'), junk),
};
const paramName = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...Object.keys(PARAM_VALUES)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'Grant_Type',
      'grant_type ',
      'client_id[]',
      '__proto__',
      'constructor',
      'toString',
      'code',
      'redirect_uri',
    ),
  },
  { weight: 1, arbitrary: junk },
);
const param = paramName.chain((name) =>
  fc.tuple(fc.constant(name), (Object.hasOwn(PARAM_VALUES, name) ? PARAM_VALUES[name] : undefined) ?? junk),
);

type Encoding = 'urlsearchparams' | 'component' | 'raw';
function encodeForm(params: readonly (readonly [string, string])[], encoding: Encoding): Buffer {
  if (encoding === 'urlsearchparams')
    return Buffer.from(new URLSearchParams(params.map(([n, v]): [string, string] => [n, v])).toString());
  const encode = encoding === 'component' ? encodeURIComponent : (value: string) => value;
  return Buffer.from(params.map(([n, v]) => `${encode(n)}=${encode(v)}`).join('&'), 'utf8');
}

interface Generated {
  readonly request: HttpRequest;
  /** Passwords and client secrets this request carries, which no response may echo. */
  readonly secrets: readonly string[];
}

const base64 = (value: Uint8Array | string) => Buffer.from(value).toString('base64');
const authorization = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  {
    weight: 4,
    arbitrary: fc.tuple(clientId, clientSecret).map(([id, secret]) => ({ header: basic(id, secret), secret })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom('Basic', 'basic', 'BASIC', 'Basic  ', 'Bearer', 'Digest', 'Basic\t', ''),
        fc.constantFrom(' ', '', '  '),
        fc.constantFrom('', ' ', '=', '=='),
      )
      .chain(([scheme, gap, tail]) =>
        fc.oneof(
          fc.constant(`${scheme}${gap}${base64(`app:${CONFIDENTIAL_SECRET}`)}${tail}`),
          fc.uint8Array({ maxLength: 64 }).map((bytes) => `${scheme}${gap}${base64(bytes)}${tail}`),
          fc
            .constantFrom('app', 'app:', ':x', ':', 'a%zz:b', 'a:%C3', '%FF:x', 'app:%EF%BB%BF')
            .map((text) => `${scheme}${gap}${base64(text)}${tail}`),
          fc.string({ maxLength: 40 }).map((text) => `${scheme}${gap}${text}`),
        ),
      ),
  },
  { weight: 1, arbitrary: fc.oneof(junk, fc.constant(`Basic ${'QUJD'.repeat(3000)}`)) },
);

const contentType = fc.oneof(
  { weight: 12, arbitrary: fc.constant(FORM) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      `${FORM}; charset=UTF-8`,
      `${FORM};charset="utf8"`,
      'APPLICATION/X-WWW-FORM-URLENCODED',
      ` ${FORM} ; q=1`,
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      `${FORM}; charset=latin1`,
      'application/json',
      'text/plain',
      'multipart/form-data; boundary=x',
      '',
      `${FORM}x`,
    ),
  },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: junk },
);

const method = fc.oneof(
  { weight: 10, arbitrary: fc.constant('POST') },
  { weight: 2, arbitrary: fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'post', 'Post') },
  { weight: 1, arbitrary: junk },
);

const body = fc.oneof(
  {
    weight: 10,
    arbitrary: fc
      .tuple(
        fc.array(param, { maxLength: 8 }),
        fc.constantFrom<Encoding>('urlsearchparams', 'urlsearchparams', 'component', 'raw'),
      )
      .map(([params, encoding]) => ({ body: encodeForm(params, encoding), params })),
  },
  {
    weight: 1,
    arbitrary: fc
      .uint8Array({ maxLength: 200 })
      .map((bytes) => ({ body: Buffer.from(bytes), params: [] as [string, string][] })),
  },
  {
    weight: 1,
    arbitrary: fc
      .array(
        fc.constantFrom(
          'grant_type',
          'password',
          'refresh_token',
          '=',
          '&',
          '%',
          '%2',
          '%zz',
          '+',
          'alice',
          'app',
          'client_id',
          '%EF%BB%BF',
          '%C3',
        ),
        { maxLength: 30 },
      )
      .map((parts) => ({ body: Buffer.from(parts.join('')), params: [] as [string, string][] })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.array(param, { maxLength: 4 }), fc.integer({ min: 16 * 1024 - 64, max: 20 * 1024 }))
      .map(([params, size]) => {
        const start = encodeForm(params, 'urlsearchparams');
        return {
          body: Buffer.concat([start, Buffer.from('&pad='), Buffer.alloc(Math.max(0, size - start.length - 5), 0x61)]),
          params,
        };
      }),
  },
);

const extraHeaders = fc.record(
  {
    'x-end-user-ip': fc.oneof(fc.constantFrom('198.51.100.7', '::1', '::ffff:10.0.0.1', 'not an ip', ''), junk),
    'x-forwarded-for': fc.constantFrom('203.0.113.9', '1.2.3.4, 5.6.7.8'),
    accept: fc.constantFrom('application/json', '*/*', 'text/html'),
  },
  { requiredKeys: [] },
);

type Auth = { header: string; secret: string } | string | undefined;

/**
 * A request that is mostly right: a real grant (or token) with client authentication in one of the
 * ways a client may present it, drawn from the seeded clients, users and tokens, plus a little junk.
 * These reach the deep paths (scrypt, signing, rotation, revocation) that chaotic requests rarely do.
 */
function coherent(endpoint: Endpoint): fc.Arbitrary<{ params: [string, string][]; auth: Auth }> {
  const grantParams: fc.Arbitrary<[string, string][]> =
    endpoint === 'revoke'
      ? fc
          .tuple(PARAM_VALUES.token!, fc.option(PARAM_VALUES.token_type_hint!))
          .map(([token, hint]): [string, string][] => [
            ['token', token],
            ...(hint === null ? [] : ([['token_type_hint', hint]] as [string, string][])),
          ])
      : fc.oneof(
          fc
            .tuple(fc.constantFrom('alice', 'alice', 'bob', 'carol'), password, fc.option(PARAM_VALUES.scope!))
            .map(([username, pw, scope]): [string, string][] => [
              ['grant_type', 'password'],
              ['username', username],
              ['password', pw],
              ...(scope === null ? [] : ([['scope', scope]] as [string, string][])),
            ]),
          fc
            .tuple(PARAM_VALUES.refresh_token!, fc.option(PARAM_VALUES.scope!))
            .map(([token, scope]): [string, string][] => [
              ['grant_type', 'refresh_token'],
              ['refresh_token', token],
              ...(scope === null ? [] : ([['scope', scope]] as [string, string][])),
            ]),
          PARAM_VALUES.grant_type!.map((grant): [string, string][] => [
            ['grant_type', grant],
            ['username', 'alice'],
            ['password', ALICE_PASSWORD],
          ]),
        );
  // Mostly a client presenting itself the way it is registered to, sometimes any combination.
  const presentation = fc.oneof(
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        { method: 'basic', id: 'app', secret: CONFIDENTIAL_SECRET },
        { method: 'post', id: 'app', secret: CONFIDENTIAL_SECRET },
        { method: 'none', id: 'mobile', secret: '' },
        { method: 'none', id: 'no-refresh', secret: '' },
        { method: 'none', id: 'refresh-only', secret: '' },
      ),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        method: fc.constantFrom('basic', 'post', 'none', 'basic+post', 'basic+id', 'nothing'),
        id: clientId,
        secret: clientSecret,
      }),
    },
  );
  return fc
    .record({ grant: grantParams, client: presentation, extras: fc.array(param, { maxLength: 2 }), order: fc.nat() })
    .map(({ grant, client: { method, id, secret }, extras, order }) => {
      const params: [string, string][] = [...grant];
      let auth: Auth;
      if (method === 'basic' || method === 'basic+post' || method === 'basic+id')
        auth = { header: basic(id, secret), secret };
      if (method === 'post' || method === 'basic+post') params.push(['client_id', id], ['client_secret', secret]);
      if (method === 'none' || method === 'basic+id') params.push(['client_id', id]);
      if (extras.length > 0 && order % 3 === 0) params.push(...extras);
      // Rotate the parameter order: nothing may depend on it.
      const shift = order % Math.max(params.length, 1);
      return { params: [...params.slice(shift), ...params.slice(0, shift)], auth };
    });
}

function generated(endpoint: Endpoint): fc.Arbitrary<Generated> {
  const chaotic = fc.record({ body, auth: authorization }).map(({ body, auth }) => ({ ...body, auth: auth as Auth }));
  const structured = (encoding: fc.Arbitrary<Encoding>) =>
    fc
      .tuple(coherent(endpoint), encoding)
      .map(([{ params, auth }, enc]) => ({ body: encodeForm(params, enc), params, auth }));
  const wellFormed = fc.record({
    method: fc.constant('POST'),
    contentType: fc.oneof(
      { weight: 5, arbitrary: fc.constant(FORM) },
      { weight: 1, arbitrary: fc.constant(`${FORM}; charset=UTF-8`) },
    ),
    content: structured(fc.constantFrom<Encoding>('urlsearchparams', 'urlsearchparams', 'component')),
  });
  const anything = fc.record({
    method,
    contentType,
    content: fc.oneof(structured(fc.constantFrom<Encoding>('urlsearchparams', 'component', 'raw')), chaotic),
  });
  return fc
    .record({
      shape: fc.oneof({ weight: 1, arbitrary: wellFormed }, { weight: 1, arbitrary: anything }),
      extra: extraHeaders,
      sourceIp: fc.constantFrom('203.0.113.7', '198.51.100.1', '::1', '', 'garbage'),
    })
    .map(({ shape: { method, contentType, content }, extra, sourceIp }) => {
      const { body, params, auth } = content;
      const headers: Record<string, string> = { ...extra };
      if (contentType !== undefined) headers['content-type'] = contentType;
      if (auth !== undefined) headers.authorization = typeof auth === 'string' ? auth : auth.header;
      const secrets = [
        ...params.filter(([name]) => name === 'password' || name === 'client_secret').map(([, value]) => value),
        ...(typeof auth === 'object' ? [auth.secret] : []),
      ];
      return {
        request: {
          method,
          path: endpoint === 'token' ? '/token' : '/revoke',
          headers,
          body,
          sourceIp,
          requestId: 'req-fuzz',
        },
        secrets,
      };
    });
}

// ---------------------------------------------------------------------------------------------------
// The invariant every response satisfies
// ---------------------------------------------------------------------------------------------------

/** Secrets long or marked enough that finding one in a body cannot be a coincidence. */
function mustNotLeak(secrets: readonly string[]): string[] {
  return [...new Set(secrets)].filter(
    (secret) =>
      secret === ALICE_PASSWORD ||
      secret === BOB_PASSWORD ||
      secret === CONFIDENTIAL_SECRET ||
      /^(pw|cs)-marker-/.test(secret),
  );
}

function checkResponse(
  endpoint: Endpoint,
  { request, secrets }: Generated,
  response: HttpResponse,
  deps: MemoryDeps,
): void {
  expect([200, 400, 401, 405]).toContain(response.status);
  expect(response.headers['Content-Type']).toBe('application/json;charset=UTF-8');
  expect(response.headers['Cache-Control']).toBe('no-store');
  expect(response.headers.Pragma).toBe('no-cache');
  expect(response.headers['Retry-After']).toBeUndefined();
  expect('WWW-Authenticate' in response.headers).toBe(
    response.status === 401 && request.headers.authorization !== undefined,
  );

  const json: unknown = JSON.parse(response.body);
  expect(typeof json === 'object' && json !== null && !Array.isArray(json)).toBe(true);
  const fields = json as Record<string, unknown>;

  if (response.status === 200) {
    expect(request.method).toBe('POST');
    if (endpoint === 'revoke') {
      expect(response.body).toBe('{}');
    } else {
      for (const key of Object.keys(fields)) expect(TOKEN_RESPONSE_KEYS.has(key)).toBe(true);
      expect(typeof fields.access_token).toBe('string');
      expect(fields.token_type).toBe('Bearer');
      expect(fields.expires_in).toBe(deps.settings.accessTokenTtl);
      expect(typeof fields.scope).toBe('string');
      if ('refresh_token' in fields) expect(typeof fields.refresh_token).toBe('string');
    }
  } else {
    expect(Object.keys(fields).every((key) => key === 'error' || key === 'error_description')).toBe(true);
    expect(typeof fields.error).toBe('string');
    const error = fields.error as string;
    if (response.status === 400) expect(ERRORS_400.has(error)).toBe(true);
    if (response.status === 401) expect(error).toBe('invalid_client');
    if (response.status === 405) {
      expect(error).toBe('method_not_allowed');
      expect(request.method).not.toBe('POST');
      expect(response.headers.Allow).toBe('POST');
    }
    expect(error).toMatch(ERROR_TEXT);
    if (fields.error_description !== undefined) {
      expect(typeof fields.error_description).toBe('string');
      expect(fields.error_description as string).toMatch(ERROR_TEXT);
    }
  }

  const logged = JSON.stringify(deps.logger.entries);
  for (const secret of mustNotLeak(secrets)) {
    expect(response.body).not.toContain(secret);
    expect(JSON.stringify(response.headers)).not.toContain(secret);
    expect(logged).not.toContain(secret);
  }
  // Nothing a client sends is an unexpected error.
  expect(deps.logger.entries.filter((entry) => entry.level === 'ERROR')).toEqual([]);
}

async function run(
  endpoint: Endpoint,
  generatedRequest: Generated,
): Promise<{ response: HttpResponse; deps: MemoryDeps }> {
  const deps = freshDeps();
  const handle = endpoint === 'token' ? handleTokenRequest : handleRevocationRequest;
  // A rejection here (an exception escaping the endpoint) fails the property as surely as a bad response.
  const response = await handle(generatedRequest.request, deps);
  checkResponse(endpoint, generatedRequest, response, deps);
  return { response, deps };
}

describe('request validation properties', () => {
  it('POST /token answers every request with a well-formed 200, 400, 401 or 405 that leaks no secret', async () => {
    const statuses = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(generated('token'), async (request) => {
        const { response } = await run('token', request);
        const key = `${response.status} ${response.status === 200 ? 'ok' : (JSON.parse(response.body) as { error: string }).error}`;
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
      }),
      { numRuns: 3000 },
    );
    console.log(`[request-properties] /token outcomes ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
    // The generators reach the deep paths, not only the early refusals.
    for (const outcome of [
      '200 ok',
      '400 invalid_request',
      '400 invalid_grant',
      '400 unsupported_grant_type',
      '400 unauthorized_client',
      '400 invalid_scope',
      '401 invalid_client',
      '405 method_not_allowed',
    ]) {
      expect(statuses.get(outcome) ?? 0, `${outcome} in ${JSON.stringify([...statuses])}`).toBeGreaterThan(0);
    }
  });

  it('POST /revoke answers every request with a well-formed 200, 400, 401 or 405 that leaks no secret', async () => {
    const statuses = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(generated('revoke'), async (request) => {
        const { response } = await run('revoke', request);
        const key = `${response.status} ${response.status === 200 ? 'ok' : (JSON.parse(response.body) as { error: string }).error}`;
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
      }),
      { numRuns: 1500 },
    );
    console.log(`[request-properties] /revoke outcomes ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
    for (const outcome of ['200 ok', '400 invalid_request', '401 invalid_client', '405 method_not_allowed']) {
      expect(statuses.get(outcome) ?? 0, `${outcome} in ${JSON.stringify([...statuses])}`).toBeGreaterThan(0);
    }
  });

  it('answers any method other than POST with 405 and Allow: POST, whatever else the request holds', async () => {
    const notPost = fc
      .oneof(fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'post', ''), junk)
      .filter((m) => m !== 'POST');
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Endpoint>('token', 'revoke'),
        fc.constantFrom<Endpoint>('token', 'revoke').chain(generated),
        notPost,
        async (endpoint, g, m) => {
          const { response } = await run(endpoint, { ...g, request: { ...g.request, method: m } });
          expect(response.status).toBe(405);
          expect(response.headers.Allow).toBe('POST');
        },
      ),
      { numRuns: 200 },
    );
  });

  it('answers a POST whose content type is not the form type with 400 invalid_request, credentials or not', async () => {
    const notForm = fc
      .oneof(
        fc.constantFrom('application/json', 'text/plain', 'multipart/form-data', `${FORM}x`, ''),
        fc.string({ maxLength: 30 }),
      )
      .filter((type) => type.split(';')[0]!.trim().toLowerCase() !== FORM);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Endpoint>('token', 'revoke'),
        fc.constantFrom<Endpoint>('token', 'revoke').chain(generated),
        fc.option(notForm),
        async (endpoint, g, type) => {
          const headers = { ...g.request.headers };
          if (type === null) delete headers['content-type'];
          else headers['content-type'] = type;
          const { response } = await run(endpoint, { ...g, request: { ...g.request, method: 'POST', headers } });
          expect(response.status).toBe(400);
          expect(JSON.parse(response.body).error).toBe('invalid_request');
        },
      ),
      { numRuns: 200 },
    );
  });

  it('never authenticates a confidential client whose secret is wrong, however it is presented', async () => {
    const wrongSecret = fc
      .oneof(secretValue('cs-marker-'), fc.string({ minLength: 1, maxLength: 40 }))
      .filter((secret) => secret !== CONFIDENTIAL_SECRET);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Endpoint>('token', 'revoke'),
        wrongSecret,
        fc.boolean(),
        async (endpoint, secret, useBasic) => {
          const params: [string, string][] = [
            ['grant_type', 'password'],
            ['username', 'alice'],
            ['password', ALICE_PASSWORD],
            ['token', REFRESH_TOKENS.appActive],
            ...(useBasic
              ? []
              : ([
                  ['client_id', 'app'],
                  ['client_secret', secret],
                ] as [string, string][])),
          ];
          const headers: Record<string, string> = { 'content-type': FORM };
          if (useBasic) headers.authorization = basic('app', secret);
          const g: Generated = {
            request: {
              method: 'POST',
              path: `/${endpoint}`,
              headers,
              body: encodeForm(params, 'urlsearchparams'),
              sourceIp: '203.0.113.7',
              requestId: 'req-fuzz',
            },
            secrets: [secret, ALICE_PASSWORD],
          };
          const { response, deps } = await run(endpoint, g);
          expect(response.status).toBe(401);
          expect(JSON.parse(response.body).error).toBe('invalid_client');
          expect(deps.refreshTokens.tokens.get(hashRefreshToken(REFRESH_TOKENS.appActive))?.state).toBe('active');
        },
      ),
      { numRuns: 200 },
    );
  });
});
