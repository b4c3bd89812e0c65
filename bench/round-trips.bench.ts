import type { TokenEndpointDeps } from '../lambda/oauth/grants/grant';
import type { HttpRequest } from '../lambda/oauth/http';
import { handleTokenRequest } from '../lambda/oauth/token-endpoint';
import { DEFAULT_SCRYPT_PARAMS, hashPassword } from '../lambda/passwords';
import { type CallRecord, instrument, stages } from '../local/sdk-calls';
import { startLocalStack } from '../local/stack';
import { type Bench, round } from './lib';
import { awsClients, BENCH_AUTHORIZATION, seedClient, seedUsers, tokenEndpointDeps } from './local-fixture';

const REPETITIONS = 3;
const PASSWORD = 'the right password';

function describe(stageList: readonly CallRecord[][], tables: Record<string, string>): string {
  const short = (name: string | undefined) =>
    name === undefined
      ? ''
      : name
          .split('+')
          .map((table) => Object.entries(tables).find(([, physical]) => physical === table)?.[0] ?? table)
          .join('+');
  return stageList
    .map((stage) =>
      stage
        .map((call) => (call.service === 'kms' ? call.command : `${call.command}(${short(call.table)})`))
        .join(' ∥ '),
    )
    .join(' → ');
}

interface CaseResult {
  readonly stages: number[];
  readonly calls: number[];
  readonly path: string;
  readonly requestMs: number[];
  readonly ioMs: number[];
}

/**
 * Round trips on each grant's critical path: single requests through handleTokenRequest with the real
 * adapters (DynamoDB stores, KMS signer, scrypt at the production parameters) against DynamoDB Local and
 * the KMS emulator, around SDK clients instrumented to record every call.
 */
