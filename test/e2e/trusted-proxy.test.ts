/**
 * A deployment behind one proxy (CloudFront, an ALB), end to end over HTTP: the local stack configured as
 * `TRUSTED_PROXY_HOPS=1 npm start` configures it, the local API Gateway emulation appending the caller's
 * address to X-Forwarded-For as API Gateway does, and the lockout counting the address the proxy appended
 * before it. Every request comes from 127.0.0.1 (the "proxy"); only X-Forwarded-For tells clients apart.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { localSettingsFromEnv } from '../../local/env-settings';
import { type LocalStack, startLocalStack } from '../../local/stack';
import { LogAudit } from '../support/log-audit';
import { basic, FAST_SCRYPT } from '../support/memory';
import { seedStack } from '../support/seed';

const PASSWORD = `proxy password ${randomUUID()}`;
const SECRET = `proxy-client-secret-${randomUUID()}`;
let stack: LocalStack;
const audit = new LogAudit();

beforeAll(async () => {
  stack = await startLocalStack({
    dynamodbEndpoint: inject('dynamodbEndpoint'),
    tablePrefix: `proxy-${randomUUID().slice(0, 8)}`,
    // The daily budget of an address, not the pair backoff: it does not wear off while a slow run goes on.
    config: {
      scrypt: FAST_SCRYPT,
      ...localSettingsFromEnv({ TRUSTED_PROXY_HOPS: '1', LOCKOUT_IP_FAILURES_PER_DAY: '2' }),
    },
    logSink: audit.sink,
  });
  await seedStack(stack, {
    clients: [{ clientId: 'web', secret: SECRET, scopes: ['read'] }],
    users: [
      { username: 'paula', password: PASSWORD },
      { username: 'quinn', password: PASSWORD },
    ],
  });
});

afterAll(async () => {
  await stack?.stop();
});

afterAll(() => {
  audit.secret(PASSWORD);
  audit.secret(SECRET);
  audit.expectClean();
});

/** A password grant as the proxy forwards it: `forwardedFor` is the header the proxy sends on. */
async function login(username: string, password: string, forwardedFor?: string): Promise<number> {
  const response = await fetch(stack.tokenEndpoint, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Authorization: basic('web', SECRET),
      ...(forwardedFor === undefined ? {} : { 'X-Forwarded-For': forwardedFor }),
    },
    body: new URLSearchParams({ grant_type: 'password', username, password }),
  });
  const body = (await response.json()) as Record<string, string>;
  if (response.status === 200) audit.tokens(body);
  return response.status;
}

describe('the lockout behind a trusted proxy (TRUSTED_PROXY_HOPS=1)', () => {
  it('spends the daily budget of the forwarded address, not of the proxy, and ignores what the client prepends', async () => {
    expect(stack.config.trustedProxyHops).toBe(1);
    // 203.0.113.50 guesses twice: its budget of 2 is spent.
    expect(await login('paula', 'wrong one', '203.0.113.50')).toBe(400);
    expect(await login('quinn', 'wrong two', '203.0.113.50')).toBe(400);
    expect(await login('paula', PASSWORD, '203.0.113.50')).toBe(400);
    // Naming another address in front of the one the proxy appended changes nothing.
    expect(await login('paula', PASSWORD, '203.0.113.51, 203.0.113.50')).toBe(400);

    // Another client behind the same proxy (the same socket address) is not refused.
    expect(await login('paula', PASSWORD, '203.0.113.51')).toBe(200);
    expect(await login('quinn', PASSWORD, '2001:db8:5::1')).toBe(200);

    const lockouts = audit.lines.map((line) => JSON.parse(line)).filter((line) => line.event === 'lockout_started');
    expect(lockouts.map((line) => line.lockout)).toEqual(['ip_budget']);
  });

  it('falls back to the address of the connection, with a warning, for a request that came past the proxy', async () => {
    const warned = () =>
      audit.lines.map((line) => JSON.parse(line)).filter((line) => line.event === 'forwarded_for_unusable');
    const before = warned().length;
    expect(await login('quinn', PASSWORD)).toBe(200);
    expect(
      warned()
        .slice(before)
        .map((line) => line.reason),
    ).toEqual(['short']);
  });
});
