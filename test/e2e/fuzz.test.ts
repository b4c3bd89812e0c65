import { randomUUID } from 'node:crypto';
import { Agent } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/stack';
import { mapPool, type RawRequest, type RawResponse, sendRaw } from '../support/fuzz/http';
import { FAST_SCRYPT } from '../support/memory';
import { seedStack } from '../support/seed';

/**
 * HTTP fuzz run against the local stack (issue 5): thousands of random, malformed and oversized requests
 * to /token and /revoke, through the API Gateway emulation, DynamoDB Local and the KMS emulator. Every
 * answer must be a JSON 2xx or 4xx (4xx with an `error`), and the stack must still serve afterwards.
 *
 * Reproducible: the requests are a fast-check sample from a fixed seed. Replay or vary a run with
 * FUZZ_SEED=<n> and FUZZ_REQUESTS=<n>; both are printed with the result.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 3200);
const CONCURRENCY = 16;
const FORM = 'application/x-www-form-urlencoded';

const CLIENT_ID = 'fuzz-app';
const PUBLIC_CLIENT_ID = 'fuzz-mobile';
const SECRET = `fuzz-secret-${randomUUID()}`;
const USERNAME = 'fuzz-user';
const PASSWORD = `fuzz password ${randomUUID()}`;

let stack: LocalStack;
let origin: URL;
const logLines: string[] = [];
/** Refresh tokens obtained before the run: `pool` ones are fuzzed with, `reserved` one proves survival. */
const tokens = { pool: [] as string[], reserved: '' };

beforeAll(async () => {
  stack = await startLocalStack({
    dynamodbEndpoint: inject('dynamodbEndpoint'),
    tablePrefix: `fuzz-${randomUUID().slice(0, 8)}`,
    config: { scrypt: FAST_SCRYPT, scopesSupported: ['read', 'write'] },
    logSink: (line) => logLines.push(line),
  });
  origin = new URL(stack.url);
  await seedStack(stack, {
    clients: [{ clientId: CLIENT_ID, secret: SECRET, scopes: ['read', 'write'] }, { clientId: PUBLIC_CLIENT_ID }],
    users: [
      {
        username: USERNAME,
        password: PASSWORD,
        userId: '7f1e9a52-3c4d-4b6e-8f70-1a2b3c4d5e6f',
        scopes: ['read', 'write'],
      },
    ],
  });

  // Before the fuzz run exhausts 127.0.0.1's daily failure budget, which refuses every later password grant.
  const login = async (clientAuth: Record<string, string>, headers: Record<string, string> = {}) => {
    const response = await fetch(stack.tokenEndpoint, {
      method: 'POST',
      headers: { 'Content-Type': FORM, ...headers },
      body: new URLSearchParams({ grant_type: 'password', username: USERNAME, password: PASSWORD, ...clientAuth }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { refresh_token: string }).refresh_token;
  };
  const confidential = { Authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${SECRET}`).toString('base64')}` };
  tokens.reserved = await login({}, confidential);
  tokens.pool.push(
    await login({}, confidential),
    await login({}, confidential),
    await login({ client_id: PUBLIC_CLIENT_ID }),
  );
});

afterAll(async () => {
  await stack?.stop();
});

// ---------------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------------

const TOKEN_CHARS = "!#$%&'*+.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-";
/** Header names Node or HTTP framing would act on, which the fuzzer must not send at random. */
const FRAMING = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'expect',
  'upgrade',
  'keep-alive',
  'te',
  'trailer',
]);

const PROTOTYPE_NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'] as const;

const headerName = fc
  .oneof(
    { weight: 24, arbitrary: fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,24}$/) },
    { weight: 6, arbitrary: fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), minLength: 1, maxLength: 30 }) },
    {
      weight: 9,
      arbitrary: fc.constantFrom(
        'X-End-User-IP',
        'X-Forwarded-For',
        'Authorization',
        'Content-Type',
        'Accept',
        'Accept-Charset',
        'Content-Encoding',
        'Cookie',
        'User-Agent',
        'Origin',
        'If-None-Match',
        'X-Amzn-Trace-Id',
      ),
    },
    // Names of Object.prototype members: header maps built on plain objects trip over them.
    { weight: 1, arbitrary: fc.constantFrom(...PROTOTYPE_NAMES) },
  )
  .filter((name) => !FRAMING.has(name.toLowerCase()));

