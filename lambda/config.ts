import { DEFAULT_LIFETIMES, type OAuthSettings } from './oauth/config';
import { DEFAULT_SCRYPT_PARAMS, parseScryptParams, type ScryptParams } from './passwords';
import type { TableNames } from '../contract/tables';

/**
 * The configuration schema, once. The CDK stack writes these variables, the local stack passes the
 * same object directly, and the handlers read and validate them once at cold start.
 */
export interface ServiceConfig extends OAuthSettings {
  readonly scrypt: ScryptParams;
  readonly tables: TableNames;
  /** KMS key id, ARN or alias of the first signing key, used while the key registry is empty. */
  readonly signingKeyId: string;
  /** How long the functions reuse what they read from the key registry (at most 60 s in production). */
  readonly keyCacheSeconds: number;
  readonly region?: string;
  /** Local emulators only. */
  readonly dynamodbEndpoint?: string;
  readonly kmsEndpoint?: string;
}

export const ENV = {
  issuer: 'ISSUER',
  defaultAudience: 'DEFAULT_AUDIENCE',
  accessTokenTtl: 'ACCESS_TOKEN_TTL_SECONDS',
  refreshTokenIdleTtl: 'REFRESH_TOKEN_IDLE_TTL_SECONDS',
  refreshTokenAbsoluteTtl: 'REFRESH_TOKEN_ABSOLUTE_TTL_SECONDS',
  scopesSupported: 'SCOPES_SUPPORTED',
  scrypt: 'SCRYPT_PARAMS',
  clientsTable: 'CLIENTS_TABLE',
  usersTable: 'USERS_TABLE',
  refreshTokensTable: 'REFRESH_TOKENS_TABLE',
  loginAttemptsTable: 'LOGIN_ATTEMPTS_TABLE',
  signingKeysTable: 'SIGNING_KEYS_TABLE',
  keyCacheSeconds: 'KEY_CACHE_SECONDS',
  signingKeyId: 'SIGNING_KEY_ID',
  dynamodbEndpoint: 'DYNAMODB_ENDPOINT',
  kmsEndpoint: 'KMS_ENDPOINT',
} as const;

export const DEFAULT_KEY_CACHE_SECONDS = 60;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Reads and validates the configuration; throws ConfigError naming every problem found. */
export function configFromEnv(env: Readonly<Record<string, string | undefined>>): ServiceConfig {
  const problems: string[] = [];
  const required = (name: string): string => {
    const value = env[name];
    if (value === undefined || value.trim() === '') {
      problems.push(`${name} is required`);
      return '';
    }
    return value.trim();
  };
  const seconds = (name: string, fallback: number): number => {
    const value = env[name];
    if (value === undefined || value.trim() === '') return fallback;
    const parsed = Number(value);
    if (!Number.isSafeInteger(parsed) || parsed <= 0) {
      problems.push(`${name} must be a positive whole number of seconds`);
      return fallback;
    }
    return parsed;
  };
  let scrypt = DEFAULT_SCRYPT_PARAMS;
  const scryptText = env[ENV.scrypt];
  if (scryptText !== undefined && scryptText.trim() !== '') {
    try {
      scrypt = parseScryptParams(scryptText);
    } catch (error) {
      problems.push(`${ENV.scrypt}: ${(error as Error).message}`);
    }
  }
  const issuer = required(ENV.issuer);
  const config: ServiceConfig = {
    issuer,
    defaultAudience: env[ENV.defaultAudience]?.trim() || issuer,
    accessTokenTtl: seconds(ENV.accessTokenTtl, DEFAULT_LIFETIMES.accessTokenTtl),
    refreshTokenIdleTtl: seconds(ENV.refreshTokenIdleTtl, DEFAULT_LIFETIMES.refreshTokenIdleTtl),
    refreshTokenAbsoluteTtl: seconds(ENV.refreshTokenAbsoluteTtl, DEFAULT_LIFETIMES.refreshTokenAbsoluteTtl),
    scopesSupported: (env[ENV.scopesSupported] ?? '').split(/\s+/).filter(Boolean),
    scrypt,
    tables: {
      clients: required(ENV.clientsTable),
      users: required(ENV.usersTable),
      refreshTokens: required(ENV.refreshTokensTable),
      loginAttempts: required(ENV.loginAttemptsTable),
      signingKeys: required(ENV.signingKeysTable),
    },
    keyCacheSeconds: seconds(ENV.keyCacheSeconds, DEFAULT_KEY_CACHE_SECONDS),
    signingKeyId: required(ENV.signingKeyId),
    region: env.AWS_REGION,
    dynamodbEndpoint: env[ENV.dynamodbEndpoint] || undefined,
    kmsEndpoint: env[ENV.kmsEndpoint] || undefined,
  };
  problems.push(...validateConfig(config));
  if (problems.length > 0) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  return config;
}

/** Checks that hold however the configuration was made. */
export function validateConfig(config: ServiceConfig): string[] {
  const problems: string[] = [];
  if (config.issuer !== '') {
    let url: URL | undefined;
    try {
      url = new URL(config.issuer);
    } catch {
      problems.push('the issuer must be an absolute URL');
    }
    // RFC 8414 §2: https, no query or fragment (http only for loopback development).
    if (url !== undefined) {
      const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
      if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) problems.push('the issuer must use https');
      if (url.search !== '' || url.hash !== '') problems.push('the issuer must have no query or fragment');
    }
  }
  if (config.keyCacheSeconds > 60) problems.push('the key cache must not exceed 60 seconds');
  if (config.refreshTokenIdleTtl > config.refreshTokenAbsoluteTtl) {
    problems.push('the refresh-token idle lifetime must not exceed its absolute lifetime');
  }
  return problems;
}

/** Environment variables that carry `config` (the inverse of configFromEnv), for the CDK stack. */
export function configToEnv(config: Omit<ServiceConfig, 'region'>): Record<string, string> {
  const env: Record<string, string> = {
    [ENV.issuer]: config.issuer,
    [ENV.defaultAudience]: config.defaultAudience,
    [ENV.accessTokenTtl]: String(config.accessTokenTtl),
    [ENV.refreshTokenIdleTtl]: String(config.refreshTokenIdleTtl),
    [ENV.refreshTokenAbsoluteTtl]: String(config.refreshTokenAbsoluteTtl),
    [ENV.scopesSupported]: config.scopesSupported.join(' '),
    [ENV.scrypt]: `N=${config.scrypt.N},r=${config.scrypt.r},p=${config.scrypt.p}`,
    [ENV.clientsTable]: config.tables.clients,
    [ENV.usersTable]: config.tables.users,
    [ENV.refreshTokensTable]: config.tables.refreshTokens,
    [ENV.loginAttemptsTable]: config.tables.loginAttempts,
    [ENV.signingKeysTable]: config.tables.signingKeys,
    [ENV.keyCacheSeconds]: String(config.keyCacheSeconds),
    [ENV.signingKeyId]: config.signingKeyId,
  };
  if (config.dynamodbEndpoint !== undefined) env[ENV.dynamodbEndpoint] = config.dynamodbEndpoint;
  if (config.kmsEndpoint !== undefined) env[ENV.kmsEndpoint] = config.kmsEndpoint;
  return env;
}
