import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { TRUSTED_PROXY_HOPS } from '../../contract/settings';
import { ConfigError, configFromEnv, configToEnv } from '../../lambda/config';
import { clientAddress, fromProxyEvent } from '../../lambda/handlers/apigw';
import { createTokenHandler } from '../../lambda/handlers/token';
import { localSettingsFromEnv } from '../../local/env-settings';
import { basic, CONFIDENTIAL_SECRET, memoryDeps, SETTINGS, seed } from '../support/memory';

/** API Gateway's sourceIp behind one proxy: the proxy's own address (a CloudFront edge, say). */
const EDGE = '198.51.100.10';

function event(
  forwardedFor: string | readonly string[] | undefined,
  sourceIp = EDGE,
  overrides: Partial<APIGatewayProxyEvent> = {},
): APIGatewayProxyEvent {
  const lines = forwardedFor === undefined ? [] : typeof forwardedFor === 'string' ? [forwardedFor] : forwardedFor;
  return {
    resource: '/token',
    path: '/token',
    httpMethod: 'POST',
    headers: lines.length === 0 ? {} : { 'X-Forwarded-For': lines.at(-1)! },
    multiValueHeaders: lines.length === 0 ? {} : { 'X-Forwarded-For': [...lines] },
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    requestContext: { requestId: 'req-1', identity: { sourceIp } } as APIGatewayProxyEvent['requestContext'],
    ...overrides,
  };
}

describe('clientAddress', () => {
  it('ignores X-Forwarded-For with 0 hops (no proxy): sourceIp, as without the setting', () => {
    expect(clientAddress(event('203.0.113.5, 198.51.100.10'), 0)).toEqual({ address: EDGE });
    expect(clientAddress(event(undefined), 0)).toEqual({ address: EDGE });
  });

  it('takes, with 1 hop, the entry the proxy appended, left of the one API Gateway appended', () => {
    expect(clientAddress(event('203.0.113.5, 198.51.100.10'), 1)).toEqual({ address: '203.0.113.5' });
    expect(clientAddress(event('203.0.113.5,198.51.100.10'), 1)).toEqual({ address: '203.0.113.5' });
  });

  it('ignores what the client sent further left, addresses or not', () => {
    expect(clientAddress(event('6.6.6.6, 1.1.1.1, 203.0.113.5, 198.51.100.10'), 1)).toEqual({
      address: '203.0.113.5',
    });
    expect(clientAddress(event('not an address, , 203.0.113.5, 198.51.100.10'), 1)).toEqual({
      address: '203.0.113.5',
    });
  });

  it('takes the entry N places left of API Gateway\u2019s with N hops', () => {
    const header = '6.6.6.6, 203.0.113.5, 192.0.2.1, 198.51.100.10';
    expect(clientAddress(event(header), 2)).toEqual({ address: '203.0.113.5' });
    expect(clientAddress(event(header), 3)).toEqual({ address: '6.6.6.6' });
  });

  it.each<[string, string | readonly string[] | undefined, number, string]>([
    ['no header', undefined, 1, 'missing'],
    ['an empty header', '', 1, 'missing'],
    ['only the entry API Gateway appended (a call that bypassed the proxy)', EDGE, 1, 'short'],
    ['fewer entries than the proxies append', `203.0.113.5, ${EDGE}`, 2, 'short'],
    ['a needed entry that is no address', `client.example, ${EDGE}`, 1, 'malformed'],
    ['an address with a port', `203.0.113.5:4711, ${EDGE}`, 1, 'malformed'],
    ['an IPv6 address with a zone', `fe80::1%eth0, ${EDGE}`, 1, 'malformed'],
    ['a last entry that is not sourceIp', '203.0.113.5, 192.0.2.99', 1, 'not_appended'],
  ])('falls back to sourceIp for %s', (_case, header, hops, problem) => {
    expect(clientAddress(event(header), hops)).toEqual({ address: EDGE, problem });
  });

  it('reads IPv6 addresses in any spelling, with or without brackets', () => {
    expect(clientAddress(event('2001:db8::1, 2600:9000:5206::1', '2600:9000:5206:0:0:0:0:1'), 1)).toEqual({
      address: '2001:db8::1',
    });
    expect(clientAddress(event('[2001:DB8:0::1], 2600:9000:5206::1', '2600:9000:5206::1'), 1)).toEqual({
      address: '2001:db8::1',
    });
    expect(clientAddress(event('203.0.113.5, 2600:9000:5206::1', '2600:9000:5206::1'), 1)).toEqual({
      address: '203.0.113.5',
    });
    expect(clientAddress(event(`2001:db8::7, ${EDGE}`), 1)).toEqual({ address: '2001:db8::7' });
  });

  it('reads several X-Forwarded-For lines as one list, in order', () => {
    expect(clientAddress(event(['6.6.6.6', `203.0.113.5, ${EDGE}`]), 1)).toEqual({ address: '203.0.113.5' });
    // A line the client added after the proxies' cannot end the list: it is not API Gateway's.
    expect(clientAddress(event([`203.0.113.5, ${EDGE}`, '6.6.6.6']), 1)).toEqual({
      address: EDGE,
      problem: 'not_appended',
    });
  });

  it('refuses X-Forwarded-For spelled in several cases, whose order is lost', () => {
    const spelt = event(`203.0.113.5, ${EDGE}`, EDGE, {
      headers: { 'X-Forwarded-For': `203.0.113.5, ${EDGE}`, 'x-forwarded-for': '6.6.6.6' },
      multiValueHeaders: { 'X-Forwarded-For': [`203.0.113.5, ${EDGE}`], 'x-forwarded-for': ['6.6.6.6'] },
    });
    expect(clientAddress(spelt, 1)).toEqual({ address: EDGE, problem: 'repeated' });
  });

  it('reads `headers` when the event has no multiValueHeaders', () => {
    const single = event(undefined, EDGE, {
      headers: { 'x-forwarded-for': `203.0.113.5, ${EDGE}` },
      multiValueHeaders: undefined as never,
    });
    expect(clientAddress(single, 1)).toEqual({ address: '203.0.113.5' });
  });
});

