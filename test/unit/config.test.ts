import { describe, expect, it } from 'vitest';
import { configFromEnv, configToEnv, ConfigError } from '../../lambda/config';

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
      scrypt: { N: 131072, r: 8, p: 1 },
      tables: { clients: 'c', users: 'u', refreshTokens: 'r', loginAttempts: 'l', signingKeys: 'k' },
      keyCacheSeconds: 60,
      signingKeyId: 'alias/x',
      scopesSupported: [],
    });
  });

  it('round-trips through configToEnv', () => {
    const config = configFromEnv({ ...BASE, ACCESS_TOKEN_TTL_SECONDS: '300', SCRYPT_PARAMS: 'ln=15,r=8,p=2', SCOPES_SUPPORTED: 'a b' });
    expect(configFromEnv(configToEnv(config))).toEqual({ ...config, region: undefined });
  });

  it.each([
    [{ ISSUER: undefined }, 'ISSUER is required'],
    [{ ISSUER: 'not a url' }, 'the issuer must be an absolute URL'],
    [{ ISSUER: 'http://auth.example.test' }, 'the issuer must use https'],
    [{ ISSUER: 'https://auth.example.test?x=1' }, 'no query or fragment'],
    [{ ACCESS_TOKEN_TTL_SECONDS: '0' }, 'ACCESS_TOKEN_TTL_SECONDS must be a positive whole number'],
    [{ ACCESS_TOKEN_TTL_SECONDS: '1.5' }, 'ACCESS_TOKEN_TTL_SECONDS must be a positive whole number'],
    [{ REFRESH_TOKEN_IDLE_TTL_SECONDS: '999999999' }, 'idle lifetime must not exceed its absolute lifetime'],
    [{ SCRYPT_PARAMS: 'N=1000,r=8,p=1' }, 'SCRYPT_PARAMS'],
    [{ SIGNING_KEY_ID: '' }, 'SIGNING_KEY_ID is required'],
    [{ SIGNING_KEYS_TABLE: undefined }, 'SIGNING_KEYS_TABLE is required'],
    [{ KEY_CACHE_SECONDS: '120' }, 'the key cache must not exceed 60 seconds'],
  ])('rejects %j', (override, message) => {
    expect(() => configFromEnv({ ...BASE, ...override })).toThrow(ConfigError);
    expect(() => configFromEnv({ ...BASE, ...override })).toThrow(message);
  });

  it('allows plain http only for a loopback issuer', () => {
    expect(configFromEnv({ ...BASE, ISSUER: 'http://127.0.0.1:3000' }).issuer).toBe('http://127.0.0.1:3000');
  });
});
