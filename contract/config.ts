import type { ScryptParams } from './scrypt-params';
import {
  ACCESS_TOKEN_TTL,
  DEFAULT_AUDIENCE,
  ISSUER,
  KEY_CACHE_SECONDS,
  LEGACY_VERIFIER_FUNCTION_ARN,
  LOCKOUT_IP_FAILURES_PER_DAY,
  LOCKOUT_PAIR_THRESHOLD,
  LOCKOUT_USER_FAILURES_PER_HOUR,
  REFRESH_TOKEN_ABSOLUTE_TTL,
  REFRESH_TOKEN_GRACE,
  REFRESH_TOKEN_IDLE_TTL,
  SCOPES_SUPPORTED,
  SCRYPT,
  TRUSTED_PROXY_HOPS,
} from './settings';
import type { TableNames } from './tables';

/** The protocol settings the core needs (lambda/oauth/config.ts OAuthSettings). Durations in seconds. */
export interface ProtocolSettings {
  /** `iss` of every access token, and the base URL of the endpoints. */
  readonly issuer: string;
  /** `aud` for clients registered without an audience. */
  readonly defaultAudience: string;
  readonly accessTokenTtl: number;
  readonly refreshTokenIdleTtl: number;
  readonly refreshTokenAbsoluteTtl: number;
  /**
   * For clients registered without their own: how long after a rotation the token it replaced may be
   * presented again and get the same successor (0 to 60; 0 is strict one-time use).
   */
  readonly refreshTokenGraceSeconds: number;
  /** Advertised in the metadata document; clients and users carry their own allowed scopes. */
  readonly scopesSupported: readonly string[];
  /**
   * Proxies in front of API Gateway that append to X-Forwarded-For (contract/settings.ts TRUSTED_PROXY_HOPS);
   * absent: 0, API Gateway's sourceIp is the client's address.
   */
  readonly trustedProxyHops?: number;
}

/**
 * The functions' configuration: the shared settings (contract/settings.ts, each parsed and checked by
 * its own rules) and what the deployment wires in (tables, the first signing key, local endpoints). The
 * CDK stack writes these variables (configToEnv), the local stack passes the same object directly, and the
 * handlers read and validate them once at cold start (lambda/config.ts configFromEnv).
 */
export interface ServiceConfig extends ProtocolSettings {
  readonly scrypt: ScryptParams;
  /** Consecutive failures for a (username, source IP) before each further attempt waits, exponentially. */
  readonly lockoutPairThreshold: number;
  /** Failures per username per clock hour, from all source IPs, before its password grants are refused. */
  readonly lockoutUserFailuresPerHour: number;
  /** Failures per source IP per UTC day, for any usernames, before its password grants are refused. */
  readonly lockoutIpFailuresPerDay: number;
  readonly tables: TableNames;
  /** KMS key id, ARN or alias of the first signing key, used while the key registry is empty. */
  readonly signingKeyId: string;
  /**
   * The KMS symmetric key that TOTP secrets are encrypted with (key id, ARN or alias): the token function
   * decrypts an enrolled user's secret with it. Absent: no user can be enrolled, and none is.
   */
  readonly mfaKeyId?: string;
  /** How long the functions reuse what they read from the key registry (at most 60 s in production). */
  readonly keyCacheSeconds: number;
  /** The legacy verifier of lazy migration (contract/settings.ts LEGACY_VERIFIER_FUNCTION_ARN); absent: none. */
  readonly legacyVerifierFunctionArn?: string;
  readonly region?: string;
  /** Local emulators only. */
  readonly dynamodbEndpoint?: string;
  readonly kmsEndpoint?: string;
}

