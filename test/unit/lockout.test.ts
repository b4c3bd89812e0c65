import { describe, expect, it } from 'vitest';
import {
  attemptSubject,
  DEFAULT_LOCKOUT_POLICY,
  lockoutDecision,
  NO_FAILURES,
  normalizeIp,
  pairDelaySeconds,
} from '../../lambda/oauth/lockout';

const NOW = 1_795_000_000;

describe('pairDelaySeconds', () => {
  it.each([
    [0, 0],
    [4, 0],
    [5, 1],
    [6, 2],
    [9, 16],
    [14, 512],
    [15, 900],
    [40, 900],
    [10_000, 900],
  ])('%i failures → %i s', (failures, delay) => {
    expect(pairDelaySeconds(failures)).toBe(delay);
  });
});

describe('lockoutDecision', () => {
  it('allows attempts below every threshold', () => {
    expect(
      lockoutDecision(
        { ...NO_FAILURES, pairFailures: 4, pairLastFailureAt: NOW, userFailuresThisHour: 99, ipFailuresToday: 99 },
        NOW,
      ),
    ).toEqual({
      refused: false,
    });
  });

  it('backs off per (username, IP) until the delay after the last failure has passed', () => {
    const counters = { ...NO_FAILURES, pairFailures: 7, pairLastFailureAt: NOW };
    expect(lockoutDecision(counters, NOW + 3)).toEqual({ refused: true, reason: 'pair_backoff', until: NOW + 4 });
    expect(lockoutDecision(counters, NOW + 4)).toEqual({ refused: false });
  });

  it('caps the backoff at 15 minutes', () => {
    const counters = { ...NO_FAILURES, pairFailures: 50, pairLastFailureAt: NOW };
    expect(lockoutDecision(counters, NOW + 899).refused).toBe(true);
    expect(lockoutDecision(counters, NOW + 900).refused).toBe(false);
  });

  it('refuses a username with 100 failures this hour until the hour ends', () => {
    const decision = lockoutDecision({ ...NO_FAILURES, userFailuresThisHour: 100 }, NOW);
    expect(decision).toEqual({ refused: true, reason: 'user_ceiling', until: (Math.floor(NOW / 3600) + 1) * 3600 });
  });

  it('refuses an IP that spent its daily failure budget', () => {
    expect(lockoutDecision({ ...NO_FAILURES, ipFailuresToday: 100 }, NOW)).toMatchObject({
      refused: true,
      reason: 'ip_budget',
    });
  });

  it('follows the policy it is given', () => {
    const policy = { ...DEFAULT_LOCKOUT_POLICY, pairThreshold: 2, userFailuresPerHour: 3 };
    expect(lockoutDecision({ ...NO_FAILURES, userFailuresThisHour: 3 }, NOW, policy).refused).toBe(true);
    expect(lockoutDecision({ ...NO_FAILURES, pairFailures: 2, pairLastFailureAt: NOW }, NOW, policy).refused).toBe(
      true,
    );
  });
});

describe('attempt subjects', () => {
  it('hashes usernames and normalizes IPs', () => {
    const subject = attemptSubject('alice', '::ffff:203.0.113.9');
    expect(subject).toEqual({ userKey: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), ip: '203.0.113.9' });
    expect(subject.userKey).not.toContain('alice');
    expect(attemptSubject('x'.repeat(100_000), '').userKey).toHaveLength(43);
  });

  it.each([
    [' 198.51.100.1 ', '198.51.100.1'],
    // One spelling for each IPv6 address (RFC 5952), keyed by its /64.
    ['2001:DB8::1', '2001:db8::/64'],
    ['2001:db8:0:0:0:0:0:1', '2001:db8::/64'],
    ['2001:0db8:0000:0000:ffff:ffff:ffff:ffff', '2001:db8::/64'],
    ['2001:db8:aaaa:bbbb:1:2:3:4', '2001:db8:aaaa:bbbb::/64'],
    ['2001:db8:aaaa:bbbc::1', '2001:db8:aaaa:bbbc::/64'],
    ['fe80::1%eth0', 'fe80::/64'],
    ['::1', '::/64'],
    // IPv4-mapped IPv6, in any spelling, is its IPv4 address.
    ['::ffff:203.0.113.9', '203.0.113.9'],
    ['::FFFF:CB00:7109', '203.0.113.9'],
    ['0:0:0:0:0:ffff:203.0.113.9', '203.0.113.9'],
    ['not an ip', 'unknown'],
    ['', 'unknown'],
    ['2001:db8::1::2', 'unknown'],
    // A key it made is its own key.
    ['2001:db8:aaaa:bbbb::/64', '2001:db8:aaaa:bbbb::/64'],
    ['2001:db8::/48', 'unknown'],
    ['203.0.113.256', 'unknown'],
  ])('%j → %j', (input, expected) => {
    expect(normalizeIp(input)).toBe(expected);
  });
});
