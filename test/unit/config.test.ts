import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ACCESS_TOKEN_TTL,
  ISSUER,
  REFRESH_TOKEN_GRACE,
  SCOPES_SUPPORTED,
  SCRYPT,
  type Setting,
  SHARED_SETTINGS,
} from '../../contract/settings';
import { ConfigError, configFromEnv, configToEnv } from '../../lambda/config';
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
    });
    expect(configToEnv(config)).toMatchObject({ REFRESH_TOKEN_GRACE_SECONDS: '5' });
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
      [SCRYPT, { N: 2 ** 15, r: 8, p: 2 }],
    ];
    for (const [setting, value] of values) expect(setting.parse(setting.format(value)), setting.key).toEqual(value);
  });
});

describe('the settings npm start reads from its environment (local/env-settings.ts)', () => {
  it('leaves the local stack its defaults when no variable is set, or one is blank', () => {
    expect(localSettingsFromEnv({})).toEqual({});
    expect(localSettingsFromEnv({ REFRESH_TOKEN_GRACE_SECONDS: ' ' })).toEqual({});
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