/** The variables, by what they carry: the shared settings' own (contract/settings.ts), then the deployment's. */
export const ENV = {
  issuer: ISSUER.env,
  defaultAudience: DEFAULT_AUDIENCE.env,
  accessTokenTtl: ACCESS_TOKEN_TTL.env,
  refreshTokenIdleTtl: REFRESH_TOKEN_IDLE_TTL.env,
  refreshTokenAbsoluteTtl: REFRESH_TOKEN_ABSOLUTE_TTL.env,
  refreshTokenGraceSeconds: REFRESH_TOKEN_GRACE.env,
  scopesSupported: SCOPES_SUPPORTED.env,
  scrypt: SCRYPT.env,
  lockoutPairThreshold: LOCKOUT_PAIR_THRESHOLD.env,
  lockoutUserFailuresPerHour: LOCKOUT_USER_FAILURES_PER_HOUR.env,
  lockoutIpFailuresPerDay: LOCKOUT_IP_FAILURES_PER_DAY.env,
  keyCacheSeconds: KEY_CACHE_SECONDS.env,
  trustedProxyHops: TRUSTED_PROXY_HOPS.env,
  clientsTable: 'CLIENTS_TABLE',
  usersTable: 'USERS_TABLE',
  refreshTokensTable: 'REFRESH_TOKENS_TABLE',
  loginAttemptsTable: 'LOGIN_ATTEMPTS_TABLE',
  signingKeysTable: 'SIGNING_KEYS_TABLE',
  mfaChallengesTable: 'MFA_CHALLENGES_TABLE',
  signingKeyId: 'SIGNING_KEY_ID',
  mfaKeyId: 'MFA_KEY_ID',
  dynamodbEndpoint: 'DYNAMODB_ENDPOINT',
  kmsEndpoint: 'KMS_ENDPOINT',
} as const;

/** Environment variables that carry `config` (the inverse of configFromEnv), for the CDK stack. */
export function configToEnv(config: Omit<ServiceConfig, 'region'>): Record<string, string> {
  const env: Record<string, string> = {
    [ENV.issuer]: ISSUER.format(config.issuer),
    [ENV.defaultAudience]: DEFAULT_AUDIENCE.format(config.defaultAudience),
    [ENV.accessTokenTtl]: ACCESS_TOKEN_TTL.format(config.accessTokenTtl),
    [ENV.refreshTokenIdleTtl]: REFRESH_TOKEN_IDLE_TTL.format(config.refreshTokenIdleTtl),
    [ENV.refreshTokenAbsoluteTtl]: REFRESH_TOKEN_ABSOLUTE_TTL.format(config.refreshTokenAbsoluteTtl),
    [ENV.refreshTokenGraceSeconds]: REFRESH_TOKEN_GRACE.format(config.refreshTokenGraceSeconds),
    [ENV.scopesSupported]: SCOPES_SUPPORTED.format(config.scopesSupported),
    [ENV.scrypt]: SCRYPT.format(config.scrypt),
    [ENV.lockoutPairThreshold]: LOCKOUT_PAIR_THRESHOLD.format(config.lockoutPairThreshold),
    [ENV.lockoutUserFailuresPerHour]: LOCKOUT_USER_FAILURES_PER_HOUR.format(config.lockoutUserFailuresPerHour),
    [ENV.lockoutIpFailuresPerDay]: LOCKOUT_IP_FAILURES_PER_DAY.format(config.lockoutIpFailuresPerDay),
    [ENV.clientsTable]: config.tables.clients,
    [ENV.usersTable]: config.tables.users,
    [ENV.refreshTokensTable]: config.tables.refreshTokens,
    [ENV.loginAttemptsTable]: config.tables.loginAttempts,
    [ENV.signingKeysTable]: config.tables.signingKeys,
    [ENV.mfaChallengesTable]: config.tables.mfaChallenges,
    [ENV.keyCacheSeconds]: KEY_CACHE_SECONDS.format(config.keyCacheSeconds),
    [ENV.signingKeyId]: config.signingKeyId,
  };
  // Only with lazy migration: a function without the variable asks no verifier.
  if (config.legacyVerifierFunctionArn !== undefined)
    env[LEGACY_VERIFIER_FUNCTION_ARN.env] = LEGACY_VERIFIER_FUNCTION_ARN.format(config.legacyVerifierFunctionArn);
  if (config.trustedProxyHops !== undefined)
    env[ENV.trustedProxyHops] = TRUSTED_PROXY_HOPS.format(config.trustedProxyHops);
  if (config.mfaKeyId !== undefined) env[ENV.mfaKeyId] = config.mfaKeyId;
  if (config.dynamodbEndpoint !== undefined) env[ENV.dynamodbEndpoint] = config.dynamodbEndpoint;
  if (config.kmsEndpoint !== undefined) env[ENV.kmsEndpoint] = config.kmsEndpoint;
  return env;
}
