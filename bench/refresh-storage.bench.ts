import { randomUUID } from 'node:crypto';
import {
  type AttributeValue,
  type ConsumedCapacity,
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient as DocumentClient,
  GetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { REFRESH_TOKENS_TABLE, type TableDefinition, type TableNames } from '../contract/tables';
import { jsonLogger } from '../lambda/adapters/logger';
import { DynamoRefreshTokenStore, familyKey, rotationUpdate } from '../lambda/adapters/refresh-token-store';
import { createTokenEndpointDeps } from '../lambda/handlers/runtime';
import { createTokenHandler } from '../lambda/handlers/token';
import type { TokenEndpointDeps } from '../lambda/oauth/grants/grant';
import { mintFamily } from '../lambda/oauth/grants/issue';
import { successorOf } from '../lambda/oauth/grants/refresh-token';
import type { RefreshFamily, RefreshToken } from '../lambda/oauth/ports';
import { DEFAULT_SCRYPT_PARAMS, hashPassword } from '../lambda/passwords';
import { createTableInput } from '../local/bootstrap';
import { startLocalStack } from '../local/stack';
import { LOCAL_CREDENTIALS } from '../local/state';
import { type Bench, round, stats } from './lib';
import {
  awsClients,
  BENCH_AUTHORIZATION,
  BENCH_CLIENT_ID,
  type BenchUser,
  SYSTEM_RANDOM,
  seedClient,
  seedUsers,
  tokenEndpointDeps,
} from './local-fixture';
import {
  mintPreviousRefreshToken,
  PREVIOUS_REFRESH_TOKENS_TABLE,
  PreviousRefreshTokenStore,
  previousRotationWrite,
} from './previous-refresh-model';

/** Sequential rotations per variant (and refreshes of the family whose storage is measured). */
const REFRESHES = 1000;
/** Rotations per variant in a round; each round runs every variant in an order that shifts by one per round. */
const BATCH = Number(process.env.REFRESH_MODEL_BATCH ?? 10);
const ROUNDS = Math.ceil(REFRESHES / BATCH);
const WARM_UP = 100;
const LOG_INVOCATIONS = 20;

const PREVIOUS_TABLE = 'refresh-model-previous';
const CURRENT_TABLE = 'refresh-model-current';

/** us-east-1 list prices, as README.md's cost section uses them ($ per million, or per GB). */
const PRICE = {
  apiGateway: 3.5,
  waf: 0.6,
  /** 1.7275 GB × 0.06 s × $13.33 per million GB-s: README's figure for a refresh grant (no scrypt). */
  lambdaCompute: 1.38,
  lambdaRequests: 0.2,
  kmsSign: 3.0,
  wru: 0.625,
  rru: 0.125,
  logsPerGb: 0.5,
  storagePerGbMonth: 0.25,
  pitrPerGbMonth: 0.2,
} as const;
const GOAL_PER_MILLION = 10.5;
/** DynamoDB bills every stored item (and every index entry) 100 bytes beyond its attributes. */
const ITEM_OVERHEAD = 100;

type Item = Record<string, AttributeValue>;
type Model = 'previous' | 'current';

/**
 * The previous refresh-token storage (one item per token, rotated by a 3-item transaction, `byUser` ALL)
 * and the current one (one item per family, rotated by one conditional UpdateItem) side by side against
 * DynamoDB Local, each in a table of its own shape: request units per refresh grant by DynamoDB's sizing
 * rules from the items actually written (and what DynamoDB Local reports), $ per million refresh grants at
 * list prices with the log bytes the handler writes, the rotation write's latency against its raw SDK
 * call, and the bytes one family holds after 1,000 refreshes.
 */
export const refreshModelBench: Bench = {
  name: 'refresh-model',
  async run() {
    const stack = await startLocalStack({ logSink: () => undefined });
    const { db, kms } = awsClients(stack);
    const raw = new DynamoDBClient({
      endpoint: stack.dynamodbEndpoint,
      region: stack.region,
      credentials: LOCAL_CREDENTIALS,
    });
    try {
      await raw.send(new CreateTableCommand(createTableInput(PREVIOUS_REFRESH_TOKENS_TABLE, PREVIOUS_TABLE)));
      await raw.send(new CreateTableCommand(createTableInput(REFRESH_TOKENS_TABLE, CURRENT_TABLE)));
      await seedClient(db, stack);
      const [user] = await seedUsers(db, stack, 'model', 1, await hashPassword('unused', DEFAULT_SCRYPT_PARAMS));
      const deps: TokenEndpointDeps = {
        ...tokenEndpointDeps(stack, db, kms, DEFAULT_SCRYPT_PARAMS),
        random: SYSTEM_RANDOM,
      };
      const models = new Models(deps, user!, db);

      // Request units: one rotation of each model with ReturnConsumedCapacity, its items read before and after.
      const units = {
        previous: await previousUnits(models, raw, stack.tables),
        current: await currentUnits(models, raw, stack.tables),
      };

      // Latency: the store's rotation and the raw SDK write, sequential, interleaved in rounds.
      const storage = { previous: await models.previousChain(), current: await models.currentChain() };
      const variants: Variant[] = [
        {
          label: 'previous: PreviousRefreshTokenStore.rotate',
          model: 'previous',
          kind: 'store',
          step: models.previousStore(storage.previous),
        },
        {
          label: 'previous: floor, TransactWriteItems alone',
          model: 'previous',
          kind: 'floor',
          step: await models.previousFloor(),
        },
        {
          label: 'current: DynamoRefreshTokenStore.rotate',
          model: 'current',
          kind: 'store',
          step: models.currentStore(storage.current),
        },
        {
          label: 'current: floor, UpdateItem alone',
          model: 'current',
          kind: 'floor',
          step: await models.currentFloor(),
        },
      ];
      // Warm-up: the stores on families of their own (the measured ones get exactly REFRESHES), the floors on theirs.
      const warmUps = [
        models.previousStore(await models.previousChain()),
        models.currentStore(await models.currentChain()),
        ...variants.filter((v) => v.kind === 'floor').map((v) => v.step),
      ];
      for (const step of warmUps) for (let i = 0; i < WARM_UP; i++) await step();
      const samples = new Map(variants.map((v) => [v, { write: [] as number[], total: [] as number[] }]));
      for (let r = 0; r < ROUNDS; r++) {
        const order = [...variants.slice(r % variants.length), ...variants.slice(0, r % variants.length)];
        for (const variant of order) {
          const into = samples.get(variant)!;
          for (let i = 0; i < BATCH; i++) {
            const { write, total } = await variant.step();
            into.write.push(write);
            into.total.push(total);
          }
        }
      }
      const latency = (model: Model, kind: Variant['kind'], of: 'write' | 'total' = 'write') =>
        stats(samples.get(variants.find((v) => v.model === model && v.kind === kind)!)![of]);

      // Storage: the family the store variants rotated ROUNDS × BATCH times, in each table and its indexes.
      const refreshes = ROUNDS * BATCH;
      const stored = {
        previous: await storedBytes(raw, PREVIOUS_TABLE, PREVIOUS_REFRESH_TOKENS_TABLE, storage.previous.familyId()),
        current: await storedBytes(raw, CURRENT_TABLE, REFRESH_TOKENS_TABLE, storage.current.familyId()),
      };
      await models.check(storage, refreshes);

      const logs = await logBytes(stack, db, kms, user!);

      const logsCost = (bytes: number) => (bytes / 1e9) * 1e6 * PRICE.logsPerGb;
      const cost = (model: Model) => {
        const u = units[model];
        const lines = [
          { item: 'API Gateway', arithmetic: `1 × $${PRICE.apiGateway}`, value: PRICE.apiGateway },
          { item: 'WAF', arithmetic: `1 × $${PRICE.waf}`, value: PRICE.waf },
          {
            item: 'Lambda compute',
            arithmetic: 'README: 1.7275 GB × 0.06 s × $13.33 per million GB-s',
            value: PRICE.lambdaCompute,
          },
          { item: 'Lambda requests', arithmetic: `1 × $${PRICE.lambdaRequests}`, value: PRICE.lambdaRequests },
          { item: 'KMS Sign', arithmetic: '10^6 / 10^4 × $0.03', value: PRICE.kmsSign },
          { item: 'DynamoDB reads', arithmetic: `${u.readUnits} RRU × $${PRICE.rru}`, value: u.readUnits * PRICE.rru },
          {
            item: 'DynamoDB writes',
            arithmetic: `${u.writeUnits} WRU × $${PRICE.wru}`,
            value: u.writeUnits * PRICE.wru,
          },
          {
            item: 'CloudWatch Logs',
            arithmetic: `${logs.total} B × 10^6 = ${round(logs.total / 1000, 3)} GB × $${PRICE.logsPerGb}`,
            value: logsCost(logs.total),
          },
        ];
        return { lines, total: lines.reduce((sum, line) => sum + line.value, 0) };
      };
      const costs = { previous: cost('previous'), current: cost('current') };
      const goalMet = costs.current.total <= GOAL_PER_MILLION;
      const withEventOverhead = costs.current.total + logsCost(logs.events * 26);

      const money = (value: number) => `$${value.toFixed(2)}`;
      const both = (f: (model: Model) => string | number) => [f('previous'), f('current')];
      const ms = (s: ReturnType<typeof stats>) => `${round(s.p50, 2)} / ${round(s.p99, 2)}`;
      const storageCost = (bytes: number, price: number) => money((bytes / 1e9) * 1e6 * price);
      const rows: (string | number)[][] = [
        [
          'refresh-token item read (GetItem, strongly consistent)',
          ...both((m) => `${units[m].readItemBytes} B → ${units[m].readItemUnits} RRU`),
        ],
        [
          'client + user reads (GetItem, strongly consistent)',
          ...both((m) => `${units[m].clientBytes} B + ${units[m].userBytes} B → 1 + 1 RRU`),
        ],
        ['read units per refresh grant, computed', ...both((m) => `${units[m].readUnits} RRU`)],
        [
          'read units, as DynamoDB Local reports them (item, client, user)',
          ...both((m) => units[m].reportedReads.map(describeReported).join(' + ')),
        ],
        ['rotation write', ...both((m) => units[m].writeArithmetic)],
        ['write units per refresh grant, computed', ...both((m) => `${units[m].writeUnits} WRU`)],
        ['write units, as DynamoDB Local reports them', ...both((m) => describeReported(units[m].reportedWrites))],
        ...costs.previous.lines.map((line, i) => [
          `$ per million: ${line.item}`,
          ...both((m) => `${money(costs[m].lines[i]!.value)} (${costs[m].lines[i]!.arithmetic})`),
        ]),
        ['$ per million refresh grants, total', ...both((m) => money(costs[m].total))],
        [`goal ≤ ${money(GOAL_PER_MILLION)} per million`, '', goalMet ? 'met' : 'NOT met'],
        [
          `rotation p50 / p99 ms: the store's rotate (${ROUNDS * BATCH} sequential)`,
          ...both((m) => ms(latency(m, 'store'))),
        ],
        [
          "rotation p50 / p99 ms: successor built + the store's rotate",
          ...both((m) => ms(latency(m, 'store', 'total'))),
        ],
        ['rotation p50 / p99 ms: floor (the raw SDK write alone)', ...both((m) => ms(latency(m, 'floor')))],
        ['store p50 / floor p50', ...both((m) => round(latency(m, 'store').p50 / latency(m, 'floor').p50, 2))],
        [
          '(successor + store) p50 / floor p50',
          ...both((m) => round(latency(m, 'store', 'total').p50 / latency(m, 'floor').p50, 2)),
        ],
        [
          `family after ${refreshes} refreshes: table items`,
          ...both((m) => `${stored[m].tableItems} (${stored[m].tableAttributeBytes} B of attributes)`),
        ],
        ['… index entries', ...both((m) => stored[m].indexSummary)],
        [
          `… stored bytes (+${ITEM_OVERHEAD} B per item and per index entry)`,
          ...both((m) => `${stored[m].totalBytes} B`),
        ],
        [
          '… stored bytes per refresh grant',
          `${round(stored.previous.totalBytes / refreshes, 1)} B`,
          `none (${stored.current.totalBytes} B per family, whatever its refreshes)`,
        ],
      ];

      return {
        name: `refresh-token storage, previous model vs current, on DynamoDB Local (${ROUNDS} rounds × ${BATCH} sequential rotations per variant, after ${WARM_UP} warm-up)`,
        columns: [
          'figure',
          'previous (one item per token, 3-item transaction)',
          'current (one item per family, one UpdateItem)',
        ],
        rows,
        notes: [
          'item size (DynamoDB developer guide, "Item sizes and formats"): Σ UTF-8 bytes of each attribute name + its value; a string its UTF-8 bytes, a number ≈ ⌈significant digits / 2⌉ + 1 bytes, a list 3 bytes + 1 per element + the elements. Sizes are of the items as DynamoDB Local holds them, read back raw (GetItem, Scan).',
          'read units: a strongly consistent GetItem costs ⌈size / 4 KB⌉ RRU; the grant reads the refresh-token item, the client and the user, all strongly consistent (1 RRU each: every item is under 4 KB).',
          'write units: ⌈size / 1 KB⌉ WRU per item written, for an update the larger of the item before and after it; in TransactWriteItems every item costs twice (prepare and commit), the ConditionCheck included (charged as a write of the item it reads, at least 1 KB: 2 WRU); a GSI write costs ⌈index entry / 1 KB⌉ WRU, once, and happens when an item enters or leaves the index or a projected attribute changes (byUser projects ALL: every update of a token writes it); familiesByUser projects only familyExpiresAt and revokedAt, which a rotation does not change: no index write.',
          `DynamoDB Local answers ReturnConsumedCapacity 'INDEXES': ${reportComparison(units)}.`,
          `log bytes per successful refresh grant (production logger through the Lambda handler, warm invocation): ${logs.serviceLines} lines / ${logs.service} B from jsonLogger (${logs.detail}) + Lambda's START/END/REPORT ${logs.platform} B (assumed: the runtime's text lines, e.g. "${logs.reportSample}") + the API Gateway access line ${logs.access} B (assumed: lib/api.ts ACCESS_LOG_FIELDS filled with typical values) = ${logs.total} B, each line with its newline. Not counted: the 26 B per event PutLogEvents adds to a batch's size (×${logs.events} events = ${logs.events * 26} B, which would make the current model ${money(withEventOverhead)}). GB = 10^9 B, as in the README.`,
          `$ per million refresh grants: previous ${money(costs.previous.total)}, current ${money(costs.current.total)} (Lambda compute is the README's 0.06 s for both; the previous model's log bytes are taken to be the same); goal ≤ ${money(GOAL_PER_MILLION)} for the current model: ${goalMet ? `met, by ${money(GOAL_PER_MILLION - costs.current.total)}` : 'NOT met'}.`,
          `latency: "the store's rotate" times the adapter's call with the successor already built; "successor built +" adds building it (previous: a token and its record; current: successorOf, which also seals the successor for the grace). Floors send the same write input with the SDK directly. Sequential, one connection, variants interleaved in rounds; DynamoDB Local on this machine, so a transaction costs what DynamoDB Local makes it cost, not what DynamoDB does.`,
          `storage: after ${refreshes} refreshes of one family the previous model holds ${stored.previous.tableItems} token items, each also in byUser (ALL), each kept until its idle expiry (30 days); the current model holds one item of ${stored.current.tableAttributeBytes} B and one familiesByUser entry, whatever the number of refreshes. At $${PRICE.storagePerGbMonth} per GB-month (PITR $${PRICE.pitrPerGbMonth} on the table's share): previous ${storageCost(stored.previous.totalBytes / refreshes, PRICE.storagePerGbMonth)} + ${storageCost(stored.previous.tableBytes / refreshes, PRICE.pitrPerGbMonth)} per million refresh grants for a month; current ${storageCost(stored.current.totalBytes, PRICE.storagePerGbMonth)} + ${storageCost(stored.current.tableBytes, PRICE.pitrPerGbMonth)} per million active families a month, nothing per refresh.`,
        ],
        data: {
          units,
          costs,
          logs,
          stored,
          latency: Object.fromEntries(
            variants.map((v) => [
              v.label,
              { write: stats(samples.get(v)!.write), total: stats(samples.get(v)!.total) },
            ]),
          ),
        },
      };
    } finally {
      raw.destroy();
      db.destroy();
      kms.destroy();
      await stack.stop();
    }
  },
};

interface Variant {
  readonly label: string;
  readonly model: Model;
  readonly kind: 'store' | 'floor';
  /** One rotation; `write` is the write alone, `total` includes building the successor. */
  readonly step: () => Promise<{ write: number; total: number }>;
}

const epochSeconds = () => Math.floor(Date.now() / 1000);

/** A family of either model, rotated in place by the steps that hold it. */
interface Chain<T> {
  current: T;
  familyId(): string;
}

/** Both models' stores, chains (a family and its current token) and rotation steps. */
class Models {
  readonly previous: PreviousRefreshTokenStore;
  readonly current: DynamoRefreshTokenStore;
  readonly subject: { clientId: string; userId: string; username: string };

  constructor(
    readonly deps: TokenEndpointDeps,
    user: BenchUser,
    readonly db: DocumentClient,
  ) {
    this.previous = new PreviousRefreshTokenStore(db, PREVIOUS_TABLE);
    this.current = new DynamoRefreshTokenStore(db, CURRENT_TABLE);
    this.subject = { clientId: BENCH_CLIENT_ID, userId: user.userId, username: user.username };
  }

  /** A new family of the previous model: its first token, stored as a password grant stored it. */
  async previousChain(): Promise<Chain<{ token: string; record: RefreshToken }>> {
    const minted = mintPreviousRefreshToken(this.deps, this.subject, ['read'], epochSeconds());
    await this.previous.create(minted.record);
    const chain = { current: minted, familyId: () => chain.current.record.familyId };
    return chain;
  }

  /** A new family of the current model, stored with createFamily. */
  async currentChain(): Promise<Chain<{ token: string; family: RefreshFamily }>> {
    const minted = mintFamily(this.deps, this.subject, ['read'], epochSeconds());
    await this.current.createFamily(minted.family);
    const chain = { current: minted, familyId: () => chain.current.family.familyId };
    return chain;
  }

  previousNext(chain: Chain<{ token: string; record: RefreshToken }>, now: number) {
    return mintPreviousRefreshToken(this.deps, this.subject, ['read'], now, chain.current.record);
  }

  currentNext(chain: Chain<{ token: string; family: RefreshFamily }>, now: number) {
    return successorOf(this.deps, chain.current.family, chain.current.token, now);
  }

  previousStore(chain: Chain<{ token: string; record: RefreshToken }>) {
    return async () => {
      const t0 = performance.now();
      const now = epochSeconds();
      const next = this.previousNext(chain, now);
      const t1 = performance.now();
      await this.previous.rotate(chain.current.record, next.record, now);
      const t2 = performance.now();
      chain.current = next;
      return { write: t2 - t1, total: t2 - t0 };
    };
  }

  currentStore(chain: Chain<{ token: string; family: RefreshFamily }>) {
    return async () => {
      const t0 = performance.now();
      const now = epochSeconds();
      const next = this.currentNext(chain, now);
      const t1 = performance.now();
      await this.current.rotate(chain.current.family, next.family, now);
      const t2 = performance.now();
      chain.current = next;
      return { write: t2 - t1, total: t2 - t0 };
    };
  }

  async previousFloor() {
    const chain = await this.previousChain();
    return async () => {
      const now = epochSeconds();
      const next = this.previousNext(chain, now);
      const t1 = performance.now();
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: previousRotationWrite(PREVIOUS_TABLE, chain.current.record, next.record, now),
        }),
      );
      const t2 = performance.now();
      chain.current = next;
      return { write: t2 - t1, total: t2 - t1 };
    };
  }

  async currentFloor() {
    const chain = await this.currentChain();
    return async () => {
      const now = epochSeconds();
      const next = this.currentNext(chain, now);
      const t1 = performance.now();
      await this.db.send(new UpdateCommand(rotationUpdate(CURRENT_TABLE, chain.current.family, next.family, now)));
      const t2 = performance.now();
      chain.current = next;
      return { write: t2 - t1, total: t2 - t1 };
    };
  }

  /** The measured families ended where the rotations took them (each rotation really committed). */
  async check(
    storage: {
      previous: Chain<{ token: string; record: RefreshToken }>;
      current: Chain<{ token: string; family: RefreshFamily }>;
    },
    refreshes: number,
  ): Promise<void> {
    const previous = await this.previous.get(storage.previous.current.record.tokenHash);
    const current = await this.current.getFamily(storage.current.familyId());
    if (previous?.state !== 'active' || previous.generation !== refreshes)
      throw new Error(`previous model: expected generation ${refreshes} active, got ${JSON.stringify(previous)}`);
    if (current?.generation !== refreshes || current.currentHash !== storage.current.current.family.currentHash)
      throw new Error(`current model: expected generation ${refreshes}, got ${JSON.stringify(current)}`);
  }
}