/** What Node will send in a header value: tab, printable ASCII and obs-text, no leading/trailing space. */
const headerValue = fc
  .oneof(
    { weight: 6, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 80 }) },
    {
      weight: 1,
      arbitrary: fc.string({
        unit: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)),
        maxLength: 20,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '',
        '\t',
        'null',
        'undefined',
        '{}',
        '[]',
        '%00',
        '%',
        '""',
        '127.0.0.1',
        '::1',
        '10.0.0.1, 10.0.0.2',
      ),
    },
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: 8000 }).map((n) => 'h'.repeat(n)) },
  )
  .map((value) => value.trim());

const base64 = (value: string | Uint8Array) => Buffer.from(value).toString('base64');

function authorizationValue(): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant(`Basic ${base64(`${CLIENT_ID}:${SECRET}`)}`) },
    {
      weight: 2,
      arbitrary: fc
        .string({ maxLength: 20 })
        .map((secret) => `Basic ${base64(`${CLIENT_ID}:${encodeURIComponent(secret)}`)}`),
    },
    { weight: 1, arbitrary: fc.constant(`Basic ${base64(`${PUBLIC_CLIENT_ID}:x`)}`) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 96 }).map((bytes) => `Basic ${base64(bytes)}`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'Basic',
        'Basic ',
        'Basic ===',
        `Basic ${base64(CLIENT_ID)}`,
        `Basic ${base64(':')}`,
        `Basic ${base64('%zz:%zz')}`,
        `Basic ${base64('a:%C3')}`,
        `basic ${base64(`${CLIENT_ID}:${SECRET}`)}`,
        `BASIC    ${base64(`${CLIENT_ID}:${SECRET}`)}   `,
        `Bearer ${base64('x')}`,
        'Digest username="x"',
        `Basic ${base64(`${CLIENT_ID}:${SECRET}`)}, Basic ${base64('a:b')}`,
        `Basic ${'QUFB'.repeat(2000)}`,
      ),
    },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 60 }).map((v) => v.trim()) },
  );
}

const contentTypeValue = fc.oneof(
  { weight: 12, arbitrary: fc.constant(FORM) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      `${FORM}; charset=UTF-8`,
      `${FORM};charset="utf8"`,
      'Application/X-WWW-Form-URLEncoded',
      `${FORM}; charset=iso-8859-1`,
      `${FORM}; boundary=x; charset=utf-16`,
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      'multipart/form-data; boundary=----x',
      'application/xml',
      '*/*',
      `${FORM}x`,
      `${FORM}, application/json`,
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 50 }).map((v) => v.trim()) },
);

interface Pools {
  readonly refreshTokens: readonly string[];
}

