import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ACCESS_TOKEN_TTL,
  DEFAULTS,
  ISSUER,
  LOCKOUT_IP_FAILURES_PER_DAY,
  LOCKOUT_PAIR_THRESHOLD,
  LOCKOUT_USER_FAILURES_PER_HOUR,
  REFRESH_TOKEN_GRACE,
  SCOPES_SUPPORTED,
  SCRYPT,
  type Setting,
  SHARED_SETTINGS,
} from '../../contract/settings';
import { ConfigError, configFromEnv, configToEnv } from '../../lambda/config';
import { lockoutPolicy } from '../../lambda/handlers/runtime';
import { DEFAULT_LOCKOUT_POLICY } from '../../lambda/oauth/lockout';
import { CONTEXT_KEYS } from '../../lib/context';
import { PROJECT_ROOT } from '../../lib/functions';
import { localSettingsFromEnv } from '../../local/env-settings';

const BASE = {
  ISSUER: 'https://auth.example.test',
  CLIENTS_TABLE: 'c',
  USERS_TABLE: 'u',
  REFRESH_TOKENS_TABLE: 'r',
  LOGIN_ATTEMPTS_TABLE: 'l',
  SIGNING_KEYS_TABLE: 'k',
  MFA_CHALLENGES_TABLE: 'm',
  SIGNING_KEY_ID: 'alias/x',
};

