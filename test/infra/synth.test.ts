import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { configToEnv } from '../../lambda/config';
import { DEFAULT_STACK_NAME } from '../../lib/context';
import { PROJECT_ROOT } from '../../lib/functions';
import { callerIdentity } from '../../local/api-gateway';
import { type LocalStack, startLocalStack } from '../../local/stack';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/state';
import { FAST_SCRYPT } from '../support/memory';
import { seedStack } from '../support/seed';

/**
 * `npx cdk synth` exactly as an operator runs it (cdk.json → `npx tsx bin/app.ts`), offline: esbuild
 * bundles the four functions on this machine, cdk-nag runs as a validation plugin, and the cloud
 * assembly lands in a temporary directory.
 */
describe('cdk synth', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'ropc-cdk-synth-'));
  let result: ReturnType<typeof spawnSync>;
  let template: {
    Resources: Record<string, { Type: string; Properties?: Record<string, any>; Metadata?: Record<string, string> }>;
  };

  beforeAll(() => {
    result = spawnSync('npx', ['cdk', 'synth', '--no-notices', '-q', '-o', outdir], {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
      timeout: 110_000,
      env: {
        ...process.env,
        // Offline and reproducible: no version check, no telemetry, no account lookup.
        CDK_DISABLE_VERSION_CHECK: '1',
        CDK_DISABLE_CLI_TELEMETRY: 'true',
        AWS_EC2_METADATA_DISABLED: 'true',
      },
    });
    if (result.status === 0)
      template = JSON.parse(readFileSync(join(outdir, `${DEFAULT_STACK_NAME}.template.json`), 'utf8'));
  }, 120_000);

  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it('exits 0 with no cdk-nag finding', () => {
    expect(result.error).toBeUndefined();
    expect(result.status, `${String(result.stdout)}\n${String(result.stderr)}`).toBe(0);
    const report = join(outdir, 'validation-report.json');
    if (existsSync(report)) {
      const { pluginReports } = JSON.parse(readFileSync(report, 'utf8')) as {
        pluginReports: { summary?: { status: string } }[];
      };
      for (const plugin of pluginReports) expect(plugin.summary?.status).not.toBe('failure');
    }
  });

  it('bundles each function with esbuild into a minified CommonJS file with a source map that loads and exports handler', () => {
    const functions = Object.values(template.Resources).filter((resource) => resource.Type === 'AWS::Lambda::Function');
    // token, jwks, metadata and the scheduled key rotation.
    expect(functions).toHaveLength(4);
    for (const fn of functions) {
      const assetDir = join(outdir, fn.Metadata!['aws:asset:path']!);
      const code = join(assetDir, 'index.js');
      // Real code, not a stub (the metadata function, free of the AWS SDK, is the smallest at a few KB).
      expect(statSync(code).size).toBeGreaterThan(2_000);
      expect(existsSync(join(assetDir, 'index.js.map'))).toBe(true);
      // Loading runs the module's top level only: configuration is read at the first invocation.
      const loaded = createRequire(code)(code) as { handler?: unknown };
      expect(typeof loaded.handler, code).toBe('function');
    }
  });

  it('leaves lazy migration out of the token bundle of a stack without a legacy verifier', () => {
    const token = Object.values(template.Resources).find(
      (resource) =>
        resource.Type === 'AWS::Lambda::Function' &&
        resource.Properties?.Handler === 'index.handler' &&
        String(resource.Properties?.Description).includes('/token'),
    );
    const code = readFileSync(join(outdir, token!.Metadata!['aws:asset:path']!, 'index.js'), 'utf8');
    // Neither the Lambda client that invokes the verifier nor the dictionary migrated passwords are judged by.
    expect(code).not.toContain('InvokeCommand');
    expect(code).not.toContain('zxcvbn');
    // The same source bundled with migration has both (lambda/handlers/runtime.ts ROPC_LEGACY_MIGRATION).
    const withMigration = spawnSync(
      'npx',
      [
        'esbuild',
        'lambda/handlers/token.ts',
        '--bundle',
        '--platform=node',
        '--format=cjs',
        '--main-fields=module,main',
        '--define:ROPC_LEGACY_MIGRATION=true',
      ],
      { cwd: PROJECT_ROOT, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 },
    );
    expect(withMigration.status).toBe(0);
    expect(withMigration.stdout).toContain('InvokeCommand');
    expect(withMigration.stdout).toContain('zxcvbn');
  });

  /**
   * Every function's bundle from cdk.out, in a child process as Lambda runs it (lambdaRuntime below): the
   * handler the template names, the template's own environment, events in the REST API proxy shape, against
   * one local stack (DynamoDB Local and the KMS emulator) for all of them.
   */
  describe('the bundles, run as Lambda runs them', () => {
    let stack: LocalStack;
    // Issued by the token bundle, verified against the jwks bundle's key set.
    let accessToken: string | undefined;

    beforeAll(async () => {
      stack = await startLocalStack({
        dynamodbEndpoint: inject('dynamodbEndpoint'),
        tablePrefix: `bundle-${randomUUID().slice(0, 8)}`,
        config: { scrypt: FAST_SCRYPT },
        logSink: () => undefined,
      });
      await seedStack(stack, {
        clients: [{ clientId: 'bundle-app' }, { clientId: 'bundle-spa', allowedOrigins: [SPA_ORIGIN] }],
        users: [{ username: 'bundle-user', password: 'bundle password' }],
      });
    });

    afterAll(async () => {
      await stack?.stop();
    });

    /** The function the template describes with `part` (descriptions from lib/functions.ts), exactly one. */
    function bundledFunction(part: string): BundledFunction {
      expect(template, 'cdk synth produced a template').toBeDefined();
      const matches = Object.entries(template.Resources).filter(
        ([, resource]) =>
          resource.Type === 'AWS::Lambda::Function' && String(resource.Properties?.Description ?? '').includes(part),
      );
      expect(
        matches.map(([id]) => id),
        `functions described "… ${part}"`,
      ).toHaveLength(1);
      const [id, resource] = matches[0]!;
      const properties = resource.Properties!;
      // Lambda's Node.js runtime splits the handler at its last dot: module file, then export name.
      const handler = String(properties.Handler);
      const dot = handler.lastIndexOf('.');
      return {
        id,
        assetDir: join(outdir, resource.Metadata!['aws:asset:path']!),
        handler,
        module: handler.slice(0, dot),
        exportName: handler.slice(dot + 1),
        variables: (properties.Environment?.Variables ?? {}) as Record<string, unknown>,
        memoryMiB: Number(properties.MemorySize ?? 128),
        timeoutSeconds: Number(properties.Timeout ?? 3),
        runtime: String(properties.Runtime),
      };
    }

    /**
     * The function's environment on Lambda: what the template sets literally (SERVICE_NAME, NODE_OPTIONS,
     * ROTATION_PROPAGATION_SECONDS, …), the configuration CloudFormation would resolve at deploy time (table
     * names, issuer) from the local stack instead, and what the Lambda service itself sets. Explicit, not
     * process.env: nothing of this machine's leaks in.
     */
    function lambdaEnvironment(fn: BundledFunction): Record<string, string> {
      const config = configToEnv(stack.config);
      const literal = Object.entries(fn.variables).filter(
        (entry): entry is [string, string] => typeof entry[1] === 'string',
      );
      // A deploy-time value the local stack does not stand in for would be missing here, and on no machine but AWS.
      const unresolved = Object.keys(fn.variables).filter(
        (name) => typeof fn.variables[name] !== 'string' && !(name in config),
      );
      expect(unresolved, `${fn.id}: environment variables only CloudFormation resolves`).toEqual([]);
      return {
        PATH: process.env.PATH ?? '',
        ...Object.fromEntries(literal),
        ...config,
        AWS_REGION: stack.region,
        AWS_DEFAULT_REGION: stack.region,
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        AWS_LAMBDA_FUNCTION_NAME: fn.id,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMiB),
        AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
        LAMBDA_TASK_ROOT: fn.assetDir,
        _HANDLER: fn.handler,
        TZ: ':UTC',
        // The SDK call recording (the IAM proof) follows the children when it is on.
        ...(process.env.ROPC_SDK_CALL_LOG ? { ROPC_SDK_CALL_LOG: process.env.ROPC_SDK_CALL_LOG } : {}),
      };
    }

    /** Runs `session` against a fresh instance of the function; asserts it exited 0 (stderr in the message). */
    async function runFunction<T>(fn: BundledFunction, session: (invoke: Invoke) => Promise<T>): Promise<BundleRun<T>> {
      const run = await runBundle(fn, lambdaEnvironment(fn), session);
      expect(run.code, `${fn.id} (${fn.handler}) exited with ${run.code ?? run.signal}:\n${run.stderr}`).toBe(0);
      return run;
    }

    const post = (path: '/token' | '/revoke', fields: Record<string, string>, options: { base64?: boolean } = {}) =>
      proxyEvent({
        method: 'POST',
        path,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(fields).toString(),
        ...options,
      });

    it('token: a password grant with a base64 body, a refresh grant, then POST /revoke ends the family', async () => {
      const fn = bundledFunction('POST /token');
      const run = await runFunction(fn, async (invoke) => {
        // As the deployed API sends every body (binaryMediaTypes */*, lib/api.ts): base64-encoded.
        const login = response(
          await invoke(
            post(
              '/token',
              { grant_type: 'password', client_id: 'bundle-app', username: 'bundle-user', password: 'bundle password' },
              { base64: true },
            ),
          ),
        );
        // As an API without binary media types sends it: the text itself.
        const refresh = response(
          await invoke(
            post('/token', {
              grant_type: 'refresh_token',
              client_id: 'bundle-app',
              refresh_token: String(login.body.refresh_token),
            }),
          ),
        );
        const current = String(refresh.body.refresh_token);
        const revoke = response(
          await invoke(
            post(
              '/revoke',
              { token: current, token_type_hint: 'refresh_token', client_id: 'bundle-app' },
              { base64: true },
            ),
          ),
        );
        const after = response(
          await invoke(
            post('/token', { grant_type: 'refresh_token', client_id: 'bundle-app', refresh_token: current }),
          ),
        );
        return { login, refresh, revoke, after };
      });
      const { login, refresh, revoke, after } = run.value;
      expect(login).toMatchObject({ status: 200, body: { token_type: 'Bearer', scope: 'read' } });
      expect(login.headers).toMatchObject({ 'Cache-Control': 'no-store' });
      expect(refresh).toMatchObject({ status: 200, body: { token_type: 'Bearer', scope: 'read' } });
      expect(revoke.status).toBe(200);
      expect(after).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      accessToken = String(refresh.body.access_token);

      // stdout carries the function's JSON log lines, as on Lambda: named after the stack, never a secret.
      expect(run.logs.map((entry) => entry.event)).toEqual(
        expect.arrayContaining([
          'password_grant_succeeded',
          'refresh_grant_succeeded',
          'token_revoked',
          'refresh_grant_failed',
        ]),
      );
      for (const entry of run.logs) expect(entry.service).toBe(fn.variables.SERVICE_NAME);
      for (const secret of [
        'bundle password',
        login.body.refresh_token,
        login.body.access_token,
        refresh.body.refresh_token,
        accessToken,
      ]) {
        expect(run.stdout).not.toContain(String(secret));
      }
    }, 60_000);

    it('token: a CORS preflight, then a password grant and a revocation from a browser origin the client lists', async () => {
      const fn = bundledFunction('POST /token');
      const browser = { 'Content-Type': 'application/x-www-form-urlencoded', Origin: SPA_ORIGIN };
      const { value } = await runFunction(fn, async (invoke) => {
        const preflights = [];
        for (const path of ['/token', '/revoke'] as const) {
          preflights.push(
            await invoke(
              proxyEvent({
                method: 'OPTIONS',
                path,
                headers: {
                  Origin: SPA_ORIGIN,
                  'Access-Control-Request-Method': 'POST',
                  'Access-Control-Request-Headers': 'content-type',
                },
              }),
            ),
          );
        }
        const login = await invoke(
          proxyEvent({
            method: 'POST',
            path: '/token',
            headers: browser,
            body: new URLSearchParams({
              grant_type: 'password',
              client_id: 'bundle-spa',
              username: 'bundle-user',
              password: 'bundle password',
            }).toString(),
            base64: true,
          }),
        );
        const elsewhere = await invoke(
          proxyEvent({
            method: 'POST',
            path: '/token',
            headers: { ...browser, Origin: 'https://elsewhere.example.test' },
            body: new URLSearchParams({
              grant_type: 'password',
              client_id: 'bundle-spa',
              username: 'bundle-user',
              password: 'wrong',
            }).toString(),
          }),
        );
        const revoke = await invoke(
          proxyEvent({
            method: 'POST',
            path: '/revoke',
            headers: browser,
            body: new URLSearchParams({
              token: String(response(login).body.refresh_token),
              client_id: 'bundle-spa',
            }).toString(),
            base64: true,
          }),
        );
        return { preflights, login, elsewhere, revoke };
      });
      for (const preflight of value.preflights) {
        expect(preflight.statusCode).toBe(204);
        expect(preflight.body).toBe('');
        expect(preflight.headers).toMatchObject({
          'Access-Control-Allow-Origin': SPA_ORIGIN,
          'Access-Control-Allow-Methods': 'POST',
          'Access-Control-Allow-Headers': 'Authorization, Content-Type',
        });
      }
      expect(value.login.statusCode).toBe(200);
      expect(value.login.headers).toMatchObject({ 'Access-Control-Allow-Origin': SPA_ORIGIN, Vary: 'Origin' });
      expect(value.revoke.statusCode).toBe(200);
      expect(value.revoke.headers).toMatchObject({ 'Access-Control-Allow-Origin': SPA_ORIGIN });
      expect(value.elsewhere.statusCode).toBe(400);
      expect(Object.keys(value.elsewhere.headers ?? {}).filter((name) => /^access-control-/i.test(name))).toEqual([]);
    }, 60_000);

    it("jwks: GET /.well-known/jwks.json is a key set that verifies the token bundle's access token, and revalidates with 304", async () => {
      expect(accessToken, 'the token test ran first and issued an access token').toBeDefined();
      const fn = bundledFunction('GET /.well-known/jwks.json');
      const { value } = await runFunction(fn, async (invoke) => {
        const first = await invoke(proxyEvent({ method: 'GET', path: '/.well-known/jwks.json' }));
        const etag = String(first.headers?.ETag);
        const second = await invoke(
          proxyEvent({ method: 'GET', path: '/.well-known/jwks.json', headers: { 'If-None-Match': etag } }),
        );
        return { first: response(first), second, etag };
      });
      expect(value.first.status).toBe(200);
      expect(value.first.headers).toMatchObject({ 'Content-Type': 'application/jwk-set+json' });
      const keys = value.first.body as unknown as JSONWebKeySet;
      expect(keys.keys.length).toBeGreaterThan(0);
      const { protectedHeader } = await jwtVerify(accessToken!, createLocalJWKSet(keys), {
        issuer: stack.issuer,
        typ: 'at+jwt',
      });
      expect(keys.keys.map((key) => key.kid)).toContain(protectedHeader.kid);
      expect(value.etag).toMatch(/^".+"$/);
      expect(value.second.statusCode).toBe(304);
      expect(value.second.body).toBe('');
    }, 60_000);

    it("metadata: GET /.well-known/oauth-authorization-server is the RFC 8414 document for the stack's issuer", async () => {
      const fn = bundledFunction('GET /.well-known/oauth-authorization-server');
      const { value } = await runFunction(fn, async (invoke) =>
        response(await invoke(proxyEvent({ method: 'GET', path: '/.well-known/oauth-authorization-server' }))),
      );
      expect(value.status).toBe(200);
      expect(String(value.headers?.['Content-Type'])).toMatch(/^application\/json/);
      expect(value.body).toMatchObject({
        issuer: stack.issuer,
        token_endpoint: `${stack.issuer}/token`,
        jwks_uri: `${stack.issuer}/.well-known/jwks.json`,
        revocation_endpoint: `${stack.issuer}/revoke`,
      });
      expect(value.body.grant_types_supported).toEqual(expect.arrayContaining(['password', 'refresh_token']));
    }, 60_000);

    // Last: it changes the keys. The local stack's own JWKS is first read here, so no cached view hides the new key.
    it('rotation: a scheduler event creates a key that the JWKS publishes before it signs', async () => {
      const fn = bundledFunction('scheduled signing-key rotation');
      const propagation = Number(fn.variables.ROTATION_PROPAGATION_SECONDS);
      expect(Number.isSafeInteger(propagation), 'the template sets ROTATION_PROPAGATION_SECONDS').toBe(true);
      const before = Date.now();
      // EventBridge Scheduler's default input for a Lambda target is an empty object.
      const { value, logs } = await runFunction(fn, (invoke) =>
        invoke<{ created: string; signsFrom: string; scheduledForDeletion: string[] }>({}),
      );
      const after = Date.now();
      // An RFC 7638 thumbprint: base64url SHA-256.
      expect(value.created).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(value.scheduledForDeletion).toEqual([]);
      // The template's propagation period reached the function (the schedule starts a second or two after the call).
      const signsFrom = Date.parse(value.signsFrom);
      expect(signsFrom).toBeGreaterThanOrEqual(before + propagation * 1000);
      expect(signsFrom).toBeLessThanOrEqual(after + (propagation + 3) * 1000);
      expect(logs).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ event: 'signing_key_rotated', service: fn.variables.SERVICE_NAME }),
        ]),
      );

      const jwks = (await (await fetch(`${stack.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
      expect(jwks.keys).toHaveLength(2);
      expect(jwks.keys.map((key) => key.kid)).toContain(value.created);
    }, 60_000);
  });
});

const API_ID = 'a1b2c3d4e5';
/** A browser app's origin, listed by the bundle tests' public client. */
const SPA_ORIGIN = 'https://spa.example.test';
const STAGE = 'prod';

/**
 * A REST API (payload format 1.0) Lambda proxy event, complete, as API Gateway sends it: the routes have
 * no path parameters, so the resource is the path; requestContext.path carries the stage.
 */
function proxyEvent(request: {
  method: 'GET' | 'POST' | 'OPTIONS';
  path: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  body?: string;
  /** Sent base64-encoded, as API Gateway does for a binary media type. */
  base64?: boolean;
}): APIGatewayProxyEvent {
  const host = `${API_ID}.execute-api.${LOCAL_REGION}.amazonaws.com`;
  const sourceIp = '203.0.113.9';
  const userAgent = 'bundle-test/1.0';
  const headers: Record<string, string> = {
    Host: host,
    'User-Agent': userAgent,
    'X-Forwarded-For': sourceIp,
    'X-Forwarded-Port': '443',
    'X-Forwarded-Proto': 'https',
    ...request.headers,
  };
  const query = request.query === undefined || Object.keys(request.query).length === 0 ? null : request.query;
  const now = new Date();
  // API Gateway's format: 09/Apr/2015:12:34:56 +0000.
  const [, day, month, year, time] = /^\w+, (\d+) (\w+) (\d+) ([\d:]+)/.exec(now.toUTCString())!;
  return {
    resource: request.path,
    path: request.path,
    httpMethod: request.method,
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]])),
    queryStringParameters: query,
    multiValueQueryStringParameters:
      query === null ? null : Object.fromEntries(Object.entries(query).map(([name, value]) => [name, [value]])),
    pathParameters: null,
    stageVariables: null,
    body:
      request.body === undefined
        ? null
        : request.base64
          ? Buffer.from(request.body, 'utf8').toString('base64')
          : request.body,
    isBase64Encoded: request.body !== undefined && request.base64 === true,
    requestContext: {
      accountId: '123456789012',
      apiId: API_ID,
      authorizer: null,
      domainName: host,
      domainPrefix: API_ID,
      extendedRequestId: randomUUID(),
      httpMethod: request.method,
      identity: callerIdentity(sourceIp, userAgent),
      path: `/${STAGE}${request.path}`,
      protocol: 'HTTP/1.1',
      requestId: randomUUID(),
      requestTime: `${day}/${month}/${year}:${time} +0000`,
      requestTimeEpoch: now.getTime(),
      resourceId: 'abc123',
      resourcePath: request.path,
      stage: STAGE,
    },
  };
}

/** A proxy result with its JSON body parsed (an empty body, as in a 304, stays empty). */
function response(result: APIGatewayProxyResult) {
  return {
    status: result.statusCode,
    headers: result.headers,
    body: (result.body === '' ? {} : JSON.parse(result.body)) as Record<string, unknown>,
  };
}

interface BundledFunction {
  /** The template's logical id, the function's name here. */
  readonly id: string;
  readonly assetDir: string;
  /** As in the template, e.g. index.handler. */
  readonly handler: string;
  readonly module: string;
  readonly exportName: string;
  readonly variables: Record<string, unknown>;
  readonly memoryMiB: number;
  readonly timeoutSeconds: number;
  readonly runtime: string;
}

type Invoke = <R = APIGatewayProxyResult>(event: unknown) => Promise<R>;

interface BundleRun<T> {
  readonly value: T;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout's JSON lines: the function's log. */
  readonly logs: { event?: string; service?: string }[];
}

/**
 * A stand-in for Lambda's Node.js runtime: loads the handler's module from the task root (a missing file,
 * a dynamic require or a wrong export throws right here), then takes events over IPC one at a time, as
 * the Runtime API hands them out, and answers with the handler's result. Any error, thrown or rejected,
 * ends the process with exit code 1 and the stack trace on stderr.
 */
const LAMBDA_RUNTIME = `
  const { join } = require('node:path');
  const [, taskRoot, moduleName, exportName, functionName, memory, timeoutSeconds] = process.argv;
  const handler = require(join(taskRoot, moduleName))[exportName];
  if (typeof handler !== 'function') throw new Error(moduleName + '.' + exportName + ' is not a function');
  process.on('message', ({ id, event }) => {
    const deadline = Date.now() + Number(timeoutSeconds) * 1000;
    const context = {
      functionName, functionVersion: '$LATEST', memoryLimitInMB: memory, awsRequestId: id,
      callbackWaitsForEmptyEventLoop: true, getRemainingTimeInMillis: () => deadline - Date.now(),
    };
    Promise.resolve()
      .then(() => handler(event, context))
      .then((result) => process.send({ id, result }))
      .catch((error) => { console.error(error); process.exit(1); });
  });`;

/**
 * Runs the function's bundle in a child process for `session`, then disconnects and waits for it to exit
 * by itself. Asynchronous throughout: the KMS emulator answers from this process's event loop.
 */
async function runBundle<T>(
  fn: BundledFunction,
  env: Record<string, string>,
  session: (invoke: Invoke) => Promise<T>,
): Promise<BundleRun<T>> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      LAMBDA_RUNTIME,
      fn.assetDir,
      fn.module,
      fn.exportName,
      fn.id,
      String(fn.memoryMiB),
      String(fn.timeoutSeconds),
    ],
    { cwd: fn.assetDir, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  // A send to a process that already died: its exit reports it.
  child.on('error', (error) => (stderr += `\n${String(error)}`));
  // The exit and the end of its output: 'close' never comes once the parent has disconnected the IPC channel.
  const exited = Promise.all([
    new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    ),
    new Promise((resolve) => child.stdout!.once('close', resolve)),
    new Promise((resolve) => child.stderr!.once('close', resolve)),
  ]).then(([status]) => status);
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const pending = new Map<string, (result: unknown) => void>();
  child.on('message', (message: { id: string; result: unknown }) => pending.get(message.id)?.(message.result));
  const invoke: Invoke = <R>(event: unknown) =>
    new Promise<R>((resolve, reject) => {
      const id = randomUUID();
      pending.set(id, (result) => resolve(result as R));
      void exited.then(({ code, signal }) =>
        reject(new Error(`${fn.id} exited with ${code ?? signal} during an invocation:\n${stderr}`)),
      );
      child.send({ id, event });
    });
  try {
    const value = await session(invoke);
    if (child.connected) child.disconnect();
    const { code, signal } = await exited;
    const logs = stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { event?: string; service?: string });
    return { value, code, signal, stdout, stderr, logs };
  } finally {
    if (child.connected) child.disconnect();
    clearTimeout(killer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
