/**
 * `ropc-admin users import` of 100,000 users against DynamoDB Local, through the CLI in-process (file
 * reading, the checking pass, the claim on the users table, the index of the usernames it holds (a
 * keys-only Scan; the re-run reads its users back with BatchGetItem) and BatchWriteItem of the free
 * ones), against a floor measured in the same run: the same items written by
 * raw BatchWriteItem (no check, no read, the most DynamoDB Local takes).
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
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
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
/** Rounds of floor and import, side by side. */
const ROUNDS = 3;

interface Round {
  readonly floors: readonly { readonly concurrency: number; readonly rate: number }[];
  readonly floor: { readonly concurrency: number; readonly rate: number };
  readonly importRate: number;
}
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
      // measurement's 100,000 items answers more slowly, and a cold JVM more slowly still. DynamoDB Local
      // varies by a third from one JVM to the next, so the floor and the import are measured in ROUNDS
      // rounds, side by side, each import against the floor of its own round.
      const rounds: Round[] = [];
      let rerun: ImportRun | undefined;
      for (let round = 0; round < ROUNDS; round++) {
        const floors: { concurrency: number; rate: number }[] = [];
        for (const concurrency of FLOOR_CONCURRENCY) {
          await withDynamoDb(async ({ db, tables }) => {
            const started = performance.now();
            await batchWriteAll(db, tables.users, USERS, concurrency, (a, b) => items('floor', a, b));
            floors.push({ concurrency, rate: USERS / ((performance.now() - started) / 1000) });
          });
        }
        const floor = floors.reduce((best, next) => (next.rate > best.rate ? next : best));
        const run = await withDynamoDb(async (local) => {
          const first = await importInto(local, dir, big, USERS);
          if (round === 0) rerun = await importInto(local, dir, big, USERS);
          return first;
        });
        rounds.push({ floors, floor, importRate: USERS / (run.ms / 1000) });
      }
      // Memory on runs of their own: the live heap is sampled after a full collection, which slows them.
      const smallMemory = await withDynamoDb((local) => importInto(local, dir, small, SMALL, { liveHeap: true }));
      const bigMemory = await withDynamoDb((local) => importInto(local, dir, big, USERS, { liveHeap: true }));

      const rate = (run: { ms: number }, count: number) => count / (run.ms / 1000);
      const ratios = rounds.map((round) => round.importRate / round.floor.rate);
      const ratio = [...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)]!;
      const how = 'check, claim, index of the table, BatchWriteItem ×25, 8 batches of 100 in flight';
      const memoryCells = (run: ImportRun) => [
        round(run.peak.rss / MB, 1),
        round(run.peak.heapUsed / MB, 1),
        round(run.peak.liveHeap / MB, 1),
      ];
      const firstFloor = rounds[0]!.floor.rate;
      return {
        name: `users import: ${USERS.toLocaleString('en-US')} users against DynamoDB Local, to a raw BatchWriteItem floor`,
        columns: ['run', 'users/s', 'ratio to floor', 'peak RSS MiB', 'peak heap MiB', 'peak live heap MiB'],
        rows: [
          ...rounds.flatMap((measured, index) => [
            ...measured.floors.map((f) => [
              `round ${index + 1}: floor, BatchWriteItem ×25, ${f.concurrency} in flight`,
              Math.round(f.rate),
              round(f.rate / measured.floor.rate),
              '-',
              '-',
              '-',
            ]),
            [
              `round ${index + 1}: import ${USERS.toLocaleString('en-US')} (${how})`,
              Math.round(measured.importRate),
              round(measured.importRate / measured.floor.rate),
              '-',
              '-',
              '-',
            ],
          ]),
          [
            `re-run of the ${USERS.toLocaleString('en-US')} (all skipped; to round 1's floor)`,
            Math.round(rate(rerun!, USERS)),
            round(rate(rerun!, USERS) / firstFloor),
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
          `goal ≥ 0.8× the floor (the faster of its round's two): ${ratios.map((value) => `${round(value)}×`).join(', ')}, median ${round(ratio)}× (${ratio >= 0.8 ? 'met' : 'NOT met'})`,
          `live heap (after a full collection, sampled every ${LIVE_HEAP_SAMPLE_MS} ms), ${USERS.toLocaleString('en-US')} against ${SMALL.toLocaleString('en-US')} users: ${round((bigMemory.peak.liveHeap - smallMemory.peak.liveHeap) / MB, 1)} MiB more; peak RSS ${round((bigMemory.peak.rss - smallMemory.peak.rss) / MB, 1)} MiB more`,
          'the import rate counts both passes (the check reads the whole file before the first write)',
        ],
        data: { rounds, ratios, ratio, rerun, smallMemory, bigMemory },
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
