import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DEFAULT_SCRYPT_PARAMS, hashPassword } from '../lambda/passwords';
import { type LocalStack, startLocalStack } from '../local/stack';
import { type Bench, round, stats } from './lib';
import {
  awsClients,
  type BenchUser,
  FORM_HEADERS,
  mintRefreshTokens,
  seedClient,
  seedUsers,
  tokenEndpointDeps,
} from './local-fixture';

/** Length of the measured soak; 300 s (the issue's 5 minutes) unless SOAK_SECONDS says otherwise. */
const SOAK_SECONDS = Number(process.env.SOAK_SECONDS ?? 300);
/** The same load before the first snapshot, so JIT, caches, pools and connections are in place. */
const WARM_UP_SECONDS = Math.min(15, Math.max(5, SOAK_SECONDS / 10));
const TICK_MS = 100;
const PASSWORD = 'correct horse battery staple';
const MAX_IN_FLIGHT = 64;
const POOL_CAP = 200;

/**
 * Per 100 ms tick: 2 refresh grants; every 10th tick a password grant (production scrypt); every 50th a
 * wrong password (from its own reported IP); every 100th two refresh grants in a row, then the first
 * token again (reuse: its family is revoked). About 21 requests/s, 1.2 scrypt runs/s.
 */
const MIX = { refreshPerTick: 2, passwordEvery: 10, wrongPasswordEvery: 50, reuseEvery: 100 } as const;

type Kind = 'password' | 'wrong password' | 'refresh' | 'refresh reuse';
const EXPECTED: Record<Kind, number> = { password: 200, 'wrong password': 400, refresh: 200, 'refresh reuse': 400 };

/** node:v8 can expose gc at run time, so `npm run bench` needs no --expose-gc flag. */
function collector(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing !== undefined) return existing;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function memory(gc: () => void) {
  for (let i = 0; i < 3; i++) gc();
  const usage = process.memoryUsage();
  return { heapUsed: usage.heapUsed, rss: usage.rss, external: usage.external, arrayBuffers: usage.arrayBuffers };
}

/**
 * Mixed grants at a steady, moderate, open-loop rate against the local stack running in this process, for
 * SOAK_SECONDS; memory (heap used and RSS, each after forced full GCs) before and after. DynamoDB Local is
 * a separate JVM and is not counted; the KMS emulator, the API Gateway emulation, the handlers and the load
 * generator (fetch) are.
 */
