import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/functions';
import { DEFAULT_STACK_NAME } from '../../lib/context';

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
});
