import { randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { checkJava, ensureDynamoDbLocal, startDynamoDbLocal } from '../../local/dynamodb-local';
import { freePort } from '../../local/net';

const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

function client(endpoint: string, region = 'us-east-1'): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region, credentials: CREDENTIALS, maxAttempts: 1 });
}

async function createTable(db: DynamoDBClient, name: string): Promise<void> {
  const { TableDescription } = await db.send(
    new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  expect(TableDescription?.TableName).toBe(name);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    expect((err as NodeJS.ErrnoException).code).toBe('ESRCH');
    return false;
  }
}

const scratch: string[] = [];
async function scratchDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `ropc-${prefix}-`));
  scratch.push(dir);
  return dir;
}

afterAll(async () => {
  await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('shared DynamoDB Local (global setup)', () => {
  const endpoint = inject('dynamodbEndpoint');
  const table = `ddb-local-${randomUUID().slice(0, 8)}`;
  let db: DynamoDBClient;

  beforeAll(async () => {
    db = client(endpoint);
    await createTable(db, table);
  });
  afterAll(() => db.destroy());

  it('is provided as a loopback http endpoint', () => {
    expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const port = Number(new URL(endpoint).port);
    expect(port).toBeGreaterThan(0);
    expect(port).toBeLessThan(65536);
  });

  it('shares tables across regions and credentials (-sharedDb)', async () => {
    const other = new DynamoDBClient({
      endpoint,
      region: 'eu-west-3',
      credentials: { accessKeyId: 'someoneElse', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    try {
      const { TableNames } = await other.send(new ListTablesCommand({}));
      expect(TableNames).toContain(table);
    } finally {
      other.destroy();
    }
  });

  it('puts and gets an item', async () => {
    await db.send(
      new PutItemCommand({
        TableName: table,
        Item: { pk: { S: 'user#1' }, name: { S: 'Ada' }, logins: { N: '3' } },
      }),
    );
    const { Item } = await db.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: 'user#1' } }, ConsistentRead: true }),
    );
    expect(Item).toEqual({ pk: { S: 'user#1' }, name: { S: 'Ada' }, logins: { N: '3' } });

    const missing = await db.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'user#404' } } }));
    expect(missing.Item).toBeUndefined();
  });

  it('reports a failed condition as ConditionalCheckFailedException and leaves the item alone', async () => {
    await db.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'once' }, v: { S: 'first' } } }));
    const attempt = db.send(
      new PutItemCommand({
        TableName: table,
        Item: { pk: { S: 'once' }, v: { S: 'second' } },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    await expect(attempt).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    await expect(attempt).rejects.toMatchObject({
      name: 'ConditionalCheckFailedException',
      $metadata: { httpStatusCode: 400 },
    });
    const { Item } = await db.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'once' } } }));
    expect(Item?.v).toEqual({ S: 'first' });
  });
});

describe('startDynamoDbLocal', () => {
  it('persists to dbPath across a stop and a restart; stop() is idempotent', { timeout: 180_000 }, async () => {
    const dbPath = join(await scratchDir('ddb-data'), 'nested', 'db'); // created by startDynamoDbLocal
    const messages: string[] = [];
    const log = (line: string): void => void messages.push(line);

    const first = await startDynamoDbLocal({ dbPath, log });
    expect(first.endpoint).toBe(`http://127.0.0.1:${first.port}`);
    expect(first.endpoint).not.toBe(inject('dynamodbEndpoint'));
    expect(Number.isInteger(first.pid) && first.pid > 0).toBe(true);
    expect(isAlive(first.pid)).toBe(true);
    expect(messages.some((m) => m.startsWith(`starting DynamoDB Local on port ${first.port}`))).toBe(true);
    expect(messages.some((m) => m.startsWith(`DynamoDB Local ready at ${first.endpoint}`))).toBe(true);

    const table = 'persisted';
    let db = client(first.endpoint);
    try {
      await createTable(db, table);
      await db.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'k' }, n: { N: '42' } } }));
    } finally {
      db.destroy();
    }
    await Promise.all([first.stop(), first.stop()]);
    await first.stop();
    expect(isAlive(first.pid)).toBe(false);
    expect(await readdir(dbPath)).toContain('shared-local-instance.db');

    const second = await startDynamoDbLocal({ dbPath });
    try {
      expect(second.pid).not.toBe(first.pid);
      db = client(second.endpoint, 'ap-southeast-2'); // -sharedDb: any region sees the same file
      try {
        const { TableNames } = await db.send(new ListTablesCommand({}));
        expect(TableNames).toEqual([table]);
        const { Item } = await db.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'k' } } }));
        expect(Item).toEqual({ pk: { S: 'k' }, n: { N: '42' } });
      } finally {
        db.destroy();
      }
    } finally {
      await second.stop();
    }
    expect(isAlive(second.pid)).toBe(false);
    await second.stop();
  });

  it('fails clearly, without mistaking another listener for itself, when a fixed port is taken', {
    timeout: 60_000,
  }, async () => {
    // A fake DynamoDB holds the port and answers ListTables: DynamoDB Local cannot bind it (and does not exit
    // when it cannot bind), and the answer must not be taken for our instance being ready.
    let fakeAnswers = 0;
    const impostor = createHttpServer((req, res) => {
      fakeAnswers++;
      req.resume();
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end('{"TableNames":[]}');
    });
    await new Promise<void>((resolve) => impostor.listen(0, '0.0.0.0', resolve));
    const port = (impostor.address() as { port: number }).port;
    try {
      const attempt = startDynamoDbLocal({ port, startTimeoutMs: 30_000 });
      await expect(attempt).rejects.toThrow(new RegExp(`DynamoDB Local could not bind port ${port}`));
      await expect(attempt).rejects.toThrow(/BindException: Address already in use/);
      expect(fakeAnswers).toBeGreaterThan(0);
    } finally {
      impostor.closeAllConnections();
      await new Promise<void>((resolve) => impostor.close(() => resolve()));
    }
  });
});

