/**
 * What the benchmarks that run against the local stack share: seeding a client and users through the
 * account services on the real stores, minting refresh-token families directly, the service's
 * dependencies built around SDK clients the benchmark holds (so it can instrument them), and a
 * bounded-concurrency driver.
 */

import { randomBytes, randomUUID } from 'node:crypto';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { registerClient, registerUser } from '../lambda/accounts';
import { createDocumentClient, createKmsClient } from '../lambda/adapters/aws-clients';
import { DynamoClientStore } from '../lambda/adapters/client-store';
import { DynamoUserStore } from '../lambda/adapters/user-store';
import { createTokenEndpointDeps } from '../lambda/handlers/runtime';
import type { TokenEndpointDeps } from '../lambda/oauth/grants/grant';
import { mintFamily } from '../lambda/oauth/grants/issue';
import type { RefreshFamily } from '../lambda/oauth/ports';
import type { ScryptParams } from '../lambda/passwords';
import type { LocalStack } from '../local/stack';
import { LOCAL_CREDENTIALS } from '../local/state';

export const BENCH_CLIENT_ID = 'bench';
export const BENCH_CLIENT_SECRET = 'bench-secret';
export const BENCH_AUTHORIZATION = `Basic ${Buffer.from(`${BENCH_CLIENT_ID}:${BENCH_CLIENT_SECRET}`).toString('base64')}`;
export const FORM_HEADERS = {
  Authorization: BENCH_AUTHORIZATION,
  'Content-Type': 'application/x-www-form-urlencoded',
} as const;

export interface BenchUser {
  readonly username: string;
  readonly userId: string;
}

export function awsClients(stack: LocalStack): { db: DynamoDBDocumentClient; kms: KMSClient } {
  const options = {
    region: stack.region,
    dynamodbEndpoint: stack.dynamodbEndpoint,
    kmsEndpoint: stack.kmsEndpoint,
    credentials: LOCAL_CREDENTIALS,
  };
  return { db: createDocumentClient(options), kms: createKmsClient(options) };
}

/** Real randomness, as the Lambda's. */
export const SYSTEM_RANDOM = { bytes: (length: number) => randomBytes(length), uuid: randomUUID };

/** A confidential client allowed both grants, trusted with X-End-User-IP (so failures can come from many IPs). */
export async function seedClient(db: DynamoDBDocumentClient, stack: LocalStack): Promise<void> {
  await registerClient(
    { clients: new DynamoClientStore(db, stack.tables.clients), clock: Date.now, random: SYSTEM_RANDOM },
    {
      clientId: BENCH_CLIENT_ID,
      secret: BENCH_CLIENT_SECRET,
      isPublic: false,
      scopes: ['read', 'write'],
      grantTypes: ['password', 'refresh_token'],
      trustEndUserIp: true,
    },
  );
}

/**
 * Users `${prefix}-0…`, registered through the account services, all with the same (already computed)
 * password hash: one scrypt run at the production parameters instead of one per user.
 */
export async function seedUsers(
  db: DynamoDBDocumentClient,
  stack: LocalStack,
  prefix: string,
  count: number,
  passwordHash: string,
): Promise<BenchUser[]> {
  const deps = { users: new DynamoUserStore(db, stack.tables.users), clock: Date.now, random: SYSTEM_RANDOM };
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      registerUser(deps, { username: `${prefix}-${i}`, passwordHash, scopes: ['read', 'write'] }),
    ),
  );
}

/**
 * A family's first refresh token and the family the service would store for it, as a password grant mints
 * them (mintFamily) for the bench client and `user`, scope read.
 */
export function refreshFamily(deps: TokenEndpointDeps, user: BenchUser): { token: string; family: RefreshFamily } {
  return mintFamily(
    deps,
    { clientId: BENCH_CLIENT_ID, userId: user.userId, username: user.username },
    ['read'],
    Math.floor(deps.clock() / 1000),
  );
}

/**
 * Refresh-token families written straight through the deps' store (createFamily: one PutItem each, as a
 * password grant would write them), much faster than a password grant per token.
 */
export async function mintRefreshTokens(
  deps: TokenEndpointDeps,
  users: readonly BenchUser[],
  count: number,
): Promise<{ token: string; family: RefreshFamily }[]> {
  const minted = Array.from({ length: count }, (_, i) => refreshFamily(deps, users[i % users.length]!));
  await runBounded(minted, 16, (item) => deps.refreshTokens.createFamily(item.family));
  return minted;
}

/** The token endpoint's dependencies as the Lambda wires them, around the given (instrumented) SDK clients. */
export function tokenEndpointDeps(
  stack: LocalStack,
  db: DynamoDBDocumentClient,
  kms: KMSClient,
  scrypt: ScryptParams,
): TokenEndpointDeps {
  return createTokenEndpointDeps({ ...stack.config, scrypt }, { sdk: { db, kms }, logSink: () => undefined });
}

async function runBounded<T>(
  items: readonly T[],
  concurrency: number,
  task: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await task(items[next++]!);
    }),
  );
}

export interface DriveResult {
  /** Milliseconds, one per completed iteration. */
  readonly latencies: number[];
  /** Completion times (ms, performance.now()) of every iteration. */
  readonly completions: number[];
  readonly failures: number;
  readonly elapsedMs: number;
}

/**
 * `concurrency` workers, each running `iteration(worker)` back to back until `durationMs` has passed:
 * a closed loop like autocannon's connections, timed with our own clock.
 */
export async function drive(
  concurrency: number,
  durationMs: number,
  iteration: (worker: number) => Promise<void>,
): Promise<DriveResult> {
  const latencies: number[] = [];
  const completions: number[] = [];
  let failures = 0;
  const start = performance.now();
  const deadline = start + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (performance.now() < deadline) {
        const begin = performance.now();
        try {
          await iteration(worker);
          const end = performance.now();
          latencies.push(end - begin);
          completions.push(end);
        } catch {
          failures++;
        }
      }
    }),
  );
  return { latencies, completions, failures, elapsedMs: performance.now() - start };
}

/**
 * Steady-state throughput from completion times: (n − 1) over the span from the first completion to the
 * last, so the ramp-up before the first answer does not count against it.
 */
export function steadyRate(completions: readonly number[]): number {
  if (completions.length < 2) return Number.NaN;
  const sorted = [...completions].sort((a, b) => a - b);
  return ((sorted.length - 1) * 1000) / (sorted.at(-1)! - sorted[0]!);
}