describe('configFromEnv', () => {
  it('applies the documented defaults', () => {
    expect(configFromEnv(BASE)).toMatchObject({
      issuer: 'https://auth.example.test',
      defaultAudience: 'https://auth.example.test',
      accessTokenTtl: 900,
      refreshTokenIdleTtl: 2592000,
      refreshTokenAbsoluteTtl: 7776000,
      refreshTokenGraceSeconds: 30,
      scrypt: { N: 131072, r: 8, p: 1 },
      lockoutPairThreshold: 5,
      lockoutUserFailuresPerHour: 100,
      lockoutIpFailuresPerDay: 100,
      tables: { clients: 'c', users: 'u', refreshTokens: 'r', loginAttempts: 'l', signingKeys: 'k' },
      keyCacheSeconds: 60,
      signingKeyId: 'alias/x',
      scopesSupported: [],
    });
  });

  it('round-trips through configToEnv', () => {
    const config = configFromEnv({
      ...BASE,
      ACCESS_TOKEN_TTL_SECONDS: '300',
      SCRYPT_PARAMS: 'ln=15,r=8,p=2',
      SCOPES_SUPPORTED: 'a b',
      REFRESH_TOKEN_GRACE_SECONDS: '5',
      LOCKOUT_PAIR_THRESHOLD: '3',
      LOCKOUT_USER_FAILURES_PER_HOUR: '20',
      LOCKOUT_IP_FAILURES_PER_DAY: '5000',
    });
    expect(configToEnv(config)).toMatchObject({
      REFRESH_TOKEN_GRACE_SECONDS: '5',
      LOCKOUT_PAIR_THRESHOLD: '3',
      LOCKOUT_USER_FAILURES_PER_HOUR: '20',
      LOCKOUT_IP_FAILURES_PER_DAY: '5000',
    });
    expect(configFromEnv(configToEnv(config))).toEqual({ ...config, region: undefined });
  });

  it.each([
    [{ ISSUER: undefined }, 'ISSUER is required'],
    [{ ISSUER: 'not a url' }, 'ISSUER must be an absolute URL'],
    [{ ISSUER: 'http://auth.example.test' }, 'ISSUER must be an https URL (RFC 8414 §2)'],
    [{ ISSUER: 'https://auth.example.test?x=1' }, 'no query or fragment'],
    [{ ACCESS_TOKEN_TTL_SECONDS: '0' }, 'ACCESS_TOKEN_TTL_SECONDS must be a whole number from 60 to 86400, got 0'],
    [{ ACCESS_TOKEN_TTL_SECONDS: '1.5' }, 'ACCESS_TOKEN_TTL_SECONDS must be a whole number from 60 to 86400, got 1.5'],
    [{ ACCESS_TOKEN_TTL_SECONDS: 'ten' }, 'ACCESS_TOKEN_TTL_SECONDS="ten": expected a number'],
    [
      { REFRESH_TOKEN_IDLE_TTL_SECONDS: '600', ACCESS_TOKEN_TTL_SECONDS: '900' },
      'REFRESH_TOKEN_IDLE_TTL_SECONDS (600) must exceed ACCESS_TOKEN_TTL_SECONDS (900)',
    ],
    [{ SCOPES_SUPPORTED: 'read a"b' }, 'SCOPES_SUPPORTED: "a"b" is not a valid scope token'],
    [{ REFRESH_TOKEN_IDLE_TTL_SECONDS: '999999999' }, 'idle lifetime must not exceed its absolute lifetime'],
    [{ SCRYPT_PARAMS: 'N=1000,r=8,p=1' }, 'SCRYPT_PARAMS'],
    [{ SIGNING_KEY_ID: '' }, 'SIGNING_KEY_ID is required'],
    [{ SIGNING_KEYS_TABLE: undefined }, 'SIGNING_KEYS_TABLE is required'],
    [{ KEY_CACHE_SECONDS: '120' }, 'KEY_CACHE_SECONDS must be a whole number from 1 to 60, got 120'],
    [{ REFRESH_TOKEN_GRACE_SECONDS: '61' }, 'REFRESH_TOKEN_GRACE_SECONDS must be a whole number from 0 to 60, got 61'],
    [{ REFRESH_TOKEN_GRACE_SECONDS: '-1' }, 'REFRESH_TOKEN_GRACE_SECONDS must be a whole number from 0 to 60, got -1'],
    [
      { REFRESH_TOKEN_GRACE_SECONDS: '1.5' },
      'REFRESH_TOKEN_GRACE_SECONDS must be a whole number from 0 to 60, got 1.5',
    ],
    [{ REFRESH_TOKEN_GRACE_SECONDS: 'abc' }, 'REFRESH_TOKEN_GRACE_SECONDS="abc": expected a number'],
    [{ LOCKOUT_PAIR_THRESHOLD: '0' }, 'LOCKOUT_PAIR_THRESHOLD must be a whole number from 1 to 100, got 0'],
    [{ LOCKOUT_PAIR_THRESHOLD: '101' }, 'LOCKOUT_PAIR_THRESHOLD must be a whole number from 1 to 100, got 101'],
    [{ LOCKOUT_PAIR_THRESHOLD: '2.5' }, 'LOCKOUT_PAIR_THRESHOLD must be a whole number from 1 to 100, got 2.5'],
    [{ LOCKOUT_PAIR_THRESHOLD: 'abc' }, 'LOCKOUT_PAIR_THRESHOLD="abc": expected a number'],
    [
      { LOCKOUT_USER_FAILURES_PER_HOUR: '0' },
      'LOCKOUT_USER_FAILURES_PER_HOUR must be a whole number from 1 to 100000, got 0',
    ],
    [
      { LOCKOUT_USER_FAILURES_PER_HOUR: '100001' },
      'LOCKOUT_USER_FAILURES_PER_HOUR must be a whole number from 1 to 100000, got 100001',
    ],
    [{ LOCKOUT_USER_FAILURES_PER_HOUR: 'many' }, 'LOCKOUT_USER_FAILURES_PER_HOUR="many": expected a number'],
    [
      { LOCKOUT_IP_FAILURES_PER_DAY: '-1' },
      'LOCKOUT_IP_FAILURES_PER_DAY must be a whole number from 1 to 1000000, got -1',
    ],
    [
      { LOCKOUT_IP_FAILURES_PER_DAY: '1000001' },
      'LOCKOUT_IP_FAILURES_PER_DAY must be a whole number from 1 to 1000000, got 1000001',
    ],
    [{ LOCKOUT_IP_FAILURES_PER_DAY: '1e2x' }, 'LOCKOUT_IP_FAILURES_PER_DAY="1e2x": expected a number'],
  ])('rejects %j', (override, message) => {
    expect(() => configFromEnv({ ...BASE, ...override })).toThrow(ConfigError);
    expect(() => configFromEnv({ ...BASE, ...override })).toThrow(message);
  });

  it.each([
    ['0', 0],
    ['60', 60],
    ['  45 ', 45],
  ])('reads REFRESH_TOKEN_GRACE_SECONDS=%j as a grace of %d seconds', (raw, seconds) => {
    expect(configFromEnv({ ...BASE, REFRESH_TOKEN_GRACE_SECONDS: raw }).refreshTokenGraceSeconds).toBe(seconds);
  });

  it.each<[string, string, keyof ReturnType<typeof configFromEnv>, number]>([
    ['LOCKOUT_PAIR_THRESHOLD', '1', 'lockoutPairThreshold', 1],
    ['LOCKOUT_PAIR_THRESHOLD', ' 100 ', 'lockoutPairThreshold', 100],
    ['LOCKOUT_USER_FAILURES_PER_HOUR', '1', 'lockoutUserFailuresPerHour', 1],
    ['LOCKOUT_USER_FAILURES_PER_HOUR', '100000', 'lockoutUserFailuresPerHour', 100_000],
    ['LOCKOUT_IP_FAILURES_PER_DAY', '1', 'lockoutIpFailuresPerDay', 1],
    ['LOCKOUT_IP_FAILURES_PER_DAY', '1000000', 'lockoutIpFailuresPerDay', 1_000_000],
  ])('reads %s=%j as its lockout limit', (variable, raw, field, limit) => {
    const config = configFromEnv({ ...BASE, [variable]: raw });
    expect(config[field]).toBe(limit);
  });

  it("makes the lockout limits the token function's lockout policy, keeping the backoff cap", () => {
    expect(lockoutPolicy(configFromEnv(BASE))).toEqual(DEFAULT_LOCKOUT_POLICY);
    const config = configFromEnv({
      ...BASE,
      LOCKOUT_PAIR_THRESHOLD: '2',
      LOCKOUT_USER_FAILURES_PER_HOUR: '30',
      LOCKOUT_IP_FAILURES_PER_DAY: '3',
    });
    expect(lockoutPolicy(config)).toEqual({
      pairThreshold: 2,
      pairMaxDelaySeconds: DEFAULT_LOCKOUT_POLICY.pairMaxDelaySeconds,
      userFailuresPerHour: 30,
      ipFailuresPerDay: 3,
    });
  });

  it('allows plain http only for a loopback issuer', () => {
    expect(configFromEnv({ ...BASE, ISSUER: 'http://127.0.0.1:3000' }).issuer).toBe('http://127.0.0.1:3000');
  });
});

