/**
 * `ropc-admin users import` of 100,000 users against DynamoDB Local, through the CLI in-process (file
 * reading, the checking pass, the conditional transactional writes), against a floor measured in the same
 * run: the same items written by raw BatchWriteItem (no condition, no check, the most DynamoDB Local
 * takes), and beside the alternative to transactions (a consistent BatchGetItem to skip existing users,
 * then BatchWriteItem), which is faster but would overwrite a user created between its read and its write.
 * Memory: peak RSS and heap during the import, and the live heap (after a full collection) of a 10,000-
 * and a 100,000-user import: what grows with the file is the duplicate check's digests alone.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { runCli } from '../bin/admin/cli';
import type { TableNames } from '../contract/tables';
import { createDocumentClient } from '../lambda/adapters/aws-clients';
import { hashPassword } from '../lambda/passwords';
import { ensureTables, localTableNames } from '../local/bootstrap';
import { startDynamoDbLocal } from '../local/dynamodb-local';
import { LOCAL_CREDENTIALS, LOCAL_REGION, writeStackState } from '../local/state';
import { type Bench, round } from './lib';

const USERS = 100_000;
const SMALL = 10_000;
/** The floor's requests in flight; the best of these is the floor. */
const FLOOR_CONCURRENCY = [8, 32];
const SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const MB = 2 ** 20;
/** Written to a table of its own before each measurement, so that the JVM is warm. */
const WARM_UP_ITEMS = 5_000;
const LIVE_HEAP_SAMPLE_MS = 500;

interface Sample {
  readonly rss: number;
  readonly heapUsed: number;
}