// --- item sizes, by the DynamoDB developer guide's rules ---

function numberSize(value: string): number {
  const digits = value
    .replace(/^[-+]/, '')
    .replace(/[eE].*$/, '')
    .replace('.', '')
    .replace(/^0+/, '')
    .replace(/0+$/, '');
  return Math.ceil(Math.max(digits.length, 1) / 2) + 1;
}

function valueSize(value: AttributeValue): number {
  if (value.S !== undefined) return Buffer.byteLength(value.S, 'utf8');
  if (value.N !== undefined) return numberSize(value.N);
  if (value.B !== undefined) return value.B.length;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.L !== undefined) return 3 + value.L.reduce((sum, element) => sum + 1 + valueSize(element), 0);
  if (value.M !== undefined) return 3 + itemSize(value.M) + Object.keys(value.M).length;
  if (value.SS !== undefined) return value.SS.reduce((sum, s) => sum + Buffer.byteLength(s, 'utf8'), 0);
  if (value.NS !== undefined) return value.NS.reduce((sum, n) => sum + numberSize(n), 0);
  if (value.BS !== undefined) return value.BS.reduce((sum, b) => sum + b.length, 0);
  throw new Error(`unsized attribute value ${JSON.stringify(value)}`);
}

/** Σ (UTF-8 bytes of the name + size of the value). */
function itemSize(item: Item): number {
  return Object.entries(item).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name, 'utf8') + valueSize(value),
    0,
  );
}

