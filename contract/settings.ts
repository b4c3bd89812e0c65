import {
  DEFAULT_SCRYPT_PARAMS,
  formatScryptParams,
  parseScryptParams,
  type ScryptParams,
  validateScryptParams,
} from './scrypt-params';

/**
 * The settings the functions and the stack share, each described once: its CDK context key (the same name
 * as the stack's prop), the environment variable the functions read, its default, how a raw value is
 * parsed (an environment string, or a context value: a string from `-c key=value`, or a JSON value from
 * cdk.json) and formatted back, and the rules it must satisfy. lambda/config.ts reads them from the
 * environment, lib/context.ts and lib/settings.ts from the CDK context and props; the README's
 * Configuration table is checked against `summary` (test/unit/config.test.ts).
 *
 * A problem names the setting as its source does: the variable (ACCESS_TOKEN_TTL_SECONDS) for the
 * functions, the key (accessTokenTtlSeconds) for the stack.
 */
export interface Setting<T> {
  readonly key: string;
  readonly env: string;
  /** One line for the README's Configuration table. */
  readonly summary: string;
  /** Its text in the README's Default column. */
  readonly shownDefault: string;
  /** Throws an Error whose message says what was expected. */
  parse(raw: unknown): T;
  format(value: T): string;
  /** The problem with a parsed value, or undefined; `name` is the key or the variable. */
  check(value: T, name: string): string | undefined;
}

/** A whole number of seconds, or of anything else, within bounds. */
function wholeNumber(min: number, max: number): Pick<Setting<number>, 'parse' | 'format' | 'check'> {
  return {
    parse: (raw) => {
      const parsed = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isFinite(parsed)) throw new Error('expected a number');
      return parsed;
    },
    format: String,
    check: (value, name) =>
      Number.isSafeInteger(value) && value >= min && value <= max
        ? undefined
        : `${name} must be a whole number from ${min} to ${max}, got ${value}`,
  };
}

const TEN_YEARS = 10 * 365 * 86_400;

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

export const ISSUER: Setting<string> = {
  key: 'issuer',
  env: 'ISSUER',
  summary: '`iss` of the tokens and base URL of the endpoints',
  shownDefault: 'required (the stack derives it from the API or the custom domain)',
  parse: text,
  format: (value) => value,
  check: (value, name) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return `${name} must be an absolute URL, got "${value}"`;
    }
    // RFC 8414 §2: https, no query or fragment (plain http only for loopback development).
    const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback))
      return `${name} must be an https URL (RFC 8414 §2), got "${value}"`;
    if (url.search !== '' || url.hash !== '') return `${name} must have no query or fragment, got "${value}"`;
    return undefined;
  },
};

export const DEFAULT_AUDIENCE: Setting<string> = {
  key: 'defaultAudience',
  env: 'DEFAULT_AUDIENCE',
  summary: '`aud` for clients registered without `--audience`',
  shownDefault: 'the issuer',
  parse: text,
  format: (value) => value,
  check: (value, name) => (value.trim() === '' ? `${name} must not be empty` : undefined),
};

export const SCOPES_SUPPORTED: Setting<readonly string[]> = {
  key: 'scopesSupported',
  env: 'SCOPES_SUPPORTED',
  summary: 'scopes advertised in the metadata (space-separated)',
  shownDefault: 'empty',
  /** `"read write"`, `"read,write"` or a JSON array in cdk.json. */
  parse: (raw) => {
    if (Array.isArray(raw) && raw.every((item) => typeof item === 'string')) return raw;
    if (typeof raw === 'string') return raw.split(/[\s,]+/).filter(Boolean);
    throw new Error('expected a list of words');
  },
  format: (value) => value.join(' '),
  check: (value, name) => {
    const bad = value.find((scope) => !SCOPE_TOKEN.test(scope));
    if (bad !== undefined) return `${name}: "${bad}" is not a valid scope token (RFC 6749 §3.3)`;
    return new Set(value).size === value.length ? undefined : `${name} lists a scope twice`;
  },
};

export const ACCESS_TOKEN_TTL: Setting<number> = {
  key: 'accessTokenTtlSeconds',
  env: 'ACCESS_TOKEN_TTL_SECONDS',
  summary: 'access-token lifetime in seconds (60 to 86400: an access token cannot be revoked)',
  shownDefault: '900',
  // An access token outliving a day is a credential nobody can revoke.
  ...wholeNumber(60, 86_400),
};

export const REFRESH_TOKEN_IDLE_TTL: Setting<number> = {
  key: 'refreshTokenIdleTtlSeconds',
  env: 'REFRESH_TOKEN_IDLE_TTL_SECONDS',
  summary: 'a refresh token unused this long expires',
  shownDefault: '2592000 (30 days)',
  ...wholeNumber(60, TEN_YEARS),
};

