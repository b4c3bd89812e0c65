import { beforeEach, describe, expect, it } from 'vitest';
import { DependencyUnavailableError } from '../../lambda/oauth/errors';
import { NO_FAILURES, usernameKey } from '../../lambda/oauth/lockout';
import { handleTokenRequest } from '../../lambda/oauth/token-endpoint';
import { basic, CONFIDENTIAL_SECRET, type MemoryDeps, memoryDeps, seed, tokenRequest } from '../support/memory';

let deps: MemoryDeps;
beforeEach(async () => {
  deps = memoryDeps();
  await seed(deps);
  // Start on an hour boundary so hourly windows are predictable.
  deps.advance(3600 - ((deps.clock() / 1000) % 3600));
});

const appAuth = basic('app', CONFIDENTIAL_SECRET);
const WRONG_BODY = '{"error":"invalid_grant","error_description":"invalid username or password"}';

function attempt(
  password: string,
  options: { username?: string; ip?: string; headers?: Record<string, string>; auth?: string } = {},
) {
  return handleTokenRequest(
    tokenRequest(
      { grant_type: 'password', username: options.username ?? 'alice', password },
      { authorization: options.auth ?? appAuth, sourceIp: options.ip ?? '198.51.100.1', headers: options.headers },
    ),
    deps,
  );
}
const right = (options?: Parameters<typeof attempt>[1]) => attempt('correct horse', options);
const wrong = (options?: Parameters<typeof attempt>[1]) => attempt('wrong', options);

describe('brute-force protection in the password grant', () => {
  it('refuses the right password after 5 failures from one IP, with the wrong-password response byte for byte', async () => {
    for (let i = 0; i < 5; i++) expect((await wrong()).body).toBe(WRONG_BODY);
    const wrongResponse = await wrong();
    const refused = await right();
    expect(refused).toEqual(wrongResponse);
    expect(refused.body).toBe(WRONG_BODY);
    expect(deps.logger.entries.filter((e) => e.event === 'password_grant_failed').at(-1)?.fields).toMatchObject({
      reason: 'locked',
      lockout: 'pair_backoff',
    });
  });

  it('counts every spelling of an IPv6 address, and every address of its /64, as one source', async () => {
    const spellings = [
      '2001:db8:1:2::1',
      '2001:DB8:1:2:0:0:0:1',
      '2001:db8:1:2::beef',
      '2001:db8:1:2:ffff::7',
      'fe80::1%eth0',
    ];
    for (const ip of spellings.slice(0, 4)) expect((await wrong({ ip })).status).toBe(400);
    expect((await wrong({ ip: '2001:db8:1:2::1:1' })).status).toBe(400);
    // Five failures from the /64: the right password from a sixth address of it is refused.
    expect((await right({ ip: '2001:0db8:0001:0002:0000:0000:0000:0009' })).body).toBe(WRONG_BODY);
    expect(deps.logger.entries.filter((e) => e.event === 'password_grant_failed').at(-1)?.fields).toMatchObject({
      reason: 'locked',
      lockout: 'pair_backoff',
    });
    // Another /64 is another source, and the IPv4-mapped form of an IPv4 address is that address.
    expect((await right({ ip: '2001:db8:1:3::1' })).status).toBe(200);
    expect((await right({ ip: '::ffff:198.51.100.1' })).status).toBe(200);
  });

  it('doubles the wait with each further failure, up to 15 minutes', async () => {
    for (let i = 0; i < 5; i++) await wrong();
    // n failures → the next attempt waits 2^(n-5) s after the last one.
    for (const delay of [1, 2, 4, 8, 16]) {
      deps.advance(delay - 1);
      expect((await right()).status).toBe(400); // refused (and counted)
      deps.advance(delay * 2);
      expect((await wrong()).status).toBe(400); // allowed, still wrong
    }
    const counters = await deps.loginAttempts.read(
      { userKey: usernameKey('alice'), ip: '198.51.100.1' },
      deps.clock() / 1000,
    );
    expect(counters.pairFailures).toBeGreaterThanOrEqual(15);
    deps.advance(899);
    expect((await right()).status).toBe(400);
    deps.advance(901);
    expect((await right()).status).toBe(200);
  });

  it('starts over after a success', async () => {
    for (let i = 0; i < 4; i++) await wrong();
    expect((await right()).status).toBe(200);
    for (let i = 0; i < 4; i++) await wrong();
    expect((await right()).status).toBe(200);
  });

  it('limits one username to 100 failures an hour across all IPs', async () => {
    for (let i = 0; i < 100; i++) await wrong({ ip: `10.0.${Math.floor(i / 200)}.${i % 200}` });
    expect((await right({ ip: '192.0.2.55' })).body).toBe(WRONG_BODY);
    expect(deps.logger.entries.some((e) => e.event === 'lockout_started' && e.fields.lockout === 'user_ceiling')).toBe(
      true,
    );
    // Other accounts are not affected; the account itself comes back with the next hour.
    expect((await attempt('x', { username: 'bob', ip: '192.0.2.55' })).status).toBe(400);
    deps.advance(3600);
    expect((await right({ ip: '192.0.2.55' })).status).toBe(200);
  });

  it('gives one IP a daily failure budget over all usernames, unknown ones included', async () => {
    for (let i = 0; i < 100; i++) await attempt('guess', { username: `nobody-${i}`, ip: '203.0.113.200' });
    expect((await right({ ip: '203.0.113.200' })).body).toBe(WRONG_BODY);
    expect((await right({ ip: '203.0.113.201' })).status).toBe(200);
    deps.advance(86400);
    expect((await right({ ip: '203.0.113.200' })).status).toBe(200);
  });

  it('counts unknown usernames like known ones', async () => {
    for (let i = 0; i < 5; i++) await attempt('x', { username: 'mallory' });
    const counters = await deps.loginAttempts.read(
      { userKey: usernameKey('mallory'), ip: '198.51.100.1' },
      deps.clock() / 1000,
    );
    expect(counters.pairFailures).toBe(5);
  });

  it('lets an operator unlock the account at once', async () => {
    for (let i = 0; i < 8; i++) await wrong();
    expect((await right()).status).toBe(400);
    deps.loginAttempts.clearUser(usernameKey('alice'));
    expect((await right()).status).toBe(200);
  });

  it('trusts X-End-User-IP only from a confidential client registered for it', async () => {
    const header = { 'x-end-user-ip': '192.0.2.77' };
    for (let i = 0; i < 5; i++) await wrong({ headers: header });
    // Not trusted: the header was ignored and the caller's IP carries the failures.
    expect((await right({ headers: header })).status).toBe(400);

    deps.clients.clients.set('app', { ...deps.clients.clients.get('app')!, trustEndUserIp: true });
    deps.advance(3600);
    for (let i = 0; i < 5; i++) await wrong({ headers: { 'x-end-user-ip': '192.0.2.88' } });
    // Trusted: the end user's IP is locked, other users behind the same back end are not.
    expect((await right({ headers: { 'x-end-user-ip': '192.0.2.88' } })).status).toBe(400);
    expect((await right({ headers: { 'x-end-user-ip': '192.0.2.89' } })).status).toBe(200);
  });
});

