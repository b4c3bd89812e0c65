import { ENV, type ServiceConfig } from '../contract/config';
import {
  ACCESS_TOKEN_TTL,
  DEFAULT_AUDIENCE,
  DEFAULTS,
  ISSUER,
  KEY_CACHE_SECONDS,
  LEGACY_VERIFIER_FUNCTION_ARN,
  LOCKOUT_IP_FAILURES_PER_DAY,
  LOCKOUT_PAIR_THRESHOLD,
  LOCKOUT_USER_FAILURES_PER_HOUR,
  lifetimeProblems,
  REFRESH_TOKEN_ABSOLUTE_TTL,
  REFRESH_TOKEN_GRACE,
  REFRESH_TOKEN_IDLE_TTL,
  SCOPES_SUPPORTED,
  SCRYPT,
  type Setting,
  TRUSTED_PROXY_HOPS,
} from '../contract/settings';

// The configuration's shape and its variables are shared with the stack (contract/config.ts).
export { configToEnv, ENV, type ServiceConfig } from '../contract/config';

export const DEFAULT_KEY_CACHE_SECONDS = DEFAULTS.keyCacheSeconds;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * One shared setting from the environment, parsed and checked by its own rules (contract/settings.ts):
 * undefined when the variable is absent or blank, or cannot be parsed. Each problem is added to `problems`.
 */
export function settingFromEnv<T>(
  env: Readonly<Record<string, string | undefined>>,
  spec: Setting<T>,
  problems: string[],
): T | undefined {
  const raw = env[spec.env];
  if (raw === undefined || raw.trim() === '') return undefined;
  let value: T;
  try {
    value = spec.parse(raw);
  } catch (error) {
    problems.push(`${spec.env}=${JSON.stringify(raw)}: ${(error as Error).message}`);
    return undefined;
  }
  const problem = spec.check(value, spec.env);
  if (problem !== undefined) problems.push(problem);
  return value;
}

/** Reads and validates the configuration; throws ConfigError naming every problem found. */
export function configFromEnv(env: Readonly<Record<string, string | undefined>>): ServiceConfig {
  const problems: string[] = [];
  const given = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value;
  };
  const required = (name: string): string => {
    const value = given(name)?.trim();
    if (value === undefined) problems.push(`${name} is required`);
    return value ?? '';
  };
  /** A shared setting, its default when the variable is absent or blank (or cannot be parsed). */
  const setting = <T>(spec: Setting<T>, fallback: T): T => settingFromEnv(env, spec, problems) ?? fallback;
  const issuer = required(ISSUER.env);
  if (issuer !== '') {
    const problem = ISSUER.check(issuer, ISSUER.env);
    if (problem !== undefined) problems.push(problem);
  }
  const config: ServiceConfig = {
    issuer,
    defaultAudience: setting(DEFAULT_AUDIENCE, issuer),
    accessTokenTtl: setting(ACCESS_TOKEN_TTL, DEFAULTS.accessTokenTtl),
    refreshTokenIdleTtl: setting(REFRESH_TOKEN_IDLE_TTL, DEFAULTS.refreshTokenIdleTtl),
    refreshTokenAbsoluteTtl: setting(REFRESH_TOKEN_ABSOLUTE_TTL, DEFAULTS.refreshTokenAbsoluteTtl),
    refreshTokenGraceSeconds: setting(REFRESH_TOKEN_GRACE, DEFAULTS.refreshTokenGraceSeconds),
    scopesSupported: setting(SCOPES_SUPPORTED, []),
    scrypt: setting(SCRYPT, DEFAULTS.scrypt),
    lockoutPairThreshold: setting(LOCKOUT_PAIR_THRESHOLD, DEFAULTS.lockoutPairThreshold),
    lockoutUserFailuresPerHour: setting(LOCKOUT_USER_FAILURES_PER_HOUR, DEFAULTS.lockoutUserFailuresPerHour),
    lockoutIpFailuresPerDay: setting(LOCKOUT_IP_FAILURES_PER_DAY, DEFAULTS.lockoutIpFailuresPerDay),
    tables: {
      clients: required(ENV.clientsTable),
      users: required(ENV.usersTable),
      refreshTokens: required(ENV.refreshTokensTable),
      loginAttempts: required(ENV.loginAttemptsTable),
      signingKeys: required(ENV.signingKeysTable),
      mfaChallenges: required(ENV.mfaChallengesTable),
    },
    keyCacheSeconds: setting(KEY_CACHE_SECONDS, DEFAULTS.keyCacheSeconds),
    // Absent unless set: 0, the caller's address is API Gateway's sourceIp (lambda/handlers/apigw.ts).
    ...optional('trustedProxyHops', settingFromEnv(env, TRUSTED_PROXY_HOPS, problems)),
    // Only when the stack names one (legacyVerifierFunctionArn): no migration otherwise.
    ...optional('legacyVerifierFunctionArn', settingFromEnv(env, LEGACY_VERIFIER_FUNCTION_ARN, problems)),
    signingKeyId: required(ENV.signingKeyId),
    ...optional('mfaKeyId', given(ENV.mfaKeyId)?.trim()),
    region: env.AWS_REGION,
    dynamodbEndpoint: env[ENV.dynamodbEndpoint] || undefined,
    kmsEndpoint: env[ENV.kmsEndpoint] || undefined,
  };
  problems.push(...lifetimeProblems(config, (spec) => spec.env));
  if (problems.length > 0) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  return config;
}

/** `{ [key]: value }`, or nothing when the value is absent (an optional field stays absent, not undefined). */
function optional<K extends string, T>(key: K, value: T | undefined): { [P in K]?: T } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: T };
}