export const soakBench: Bench = {
  name: 'soak',
  async run() {
    const gc = collector();
    const stack = await startLocalStack({ config: { scrypt: DEFAULT_SCRYPT_PARAMS }, logSink: () => undefined });
    try {
      const { db, kms } = awsClients(stack);
      await seedClient(db, stack);
      const hash = await hashPassword(PASSWORD, DEFAULT_SCRYPT_PARAMS);
      const users = await seedUsers(db, stack, 'soak', 32, hash);
      const victims = await seedUsers(db, stack, 'soak-wrong', 32, hash);
      const pool = (await mintRefreshTokens(tokenEndpointDeps(stack, db, kms, DEFAULT_SCRYPT_PARAMS), users, 100)).map(
        (m) => m.token,
      );
      db.destroy();
      kms.destroy();

      const load = new SoakLoad(stack, users, victims, pool);
      load.reset(WARM_UP_SECONDS);
      await load.runFor(WARM_UP_SECONDS);
      const timeline: { second: number; heapUsed: number; rss: number }[] = [];
      load.reset(SOAK_SECONDS);
      const before = memory(gc);
      const loopDelay = monitorEventLoopDelay({ resolution: 10 });
      loopDelay.enable();
      const start = performance.now();
      const sampler = setInterval(() => {
        const usage = process.memoryUsage();
        timeline.push({
          second: Math.round((performance.now() - start) / 1000),
          heapUsed: usage.heapUsed,
          rss: usage.rss,
        });
      }, 10_000);
      await load.runFor(SOAK_SECONDS);
      clearInterval(sampler);
      loopDelay.disable();
      const after = memory(gc);
      // The histogram records the whole interval between 10 ms timer ticks: the delay is what exceeds 10 ms.
      const beyond = (ns: number) => Math.max(0, ns / 1e6 - 10);
      const delayMs = {
        p50: beyond(loopDelay.percentile(50)),
        p99: beyond(loopDelay.percentile(99)),
        max: beyond(loopDelay.max),
      };

      const heapRatio = after.heapUsed / before.heapUsed;
      const rssRatio = after.rss / before.rss;
      const mb = (bytes: number) => round(bytes / 2 ** 20, 1);
      const rows: (string | number)[][] = [
        [
          'heap used MiB',
          mb(before.heapUsed),
          mb(after.heapUsed),
          round(heapRatio, 3),
          heapRatio <= 1.1 ? 'met' : 'NOT met',
        ],
        ['RSS MiB', mb(before.rss), mb(after.rss), round(rssRatio, 3), rssRatio <= 1.1 ? 'met' : 'NOT met'],
        ['external MiB', mb(before.external), mb(after.external), round(after.external / before.external, 3), ''],
      ];
      const byKind = load.summary();
      const minutes = load.latencyByMinute('refresh');
      return {
        name: `soak: ${SOAK_SECONDS} s of mixed grants at a steady rate (after ${WARM_UP_SECONDS} s warm-up), local stack in process`,
        columns: ['memory (after forced GC)', 'before', 'after', 'after/before', 'goal ≤ 1.1'],
        rows,
        notes: [
          `load: ${Object.entries(byKind)
            .map(
              ([kind, s]) =>
                `${kind} ${s.count} (${s.unexpected} unexpected status, p50 ${round(s.p50, 1)} ms, p99 ${round(s.p99, 1)} ms)`,
            )
            .join(
              '; ',
            )}; ${load.skipped} ticks' requests skipped at the ${MAX_IN_FLIGHT}-in-flight cap, ${load.errors} transport errors.`,
          `refresh p50 by minute (ms): ${minutes.map((v) => round(v, 1)).join(', ')} — a steady service keeps this flat.`,
          `event-loop delay during the soak (lateness of a 10 ms timer): p50 ${round(delayMs.p50, 1)} ms, p99 ${round(delayMs.p99, 1)} ms, max ${round(delayMs.max, 1)} ms.`,
          `memory goal (after/before ≤ 1.1): heap ${heapRatio <= 1.1 ? 'met' : 'NOT met'} (${round(heapRatio, 3)}), RSS ${rssRatio <= 1.1 ? 'met' : 'NOT met'} (${round(rssRatio, 3)}).`,
          'gc: global.gc when node runs with --expose-gc, otherwise exposed at run time through node:v8 setFlagsFromString — `npm run bench` needs no flag.',
        ],
        data: {
          before,
          after,
          heapRatio,
          rssRatio,
          eventLoopDelayMs: delayMs,
          timeline,
          load: byKind,
          refreshP50ByMinute: minutes,
          skipped: load.skipped,
          errors: load.errors,
        },
      };
    } finally {
      await stack.stop();
    }
  },
};

/** Latency samples in preallocated typed arrays, so recording them does not grow the heap being measured. */
class Samples {
  private readonly at: Float64Array;
  private readonly ms: Float64Array;
  private readonly status: Uint16Array;
  count = 0;
  constructor(capacity: number) {
    this.at = new Float64Array(capacity);
    this.ms = new Float64Array(capacity);
    this.status = new Uint16Array(capacity);
  }
  add(at: number, ms: number, status: number): void {
    if (this.count >= this.ms.length) return;
    this.at[this.count] = at;
    this.ms[this.count] = ms;
    this.status[this.count] = status;
    this.count++;
  }
  latencies(from = 0, to = Infinity): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.count; i++) if (this.at[i]! >= from && this.at[i]! < to) out.push(this.ms[i]!);
    return out;
  }
  statuses(): number[] {
    return Array.from(this.status.subarray(0, this.count));
  }
  lastAt(): number {
    return this.count === 0 ? 0 : this.at[this.count - 1]!;
  }
}

const KINDS: readonly Kind[] = ['password', 'wrong password', 'refresh', 'refresh reuse'];

class SoakLoad {
  private tick = 0;
  private inFlight = 0;
  private ipCounter = 0;
  private samples = new Map<Kind, Samples>();
  skipped = 0;
  errors = 0;
  private startedAt = performance.now();

  constructor(
    private readonly stack: LocalStack,
    private readonly users: readonly BenchUser[],
    private readonly victims: readonly BenchUser[],
    private readonly pool: string[],
  ) {}

  /** Starts a new measurement with room for `seconds` of samples (allocated now, before any snapshot). */
  reset(seconds: number): void {
    const capacity = Math.ceil((seconds * 1000) / TICK_MS) * (MIX.refreshPerTick + 2);
    this.samples = new Map(KINDS.map((kind) => [kind, new Samples(capacity)]));
    this.skipped = 0;
    this.errors = 0;
  }