export const REFRESH_TOKEN_ABSOLUTE_TTL: Setting<number> = {
  key: 'refreshTokenAbsoluteTtlSeconds',
  env: 'REFRESH_TOKEN_ABSOLUTE_TTL_SECONDS',
  summary: 'no token of a family outlives this (RFC 9700 §4.14.2)',
  shownDefault: '7776000 (90 days)',
  ...wholeNumber(60, TEN_YEARS),
};

/**
 * The refresh-token grace, in whole seconds: the stack's setting and each client's own
 * (`ropc-admin clients create … --refresh-grace`) obey the same bounds. 0 is strict one-time use; a
 * replayed token gets a live successor only within the grace, so it stays about one retry long.
 */
export const REFRESH_GRACE_SECONDS_RANGE = { min: 0, max: 60 } as const;

/** Whether `value` is a refresh-token grace: a whole number of seconds within REFRESH_GRACE_SECONDS_RANGE. */
export function isRefreshGraceSeconds(value: unknown): value is number {
  return (
    typeof value === 'number' &&
    Number.isSafeInteger(value) &&
    value >= REFRESH_GRACE_SECONDS_RANGE.min &&
    value <= REFRESH_GRACE_SECONDS_RANGE.max
  );
}

export const REFRESH_TOKEN_GRACE: Setting<number> = {
  key: 'refreshTokenGraceSeconds',
  env: 'REFRESH_TOKEN_GRACE_SECONDS',
  summary:
    'how long a refresh token just rotated may be presented again and get the same successor, for clients without their own (0 to 60; 0 = strict one-time use)',
  shownDefault: '30',
  ...wholeNumber(REFRESH_GRACE_SECONDS_RANGE.min, REFRESH_GRACE_SECONDS_RANGE.max),
};

export const SCRYPT: Setting<ScryptParams> = {
  key: 'scrypt',
  env: 'SCRYPT_PARAMS',
  summary: 'password hashing cost for new hashes; logins with older parameters rehash',
  shownDefault: '`N=131072,r=8,p=1`',
  /** `"N=131072,r=8,p=1"` (or `ln=17`), or an object in cdk.json. */
  parse: (raw) => (typeof raw === 'object' && raw !== null ? (raw as ScryptParams) : parseScryptParams(String(raw))),
  format: formatScryptParams,
  check: (value, name) => {
    try {
      validateScryptParams(value);
      return undefined;
    } catch (error) {
      return `${name}: ${(error as Error).message}`;
    }
  },
};

/**
 * The password grant's brute-force limits (lambda/oauth/lockout.ts LockoutPolicy): the token function
 * reads them, the other functions carry them unused. Counters already written keep counting under new
 * limits: a lower limit can refuse an address or a username at once.
 */
export const LOCKOUT_PAIR_THRESHOLD: Setting<number> = {
  key: 'lockoutPairThreshold',
  env: 'LOCKOUT_PAIR_THRESHOLD',
  summary:
    'consecutive failed password grants for one username from one source IP before each further attempt waits 1 s, 2 s, 4 s, … (capped at 15 minutes) after the last (1 to 100)',
  shownDefault: '5',
  ...wholeNumber(1, 100),
};

export const LOCKOUT_USER_FAILURES_PER_HOUR: Setting<number> = {
  key: 'lockoutUserFailuresPerHour',
  env: 'LOCKOUT_USER_FAILURES_PER_HOUR',
  summary:
    'failed password grants for one username per clock hour, from all source IPs, before its grants are refused until the hour ends (1 to 100000)',
  shownDefault: '100',
  ...wholeNumber(1, 100_000),
};

export const LOCKOUT_IP_FAILURES_PER_DAY: Setting<number> = {
  key: 'lockoutIpFailuresPerDay',
  env: 'LOCKOUT_IP_FAILURES_PER_DAY',
  summary:
    "daily failure budget of one source IP (an IPv6 /64), for any usernames: once spent, that address's password grants are refused until the next UTC day (1 to 1000000)",
  shownDefault: '100',
  ...wholeNumber(1, 1_000_000),
};

/** How long the token function waits for the legacy verifier before it answers 503 (no retry within it). */
export const LEGACY_VERIFIER_TIMEOUT_SECONDS = 5;

/** A Lambda function's ARN, unqualified or with a version or alias: exactly what the token function may invoke. */
const LAMBDA_FUNCTION_ARN =
  /^arn:aws[a-z-]*:lambda:[a-z]{2}(-[a-z]+)+-\d:\d{12}:function:[A-Za-z0-9_-]{1,64}(:(\$LATEST|[A-Za-z0-9_-]{1,128}))?$/;

/**
 * Lazy migration: the function that verifies the password of a username unknown here (an LDAP bind, an
 * old API), `{"username","password","clientId"}` → `{"verified":true,"sub"?,"scopes"?}` | `{"verified":false}`.
 * A verified user is created here and never asked about again. Absent: no migration, unknown is unknown.
 */