const writeUnits = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));
const readUnits = (bytes: number) => Math.max(1, Math.ceil(bytes / 4096));

type IndexDefinition = NonNullable<TableDefinition['globalSecondaryIndexes']>[number];

/** The entry an item has in an index (table key + index key + projected attributes), or undefined if none. */
function indexEntry(definition: TableDefinition, index: IndexDefinition, item: Item | undefined): Item | undefined {
  if (item?.[index.partitionKey] === undefined) return undefined;
  if (index.nonKeyAttributes === undefined) return item;
  const names = [definition.partitionKey, index.partitionKey, ...index.nonKeyAttributes];
  return Object.fromEntries(names.filter((name) => item[name] !== undefined).map((name) => [name, item[name]!]));
}

/**
 * The index writes one item write causes (the developer guide's rules for global secondary indexes): a put of
 * an entry when the item enters, a delete when it leaves, both when its index key changes, one update when a
 * projected attribute changes, nothing otherwise. Each costs ⌈entry / 1 KB⌉ WRU.
 */
function indexWrites(definition: TableDefinition, before: Item | undefined, after: Item) {
  return (definition.globalSecondaryIndexes ?? []).map((index) => {
    const old = indexEntry(definition, index, before);
    const next = indexEntry(definition, index, after);
    const same = (a: Item, b: Item) => JSON.stringify(sorted(a)) === JSON.stringify(sorted(b));
    let units = 0;
    if (old !== undefined && next !== undefined) {
      if (JSON.stringify(old[index.partitionKey]) !== JSON.stringify(next[index.partitionKey]))
        units = writeUnits(itemSize(old)) + writeUnits(itemSize(next));
      else if (!same(old, next)) units = writeUnits(itemSize(next));
    } else if (next !== undefined) units = writeUnits(itemSize(next));
    else if (old !== undefined) units = writeUnits(itemSize(old));
    return { index: index.indexName, units };
  });
}