describe('fromProxyEvent with trusted proxies', () => {
  it('gives the core the client address and tells why when there is none', () => {
    const problems: string[] = [];
    const onUnusableForwardedFor = (problem: string) => void problems.push(problem);
    expect(
      fromProxyEvent(event(`203.0.113.5, ${EDGE}`), { trustedProxyHops: 1, onUnusableForwardedFor }).sourceIp,
    ).toBe('203.0.113.5');
    expect(fromProxyEvent(event(EDGE), { trustedProxyHops: 1, onUnusableForwardedFor }).sourceIp).toBe(EDGE);
    expect(fromProxyEvent(event(`203.0.113.5, ${EDGE}`), { onUnusableForwardedFor }).sourceIp).toBe(EDGE);
    expect(problems).toEqual(['short']);
  });
});

describe('the token handler behind trusted proxies', () => {
  async function login(hops: number | undefined, forwardedFor: string | undefined, password = 'wrong') {
    const deps = memoryDeps({ ...SETTINGS, ...(hops === undefined ? {} : { trustedProxyHops: hops }) });
    await seed(deps);
    const body = new URLSearchParams({ grant_type: 'password', username: 'alice', password }).toString();
    const result = await createTokenHandler(deps)(
      event(forwardedFor, EDGE, {
        body,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basic('app', CONFIDENTIAL_SECRET),
          ...(forwardedFor === undefined ? {} : { 'X-Forwarded-For': forwardedFor }),
        },
      }),
    );
    return { status: result.statusCode, deps };
  }

  it('counts the failure under the forwarded address with 1 hop', async () => {
    const { status, deps } = await login(1, `203.0.113.5, ${EDGE}`);
    expect(status).toBe(400);
    expect([...deps.loginAttempts.items.keys()].some((key) => key.includes('203.0.113.5'))).toBe(true);
    expect([...deps.loginAttempts.items.keys()].some((key) => key.includes(EDGE))).toBe(false);
  });

  it('counts it under sourceIp without the setting, whatever X-Forwarded-For says', async () => {
    const { deps } = await login(undefined, `203.0.113.5, ${EDGE}`);
    expect([...deps.loginAttempts.items.keys()].some((key) => key.includes(EDGE))).toBe(true);
    expect([...deps.loginAttempts.items.keys()].some((key) => key.includes('203.0.113.5'))).toBe(false);
  });

  it('logs an unusable header as a warning, without its value, and counts under sourceIp', async () => {
    const { deps } = await login(1, '192.0.2.250');
    const warning = deps.logger.entries.find((entry) => entry.event === 'forwarded_for_unusable');
    expect(warning).toEqual({
      level: 'WARN',
      event: 'forwarded_for_unusable',
      fields: { requestId: 'req-1', reason: 'short', trustedProxyHops: 1 },
    });
    expect(JSON.stringify(deps.logger.entries)).not.toContain('192.0.2.250');
    expect([...deps.loginAttempts.items.keys()].some((key) => key.includes(EDGE))).toBe(true);
  });
});