export const roundTripsBench: Bench = {
  name: 'round-trips',
  async run() {
    const stack = await startLocalStack({ config: { scrypt: DEFAULT_SCRYPT_PARAMS }, logSink: () => undefined });
    const { db, kms } = awsClients(stack);
    try {
      await seedClient(db, stack);
      const hash = await hashPassword(PASSWORD, DEFAULT_SCRYPT_PARAMS);
      const users = await seedUsers(db, stack, 'rt', 2 * REPETITIONS + 2, hash);

      const calls: CallRecord[] = [];
      instrument(db, 'dynamodb', calls);
      instrument(kms, 'kms', calls);
      let ipCounter = 0;
      const token = async (deps: TokenEndpointDeps, params: Record<string, string>) => {
        const request: HttpRequest = {
          method: 'POST',
          path: '/token',
          headers: { authorization: BENCH_AUTHORIZATION, 'content-type': 'application/x-www-form-urlencoded' },
          body: Buffer.from(new URLSearchParams(params).toString()),
          // Each request from its own address: no per-IP failure budget carries over between cases.
          sourceIp: `10.9.${(++ipCounter >> 8) & 255}.${ipCounter & 255}`,
          requestId: `round-trips-${ipCounter}`,
        };
        const response = await handleTokenRequest(request, deps);
        return { status: response.status, body: JSON.parse(response.body) as Record<string, unknown> };
      };
      const results = new Map<string, CaseResult>();
      const record = async (
        label: string,
        expected: number,
        deps: TokenEndpointDeps,
        params: Record<string, string>,
      ) => {
        calls.length = 0;
        const start = performance.now();
        const response = await token(deps, params);
        const requestMs = performance.now() - start;
        if (response.status !== expected)
          throw new Error(`${label}: expected ${expected}, got ${response.status} ${JSON.stringify(response.body)}`);
        const list = stages(calls);
        const entry = results.get(label) ?? {
          stages: [],
          calls: [],
          path: describe(list, stack.tables),
          requestMs: [],
          ioMs: [],
        };
        entry.stages.push(list.length);
        entry.calls.push(calls.length);
        entry.requestMs.push(requestMs);
        entry.ioMs.push(
          list.reduce(
            (sum, stage) => sum + Math.max(...stage.map((c) => c.end)) - Math.min(...stage.map((c) => c.start)),
            0,
          ),
        );
        results.set(label, entry);
        return response.body;
      };

      const deps = tokenEndpointDeps(stack, db, kms, DEFAULT_SCRYPT_PARAMS);
      await deps.passwords.verifyDummy('warm the dummy hash');
      const forCold = await token(deps, { grant_type: 'password', username: users[0]!.username, password: PASSWORD });
      calls.length = 0;

      // A new instance: the signer's key cache is empty, so it reads the registry (and, once per instance,
      // the bootstrap key's public key) alongside the grant's first lookups.
      await record(
        'password success, new instance (key cache cold)',
        200,
        tokenEndpointDeps(stack, db, kms, DEFAULT_SCRYPT_PARAMS),
        {
          grant_type: 'password',
          username: users[1]!.username,
          password: PASSWORD,
        },
      );
      await record(
        'refresh success, new instance (key cache cold)',
        200,
        tokenEndpointDeps(stack, db, kms, DEFAULT_SCRYPT_PARAMS),
        {
          grant_type: 'refresh_token',
          refresh_token: String(forCold.body.refresh_token),
        },
      );

      let u = 2;
      for (let i = 0; i < REPETITIONS; i++) {
        const user = users[u++]!.username;
        const issued = await record('password success', 200, deps, {
          grant_type: 'password',
          username: user,
          password: PASSWORD,
        });
        await record('password failure (wrong password)', 400, deps, {
          grant_type: 'password',
          username: users[u++]!.username,
          password: 'wrong',
        });
        await record('password failure (unknown user)', 400, deps, {
          grant_type: 'password',
          username: `nobody-${i}`,
          password: 'wrong',
        });
        const first = String(issued.refresh_token);
        const rotated = await record('refresh success', 200, deps, {
          grant_type: 'refresh_token',
          refresh_token: first,
        });
        // The first token again, within the grace: a retry, answered with the same successor and no write.
        const retried = await record('refresh retry within the grace (same successor)', 200, deps, {
          grant_type: 'refresh_token',
          refresh_token: first,
        });
        if (retried.refresh_token !== rotated.refresh_token) throw new Error('the retry got another successor');
        await record('refresh success', 200, deps, {
          grant_type: 'refresh_token',
          refresh_token: String(rotated.refresh_token),
        });
        // The first token once more: now older than the one the current token replaced, so a stolen copy;
        // its whole family is revoked (one write to the family's item).
        await record('refresh reuse (revokes the family)', 400, deps, {
          grant_type: 'refresh_token',
          refresh_token: first,
        });
        await record('refresh unknown token', 400, deps, {
          grant_type: 'refresh_token',
          refresh_token: 'x'.repeat(43),
        });
      }

      const goals: Record<string, number> = {
        // The attempt is counted before scrypt (so no limit is outrun by parallel guesses): one stage more.
        'password success, new instance (key cache cold)': 3,
        'refresh success, new instance (key cache cold)': 3,
        'password success': 3,
        'refresh success': 3,
      };
      const rows = [...results].map(([label, r]) => {
        const range = (values: number[]) =>
          Math.min(...values) === Math.max(...values)
            ? String(values[0])
            : `${Math.min(...values)}–${Math.max(...values)}`;
        const goal = goals[label];
        const met = goal === undefined ? '' : Math.max(...r.stages) <= goal ? `${goal}: met` : `${goal}: NOT met`;
        const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
        return [
          label,
          range(r.stages),
          range(r.calls),
          met,
          round(median(r.ioMs), 1),
          round(median(r.requestMs), 1),
          r.path,
        ];
      });
      const check = (label: string) => {
        const r = results.get(label)!;
        return Math.max(...r.stages) <= goals[label]!;
      };
      return {
        name: `round trips on the critical path (handleTokenRequest + real adapters, local stack, ${REPETITIONS} requests per case)`,
        columns: [
          'case',
          'stages',
          'calls',
          'goal',
          'I/O ms (sum of stages)',
          'request ms',
          'stages: calls (∥ = overlapping)',
        ],
        rows,
        notes: [
          'a stage = a maximal set of overlapping DynamoDB/KMS calls, recorded by a middleware on the SDK clients the stores and the signer use.',
          "new instance rows: the signer's key reads (registry Scan, and GetPublicKey once per instance) overlap the first stage; other rows reuse a warm cache, refreshed in the background after half of keyCacheSeconds.",
          'request ms includes scrypt at the production parameters for the password rows (it runs between the stages, off the event loop).',
          `stage goals (password 3: read, reserve the attempt, then sign and store; refresh 3; warm and cold): ${
            Object.keys(goals).every(check)
              ? 'all met'
              : `NOT met: ${Object.keys(goals)
                  .filter((label) => !check(label))
                  .join('; ')}`
          }.`,
          "refresh reuse revokes the family with one write to the family's item, whatever the family's length; a retry within the grace writes nothing.",
        ],
        data: Object.fromEntries(results),
      };
    } finally {
      db.destroy();
      kms.destroy();
      await stack.stop();
    }
  },
};