function byIndex(writes: readonly { index: string; units: number }[]): Record<string, number> {
  const total: Record<string, number> = {};
  for (const write of writes) total[write.index] = (total[write.index] ?? 0) + write.units;
  return total;
}

function sorted(item: Item): [string, AttributeValue][] {
  return Object.entries(item).sort(([a], [b]) => a.localeCompare(b));
}

async function rawItem(raw: DynamoDBClient, tableName: string, key: Item): Promise<Item | undefined> {
  const { Item } = await raw.send(new GetItemCommand({ TableName: tableName, Key: key, ConsistentRead: true }));
  return Item;
}

/** What DynamoDB Local put in ConsumedCapacity: the total, the table's share and each index's. */
interface Reported {
  readonly total: number;
  readonly table: number;
  readonly indexes: Readonly<Record<string, number>>;
}

function reported(capacity: readonly (ConsumedCapacity | undefined)[]): Reported | undefined {
  const parts = capacity.filter((c): c is ConsumedCapacity => c !== undefined);
  if (parts.length === 0) return undefined;
  const indexes: Record<string, number> = {};
  for (const part of parts)
    for (const [name, value] of Object.entries(part.GlobalSecondaryIndexes ?? {}))
      indexes[name] = (indexes[name] ?? 0) + (value.CapacityUnits ?? 0);
  return {
    total: parts.reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0),
    table: parts.reduce((sum, c) => sum + (c.Table?.CapacityUnits ?? 0), 0),
    indexes,
  };
}