describe('the trustedProxyHops setting (TRUSTED_PROXY_HOPS)', () => {
  const BASE = {
    ISSUER: 'https://auth.example.test',
    CLIENTS_TABLE: 'c',
    USERS_TABLE: 'u',
    REFRESH_TOKENS_TABLE: 'r',
    LOGIN_ATTEMPTS_TABLE: 'l',
    SIGNING_KEYS_TABLE: 's',
    MFA_CHALLENGES_TABLE: 'm',
    SIGNING_KEY_ID: 'alias/k',
  };

  it('is read by the functions and written back by the stack, 0 to 5', () => {
    expect(configFromEnv(BASE).trustedProxyHops).toBeUndefined();
    const config = configFromEnv({ ...BASE, TRUSTED_PROXY_HOPS: '1' });
    expect(config.trustedProxyHops).toBe(1);
    expect(configToEnv(config).TRUSTED_PROXY_HOPS).toBe('1');
    expect(configFromEnv({ ...BASE, TRUSTED_PROXY_HOPS: '0' }).trustedProxyHops).toBe(0);
    expect(configFromEnv({ ...BASE, TRUSTED_PROXY_HOPS: '5' }).trustedProxyHops).toBe(5);
  });

  it.each([
    ['6', 'TRUSTED_PROXY_HOPS must be a whole number from 0 to 5, got 6'],
    ['-1', 'TRUSTED_PROXY_HOPS must be a whole number from 0 to 5, got -1'],
    ['1.5', 'TRUSTED_PROXY_HOPS must be a whole number from 0 to 5, got 1.5'],
    ['one', 'TRUSTED_PROXY_HOPS="one": expected a number'],
  ])('refuses TRUSTED_PROXY_HOPS=%j', (raw, message) => {
    expect(() => configFromEnv({ ...BASE, TRUSTED_PROXY_HOPS: raw })).toThrow(ConfigError);
    expect(() => configFromEnv({ ...BASE, TRUSTED_PROXY_HOPS: raw })).toThrow(message);
  });

  it('is one of the settings npm start reads', () => {
    expect(localSettingsFromEnv({ TRUSTED_PROXY_HOPS: '1' })).toMatchObject({ trustedProxyHops: 1 });
    expect(() => localSettingsFromEnv({ TRUSTED_PROXY_HOPS: '9' })).toThrow(/TRUSTED_PROXY_HOPS/);
    expect(TRUSTED_PROXY_HOPS.key).toBe('trustedProxyHops');
  });
});
