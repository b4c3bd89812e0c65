import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromEnv, configToEnv, type ServiceConfig } from '../../lambda/config';
import { createTokenEndpointDeps } from '../../lambda/handlers/runtime';
import type { TokenEndpointDeps } from '../../lambda/oauth/grants/grant';
import { handleTokenRequest } from '../../lambda/oauth/token-endpoint';
import type { KmsEmulator } from '../../local/kms-emulator';
import { LOCAL_CREDENTIALS } from '../../local/state';
import { documentClient, emulatedServices } from '../support/aws';
import { basic, tokenRequest } from '../support/memory';
import { seed } from '../support/seed';

/**
 * The lockout limits as the token function gets them: variables read at cold start (configFromEnv), the
 * deps built from that configuration (createTokenEndpointDeps), and the counters in DynamoDB Local.
 */
const ALIAS = 'alias/ropc-token-service/lockout-settings';
const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'] as const;
const password = (username: string) => `pw-${username}`;
const auth = basic('app', 'app-secret');
let kms: KmsEmulator;
let config: ServiceConfig;

beforeAll(async () => {
  ({ kms, config } = await emulatedServices(ALIAS));
  const db = documentClient(config.dynamodbEndpoint!);
  try {
    await seed(db, config.tables, {
      clients: [{ clientId: 'app', secret: 'app-secret', scopes: ['read'] }],
      users: USERS.map((username) => ({ username, password: password(username), scopes: ['read'] })),
    });
  } finally {
    db.destroy();
  }
});

afterAll(async () => {
  await kms?.stop();
});

interface Endpoint {
  attempt(username: string, pass: string, ip: string): Promise<{ status: number }>;
  /** The `lockout` of the last failed password grant logged. */
  lastLockout(): unknown;
}

/**
 * A token endpoint configured by `env` on top of the test's configuration, its clock stopped (the pair
 * backoff's first wait is one second, which a slow run could otherwise outlast).
 */
function endpoint(env: Record<string, string>): Endpoint {
  const lines: Record<string, unknown>[] = [];
  const configured = configFromEnv({ ...configToEnv(config), AWS_REGION: config.region, ...env });
  const now = Date.now();
  const deps: TokenEndpointDeps = {
    ...createTokenEndpointDeps(configured, {
      credentials: LOCAL_CREDENTIALS,
      logSink: (line) => lines.push(JSON.parse(line)),
    }),
    clock: () => now,
  };
  return {
    attempt: (username, pass, ip) =>
      handleTokenRequest(
        tokenRequest({ grant_type: 'password', username, password: pass }, { authorization: auth, sourceIp: ip }),
        deps,
      ),
    lastLockout: () => lines.filter((line) => line.event === 'password_grant_failed').at(-1)?.lockout,
  };
}

describe('the lockout limits the token function is configured with', () => {
  it('locks a username from one address after LOCKOUT_PAIR_THRESHOLD=2 failures', async () => {
    const strict = endpoint({ LOCKOUT_PAIR_THRESHOLD: '2' });
    for (let i = 0; i < 2; i++) expect((await strict.attempt('alice', 'wrong', '198.51.100.21')).status).toBe(400);
    expect((await strict.attempt('alice', password('alice'), '198.51.100.21')).status).toBe(400);
    expect(strict.lastLockout()).toBe('pair_backoff');
    // Another address is another pair.
    expect((await strict.attempt('alice', password('alice'), '198.51.100.22')).status).toBe(200);
  });

  it('lets the right password through after 2 failures with the default threshold', async () => {
    const defaults = endpoint({});
    for (let i = 0; i < 2; i++) expect((await defaults.attempt('bob', 'wrong', '198.51.100.23')).status).toBe(400);
    expect((await defaults.attempt('bob', password('bob'), '198.51.100.23')).status).toBe(200);
  });

  it('refuses the 4th attempt from an address with LOCKOUT_IP_FAILURES_PER_DAY=3, whatever the username', async () => {
    const budget = endpoint({ LOCKOUT_IP_FAILURES_PER_DAY: '3' });
    for (const username of ['carol', 'dave', 'erin'])
      expect((await budget.attempt(username, 'wrong', '198.51.100.24')).status).toBe(400);
    expect(budget.lastLockout()).toBeUndefined();
    expect((await budget.attempt('frank', password('frank'), '198.51.100.24')).status).toBe(400);
    expect(budget.lastLockout()).toBe('ip_budget');
    // The budget is the address's: the same user from elsewhere is served.
    expect((await budget.attempt('frank', password('frank'), '198.51.100.25')).status).toBe(200);
  });

  it('serves the 4th attempt from an address after 3 failures with the default budget', async () => {
    const defaults = endpoint({});
    for (const username of ['carol', 'dave', 'erin'])
      expect((await defaults.attempt(username, 'wrong', '198.51.100.26')).status).toBe(400);
    expect((await defaults.attempt('frank', password('frank'), '198.51.100.26')).status).toBe(200);
  });
});
