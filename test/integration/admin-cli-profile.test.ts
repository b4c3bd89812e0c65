/**
 * `ropc-admin --stack NAME --profile P`: the AWS shared-config profile behind a deployed stack's clients,
 * as the AWS CLI's --profile, and AWS_PROFILE without it. The real entry runs as a child process with its
 * own AWS config and credentials files; CloudFormation is a stand-in on loopback and DynamoDB is DynamoDB
 * Local behind a recording proxy, so every request's SigV4 credential scope (access key id and region)
 * shows which profile signed it.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../bin/admin/cli';
import { resolveTarget } from '../../bin/admin/target';
import {
  CLIENTS_TABLE_NAME_OUTPUT,
  ISSUER_OUTPUT,
  LOGIN_ATTEMPTS_TABLE_NAME_OUTPUT,
  REFRESH_TOKENS_TABLE_NAME_OUTPUT,
  SCRYPT_PARAMS_OUTPUT,
  SIGNING_KEY_ALIAS_OUTPUT,
  SIGNING_KEYS_TABLE_NAME_OUTPUT,
  TOKEN_ENDPOINT_OUTPUT,
  USERS_TABLE_NAME_OUTPUT,
} from '../../contract/stack-outputs';
import type { TableNames } from '../../contract/tables';
import { LOCAL_REGION, writeStackState } from '../../local/state';
import { freshTables } from '../support/aws';

const REPO = join(import.meta.dirname, '..', '..');

/** Each profile's access key id and region; `default` is what the SDK uses when no profile is named. */
const PROFILES = {
  ops: { key: 'AKIAOPSPROFILE', region: 'eu-north-9' },
  other: { key: 'AKIAOTHERPROFILE', region: 'ap-south-7' },
  default: { key: 'AKIADEFAULTPROFILE', region: 'us-west-9' },
} as const;

interface Signed {
  readonly service: string;
  /** `ACCESS_KEY_ID/REGION` from the Authorization header's credential scope. */
  readonly scope: string;
}

let dynamodbEndpoint: string;
let tables: TableNames;
let stateDir: string;
let awsDir: string;
let server: Server;
let serverUrl: string;
let clientId: string;
const signed: Signed[] = [];

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    request.on('data', (chunk: Buffer) => void (body += chunk.toString('utf8')));
    request.on('end', () => resolve(body));
    request.on('error', reject);
  });
}

/** Stack outputs by stack name: `deployed` names this file's tables, `stale` tables that do not exist. */
function stackOutputs(stackName: string): Record<string, string> | undefined {
  if (stackName !== 'deployed' && stackName !== 'stale') return undefined;
  const name = (table: keyof TableNames) => (stackName === 'deployed' ? tables[table] : `gone-${table}`);
  return {
    [CLIENTS_TABLE_NAME_OUTPUT]: name('clients'),
    [USERS_TABLE_NAME_OUTPUT]: name('users'),
    [REFRESH_TOKENS_TABLE_NAME_OUTPUT]: name('refreshTokens'),
    [LOGIN_ATTEMPTS_TABLE_NAME_OUTPUT]: name('loginAttempts'),
    [SIGNING_KEYS_TABLE_NAME_OUTPUT]: name('signingKeys'),
    [SIGNING_KEY_ALIAS_OUTPUT]: `alias/ropc-token-service/${stackName}/signing`,
    [ISSUER_OUTPUT]: 'https://auth.example.com',
    [TOKEN_ENDPOINT_OUTPUT]: 'https://auth.example.com/token',
    [SCRYPT_PARAMS_OUTPUT]: 'N=1024,r=8,p=1',
  };
}

function describeStacksResponse(stackName: string): { status: number; body: string } {
  const outputs = stackOutputs(stackName);
  if (outputs === undefined) {
    return {
      status: 400,
      body:
        '<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type>' +
        `<Code>ValidationError</Code><Message>Stack with id ${stackName} does not exist</Message></Error>` +
        '<RequestId>1</RequestId></ErrorResponse>',
    };
  }
  const members = Object.entries(outputs)
    .map(([key, value]) => `<member><OutputKey>${key}</OutputKey><OutputValue>${value}</OutputValue></member>`)
    .join('');
  return {
    status: 200,
    body:
      '<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member>' +
      `<StackName>${stackName}</StackName><StackStatus>CREATE_COMPLETE</StackStatus>` +
      `<CreationTime>2026-12-01T00:00:00Z</CreationTime><Outputs>${members}</Outputs>` +
      '</member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeStacksResponse>',
  };
}