/** Parameter values: the real ones (so requests reach deep paths), near misses and junk. */
function paramValues(pools: Pools): Record<string, fc.Arbitrary<string>> {
  const junk = fc.oneof(
    fc.string({ maxLength: 24 }),
    fc.string({ unit: 'binary', maxLength: 12 }),
    fc.constantFrom(
      '\uFEFF',
      '\u0000',
      '"',
      '\\',
      '%',
      '&',
      '=',
      '+',
      'null',
      '__proto__',
      'constructor',
      'x'.repeat(1500),
      '€'.repeat(400),
    ),
  );
  const oneOfWeighted = (real: fc.Arbitrary<string>) =>
    fc.oneof({ weight: 3, arbitrary: real }, { weight: 1, arbitrary: junk });
  return {
    grant_type: oneOfWeighted(
      fc.constantFrom(
        'password',
        'password',
        'refresh_token',
        'refresh_token',
        'client_credentials',
        'authorization_code',
        'PASSWORD',
      ),
    ),
    username: oneOfWeighted(fc.constantFrom(USERNAME, USERNAME, 'nobody', USERNAME.toUpperCase(), ` ${USERNAME}`)),
    password: oneOfWeighted(fc.constantFrom(PASSWORD, PASSWORD, 'wrong password', `${PASSWORD} `)),
    client_id: oneOfWeighted(fc.constantFrom(CLIENT_ID, CLIENT_ID, PUBLIC_CLIENT_ID, 'nobody', 'x'.repeat(1100))),
    client_secret: oneOfWeighted(fc.constantFrom(SECRET, SECRET, 'wrong')),
    scope: oneOfWeighted(fc.constantFrom('read', 'write', 'read write', 'admin', 'read "x"', 'read\\x', ' ')),
    refresh_token: oneOfWeighted(fc.constantFrom(...pools.refreshTokens, 'not-a-token', 'A'.repeat(43))),
    token: oneOfWeighted(fc.constantFrom(...pools.refreshTokens, 'not-a-token', 'eyJhbGciOiJSUzI1NiJ9.e30.x')),
    token_type_hint: oneOfWeighted(fc.constantFrom('refresh_token', 'access_token', 'bogus')),
  };
}

type Params = [string, string][];

function formBody(params: Params, encoding: 'urlsearchparams' | 'component' | 'raw'): Buffer {
  if (encoding === 'urlsearchparams') return Buffer.from(new URLSearchParams(params).toString());
  const encode = encoding === 'component' ? encodeURIComponent : (value: string) => value;
  return Buffer.from(params.map(([name, value]) => `${encode(name)}=${encode(value)}`).join('&'));
}

function bodyArbitrary(path: '/token' | '/revoke', pools: Pools): fc.Arbitrary<Buffer> {
  const values = paramValues(pools);
  const v = (name: string) => values[name]!;
  const clientPart: fc.Arbitrary<Params> = fc.oneof(
    fc.constant<Params>([]),
    fc.tuple(v('client_id'), v('client_secret')).map(
      ([id, secret]): Params => [
        ['client_id', id],
        ['client_secret', secret],
      ],
    ),
    v('client_id').map((id): Params => [['client_id', id]]),
  );
  const opt = (name: string) =>
    fc.option(v(name), { freq: 2 }).map((value): Params => (value === null ? [] : [[name, value]]));
  const deep: fc.Arbitrary<Params> =
    path === '/token'
      ? fc.oneof(
          fc
            .tuple(v('username'), v('password'), opt('scope'), clientPart)
            .map(
              ([username, password, scope, client]): Params => [
                ['grant_type', 'password'],
                ['username', username],
                ['password', password],
                ...scope,
                ...client,
              ],
            ),
          fc
            .tuple(v('refresh_token'), opt('scope'), clientPart)
            .map(
              ([token, scope, client]): Params => [
                ['grant_type', 'refresh_token'],
                ['refresh_token', token],
                ...scope,
                ...client,
              ],
            ),
          fc
            .tuple(v('grant_type'), opt('username'), opt('password'), opt('refresh_token'), opt('scope'), clientPart)
            .map(([grant, ...rest]): Params => [['grant_type', grant], ...rest.flat()]),
        )
      : fc
          .tuple(v('token'), opt('token_type_hint'), clientPart)
          .map(([token, hint, client]): Params => [['token', token], ...hint, ...client]);
  const paramName = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...Object.keys(values)) },
    {
      weight: 1,
      arbitrary: fc.oneof(
        fc.string({ maxLength: 12 }),
        fc.constantFrom('__proto__', 'constructor', 'Grant_Type', 'code'),
      ),
    },
  );
  const soup: fc.Arbitrary<Params> = fc.array(
    paramName.chain((name) =>
      fc.tuple(fc.constant(name), Object.hasOwn(values, name) ? values[name]! : fc.string({ maxLength: 16 })),
    ),
    { maxLength: 10 },
  );
  const encoding = fc.constantFrom<'urlsearchparams' | 'component' | 'raw'>(
    'urlsearchparams',
    'urlsearchparams',
    'component',
    'raw',
  );
  const oversized = (min: number, max: number) =>
    fc
      .tuple(deep, fc.integer({ min, max }), fc.constantFrom(0x61, 0x26, 0x25, 0x3d, 0x00, 0xff))
      .map(([params, size, fill]) => {
        const start = formBody(params, 'urlsearchparams');
        return Buffer.concat([start, Buffer.alloc(Math.max(0, size - start.length), fill)]);
      });
  return fc.oneof(
    {
      weight: 40,
      arbitrary: fc
        .tuple(deep, fc.array(fc.tuple(paramName, fc.string({ maxLength: 8 })), { maxLength: 2 }), encoding)
        .map(([params, extra, enc]) => formBody([...params, ...extra], enc)),
    },
    { weight: 15, arbitrary: fc.tuple(soup, encoding).map(([params, enc]) => formBody(params, enc)) },
    { weight: 8, arbitrary: fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes)) },
    { weight: 4, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 300 }).map((text) => Buffer.from(text)) },
    {
      weight: 4,
      arbitrary: fc
        .array(
          fc.constantFrom(
            'grant_type',
            'password',
            'refresh_token',
            'token',
            USERNAME,
            '=',
            '&',
            '%',
            '%2',
            '%zz',
            '+',
            '%EF%BB%BF',
            '%C3',
            '%00',
            '&&',
            '==',
          ),
          { maxLength: 40 },
        )
        .map((parts) => Buffer.from(parts.join(''))),
    },
    { weight: 1, arbitrary: fc.constant(Buffer.alloc(0)) },
    { weight: 3, arbitrary: oversized(16 * 1024 + 1, 16 * 1024 + 512) },
    { weight: 1, arbitrary: oversized(16 * 1024 - 256, 16 * 1024) },
    { weight: 1, arbitrary: oversized(1024 * 1024 - 4096, 1024 * 1024 + 4096) },
  );
}