/** How DynamoDB Local's figures compare with the computed ones, model by model. */
function reportComparison(units: Record<Model, Units>): string {
  const models = Object.keys(units) as Model[];
  const reads = models.every((m) => units[m].reportedReads.every((figure) => figure?.total === 1));
  const computed = (u: Units) => {
    const indexes = Object.entries(u.indexWriteUnits).map(([name, value]) => `${name} ${value}`);
    return `${u.writeUnits} (table ${u.tableWriteUnits}, ${indexes.join(', ')})`;
  };
  const parts = models.map((m) => {
    const u = units[m];
    const figure = u.reportedWrites;
    const same =
      figure !== undefined &&
      figure.table === u.tableWriteUnits &&
      Object.entries(u.indexWriteUnits).every(([name, value]) => (figure.indexes[name] ?? 0) === value);
    return `${m} rotation ${describeReported(figure)}, computed ${computed(u)}: ${same ? 'the same' : 'different'}`;
  });
  const lone = units.previous.loneConditionCheck;
  return [
    `reads ${reads ? '1 RRU each, as computed' : 'differ from the computed 1 RRU each'}`,
    ...parts,
    ...(lone !== undefined && lone.total !== 2
      ? [
          `DynamoDB Local's transactional figures do not follow DynamoDB's rule (a transaction of one ConditionCheck on a missing item reports ${lone.total}, which the rule makes 2 WRU), so its figure for the previous model's transaction is shown, not used`,
        ]
      : []),
  ].join('; ');
}