beforeAll(async () => {
  ({ endpoint: dynamodbEndpoint, tables } = await freshTables());
  stateDir = await mkdtemp(join(tmpdir(), 'ropc-admin-profile-state-'));
  awsDir = await mkdtemp(join(tmpdir(), 'ropc-admin-profile-aws-'));
  await writeFile(
    join(awsDir, 'config'),
    Object.entries(PROFILES)
      .map(([name, { region }]) => `[${name === 'default' ? 'default' : `profile ${name}`}]\nregion = ${region}\n`)
      .join('\n'),
  );
  await writeFile(
    join(awsDir, 'credentials'),
    Object.entries(PROFILES)
      .map(([name, { key }]) => `[${name}]\naws_access_key_id = ${key}\naws_secret_access_key = secret-of-${name}\n`)
      .join('\n'),
  );

  // One loopback server for both services: CloudFormation's query API (DescribeStacks) answered here,
  // DynamoDB's JSON API passed on to DynamoDB Local (which accepts any signature).
  server = createServer((request, response) => {
    void (async () => {
      const body = await readBody(request);
      const scope = /Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\//.exec(request.headers.authorization ?? '');
      const target = request.headers['x-amz-target'];
      const service = typeof target === 'string' && target.startsWith('DynamoDB_') ? 'dynamodb' : 'cloudformation';
      signed.push({ service, scope: scope === null ? 'unsigned' : `${scope[1]}/${scope[2]}` });
      if (service === 'cloudformation') {
        const answer = describeStacksResponse(new URLSearchParams(body).get('StackName') ?? '');
        response.writeHead(answer.status, { 'Content-Type': 'text/xml' });
        response.end(answer.body);
        return;
      }
      const forwarded = await fetch(dynamodbEndpoint, {
        method: 'POST',
        headers: {
          'Content-Type': request.headers['content-type'] ?? 'application/x-amz-json-1.0',
          'X-Amz-Target': target as string,
          Authorization: request.headers.authorization ?? '',
          'X-Amz-Date': String(request.headers['x-amz-date'] ?? ''),
        },
        body,
      });
      response.writeHead(forwarded.status, {
        'Content-Type': forwarded.headers.get('content-type') ?? 'application/x-amz-json-1.0',
      });
      response.end(await forwarded.text());
    })().catch((error: Error) => {
      response.writeHead(500);
      response.end(error.message);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // A client to find in the "deployed" stack's table, registered through the local stack's state.
  await writeStackState(stateDir, {
    issuer: 'http://127.0.0.1:3000',
    tokenEndpoint: 'http://127.0.0.1:3000/token',
    dynamodbEndpoint,
    kmsEndpoint: 'http://127.0.0.1:1',
    region: LOCAL_REGION,
    tables,
    signingKeyAlias: 'alias/ropc-token-service/test',
    scrypt: { N: 1024, r: 8, p: 1 },
    accessTokenTtl: 900,
    pid: process.pid,
    startedAt: new Date().toISOString(),
  });
  clientId = `profiled-${randomUUID().slice(0, 8)}`;
  const created = await runInProcess(['clients', 'create', clientId, '--public']);
  expect(created.code).toBe(0);
});

afterAll(async () => {
  if (server !== undefined) await new Promise((resolve) => server.close(resolve));
  for (const dir of [stateDir, awsDir]) if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

interface Run {
  code: number;
  out: string;
  err: string;
}

async function runInProcess(argv: string[]): Promise<Run> {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    stdin: '',
    stdout: (text) => void (out += text),
    stderr: (text) => void (err += text),
    env: { LOCAL_STATE_DIR: stateDir },
  });
  return { code, out, err };
}

/**
 * bin/ropc-admin.js with only this file's AWS settings: none of the caller's AWS_* variables (keys, region,
 * profile, endpoints), the config and credentials files above, both services on the loopback server, and
 * no instance metadata lookups.
 */
function spawnCli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] => !entry[0].startsWith('AWS_') && entry[1] !== undefined,
    ),
  );
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO, 'bin', 'ropc-admin.js'), ...args], {
      cwd: REPO,
      env: {
        ...base,
        HOME: awsDir,
        AWS_CONFIG_FILE: join(awsDir, 'config'),
        AWS_SHARED_CREDENTIALS_FILE: join(awsDir, 'credentials'),
        AWS_ENDPOINT_URL_CLOUDFORMATION: serverUrl,
        AWS_ENDPOINT_URL_DYNAMODB: serverUrl,
        AWS_EC2_METADATA_DISABLED: 'true',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => void (out += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => void (err += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

/** Runs the CLI and returns the requests it signed. */
async function signedBy(args: string[], env: Record<string, string> = {}): Promise<{ run: Run; requests: Signed[] }> {
  const before = signed.length;
  const run = await spawnCli(args, env);
  return { run, requests: signed.slice(before) };
}

const scopeOf = (profile: keyof typeof PROFILES, region: string = PROFILES[profile].region) =>
  `${PROFILES[profile].key}/${region}`;

// Each case starts the CLI as a process, and the first may bundle it (bin/ropc-admin.js): slow when loaded.
describe('--profile and AWS_PROFILE with --stack', { timeout: 120_000 }, () => {
  it.each([
    ['--profile', ['--profile', 'ops'], {}, scopeOf('ops')],
    ['AWS_PROFILE without --profile', [], { AWS_PROFILE: 'ops' }, scopeOf('ops')],
    ['--profile over AWS_PROFILE', ['--profile', 'ops'], { AWS_PROFILE: 'other' }, scopeOf('ops')],
    [
      '--region over the profile region',
      ['--profile', 'ops', '--region', 'eu-west-1'],
      {},
      scopeOf('ops', 'eu-west-1'),
    ],
    ['neither: the default profile', [], {}, scopeOf('default')],
  ] as const)('%s: signs DescribeStacks and the DynamoDB calls as that profile', async (_, options, env, scope) => {
    const { run, requests } = await signedBy(['clients', 'list', '--stack', 'deployed', ...options, '--json'], env);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    const listed = JSON.parse(run.out) as { clients: { client_id: string }[] };
    expect(listed.clients.map((client) => client.client_id)).toContain(clientId);
    expect(requests.map((request) => request.service)).toEqual(['cloudformation', 'dynamodb']);
    expect(requests.map((request) => request.scope)).toEqual([scope, scope]);
  });

  it("names the profile and the region it resolved to in the stack's description", async () => {
    const { run, requests } = await signedBy(['clients', 'list', '--stack', 'stale', '--profile', 'ops']);
    expect(run.code).toBe(1);
    expect(run.out).toBe('');
    expect(run.err).toMatch(/^ropc-admin: a table of stack "stale" in eu-north-9 \(profile ops\) does not exist/);
    expect(requests.map((request) => request.scope)).toEqual([scopeOf('ops'), scopeOf('ops')]);

    const missing = await spawnCli(['clients', 'list', '--stack', 'nowhere'], { AWS_PROFILE: 'other' });
    expect(missing.code).toBe(1);
    expect(missing.err).toBe(
      'ropc-admin: there is no CloudFormation stack "nowhere" (profile other) (check --stack, --region and --profile)\n',
    );
  });

  it('says which profile to check when it is not in the AWS config (exit 1), without calling AWS', async () => {
    const { run, requests } = await signedBy(['clients', 'list', '--stack', 'deployed', '--profile', 'nope']);
    expect(run.code).toBe(1);
    expect(run.out).toBe('');
    expect(run.err.trimEnd().split('\n')).toHaveLength(1);
    expect(run.err).toMatch(
      /^ropc-admin: cannot read the CloudFormation stack "deployed" \(profile nope\): no AWS region/,
    );
    expect(run.err).toContain('is there a profile "nope" in the AWS config');
    expect(requests).toEqual([]);

    // With a region, the unknown profile's missing credentials are what fails.
    const withRegion = await spawnCli([
      'clients',
      'list',
      '--stack',
      'deployed',
      '--profile',
      'nope',
      '--region',
      'eu-west-1',
    ]);
    expect(withRegion.code).toBe(1);
    expect(withRegion.err).toMatch(/no usable AWS credentials .*is there a profile "nope" in the AWS config/);
    expect(withRegion.err).toContain('`aws sso login --profile nope`');
  });

  it('passes --profile to the DescribeStacks seam, and leaves AWS_PROFILE to the SDK', async () => {
    const calls: unknown[][] = [];
    const outputs = Object.entries(stackOutputs('deployed') ?? {}).map(([OutputKey, OutputValue]) => ({
      OutputKey,
      OutputValue,
    }));
    for (const [profile, env] of [
      ['ops', { AWS_PROFILE: 'other' }],
      [undefined, { AWS_PROFILE: 'other' }],
    ] as const) {
      const target = await resolveTarget({
        stack: 'prod',
        region: 'eu-west-1',
        ...(profile === undefined ? {} : { profile }),
        env,
        describeStackOutputs: async (...args) => {
          calls.push(args);
          return outputs;
        },
      });
      target.close();
      expect(target.description).toBe(`stack "prod" in eu-west-1 (profile ${profile ?? 'other'})`);
    }
    expect(calls).toEqual([
      ['prod', 'eu-west-1', 'ops'],
      ['prod', 'eu-west-1', undefined],
    ]);
  });
});

describe('--profile without --stack', () => {
  it.each([
    [['clients', 'list', '--profile', 'ops'], '--profile only applies with --stack NAME'],
    [['keys', 'rotate', '--profile=ops', '--json'], '--profile only applies with --stack NAME'],
    [['clients', 'list', '--stack', 'prod', '--profile='], 'option --profile needs a profile name'],
    [['clients', 'list', '--stack', 'prod', '--profile'], 'option --profile needs a value'],
    [['clients', 'list', '--stack', 'prod', '--profile', '--json'], 'option --profile needs a value'],
  ])('%j is a usage error (exit 2)', async (argv, message) => {
    const result = await runInProcess(argv);
    expect(result.code).toBe(2);
    expect(result.out).toBe('');
    expect(result.err).toMatch(/^ropc-admin: .+\n$/);
    expect(result.err).toContain(message);
  });

  it('is listed among the options of every command', async () => {
    const overview = await runInProcess(['--help']);
    expect(overview.out).toMatch(/^Usage: ropc-admin \[--stack NAME \[--region R\] \[--profile P\]\]/);
    expect(overview.out).toMatch(/^ {2}--profile P {2,}the AWS shared-config profile for --stack/m);
    expect((await runInProcess(['users', 'list', '--help'])).out).toMatch(/^ {2}--profile P {2,}/m);
  });
});