describe('attempts counted before their password is checked', () => {
  const counters = (username: string, ip: string) =>
    deps.loginAttempts.read({ userKey: usernameKey(username), ip }, deps.clock() / 1000);

  it('lets one of 20 concurrent guesses from one address be evaluated: the right one, sent last, is refused', async () => {
    let verified = 0;
    const verify = deps.passwords.verify.bind(deps.passwords);
    deps.passwords.verify = async (password, encoded) => {
      verified++;
      return verify(password, encoded);
    };
    const answers = await Promise.all([...Array.from({ length: 19 }, () => wrong()), right()]);
    expect(answers.every((answer) => answer.body === WRONG_BODY)).toBe(true);
    expect(verified).toBe(1);
    expect(deps.logger.entries.filter((e) => e.fields?.lockout === 'concurrent_attempt')).toHaveLength(19);
    expect((await counters('alice', '198.51.100.1')).pairFailures).toBe(1);
  });

  it('lets no more than the hourly ceiling of guesses through from many addresses at once', async () => {
    for (let i = 0; i < 95; i++) await wrong({ ip: `203.0.113.${i}` });
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => wrong({ ip: `198.51.100.${100 + i}` })));
    expect(answers.every((answer) => answer.status === 400)).toBe(true);
    expect((await counters('alice', '198.51.100.100')).userFailuresThisHour).toBe(100);
    expect(
      deps.logger.entries.filter((e) => e.event === 'password_grant_failed' && e.fields?.lockout === 'user_ceiling'),
    ).toHaveLength(15);
  });

  it("does not let an address that spent its budget count guesses on someone else's account", async () => {
    for (let i = 0; i < 100; i++) await wrong({ username: `nobody-${i}`, ip: '192.0.2.66' });
    for (let i = 0; i < 100; i++) expect((await wrong({ ip: '192.0.2.66' })).body).toBe(WRONG_BODY);
    expect(deps.logger.entries.at(-1)?.fields).toMatchObject({ reason: 'locked', lockout: 'ip_budget' });
    // The victim's own counters are untouched, and the victim logs in from anywhere else.
    expect(await counters('alice', '198.51.100.1')).toEqual(NO_FAILURES);
    expect((await right()).status).toBe(200);
  });

  it('keeps the hourly ceiling from locking a user out of an address they logged in from', async () => {
    expect((await right({ ip: '198.51.100.7' })).status).toBe(200);
    // A distributed guess spends alice's hour from 100 other addresses.
    for (let i = 0; i < 100; i++) await wrong({ ip: `203.0.113.${i}` });
    expect((await right({ ip: '198.51.100.200' })).body).toBe(WRONG_BODY);
    expect(deps.logger.entries.at(-1)?.fields).toMatchObject({ reason: 'locked', lockout: 'user_ceiling' });
    // From the address alice logged in from, the ceiling does not apply; its own backoff still does.
    expect((await right({ ip: '198.51.100.7' })).status).toBe(200);
    for (let i = 0; i < 5; i++) await wrong({ ip: '198.51.100.7' });
    expect((await right({ ip: '198.51.100.7' })).body).toBe(WRONG_BODY);
    expect(deps.logger.entries.at(-1)?.fields).toMatchObject({ reason: 'locked', lockout: 'pair_backoff' });
  });

  it('gives a success back: one address may log in far more often than its failure budget', async () => {
    for (let i = 0; i < 150; i++) expect((await right()).status).toBe(200);
    expect(await counters('alice', '198.51.100.1')).toEqual({ ...NO_FAILURES, knownAddressUntil: expect.any(Number) });
  });

  it('fails closed: a counter that cannot be written means no password is checked (503)', async () => {
    let verified = 0;
    deps.passwords.verify = async () => {
      verified++;
      return true;
    };
    deps.loginAttempts.reserve = async () => {
      throw new DependencyUnavailableError('dynamodb');
    };
    const answer = await right();
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body).error).toBe('temporarily_unavailable');
    expect(verified).toBe(0);
  });
});