function describeReported(figure: Reported | undefined): string {
  if (figure === undefined) return 'nothing';
  const indexes = Object.entries(figure.indexes).map(([name, value]) => `${name} ${value}`);
  return `${figure.total} (table ${figure.table}${indexes.length > 0 ? `, ${indexes.join(', ')}` : ''})`;
}

interface Units {
  readonly readItemBytes: number;
  readonly readItemUnits: number;
  readonly clientBytes: number;
  readonly userBytes: number;
  readonly readUnits: number;
  /** What DynamoDB Local reports for a transaction of one ConditionCheck (previous model only). */
  readonly loneConditionCheck?: Reported | undefined;
  /** Computed: the table's share and the indexes' (by name). */
  readonly tableWriteUnits: number;
  readonly indexWriteUnits: Readonly<Record<string, number>>;
  readonly writeUnits: number;
  readonly writeArithmetic: string;
  readonly reportedReads: readonly (Reported | undefined)[];
  readonly reportedWrites: Reported | undefined;
}

/** The client and the user the grant reads: their sizes, and what DynamoDB Local reports for each read. */
async function principalReads(models: Models, raw: DynamoDBClient, tables: TableNames) {
  const username = models.subject.username;
  const client = (await rawItem(raw, tables.clients, { clientId: { S: BENCH_CLIENT_ID } }))!;
  const user = (await rawItem(raw, tables.users, { username: { S: username } }))!;
  const read = (TableName: string, Key: Record<string, string>) =>
    models.db.send(new GetCommand({ TableName, Key, ConsistentRead: true, ReturnConsumedCapacity: 'INDEXES' }));
  const [clientRead, userRead] = await Promise.all([
    read(tables.clients, { clientId: BENCH_CLIENT_ID }),
    read(tables.users, { username }),
  ]);
  return {
    clientBytes: itemSize(client),
    userBytes: itemSize(user),
    capacity: [clientRead.ConsumedCapacity, userRead.ConsumedCapacity] as const,
  };
}

/** One rotation of a previous-model family (after two), items read raw before and after it. */
async function previousUnits(models: Models, raw: DynamoDBClient, tables: TableNames): Promise<Units> {
  const chain = await models.previousChain();
  const step = models.previousStore(chain);
  await step();
  await step();
  const presented = chain.current.record;
  const key = (hash: string) => ({ tokenHash: { S: hash } });
  const read = await models.db.send(
    new GetCommand({
      TableName: PREVIOUS_TABLE,
      Key: { tokenHash: presented.tokenHash },
      ConsistentRead: true,
      ReturnConsumedCapacity: 'INDEXES',
    }),
  );
  const before = (await rawItem(raw, PREVIOUS_TABLE, key(presented.tokenHash)))!;
  const now = epochSeconds();
  const next = models.previousNext(chain, now);
  const { ConsumedCapacity } = await models.db.send(
    new TransactWriteCommand({
      TransactItems: previousRotationWrite(PREVIOUS_TABLE, presented, next.record, now),
      ReturnConsumedCapacity: 'INDEXES',
    }),
  );
  chain.current = next;
  const rotated = (await rawItem(raw, PREVIOUS_TABLE, key(presented.tokenHash)))!;
  const successor = (await rawItem(raw, PREVIOUS_TABLE, key(next.record.tokenHash)))!;
  const marker = await rawItem(raw, PREVIOUS_TABLE, key(`family#${presented.familyId}`));
  const update = 2 * writeUnits(Math.max(itemSize(before), itemSize(rotated)));
  const put = 2 * writeUnits(itemSize(successor));
  const check = 2 * writeUnits(marker === undefined ? 0 : itemSize(marker));
  const indexes = [
    ...indexWrites(PREVIOUS_REFRESH_TOKENS_TABLE, before, rotated),
    ...indexWrites(PREVIOUS_REFRESH_TOKENS_TABLE, undefined, successor),
  ];
  const indexUnits = indexes.reduce((sum, i) => sum + i.units, 0);
  const principals = await principalReads(models, raw, tables);
  // Calibration: a transaction of one ConditionCheck on a missing item, which DynamoDB charges 2 WRU.
  const lone = await models.db.send(
    new TransactWriteCommand({
      TransactItems: [previousRotationWrite(PREVIOUS_TABLE, presented, next.record, now)[2]!],
      ReturnConsumedCapacity: 'INDEXES',
    }),
  );
  const readItemBytes = itemSize(before);
  return {
    readItemBytes,
    readItemUnits: readUnits(readItemBytes),
    clientBytes: principals.clientBytes,
    userBytes: principals.userBytes,
    readUnits: readUnits(readItemBytes) + readUnits(principals.clientBytes) + readUnits(principals.userBytes),
    loneConditionCheck: reported(lone.ConsumedCapacity ?? []),
    tableWriteUnits: update + put + check,
    indexWriteUnits: byIndex(indexes),
    writeUnits: update + put + check + indexUnits,
    writeArithmetic: `TransactWriteItems: update ${itemSize(before)}→${itemSize(rotated)} B ${update} + put ${itemSize(successor)} B ${put} + check (no marker) ${check} (×2 each) + byUser ${indexes.map((i) => i.units).join(' + ')}`,
    reportedReads: [read.ConsumedCapacity, ...principals.capacity].map((c) => reported([c])),
    reportedWrites: reported(ConsumedCapacity ?? []),
  };
}