export const LEGACY_VERIFIER_FUNCTION_ARN: Setting<string> = {
  key: 'legacyVerifierFunctionArn',
  env: 'LEGACY_VERIFIER_FUNCTION_ARN',
  summary: `Lambda function that verifies the passwords of users not migrated yet (lazy migration; ${LEGACY_VERIFIER_TIMEOUT_SECONDS} s timeout, then 503); the token function may invoke it and nothing else`,
  shownDefault: 'none (no migration)',
  parse: text,
  format: (value) => value,
  check: (value, name) =>
    LAMBDA_FUNCTION_ARN.test(value)
      ? undefined
      : `${name} must be a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>[:<version or alias>]), got "${value}"`,
};

/**
 * How many proxies in front of API Gateway (CloudFront, a load balancer) append the address they were
 * called from to X-Forwarded-For. With N > 0 the token function counts the address the farthest of them
 * saw (lambda/handlers/apigw.ts clientAddress) in the lockout counters instead of API Gateway's sourceIp,
 * which is then the nearest proxy's. A value above the real count lets a client choose its address, and
 * any value above 0 does so when the API can also be called without the proxies.
 */
export const TRUSTED_PROXY_HOPS: Setting<number> = {
  key: 'trustedProxyHops',
  env: 'TRUSTED_PROXY_HOPS',
  summary:
    'proxies in front of API Gateway that append to X-Forwarded-For, whose client address the lockout counts (CloudFront: 1, an ALB in front: 1, none: 0); too high a value, or an API reachable without them, lets clients choose their address (0 to 5)',
  shownDefault: '0',
  ...wholeNumber(0, 5),
};

/** Functions only: the stack always uses the default. */
export const KEY_CACHE_SECONDS: Setting<number> = {
  key: 'keyCacheSeconds',
  env: 'KEY_CACHE_SECONDS',
  summary: 'how long the functions reuse the key registry (at most 60); re-read in the background after half of it',
  shownDefault: '60',
  // Key hand-over and revocation rely on no view being older than a minute.
  ...wholeNumber(1, 60),
};

export const DEFAULTS = {
  accessTokenTtl: 15 * 60,
  refreshTokenIdleTtl: 30 * 24 * 3600,
  refreshTokenAbsoluteTtl: 90 * 24 * 3600,
  refreshTokenGraceSeconds: 30,
  scrypt: DEFAULT_SCRYPT_PARAMS,
  lockoutPairThreshold: 5,
  lockoutUserFailuresPerHour: 100,
  lockoutIpFailuresPerDay: 100,
  trustedProxyHops: 0,
  keyCacheSeconds: 60,
} as const;

/** The settings both sides read, in the README's order. */
export const SHARED_SETTINGS: readonly Setting<unknown>[] = [
  ISSUER,
  DEFAULT_AUDIENCE,
  ACCESS_TOKEN_TTL,
  REFRESH_TOKEN_IDLE_TTL,
  REFRESH_TOKEN_ABSOLUTE_TTL,
  REFRESH_TOKEN_GRACE,
  SCRYPT,
  LOCKOUT_PAIR_THRESHOLD,
  LOCKOUT_USER_FAILURES_PER_HOUR,
  LOCKOUT_IP_FAILURES_PER_DAY,
  TRUSTED_PROXY_HOPS,
  SCOPES_SUPPORTED,
  LEGACY_VERIFIER_FUNCTION_ARN,
  KEY_CACHE_SECONDS,
] as readonly Setting<unknown>[];

/** The lifetimes, as the rules between them need them. */
export interface Lifetimes {
  readonly accessTokenTtl: number;
  readonly refreshTokenIdleTtl: number;
  readonly refreshTokenAbsoluteTtl: number;
}

/**
 * The rules between settings, written once; `name` gives each setting's name in its source
 * (Setting.key or Setting.env).
 */
export function lifetimeProblems(lifetimes: Lifetimes, name: (setting: Setting<unknown>) => string): string[] {
  const problems: string[] = [];
  const { accessTokenTtl, refreshTokenIdleTtl, refreshTokenAbsoluteTtl } = lifetimes;
  const idle = name(REFRESH_TOKEN_IDLE_TTL as Setting<unknown>);
  if (refreshTokenIdleTtl > refreshTokenAbsoluteTtl) {
    problems.push(
      `the refresh-token idle lifetime must not exceed its absolute lifetime: ${idle} ${refreshTokenIdleTtl} > ${name(REFRESH_TOKEN_ABSOLUTE_TTL as Setting<unknown>)} ${refreshTokenAbsoluteTtl}`,
    );
  }
  if (refreshTokenIdleTtl <= accessTokenTtl) {
    problems.push(
      `${idle} (${refreshTokenIdleTtl}) must exceed ${name(ACCESS_TOKEN_TTL as Setting<unknown>)} (${accessTokenTtl}), or refresh tokens expire before the access tokens they renew`,
    );
  }
  return problems;
}

function text(raw: unknown): string {
  if (typeof raw !== 'string' || raw.trim() === '') throw new Error('expected a non-empty string');
  return raw.trim();
}