  /** Fires the mix on a fixed schedule (open loop) for `seconds`, then waits for what is in flight. */
  async runFor(seconds: number): Promise<void> {
    this.startedAt = performance.now();
    const ticks = Math.round((seconds * 1000) / TICK_MS);
    const start = performance.now();
    const pending = new Set<Promise<void>>();
    for (let i = 0; i < ticks; i++) {
      const due = start + i * TICK_MS;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      for (const request of this.requestsForTick(++this.tick)) {
        if (this.inFlight >= MAX_IN_FLIGHT) {
          this.skipped++;
          continue;
        }
        const promise = request().finally(() => pending.delete(promise));
        pending.add(promise);
      }
    }
    await Promise.all(pending);
  }

  private requestsForTick(tick: number): (() => Promise<void>)[] {
    const requests: (() => Promise<void>)[] = [];
    for (let i = 0; i < MIX.refreshPerTick; i++) {
      const token = this.pool.shift();
      if (token !== undefined) requests.push(() => this.refresh(token));
    }
    if (tick % MIX.passwordEvery === 0) {
      const user = this.users[(tick / MIX.passwordEvery) % this.users.length]!;
      requests.push(() => this.password(user.username, PASSWORD, 'password'));
    }
    if (tick % MIX.wrongPasswordEvery === 0) {
      const victim = this.victims[(tick / MIX.wrongPasswordEvery) % this.victims.length]!;
      requests.push(() => this.password(victim.username, 'wrong password', 'wrong password'));
    }
    if (tick % MIX.reuseEvery === 0) {
      const token = this.pool.shift();
      if (token !== undefined) requests.push(() => this.reuse(token));
    }
    return requests;
  }

  private async password(username: string, password: string, kind: Kind): Promise<void> {
    const ip = ++this.ipCounter;
    const next = await this.post(
      kind,
      new URLSearchParams({ grant_type: 'password', username, password, scope: 'read' }).toString(),
      {
        'X-End-User-IP': `10.${(ip >> 16) & 255}.${(ip >> 8) & 255}.${ip & 255}`,
      },
    );
    if (next !== undefined && this.pool.length < POOL_CAP) this.pool.push(next);
  }

  private async refresh(token: string): Promise<void> {
    const next = await this.post('refresh', `grant_type=refresh_token&refresh_token=${token}`);
    if (next !== undefined) this.pool.push(next);
  }

  /**
   * Rotates a token twice, then presents the first again: no longer the token the current one replaced (which
   * the retry grace would answer with the same successor), so the reuse revokes the family.
   */
  private async reuse(token: string): Promise<void> {
    const second = await this.post('refresh', `grant_type=refresh_token&refresh_token=${token}`);
    if (second !== undefined) await this.post('refresh', `grant_type=refresh_token&refresh_token=${second}`);
    await this.post('refresh reuse', `grant_type=refresh_token&refresh_token=${token}`);
  }

  /** One POST /token; returns the refresh token of a 200. */
  private async post(kind: Kind, body: string, headers: Record<string, string> = {}): Promise<string | undefined> {
    this.inFlight++;
    const start = performance.now();
    try {
      const response = await fetch(this.stack.tokenEndpoint, {
        method: 'POST',
        headers: { ...FORM_HEADERS, ...headers },
        body,
      });
      const text = await response.text();
      const end = performance.now();
      this.samples.get(kind)!.add(end - this.startedAt, end - start, response.status);
      return response.status === 200 ? (JSON.parse(text) as { refresh_token?: string }).refresh_token : undefined;
    } catch {
      this.errors++;
      return undefined;
    } finally {
      this.inFlight--;
    }
  }

  summary(): Record<string, { count: number; unexpected: number; p50: number; p99: number }> {
    return Object.fromEntries(
      [...this.samples].map(([kind, samples]) => {
        const s = stats(samples.latencies());
        return [
          kind,
          {
            count: samples.count,
            unexpected: samples.statuses().filter((status) => status !== EXPECTED[kind]).length,
            p50: s.p50,
            p99: s.p99,
          },
        ];
      }),
    );
  }

  latencyByMinute(kind: Kind): number[] {
    const samples = this.samples.get(kind)!;
    const minutes: number[] = [];
    for (let m = 0; m * 60_000 < samples.lastAt(); m++) {
      const slice = samples.latencies(m * 60_000, (m + 1) * 60_000);
      if (slice.length > 0) minutes.push(stats(slice).p50);
    }
    return minutes;
  }
}