/** One rotation of a current-model family (after two), its item read raw before and after it. */
async function currentUnits(models: Models, raw: DynamoDBClient, tables: TableNames): Promise<Units> {
  const chain = await models.currentChain();
  const step = models.currentStore(chain);
  await step();
  await step();
  const key = { [REFRESH_TOKENS_TABLE.partitionKey]: { S: familyKey(chain.familyId()) } };
  const read = await models.db.send(
    new GetCommand({
      TableName: CURRENT_TABLE,
      Key: { [REFRESH_TOKENS_TABLE.partitionKey]: familyKey(chain.familyId()) },
      ConsistentRead: true,
      ReturnConsumedCapacity: 'INDEXES',
    }),
  );
  const before = (await rawItem(raw, CURRENT_TABLE, key))!;
  const now = epochSeconds();
  const next = models.currentNext(chain, now);
  const { ConsumedCapacity } = await models.db.send(
    new UpdateCommand({
      ...rotationUpdate(CURRENT_TABLE, chain.current.family, next.family, now),
      ReturnConsumedCapacity: 'INDEXES',
    }),
  );
  chain.current = next;
  const after = (await rawItem(raw, CURRENT_TABLE, key))!;
  const update = writeUnits(Math.max(itemSize(before), itemSize(after)));
  const indexes = indexWrites(REFRESH_TOKENS_TABLE, before, after);
  const indexUnits = indexes.reduce((sum, i) => sum + i.units, 0);
  const principals = await principalReads(models, raw, tables);
  const readItemBytes = itemSize(before);
  return {
    readItemBytes,
    readItemUnits: readUnits(readItemBytes),
    clientBytes: principals.clientBytes,
    userBytes: principals.userBytes,
    readUnits: readUnits(readItemBytes) + readUnits(principals.clientBytes) + readUnits(principals.userBytes),
    tableWriteUnits: update,
    indexWriteUnits: byIndex(indexes),
    writeUnits: update + indexUnits,
    writeArithmetic: `UpdateItem ${itemSize(before)}→${itemSize(after)} B ${update} + ${indexes.map((i) => `${i.index} ${i.units}`).join(' + ')}`,
    reportedReads: [read.ConsumedCapacity, ...principals.capacity].map((c) => reported([c])),
    reportedWrites: reported(ConsumedCapacity === undefined ? [] : [ConsumedCapacity]),
  };
}

interface Stored {
  readonly tableItems: number;
  readonly tableAttributeBytes: number;
  readonly tableBytes: number;
  readonly indexSummary: string;
  readonly totalBytes: number;
}