/**
 * A request a real client could send: POST, the form content type, the client authenticated exactly one
 * way, the parameters of its grant (or of a revocation) with real and near-miss values. These reach the
 * deep paths: scrypt and the lockout counters, token rotation and reuse detection, signing, revocation.
 */
function wellFormedArbitrary(path: '/token' | '/revoke', pools: Pools): fc.Arbitrary<RawRequest> {
  const values = paramValues(pools);
  const v = (name: string) => values[name]!;
  const opt = (name: string) =>
    fc.option(v(name), { freq: 2 }).map((value): Params => (value === null ? [] : [[name, value]]));
  const client = fc.constantFrom(
    { header: `Basic ${base64(`${CLIENT_ID}:${SECRET}`)}`, params: [] as Params },
    {
      header: undefined,
      params: [
        ['client_id', CLIENT_ID],
        ['client_secret', SECRET],
      ] as Params,
    },
    { header: undefined, params: [['client_id', PUBLIC_CLIENT_ID]] as Params },
    { header: `Basic ${base64(`${CLIENT_ID}:wrong`)}`, params: [] as Params },
    { header: undefined, params: [['client_id', 'nobody']] as Params },
  );
  const grant: fc.Arbitrary<Params> =
    path === '/revoke'
      ? fc.tuple(v('token'), opt('token_type_hint')).map(([token, hint]): Params => [['token', token], ...hint])
      : fc.oneof(
          fc
            .tuple(v('username'), v('password'), opt('scope'))
            .map(
              ([username, password, scope]): Params => [
                ['grant_type', 'password'],
                ['username', username],
                ['password', password],
                ...scope,
              ],
            ),
          fc
            .tuple(v('refresh_token'), opt('scope'))
            .map(([token, scope]): Params => [['grant_type', 'refresh_token'], ['refresh_token', token], ...scope]),
          fc
            .tuple(v('grant_type'), opt('username'), opt('password'), opt('refresh_token'))
            .map(([type, ...rest]): Params => [['grant_type', type], ...rest.flat()]),
        );
  return fc
    .record({
      client,
      grant,
      extra: fc.array(fc.tuple(headerName, headerValue), { maxLength: 3 }),
      encoding: fc.constantFrom<'urlsearchparams' | 'component'>('urlsearchparams', 'component'),
    })
    .map(({ client, grant, extra, encoding }) => {
      const headers: [string, string][] = [
        ['Content-Type', FORM],
        ...(client.header === undefined ? [] : [['Authorization', client.header] as [string, string]]),
      ];
      // Junk headers, but none that replaces the request's own content type or credentials.
      for (const [name, value] of extra)
        if (!['content-type', 'authorization'].includes(name.toLowerCase())) headers.push([name, value]);
      return {
        method: 'POST',
        path,
        headers: capHeaders(headers),
        body: formBody([...grant, ...client.params], encoding),
      };
    });
}