describe('ensureDynamoDbLocal', () => {
  it('fetches once, verifies, and survives concurrent callers and a half-finished cache', {
    timeout: 180_000,
  }, async () => {
    const cacheDir = join(await scratchDir('ddb-cache'), 'dynamodb-local');
    // Left behind by an interrupted extraction: no completion marker.
    await mkdir(join(cacheDir, 'emulator'), { recursive: true });
    await writeFile(join(cacheDir, 'emulator', 'partial'), 'x');

    const messages: string[] = [];
    const log = (line: string): void => void messages.push(line);
    const [a, b] = await Promise.all([ensureDynamoDbLocal(cacheDir, log), ensureDynamoDbLocal(cacheDir, log)]);
    expect(a).toBe(join(cacheDir, 'emulator'));
    expect(b).toBe(a);
    expect((await stat(join(a, 'DynamoDBLocal.jar'))).size).toBeGreaterThan(1_000_000);
    expect((await stat(join(a, 'DynamoDBLocal_lib'))).isDirectory()).toBe(true);
    const entries = await readdir(a);
    expect(entries).not.toContain('partial');
    const marker = JSON.parse(await readFile(join(cacheDir, '.complete.json'), 'utf8')) as Record<string, string>;
    expect(marker).toMatchObject({
      package: 'amplify-dynamodb-simulator',
      version: '2.9.30',
      integrity: expect.stringMatching(/^sha512-/),
    });
    expect(messages.filter((m) => m.startsWith('fetching DynamoDB Local…'))).toHaveLength(2);
    // Only the cache directory is left in the parent: no temporary or stale directories, no tarball.
    expect(await readdir(dirname(cacheDir))).toEqual(['dynamodb-local']);
    expect((await readdir(cacheDir)).sort()).toEqual(['.complete.json', 'emulator']);

    // Warm: no fetch, same directory.
    const warm: string[] = [];
    expect(await ensureDynamoDbLocal(cacheDir, (line) => warm.push(line))).toBe(a);
    expect(warm).toEqual([]);
  });
});

describe('checkJava', () => {
  it('accepts the Java on this machine', async () => {
    const { version } = await checkJava();
    expect(version).toBeGreaterThanOrEqual(17);
  });

  it('explains how to install Java when there is none on the PATH', async () => {
    const emptyDir = await scratchDir('no-java');
    const attempt = checkJava({ env: { PATH: emptyDir } });
    await expect(attempt).rejects.toThrow(/DynamoDB Local needs a Java 17\+ runtime/);
    await expect(attempt).rejects.toThrow(/no `java` executable was found on the PATH/);
    await expect(attempt).rejects.toThrow(/apt-get install -y default-jre-headless/);
    await expect(attempt).rejects.toThrow(/macOS: brew install openjdk@17/);
  });

  it('rejects an old Java and says which one it found', async () => {
    const dir = await scratchDir('old-java');
    const fake = join(dir, 'java');
    await writeFile(
      fake,
      "#!/bin/sh\necho 'java version \"1.8.0_392\"' >&2\necho 'Java(TM) SE Runtime Environment (build 1.8.0_392-b08)' >&2\n",
    );
    await chmod(fake, 0o755);
    await expect(checkJava({ javaBin: fake })).rejects.toThrow(
      /needs a Java 17\+ runtime, but found Java 8 \(java version "1\.8\.0_392"\)/,
    );
    await expect(checkJava({ env: { PATH: dir } })).rejects.toThrow(/found Java 8/);

    await writeFile(fake, '#!/bin/sh\necho \'openjdk version "21.0.2" 2024-01-16\' >&2\n');
    expect(await checkJava({ javaBin: fake })).toEqual({ version: 21 });
  });
});

describe('freePort', () => {
  it('returns a port that can be listened on', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    expect((server.address() as { port: number }).port).toBe(port);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