describe('the shared settings schema (contract/settings.ts)', () => {
  const row = (setting: Setting<unknown>) =>
    `| \`${setting.env}\` | ${CONTEXT_KEYS.includes(setting.key) ? `\`${setting.key}\`` : '—'} | ${setting.shownDefault} | ${setting.summary} |`;

  it('is what the README Configuration table says, row for row', () => {
    const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
    const expected = SHARED_SETTINGS.map(row);
    expect(readme.split('\n').filter((line) => expected.includes(line))).toEqual(expected);
  });

  it('judges a value by one rule, named as each source names the setting', () => {
    expect(ACCESS_TOKEN_TTL.check(30, ACCESS_TOKEN_TTL.env)).toBe(
      'ACCESS_TOKEN_TTL_SECONDS must be a whole number from 60 to 86400, got 30',
    );
    expect(ACCESS_TOKEN_TTL.check(30, ACCESS_TOKEN_TTL.key)).toBe(
      'accessTokenTtlSeconds must be a whole number from 60 to 86400, got 30',
    );
    expect(() => configFromEnv({ ...BASE, ACCESS_TOKEN_TTL_SECONDS: '30' })).toThrow(
      ACCESS_TOKEN_TTL.check(30, ACCESS_TOKEN_TTL.env)!,
    );
  });

  it('formats every setting so that it parses back to the same value', () => {
    const values: [Setting<unknown>, unknown][] = [
      [ISSUER, 'https://auth.example.test'],
      [SCOPES_SUPPORTED, ['read', 'write']],
      [ACCESS_TOKEN_TTL, 600],
      [REFRESH_TOKEN_GRACE, 0],
      [LOCKOUT_PAIR_THRESHOLD, 7],
      [LOCKOUT_USER_FAILURES_PER_HOUR, 250],
      [LOCKOUT_IP_FAILURES_PER_DAY, 10_000],
      [SCRYPT, { N: 2 ** 15, r: 8, p: 2 }],
    ];
    for (const [setting, value] of values) expect(setting.parse(setting.format(value)), setting.key).toEqual(value);
  });

  it("defaults the lockout limits to the lockout's own policy", () => {
    expect({
      pairThreshold: DEFAULTS.lockoutPairThreshold,
      userFailuresPerHour: DEFAULTS.lockoutUserFailuresPerHour,
      ipFailuresPerDay: DEFAULTS.lockoutIpFailuresPerDay,
    }).toEqual({
      pairThreshold: DEFAULT_LOCKOUT_POLICY.pairThreshold,
      userFailuresPerHour: DEFAULT_LOCKOUT_POLICY.userFailuresPerHour,
      ipFailuresPerDay: DEFAULT_LOCKOUT_POLICY.ipFailuresPerDay,
    });
  });
});

describe('the settings npm start reads from its environment (local/env-settings.ts)', () => {
  it('leaves the local stack its defaults when no variable is set, or one is blank', () => {
    expect(localSettingsFromEnv({})).toEqual({});
    expect(localSettingsFromEnv({ REFRESH_TOKEN_GRACE_SECONDS: ' ' })).toEqual({});
    expect(localSettingsFromEnv({ LOCKOUT_PAIR_THRESHOLD: '', LOCKOUT_IP_FAILURES_PER_DAY: ' ' })).toEqual({});
  });

  it('takes the three lockout limits from their variables', () => {
    expect(
      localSettingsFromEnv({
        LOCKOUT_PAIR_THRESHOLD: '2',
        LOCKOUT_USER_FAILURES_PER_HOUR: '40',
        LOCKOUT_IP_FAILURES_PER_DAY: '3',
      }),
    ).toEqual({ lockoutPairThreshold: 2, lockoutUserFailuresPerHour: 40, lockoutIpFailuresPerDay: 3 });
  });

  it.each([
    [{ LOCKOUT_PAIR_THRESHOLD: 'abc' }, 'LOCKOUT_PAIR_THRESHOLD="abc": expected a number'],
    [{ LOCKOUT_PAIR_THRESHOLD: '0' }, 'LOCKOUT_PAIR_THRESHOLD must be a whole number from 1 to 100, got 0'],
    [
      { LOCKOUT_USER_FAILURES_PER_HOUR: '100001' },
      'LOCKOUT_USER_FAILURES_PER_HOUR must be a whole number from 1 to 100000, got 100001',
    ],
    [
      { LOCKOUT_IP_FAILURES_PER_DAY: '0.5' },
      'LOCKOUT_IP_FAILURES_PER_DAY must be a whole number from 1 to 1000000, got 0.5',
    ],
  ])('refuses %j by the same rule as the functions', (env, message) => {
    expect(() => localSettingsFromEnv(env)).toThrow(ConfigError);
    expect(() => localSettingsFromEnv(env)).toThrow(message);
    expect(() => configFromEnv({ ...BASE, ...env })).toThrow(message);
  });

  it('names every bad variable at once', () => {
    const attempt = () => localSettingsFromEnv({ LOCKOUT_PAIR_THRESHOLD: 'abc', REFRESH_TOKEN_GRACE_SECONDS: '61' });
    expect(attempt).toThrow('REFRESH_TOKEN_GRACE_SECONDS must be a whole number from 0 to 60, got 61');
    expect(attempt).toThrow('LOCKOUT_PAIR_THRESHOLD="abc": expected a number');
  });

  it.each([
    ['0', 0],
    ['60', 60],
  ])('takes REFRESH_TOKEN_GRACE_SECONDS=%j as the refresh-token grace', (raw, seconds) => {
    expect(localSettingsFromEnv({ REFRESH_TOKEN_GRACE_SECONDS: raw })).toEqual({ refreshTokenGraceSeconds: seconds });
  });

  it.each([
    ['61', 'REFRESH_TOKEN_GRACE_SECONDS must be a whole number from 0 to 60, got 61'],
    ['-1', 'REFRESH_TOKEN_GRACE_SECONDS must be a whole number from 0 to 60, got -1'],
    ['2.5', 'REFRESH_TOKEN_GRACE_SECONDS must be a whole number from 0 to 60, got 2.5'],
    ['abc', 'REFRESH_TOKEN_GRACE_SECONDS="abc": expected a number'],
  ])('refuses REFRESH_TOKEN_GRACE_SECONDS=%j by the same rule as the functions', (raw, message) => {
    const env = { REFRESH_TOKEN_GRACE_SECONDS: raw };
    expect(() => localSettingsFromEnv(env)).toThrow(ConfigError);
    expect(() => localSettingsFromEnv(env)).toThrow(message);
    expect(() => configFromEnv({ ...BASE, ...env })).toThrow(message);
  });
});
