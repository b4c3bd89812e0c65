import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { configToEnv } from '../../lambda/config';
import { startLocalStack } from '../../local/stack';
import { LOCAL_CREDENTIALS } from '../../local/state';
import { FAST_SCRYPT } from '../support/memory';
import { PROJECT_ROOT } from '../../lib/functions';
import { DEFAULT_STACK_NAME } from '../../lib/context';
import { seedStack } from '../support/seed';

/**
 * `npx cdk synth` exactly as an operator runs it (cdk.json → `npx tsx bin/app.ts`), offline: esbuild
 * bundles the four functions on this machine, cdk-nag runs as a validation plugin, and the cloud
 * assembly lands in a temporary directory.
 */
describe('cdk synth', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'ropc-cdk-synth-'));
  let result: ReturnType<typeof spawnSync>;
  let template: { Resources: Record<string, { Type: string; Properties?: Record<string, any>; Metadata?: Record<string, string> }> };

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
    if (result.status === 0) template = JSON.parse(readFileSync(join(outdir, `${DEFAULT_STACK_NAME}.template.json`), 'utf8'));
  }, 120_000);

  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it('exits 0 with no cdk-nag finding', () => {
    expect(result.error).toBeUndefined();
    expect(result.status, `${String(result.stdout)}\n${String(result.stderr)}`).toBe(0);
    const report = join(outdir, 'validation-report.json');
    if (existsSync(report)) {
      const { pluginReports } = JSON.parse(readFileSync(report, 'utf8')) as { pluginReports: { summary?: { status: string } }[] };
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

  it('deploys a token bundle that works: password and refresh grants against DynamoDB Local and the KMS emulator', async () => {
    const [id, token] = Object.entries(template.Resources).find(
      ([logicalId, resource]) => resource.Type === 'AWS::Lambda::Function' && logicalId.includes('Token'),
    )!;
    const code = join(outdir, token.Metadata!['aws:asset:path']!, 'index.js');
    const stack = await startLocalStack({
      dynamodbEndpoint: inject('dynamodbEndpoint'),
      tablePrefix: `bundle-${randomUUID().slice(0, 8)}`,
      config: { scrypt: FAST_SCRYPT },
      logSink: () => undefined,
    });
    try {
      await seedStack(stack, { clients: [{ clientId: 'bundle-app' }], users: [{ username: 'bundle-user', password: 'bundle password' }] });

      // In a child process, as Lambda runs it: the function's own NODE_OPTIONS, configuration from the environment.
      const event = (body: string) => ({
        httpMethod: 'POST',
        resource: '/token',
        path: '/token',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body,
        isBase64Encoded: false,
        requestContext: { requestId: randomUUID(), identity: { sourceIp: '203.0.113.9' } },
      });
      const script = `
        const { handler } = require(${JSON.stringify(code)});
        (async () => {
          const login = await handler(${JSON.stringify(event('grant_type=password&client_id=bundle-app&username=bundle-user&password=bundle%20password'))});
          const refreshToken = JSON.parse(login.body).refresh_token;
          const event = ${JSON.stringify(event('grant_type=refresh_token&client_id=bundle-app&refresh_token='))};
          const refresh = await handler({ ...event, body: event.body + encodeURIComponent(refreshToken ?? '') });
          process.stdout.write('\\nRESULT ' + JSON.stringify([login, refresh].map((r) => ({ status: r.statusCode, body: JSON.parse(r.body) }))) + '\\n');
        })().catch((error) => { console.error(error); process.exit(1); });`;
      // Asynchronously: the KMS emulator answers from this process's event loop.
      const child = await run(process.execPath, ['-e', script], {
        timeout: 60_000,
        env: {
          PATH: process.env.PATH,
          ...configToEnv(stack.config),
          AWS_REGION: stack.region,
          AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
          NODE_OPTIONS: token.Properties?.Environment?.Variables?.NODE_OPTIONS,
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: '1',
        },
      });
      expect(child.code, `${id}: ${child.stderr}`).toBe(0);
      // stdout also carries the function's JSON log lines, as on Lambda.
      const lines = child.stdout.split('\n');
      const result = lines.find((line) => line.startsWith('RESULT '));
      const [login, refresh] = JSON.parse(result?.slice('RESULT '.length) ?? 'null') as { status: number; body: Record<string, unknown> }[];
      const logs = lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { event?: string });
      expect(logs.map((entry) => entry.event)).toEqual(expect.arrayContaining(['password_grant_succeeded', 'refresh_grant_succeeded']));
      const logText = lines.filter((line) => line.startsWith('{')).join('\n');
      for (const secret of ['bundle password', login!.body.refresh_token, login!.body.access_token, refresh!.body.refresh_token]) {
        expect(logText).not.toContain(String(secret));
      }
      expect(login).toMatchObject({ status: 200, body: { token_type: 'Bearer', scope: 'read' } });
      expect(refresh).toMatchObject({ status: 200, body: { token_type: 'Bearer', scope: 'read' } });
      const jwks = createLocalJWKSet((await (await fetch(`${stack.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet);
      await jwtVerify(String(refresh!.body.access_token), jwks, { issuer: stack.issuer, typ: 'at+jwt' });
    } finally {
      await stack.stop();
    }
  }, 90_000);
});

function run(command: string, args: string[], options: { timeout: number; env: NodeJS.ProcessEnv }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { ...options, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
}