export const importBench: Bench = {
  name: 'import',
  async run() {
    const dir = await mkdtemp(join(tmpdir(), 'ropc-bench-import-'));
    try {
      const passwordHash = await hashPassword('bench password', SCRYPT);
      const big = join(dir, 'users-100k.jsonl');
      const small = join(dir, 'users-10k.jsonl');
      await writeUsers(big, 'big', USERS, passwordHash);
      await writeUsers(small, 'small', SMALL, passwordHash);
      const items = (prefix: string, start: number, end: number) => userItems(prefix, start, end, passwordHash);

      // Each measurement on a DynamoDB Local of its own, warmed up first: one that holds the previous
      // measurement's 100,000 items answers more slowly, and a cold JVM more slowly still.
      const floors: { concurrency: number; rate: number }[] = [];
      for (const concurrency of FLOOR_CONCURRENCY) {
        await withDynamoDb(async ({ db, tables }) => {
          const started = performance.now();
          await batchWriteAll(db, tables.users, USERS, concurrency, (a, b) => items('floor', a, b));
          floors.push({ concurrency, rate: USERS / ((performance.now() - started) / 1000) });
        });
      }
      const floor = floors.reduce((best, next) => (next.rate > best.rate ? next : best));

      // The alternative to transactions: consistent BatchGetItem of 100, then BatchWriteItem of the
      // missing ones. Not what the import does: a user created between the read and the write is overwritten.
      const alternative = await withDynamoDb(async ({ db, tables }) => {
        const started = performance.now();
        await readThenBatchWrite(db, tables.users, USERS, floor.concurrency, (a, b) => items('alt', a, b));
        return USERS / ((performance.now() - started) / 1000);
      });

      const [bigRun, rerun] = await withDynamoDb(async (local) => [
        await importInto(local, dir, big, USERS),
        await importInto(local, dir, big, USERS),
      ]);
      // Memory on runs of their own: the live heap is sampled after a full collection, which slows them.
      const smallMemory = await withDynamoDb((local) => importInto(local, dir, small, SMALL, { liveHeap: true }));
      const bigMemory = await withDynamoDb((local) => importInto(local, dir, big, USERS, { liveHeap: true }));

      const rate = (run: { ms: number }, count: number) => count / (run.ms / 1000);
      const importRate = rate(bigRun, USERS);
      const ratio = importRate / floor.rate;
      const alternativeRatio = alternative / floor.rate;
      const how = 'check, then TransactWriteItems ×100, 8 in flight';
      const memoryCells = (run: ImportRun) => [
        round(run.peak.rss / MB, 1),
        round(run.peak.heapUsed / MB, 1),
        round(run.peak.liveHeap / MB, 1),
      ];
      return {
        name: `users import: ${USERS.toLocaleString('en-US')} users against DynamoDB Local, to a raw BatchWriteItem floor`,
        columns: ['run', 'users/s', 'ratio to floor', 'peak RSS MiB', 'peak heap MiB', 'peak live heap MiB'],
        rows: [
          ...floors.map((f) => [
            `floor: BatchWriteItem ×25, ${f.concurrency} in flight`,
            Math.round(f.rate),
            round(f.rate / floor.rate),
            '-',
            '-',
            '-',
          ]),
          [
            `alternative: BatchGetItem ×100 (consistent) + BatchWriteItem ×25, ${floor.concurrency} in flight`,
            Math.round(alternative),
            round(alternativeRatio),
            '-',
            '-',
            '-',
          ],
          [`import ${USERS.toLocaleString('en-US')} (${how})`, Math.round(importRate), round(ratio), '-', '-', '-'],
          [
            `re-run of the ${USERS.toLocaleString('en-US')} (all skipped)`,
            Math.round(rate(rerun, USERS)),
            round(rate(rerun, USERS) / floor.rate),
            '-',
            '-',
            '-',
          ],
          [
            `memory: import ${SMALL.toLocaleString('en-US')}`,
            Math.round(rate(smallMemory, SMALL)),
            '-',
            ...memoryCells(smallMemory),
          ],
          [
            `memory: import ${USERS.toLocaleString('en-US')}`,
            Math.round(rate(bigMemory, USERS)),
            '-',
            ...memoryCells(bigMemory),
          ],
        ],
        notes: [
          `goal ≥ 0.8× the floor (the faster of its runs): ${round(ratio)}× (${ratio >= 0.8 ? 'met' : 'NOT met'}); the read-then-write alternative: ${round(alternativeRatio)}×`,
          `live heap (after a full collection, sampled every ${LIVE_HEAP_SAMPLE_MS} ms), ${USERS.toLocaleString('en-US')} against ${SMALL.toLocaleString('en-US')} users: ${round((bigMemory.peak.liveHeap - smallMemory.peak.liveHeap) / MB, 1)} MiB more; peak RSS ${round((bigMemory.peak.rss - smallMemory.peak.rss) / MB, 1)} MiB more`,
          'the import rate counts both passes (the check reads the whole file before the first write)',
        ],
        data: { floors, floorRate: floor.rate, alternative, importRate, ratio, bigRun, rerun, smallMemory, bigMemory },
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};

interface LocalDynamoDb {
  readonly endpoint: string;
  readonly db: DynamoDBDocumentClient;
  readonly tables: TableNames;
}

/** A fresh DynamoDB Local with the service's tables, for one measurement; stopped afterwards. */
async function withDynamoDb<T>(work: (local: LocalDynamoDb) => Promise<T>): Promise<T> {
  const dynamodb = await startDynamoDbLocal();
  const raw = new DynamoDBClient({ endpoint: dynamodb.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const db = createDocumentClient({
    region: LOCAL_REGION,
    dynamodbEndpoint: dynamodb.endpoint,
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    const warmUp = localTableNames('warm-up');
    await ensureTables(raw, warmUp);
    await batchWriteAll(db, warmUp.users, WARM_UP_ITEMS, 8, (a, b) => userItems('warm-up', a, b, 'unused'));
    const tables = localTableNames('bench');
    await ensureTables(raw, tables);
    return await work({ endpoint: dynamodb.endpoint, db, tables });
  } finally {
    db.destroy();
    raw.destroy();
    await dynamodb.stop();
  }
}

type ImportRun = Awaited<ReturnType<typeof importInto>>;

/** `ropc-admin users import FILE --json` in this process, against a local stack state naming `local`. */
async function importInto(
  local: LocalDynamoDb,
  dir: string,
  file: string,
  count: number,
  options: { liveHeap?: boolean } = {},
) {
  const stateDir = join(dir, `state-${randomUUID().slice(0, 8)}`);
  await writeStackState(stateDir, {
    issuer: 'http://127.0.0.1:1',
    tokenEndpoint: 'http://127.0.0.1:1/token',
    dynamodbEndpoint: local.endpoint,
    kmsEndpoint: 'http://127.0.0.1:1',
    region: LOCAL_REGION,
    tables: local.tables,
    signingKeyAlias: 'alias/bench',
    scrypt: SCRYPT,
    accessTokenTtl: 900,
    pid: process.pid,
    startedAt: new Date().toISOString(),
  });
  return measure(async () => {
    let out = '';
    let err = '';
    const code = await runCli(['users', 'import', file, '--json'], {
      stdin: '',
      stdout: (text) => void (out += text),
      stderr: (text) => void (err += text),
      env: { LOCAL_STATE_DIR: stateDir },
    });
    if (code !== 0) throw new Error(`users import failed (${code}): ${err}`);
    const result = JSON.parse(out) as { imported: number; skipped: number };
    if (result.imported + result.skipped !== count) throw new Error(`users import did ${out}`);
    return result;
  }, options.liveHeap === true);
}

/** `count` lines, written as a stream (the file is never held whole here either). */
async function writeUsers(path: string, prefix: string, count: number, passwordHash: string): Promise<void> {
  const out = createWriteStream(path);
  for (let i = 0; i < count; i++) {
    const line = `${JSON.stringify({ username: `${prefix}-${i}`, password_hash: passwordHash, sub: `legacy-${prefix}-${i}`, scopes: 'read write' })}\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** Users items `prefix-start` … `prefix-(end - 1)`: what the import writes for such lines. */
function userItems(prefix: string, start: number, end: number, passwordHash: string): Record<string, unknown>[] {
  const at = new Date().toISOString();
  return Array.from({ length: end - start }, (_, k) => ({
    username: `${prefix}-${start + k}`,
    userId: `legacy-${prefix}-${start + k}`,
    passwordHash,
    scopes: ['read', 'write'],
    disabled: false,
    createdAt: at,
    passwordChangedAt: at,
  }));
}

type Items = (start: number, end: number) => Record<string, unknown>[];

/** Unconditional BatchWriteItem of 25, UnprocessedItems sent again, `concurrency` requests in flight. */
async function batchWriteAll(
  db: DynamoDBDocumentClient,
  table: string,
  count: number,
  concurrency: number,
  items: Items,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const start = next;
      next = Math.min(count, next + 25);
      await batchWrite(db, table, items(start, next));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

async function batchWrite(db: DynamoDBDocumentClient, table: string, items: Record<string, unknown>[]): Promise<void> {
  let requests: Record<string, unknown>[] | undefined = items.map((Item) => ({ PutRequest: { Item } }));
  for (let attempt = 0; requests !== undefined && requests.length > 0; attempt++) {
    if (attempt > 0) await sleep(Math.random() * Math.min(1000, 25 * 2 ** attempt));
    const { UnprocessedItems } = await db.send(new BatchWriteCommand({ RequestItems: { [table]: requests as never } }));
    requests = UnprocessedItems?.[table] as Record<string, unknown>[] | undefined;
  }
}

/** Per 100 users: a consistent BatchGetItem of their keys, then BatchWriteItem of 25 of those missing. */
async function readThenBatchWrite(
  db: DynamoDBDocumentClient,
  table: string,
  count: number,
  concurrency: number,
  items: Items,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const start = next;
      next = Math.min(count, next + 100);
      const batch = items(start, next);
      const existing = new Set<string>();
      let keys: Record<string, unknown>[] | undefined = batch.map((item) => ({ username: item.username }));
      while (keys !== undefined && keys.length > 0) {
        const { Responses, UnprocessedKeys } = await db.send(
          new BatchGetCommand({
            RequestItems: { [table]: { Keys: keys, ConsistentRead: true, ProjectionExpression: 'username' } },
          }),
        );
        for (const item of Responses?.[table] ?? []) existing.add(item.username as string);
        keys = UnprocessedKeys?.[table]?.Keys as Record<string, unknown>[] | undefined;
      }
      const missing = batch.filter((item) => !existing.has(item.username as string));
      await Promise.all(
        Array.from({ length: Math.ceil(missing.length / 25) }, (_, i) =>
          batchWrite(db, table, missing.slice(i * 25, i * 25 + 25)),
        ),
      );
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

function sample(): Sample {
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heapUsed };
}

/** A full collection on demand, for the live heap: V8's gc(), exposed at run time. */
const collect: () => void = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

/**
 * Runs `work`, sampling memory every 20 ms (and, with `liveHeap`, the heap after a full collection every
 * LIVE_HEAP_SAMPLE_MS): its time and its peaks.
 */
async function measure<T>(
  work: () => Promise<T>,
  liveHeap: boolean,
): Promise<{ ms: number; peak: Sample & { liveHeap: number }; result: T }> {
  collect();
  const first = sample();
  const peak = { rss: first.rss, heapUsed: first.heapUsed, liveHeap: first.heapUsed };
  const timer = setInterval(() => {
    const now = sample();
    peak.rss = Math.max(peak.rss, now.rss);
    peak.heapUsed = Math.max(peak.heapUsed, now.heapUsed);
  }, 20);
  const live = liveHeap
    ? setInterval(() => {
        collect();
        peak.liveHeap = Math.max(peak.liveHeap, process.memoryUsage().heapUsed);
      }, LIVE_HEAP_SAMPLE_MS)
    : undefined;
  const started = performance.now();
  try {
    const result = await work();
    return { ms: performance.now() - started, peak, result };
  } finally {
    clearInterval(timer);
    clearInterval(live);
  }
}