function requestArbitrary(pools: Pools): fc.Arbitrary<RawRequest> {
  const method = fc.oneof(
    { weight: 20, arbitrary: fc.constant('POST') },
    { weight: 4, arbitrary: fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD') },
    { weight: 1, arbitrary: fc.constantFrom('PROPFIND', 'PURGE', 'MKCOL', 'COPY', 'LOCK', 'REPORT', 'SEARCH') },
  );
  const query = fc.oneof(
    { weight: 12, arbitrary: fc.constant('') },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '?',
        '?grant_type=password',
        '?a=1&a=2',
        '?%zz',
        '?constructor=1',
        '?__proto__=x',
        '?toString',
      ),
    },
    { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_=&%.-]{1,40}$/).map((q) => `?${q}`) },
  );
  const chaotic = (path: '/token' | '/revoke') =>
    fc
      .record({
        method,
        query,
        contentTypes: fc.oneof(
          { weight: 10, arbitrary: contentTypeValue.map((v) => [v]) },
          { weight: 1, arbitrary: fc.constant<string[]>([]) },
          { weight: 1, arbitrary: fc.array(contentTypeValue, { minLength: 2, maxLength: 3 }) },
        ),
        authorizations: fc.oneof(
          { weight: 6, arbitrary: fc.constant<string[]>([]) },
          { weight: 6, arbitrary: authorizationValue().map((v) => [v]) },
          { weight: 1, arbitrary: fc.array(authorizationValue(), { minLength: 2, maxLength: 2 }) },
        ),
        extra: fc.array(fc.tuple(headerName, headerValue), { maxLength: 6 }),
        body: bodyArbitrary(path, pools),
      })
      .map(({ method, query, contentTypes, authorizations, extra, body }): RawRequest => {
        const headers: [string, string][] = [
          ...contentTypes.map((value): [string, string] => ['Content-Type', value]),
          ...authorizations.map((value): [string, string] => ['Authorization', value]),
          ...extra,
        ];
        return { method, path: path + query, headers: capHeaders(headers), body };
      });
  return fc
    .constantFrom<'/token' | '/revoke'>('/token', '/token', '/revoke')
    .chain((path) =>
      fc.oneof({ weight: 2, arbitrary: wellFormedArbitrary(path, pools) }, { weight: 3, arbitrary: chaotic(path) }),
    );
}

/** Node's HTTP server refuses more than 16 KiB of headers (431, not the service's answer): stay well below. */
function capHeaders(headers: [string, string][]): [string, string][] {
  const kept: [string, string][] = [];
  let size = 0;
  for (const [name, value] of headers) {
    size += name.length + value.length + 4;
    if (size > 12 * 1024) break;
    kept.push([name, value]);
  }
  return kept;
}

// ---------------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------------