/** Scans every page of a table or index, keeping what `keep` selects. */
async function scanAll(
  raw: DynamoDBClient,
  tableName: string,
  indexName: string | undefined,
  keep: (item: Item) => boolean,
) {
  const items: Item[] = [];
  let start: Item | undefined;
  do {
    const page = await raw.send(
      new ScanCommand({ TableName: tableName, IndexName: indexName, ExclusiveStartKey: start }),
    );
    items.push(...(page.Items ?? []).filter(keep));
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return items;
}

/** The items and index entries of one family, and their stored bytes (attributes + the per-item overhead). */
async function storedBytes(
  raw: DynamoDBClient,
  tableName: string,
  definition: TableDefinition,
  familyId: string,
): Promise<Stored> {
  const ofFamily = (item: Item) =>
    item.familyId?.S === familyId || item[definition.partitionKey]?.S === familyKey(familyId);
  const items = await scanAll(raw, tableName, undefined, ofFamily);
  const tableKeys = new Set(items.map((item) => item[definition.partitionKey]!.S));
  const tableAttributeBytes = items.reduce((sum, item) => sum + itemSize(item), 0);
  const tableBytes = tableAttributeBytes + ITEM_OVERHEAD * items.length;
  let indexBytes = 0;
  const summary: string[] = [];
  for (const index of definition.globalSecondaryIndexes ?? []) {
    const entries = await scanAll(raw, tableName, index.indexName, (entry) =>
      tableKeys.has(entry[definition.partitionKey]?.S),
    );
    const bytes = entries.reduce((sum, entry) => sum + itemSize(entry), 0);
    indexBytes += bytes + ITEM_OVERHEAD * entries.length;
    summary.push(`${index.indexName} ${entries.length} (${bytes} B)`);
  }
  return {
    tableItems: items.length,
    tableAttributeBytes,
    tableBytes,
    indexSummary: summary.join(', '),
    totalBytes: tableBytes + indexBytes,
  };
}

// --- log bytes of one refresh grant ---

const SAMPLE_REQUEST_ID = '3f2b8c1e-7d4a-4e5f-9a6b-0c1d2e3f4a5b';

/** The Lambda runtime's own lines for a warm invocation (text log format, no X-Ray). */
function platformLines(durationMs: number): string[] {
  return [
    `START RequestId: ${SAMPLE_REQUEST_ID} Version: $LATEST`,
    `END RequestId: ${SAMPLE_REQUEST_ID}`,
    `REPORT RequestId: ${SAMPLE_REQUEST_ID}\tDuration: ${durationMs.toFixed(2)} ms\tBilled Duration: ${Math.ceil(durationMs)} ms\tMemory Size: 1769 MB\tMax Memory Used: 118 MB\t`,
  ];
}

/** The stage's access line (lib/api.ts ACCESS_LOG_FIELDS) for a successful POST /token, with typical values. */
async function accessLine(responseLength: number): Promise<string> {
  const { ACCESS_LOG_FIELDS } = await import('../lib/api');
  const values: Record<string, string> = {
    requestId: SAMPLE_REQUEST_ID,
    extendedRequestId: 'Kx3bWFmRIAMEbcQ=',
    requestTime: String(Date.now()),
    sourceIp: '198.51.100.7',
    userAgent: 'okhttp/4.12.0',
    domainName: 'abcd1234ef.execute-api.us-east-1.amazonaws.com',
    httpMethod: 'POST',
    resourcePath: '/token',
    protocol: 'HTTP/1.1',
    status: '200',
    responseLength: String(responseLength),
    responseLatency: '64',
    integrationStatus: '200',
    integrationLatency: '61',
    integrationError: '-',
    errorType: '-',
    errorMessage: '-',
    wafResponse: 'WAF_ALLOW',
  };
  const line = Object.fromEntries(Object.keys(ACCESS_LOG_FIELDS).map((name) => [name, values[name] ?? '-']));
  return JSON.stringify(line);
}

function lambdaContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'RopcTokenService-FunctionsTokenFunction3F2A1B4C-AbCdEfGhIjKl',
    functionVersion: '$LATEST',
    invokedFunctionArn:
      'arn:aws:lambda:us-east-1:123456789012:function:RopcTokenService-FunctionsTokenFunction3F2A1B4C-AbCdEfGhIjKl',
    memoryLimitInMB: '1769',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/RopcTokenService-FunctionsTokenFunction3F2A1B4C-AbCdEfGhIjKl',
    logStreamName: '2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef',
    getRemainingTimeInMillis: () => 10_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function proxyEvent(refreshToken: string): APIGatewayProxyEvent {
  const headers = { Authorization: BENCH_AUTHORIZATION, 'Content-Type': 'application/x-www-form-urlencoded' };
  const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString();
  return {
    resource: '/token',
    path: '/token',
    httpMethod: 'POST',
    headers,
    multiValueHeaders: { Authorization: [headers.Authorization], 'Content-Type': [headers['Content-Type']] },
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: Buffer.from(body).toString('base64'),
    isBase64Encoded: true,
    requestContext: { requestId: randomUUID(), identity: { sourceIp: '198.51.100.7' } },
  } as unknown as APIGatewayProxyEvent;
}

/**
 * The bytes the production logger writes for one successful refresh grant: the Lambda handler
 * (createTokenHandler, with the invocation's context added as the entry point adds it) on the real adapters
 * against the local stack, its log lines counted by a sink; the first (cold) invocation is not counted.
 */
async function logBytes(
  stack: Awaited<ReturnType<typeof startLocalStack>>,
  db: DocumentClient,
  kms: ReturnType<typeof awsClients>['kms'],
  user: BenchUser,
) {
  const lines: string[] = [];
  const sink = (line: string) => lines.push(line);
  const deps = {
    ...createTokenEndpointDeps(stack.config, { sdk: { db, kms } }),
    logger: jsonLogger('RopcTokenService', sink),
  };
  const handler = createTokenHandler(deps);
  const minted = mintFamily(
    deps,
    { clientId: BENCH_CLIENT_ID, userId: user.userId, username: user.username },
    ['read'],
    epochSeconds(),
  );
  await deps.refreshTokens.createFamily(minted.family);
  const traceVariable = '_X_AMZN_TRACE_ID';
  const savedTrace = process.env[traceVariable];
  let token = minted.token;
  const perInvocation: { bytes: number; lines: number }[] = [];
  let responseLength = 0;
  let sample: string[] = [];
  try {
    for (let i = 0; i <= LOG_INVOCATIONS; i++) {
      // Lambda sets it on every invocation (Sampled=0 without active tracing); Powertools logs its Root.
      process.env[traceVariable] =
        `Root=1-6790a1b2-${randomUUID().replaceAll('-', '').slice(0, 24)};Parent=557abcec3ee5a047;Sampled=0`;
      lines.length = 0;
      deps.logger.addContext(lambdaContext());
      const result = await handler(proxyEvent(token));
      if (result.statusCode !== 200) throw new Error(`refresh grant answered ${result.statusCode}: ${result.body}`);
      token = String((JSON.parse(result.body) as { refresh_token?: unknown }).refresh_token);
      responseLength = Buffer.byteLength(result.body, 'utf8');
      if (i === 0) continue;
      sample = [...lines];
      perInvocation.push({
        bytes: lines.reduce((sum, line) => sum + Buffer.byteLength(line, 'utf8') + 1, 0),
        lines: lines.length,
      });
    }
  } finally {
    if (savedTrace === undefined) delete process.env[traceVariable];
    else process.env[traceVariable] = savedTrace;
  }
  const service = Math.round(perInvocation.reduce((sum, p) => sum + p.bytes, 0) / perInvocation.length);
  const platform = platformLines(61.23);
  const platformBytes = platform.reduce((sum, line) => sum + Buffer.byteLength(line, 'utf8') + 1, 0);
  const access = Buffer.byteLength(await accessLine(responseLength), 'utf8') + 1;
  const detail = sample
    .map((line) => {
      const parsed = JSON.parse(line) as { event?: string; _aws?: unknown };
      return `${parsed._aws === undefined ? (parsed.event ?? 'line') : 'EMF metric'} ${Buffer.byteLength(line, 'utf8') + 1} B`;
    })
    .join(', ');
  return {
    service,
    serviceLines: perInvocation[0]!.lines,
    detail,
    platform: platformBytes,
    reportSample: platform[2]!.replaceAll('\t', '\\t'),
    access,
    events: perInvocation[0]!.lines + platform.length + 1,
    total: service + platformBytes + access,
    sampleLines: sample,
  };
}
