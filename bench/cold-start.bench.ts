import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { type Bench, round, stats } from './lib';

const ROOT = join(import.meta.dirname, '..');
const RUNS = 15;

/**
 * Cold start: each Lambda bundle `cdk synth` produces, its size and the time bare `node` takes to load
 * it, side by side with a naive esbuild bundle of just the SDK clients the service uses (one command of
 * each), built with the same options. Goal: the token function loads no slower than the naive bundle
 * and is at most 1.1x its size. Bare `node` is the yardstick; the last column loads each function's
 * bundle again with the NODE_OPTIONS its template sets (--enable-source-maps: Node then reads the source
 * map at load), as Lambda does. The naive bundle has no NODE_OPTIONS, so its two columns are one number.
 */
export const coldStartBench: Bench = {
  name: 'cold-start',
  async run() {
    const out = mkdtempSync(join(tmpdir(), 'ropc-cold-start-'));
    try {
      const synth = spawnSync('npx', ['cdk', 'synth', '--no-notices', '-q', '-o', join(out, 'cdk.out')], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      if (synth.status !== 0) throw new Error(`cdk synth failed: ${synth.stderr}`);
      const template = JSON.parse(readFileSync(join(out, 'cdk.out', templateName(join(out, 'cdk.out'))), 'utf8')) as {
        Resources: Record<
          string,
          {
            Type: string;
            Metadata?: Record<string, string>;
            Properties?: { Handler?: string; Environment?: { Variables?: Record<string, string> } };
          }
        >;
      };
      const bundles = Object.entries(template.Resources)
        .filter(([, resource]) => resource.Type === 'AWS::Lambda::Function' && resource.Metadata?.['aws:asset:path'])
        .map(([id, resource]) => ({
          name: functionName(id),
          file: join(out, 'cdk.out', resource.Metadata!['aws:asset:path']!, 'index.js'),
          nodeOptions: resource.Properties?.Environment?.Variables?.NODE_OPTIONS,
        }));

      const naiveEntry = join(out, 'naive.ts');
      writeFileSync(
        naiveEntry,
        [
          "import { DynamoDBClient } from '@aws-sdk/client-dynamodb';",
          "import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';",
          "import { KMSClient, SignCommand } from '@aws-sdk/client-kms';",
          'const db = DynamoDBDocumentClient.from(new DynamoDBClient({}));',
          'const kms = new KMSClient({});',
          "export const handler = async () => Promise.all([db.send(new GetCommand({ TableName: 't', Key: { k: 'v' } })), kms.send(new SignCommand({ KeyId: 'k', Message: new Uint8Array(32), SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' }))]);",
        ].join('\n'),
      );
      const naiveFile = join(out, 'naive', 'index.js');
      buildSync({
        entryPoints: [naiveEntry],
        outfile: naiveFile,
        bundle: true,
        minify: true,
        platform: 'node',
        target: 'node22',
        format: 'cjs',
        nodePaths: [join(ROOT, 'node_modules')],
        logLevel: 'silent',
      });

      const measured = [...bundles, { name: 'naive SDK bundle', file: naiveFile, nodeOptions: undefined }].map(
        (bundle) => {
          const importMs = stats(importTimes(bundle.file)).p50;
          return {
            ...bundle,
            bytes: statSync(bundle.file).size,
            importMs,
            lambdaImportMs:
              bundle.nodeOptions === undefined ? importMs : stats(importTimes(bundle.file, bundle.nodeOptions)).p50,
          };
        },
      );
      const naive = measured.at(-1)!;
      const token = measured.find((bundle) => bundle.name === 'token');
      const rows = measured.map((bundle) => [
        bundle.name,
        bundle.bytes,
        round(bundle.bytes / naive.bytes),
        round(bundle.importMs, 1),
        round(bundle.importMs / naive.importMs),
        round(bundle.lambdaImportMs, 1),
      ]);
      const notes =
        token === undefined
          ? ['no token bundle found']
          : [
              `token size ${round(token.bytes / naive.bytes)}x the naive bundle (goal ≤ 1.1: ${token.bytes / naive.bytes <= 1.1 ? 'met' : 'not met'})`,
              `token import ${round(token.importMs / naive.importMs)}x the naive bundle (goal ≤ 1.0: ${token.importMs <= naive.importMs * 1.0 ? 'met' : 'not met'}; medians of ${RUNS} fresh node processes)`,
              `token import with NODE_OPTIONS=${token.nodeOptions ?? ''} as Lambda sets it: ${round(token.lambdaImportMs, 1)} ms, ${round(token.lambdaImportMs / naive.importMs)}x the naive bundle`,
            ];
      return {
        name: 'cold start: Lambda bundles from cdk synth vs a naive SDK bundle',
        columns: [
          'bundle',
          'bytes',
          'size ratio',
          'import ms (median)',
          'import ratio',
          'import ms with its NODE_OPTIONS (median)',
        ],
        rows,
        notes,
        data: measured,
      };
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  },
};

function templateName(dir: string): string {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
    artifacts: Record<string, { type: string; properties?: { templateFile?: string } }>;
  };
  const stack = Object.values(manifest.artifacts).find((artifact) => artifact.type === 'aws:cloudformation:stack');
  if (stack?.properties?.templateFile === undefined) throw new Error('no stack template in cdk.out');
  return stack.properties.templateFile;
}

function functionName(logicalId: string): string {
  for (const name of ['Token', 'Jwks', 'Metadata', 'Rotat'])
    if (logicalId.includes(name)) return name === 'Rotat' ? 'key rotation' : name.toLowerCase();
  return logicalId;
}

/**
 * Loads the bundle in a fresh `node` each time: the time `require` takes, module scope included;
 * `nodeOptions` (a function's NODE_OPTIONS) is passed in the environment when given.
 */
function importTimes(file: string, nodeOptions?: string): number[] {
  const script = `const t=process.hrtime.bigint();require(${JSON.stringify(file)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`;
  const env = nodeOptions === undefined ? process.env : { ...process.env, NODE_OPTIONS: nodeOptions };
  spawnSync(process.execPath, ['-e', script], { env }); // warm the file cache
  return Array.from({ length: RUNS }, () => {
    const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env });
    if (result.status !== 0) throw new Error(`loading ${file} failed: ${result.stderr}`);
    return Number(result.stdout);
  });
}