/** What is wrong with a response, or undefined. */
function problemWith(request: RawRequest, response: RawResponse): string | undefined {
  if (!((response.status >= 200 && response.status < 300) || (response.status >= 400 && response.status < 500))) {
    return `status ${response.status}`;
  }
  if (![200, 400, 401, 405].includes(response.status)) return `unexpected status ${response.status}`;
  const contentType = String(response.headers['content-type'] ?? '');
  if (!contentType.startsWith('application/json')) return `content type ${JSON.stringify(contentType)}`;
  if (response.headers['cache-control'] !== 'no-store')
    return `cache-control ${JSON.stringify(response.headers['cache-control'])}`;
  if (request.method === 'HEAD') return response.status === 405 ? undefined : `HEAD answered ${response.status}`;
  let json: unknown;
  try {
    json = JSON.parse(response.body.toString('utf8'));
  } catch {
    return 'body is not JSON';
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return 'body is not a JSON object';
  const fields = json as Record<string, unknown>;
  if (response.status >= 400 && typeof fields.error !== 'string') return '4xx without an error string';
  if (response.status === 200 && request.path.startsWith('/revoke') && response.body.toString() !== '{}')
    return 'revocation 200 body is not {}';
  if (response.status === 200 && request.path.startsWith('/token') && typeof fields.access_token !== 'string')
    return 'token 200 without access_token';
  const text = response.body.toString('utf8');
  if (text.includes(PASSWORD) || text.includes(SECRET)) return 'response contains the password or the client secret';
  return undefined;
}

/** A failing request, short enough to read and exact enough to replay. */
function describeRequest(index: number, request: RawRequest, outcome: string, response?: RawResponse) {
  return {
    index,
    outcome,
    method: request.method,
    path: request.path,
    headers: request.headers.map(([name, value]) => [
      name,
      value.length > 120 ? `${value.slice(0, 120)}…(${value.length} chars)` : value,
    ]),
    bodyLength: request.body.length,
    bodyStart: request.body.subarray(0, 200).toString('latin1'),
    status: response?.status,
    response: response?.body.subarray(0, 300).toString('utf8'),
  };
}

describe('HTTP fuzz run against the local stack', () => {
  it(`answers ${REQUESTS} random, malformed and oversized requests to /token and /revoke with JSON 2xx/4xx only`, {
    timeout: 180_000,
  }, async () => {
    const requests = fc.sample(requestArbitrary({ refreshTokens: tokens.pool }), { seed: SEED, numRuns: REQUESTS });
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const statuses = new Map<number, number>();
    const outcomes = new Map<string, number>();
    // Failures grouped by what went wrong, with the first few requests of each group, so that one
    // frequent problem does not hide a rarer one.
    const failures = new Map<string, { count: number; examples: ReturnType<typeof describeRequest>[] }>();
    const record = (failure: ReturnType<typeof describeRequest>) => {
      const group = failures.get(failure.outcome) ?? { count: 0, examples: [] };
      group.count++;
      if (group.examples.length < 3) group.examples.push(failure);
      failures.set(failure.outcome, group);
    };
    const started = performance.now();
    try {
      await mapPool(requests, CONCURRENCY, async (request, index) => {
        let response: RawResponse;
        try {
          response = await sendRaw(origin, request, agent);
        } catch (error) {
          record(describeRequest(index, request, `transport error: ${(error as Error).message}`));
          outcomes.set('transport error', (outcomes.get('transport error') ?? 0) + 1);
          return;
        }
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        let error = '';
        try {
          error = (JSON.parse(response.body.toString('utf8')) as { error?: string }).error ?? '';
        } catch {
          error = request.method === 'HEAD' ? '(HEAD)' : '(not JSON)';
        }
        const key = `${response.status} ${response.status < 300 ? 'ok' : error}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        const problem = problemWith(request, response);
        if (problem !== undefined) record(describeRequest(index, request, problem, response));
      });
    } finally {
      agent.destroy();
    }
    const seconds = (performance.now() - started) / 1000;
    const sent = [...statuses.values()].reduce((a, b) => a + b, 0) + (outcomes.get('transport error') ?? 0);
    const sorted = (map: Map<string | number, number>) =>
      Object.fromEntries([...map].sort(([a], [b]) => String(a).localeCompare(String(b))));
    console.log(
      `[fuzz] seed=${SEED} requests=${sent} concurrency=${CONCURRENCY} duration=${seconds.toFixed(1)}s (${(sent / seconds).toFixed(0)} req/s)\n` +
        `[fuzz] statuses ${JSON.stringify(sorted(statuses))}\n` +
        `[fuzz] outcomes ${JSON.stringify(sorted(outcomes))}\n` +
        `[fuzz] bodies >16 KiB: ${requests.filter((r) => r.body.length > 16 * 1024).length}, ~1 MiB: ${requests.filter((r) => r.body.length > 1000 * 1024).length}`,
    );

    expect(sent).toBe(REQUESTS);
    const failureCount = [...failures.values()].reduce((sum, group) => sum + group.count, 0);
    expect(
      Object.fromEntries([...failures].map(([outcome, group]) => [outcome, group.count])),
      `${failureCount} fuzz failures (seed ${SEED}; replay with FUZZ_SEED=${SEED} FUZZ_REQUESTS=${REQUESTS}):\n${JSON.stringify(Object.fromEntries(failures), null, 1)}`,
    ).toEqual({});
    // The run reached past parsing and client authentication, into the grants.
    for (const outcome of [
      '200 ok',
      '400 invalid_request',
      '400 invalid_grant',
      '401 invalid_client',
      '405 method_not_allowed',
    ]) {
      expect(outcomes.get(outcome) ?? 0, `${outcome} in ${JSON.stringify(sorted(outcomes))}`).toBeGreaterThan(0);
    }
  });

  it.each(PROTOTYPE_NAMES)(
    'answers a request with a header or a query parameter named %s like any other',
    async (name) => {
      const agent = new Agent({ keepAlive: false });
      try {
        for (const request of [
          {
            method: 'POST',
            path: '/token',
            headers: [
              ['Content-Type', FORM],
              [name, 'x'],
            ] as [string, string][],
            body: Buffer.from('grant_type=password'),
          },
          {
            method: 'POST',
            path: `/revoke?${name}=x`,
            headers: [['Content-Type', FORM]] as [string, string][],
            body: Buffer.from('token=x'),
          },
        ]) {
          const response = await sendRaw(origin, request, agent);
          expect(
            { status: response.status, body: JSON.parse(response.body.toString()) },
            `${request.method} ${request.path} ${JSON.stringify(request.headers)}`,
          ).toEqual({
            status: 401,
            body: { error: 'invalid_client', error_description: 'client authentication is required' },
          });
        }
      } finally {
        agent.destroy();
      }
    },
  );

  it('survives the run: a refresh token obtained before it still works, and JWKS and metadata still serve', async () => {
    const refreshed = await fetch(stack.tokenEndpoint, {
      method: 'POST',
      headers: { 'Content-Type': FORM, Authorization: `Basic ${base64(`${CLIENT_ID}:${SECRET}`)}` },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.reserved }),
    });
    expect(refreshed.status).toBe(200);
    const body = (await refreshed.json()) as { access_token: string; refresh_token: string; token_type: string };
    expect(body.token_type).toBe('Bearer');
    expect(body.refresh_token).not.toBe(tokens.reserved);

    expect((await fetch(`${stack.url}/.well-known/jwks.json`)).status).toBe(200);
    expect((await fetch(`${stack.url}/.well-known/oauth-authorization-server`)).status).toBe(200);
  });

  it('logged no unexpected error, no unavailable dependency and no secret during the run', () => {
    const events = logLines.map((line) => JSON.parse(line) as { level: string; event: string });
    expect(events.length).toBeGreaterThan(0);
    expect(events.filter((event) => event.level === 'ERROR' || event.event === 'dependency_unavailable')).toEqual([]);
    const log = logLines.join('\n');
    expect(log).not.toContain(PASSWORD);
    expect(log).not.toContain(SECRET);
  });
});
