import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { JWKS_MAX_AGE_SECONDS } from '../contract/routes';
import type { ScryptParams } from '../contract/scrypt-params';
import {
  ACCESS_TOKEN_TTL,
  DEFAULT_AUDIENCE,
  DEFAULTS,
  ISSUER,
  LEGACY_VERIFIER_FUNCTION_ARN,
  LEGACY_VERIFIER_TIMEOUT_SECONDS,
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
import { CLOCK_SKEW_SECONDS, DEFAULT_PROPAGATION_SECONDS } from '../contract/signing-keys';

/** A regional API Gateway custom domain in front of the stage; the issuer becomes `https://<domainName>`. */
export interface CustomDomainOptions {
  /** For example `auth.example.com`. Point a DNS alias (or CNAME) at the `CustomDomainTarget` output. */
  readonly domainName: string;
  /** ARN of an ACM certificate for `domainName`, in the stack's region (regional endpoint). */
  readonly certificateArn: string;
}

/**
 * What an operator may choose about the service. Every field is optional and can also be given as CDK
 * context with the same name (`cdk deploy -c accessTokenTtlSeconds=600`); see lib/context.ts.
 */
export interface TokenServiceSettings {
  /**
   * `iss` of every access token and the base URL of the endpoints (RFC 8414 §2: https, no query or
   * fragment). Set it when something else (CloudFront, a custom domain managed elsewhere) fronts the API.
   * @default `https://<customDomain.domainName>` with a custom domain, otherwise the stage URL
   *   `https://<api-id>.execute-api.<region>.<url-suffix>/<stageName>`
   */
  readonly issuer?: string;
  /**
   * Serve the API under a custom domain (regional endpoint, TLS 1.2 minimum), mapped at the root. The
   * stage's execute-api URL is then switched off, so that every client comes through the domain.
   * @default - no custom domain
   */
  readonly customDomain?: CustomDomainOptions;
  /**
   * `aud` of access tokens for clients registered without an audience.
   * @default the issuer
   */
  readonly defaultAudience?: string;
  /**
   * Scopes advertised in the metadata document (clients and users carry their own allowed scopes).
   * @default []
   */
  readonly scopesSupported?: readonly string[];
  /**
   * Access-token lifetime. Access tokens are self-contained JWTs that cannot be revoked: keep it short.
   * @default 900 (15 minutes)
   */
  readonly accessTokenTtlSeconds?: number;
  /**
   * A refresh token unused for this long expires.
   * @default 2592000 (30 days)
   */
  readonly refreshTokenIdleTtlSeconds?: number;
  /**
   * No token of a refresh-token family outlives this (RFC 9700 §4.14.2).
   * @default 7776000 (90 days)
   */
  readonly refreshTokenAbsoluteTtlSeconds?: number;
  /**
   * For clients registered without their own (`ropc-admin clients create … --refresh-grace`): how long
   * after a rotation the refresh token it replaced may be presented again and get the same successor, so
   * that a client whose response was lost can retry. 0 to 60; 0 is strict one-time use.
   * @default 30
   */
  readonly refreshTokenGraceSeconds?: number;
  /**
   * scrypt policy for new password hashes; logins with older parameters rehash.
   * @default N=131072 (2^17), r=8, p=1 (OWASP): 128 MiB and about half a second of one vCPU per hash
   */
  readonly scrypt?: ScryptParams;
  /**
   * Lazy migration: the ARN of a Lambda function that verifies the password of a username unknown here
   * (an LDAP bind, an old API), for users whose hashes cannot be exported. It gets
   * `{"username","password","clientId"}` and answers `{"verified":true,"sub"?,"scopes"?}` or
   * `{"verified":false}`; a verified user is created here and never asked about again. The token function
   * may invoke this function (and no other) and gets PutItem and ConditionCheckItem on the users table; it
   * waits 5 s for an answer.
   * @default - no migration
   */
  readonly legacyVerifierFunctionArn?: string;
  /**
   * Brute-force protection of the password grant: after this many consecutive failures for one username
   * from one source IP, each further attempt from there waits 1 s, 2 s, 4 s, … (capped at 15 minutes)
   * after the last one; a success ends the streak. 1 to 100.
   * @default 5
   */
  readonly lockoutPairThreshold?: number;
  /**
   * Failed password grants one username may have in a clock hour, from all source IPs together, before
   * its grants are refused until the hour ends (OWASP ASVS V2.2.1). 1 to 100000.
   * @default 100
   */
  readonly lockoutUserFailuresPerHour?: number;
  /**
   * The daily failure budget of one source IP (an IPv6 /64), for any usernames: once spent, that
   * address's password grants are refused until the next UTC day. A back end that relays its users'
   * logins from one address is better registered with `--trust-end-user-ip` (each user's address is then
   * counted) than given a higher budget. 1 to 1000000.
   * @default 100
   */
  readonly lockoutIpFailuresPerDay?: number;
  /**
   * How many proxies in front of API Gateway append to X-Forwarded-For: 1 behind a CloudFront distribution
   * (or an Application Load Balancer) of your own, 0 when clients call API Gateway directly. With N > 0 the
   * lockout counts the address the farthest proxy saw, N entries left of the one API Gateway appends (its
   * sourceIp, the nearest proxy's address), instead of that sourceIp. A value above the real count, or an
   * API that can also be called without the proxies (the execute-api URL), lets a client choose the
   * address it is counted under: give the API a custom domain only the proxy uses, or a WAF rule.
   * @default 0
   */
  readonly trustedProxyHops?: number;
  /**
   * Memory of the token function. Lambda allots CPU in proportion to memory, one full vCPU at 1769 MiB,
   * and scrypt is single-threaded CPU work: below 1769 MiB a login is slower at about the same cost,
   * above it a login costs more and is not faster. Must leave room for scrypt's 128·N·r bytes.
   * @default 1769
   */
  readonly tokenFunctionMemoryMiB?: number;
  /**
   * Token function timeout; below API Gateway's 29 s integration timeout.
   * @default 10
   */
  readonly tokenFunctionTimeoutSeconds?: number;
  /**
   * Concurrent executions reserved for the token function, which are also its ceiling: a flood of
   * logins is throttled at this many (API Gateway answers 503 `temporarily_unavailable` and the
   * throttle alarm fires) instead of taking the account's whole Lambda concurrency from the JWKS and
   * metadata functions and from every other function in the account and region. At the default memory
   * a login takes about 0.6 s, so N executions serve about N / 0.6 logins per second: 60 carry 100
   * logins per second, the stage's default rate. Lambda refuses a reservation that leaves fewer than 100
   * executions unreserved in the account (its quota is 1,000 by default and lower on new accounts), so
   * none is made unless this is set.
   * @default - no reservation: the function draws on the account's unreserved concurrency
   */
  readonly tokenFunctionReservedConcurrency?: number;
  /**
   * Put an AWS WAF web ACL (per-IP rate limits on /token and /revoke and on the .well-known documents,
   * AWS managed rule groups) on the stage.
   * @default true
   */
  readonly waf?: boolean;
  /**
   * Requests to /token and /revoke one source IP may make per `wafRateWindowSeconds` before WAF answers
   * 429. A back end that relays many users' logins from one address needs a higher limit.
   * @default 500
   */
  readonly wafRateLimit?: number;
  /**
   * Requests to /.well-known/jwks.json and /.well-known/oauth-authorization-server one source IP may make
   * per `wafRateWindowSeconds` before WAF answers 429. Resource servers fetch the JWKS legitimately, and
   * a fleet of them behind one NAT address shares a limit: each instance refetches when the key set's
   * max-age (300 s) runs out or an unknown `kid` arrives, so 2000 per 5 minutes leaves room for hundreds
   * of instances and still stops one address from flooding the functions behind the documents.
   * @default 2000
   */
  readonly wafWellKnownRateLimit?: number;
  /**
   * The window WAF counts requests over: 60, 120, 300 or 600 seconds.
   * @default 300
   */
  readonly wafRateWindowSeconds?: number;
  /**
   * Stage-wide steady-state request rate (requests per second) before API Gateway answers 429.
   * @default 100
   */
  readonly throttlingRateLimit?: number;
  /**
   * Stage-wide burst (token bucket size).
   * @default 200
   */
  readonly throttlingBurstLimit?: number;
  /**
   * Create the regional API Gateway logging role (AWS::ApiGateway::Account) that access and execution
   * logs need. It is one setting per account and region: set false when the account already has one
   * that something else manages (this stack would overwrite it; it keeps the role when deleted).
   * @default true
   */
  readonly apiGatewayLoggingRole?: boolean;
  /**
   * Retention of the functions' logs (the audit trail) and the API access logs, in days: one of the
   * values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, …, 3653), or 9999 for never.
   * @default 365
   */
  readonly logRetentionDays?: number;
  /**
   * API Gateway stage name; part of the default issuer URL.
   * @default 'prod'
   */
  readonly stageName?: string;
  /**
   * Rotate the signing key on a schedule (EventBridge Scheduler invokes lambda/handlers/rotate-keys.ts,
   * the same code as `ropc-admin keys rotate`) every this many days; 0 turns scheduled rotation off.
   * @default 90
   */
  readonly keyRotationDays?: number;
  /**
   * How long a scheduled rotation publishes the new key in the JWKS before it signs. Must outlast every
   * cache of the key set: the functions' registry cache plus the JWKS max-age, and any longer cache your
   * resource servers keep (API Gateway JWT authorizers keep keys for up to 2 hours).
   * @default 10800 (3 hours)
   */
  readonly keyRotationPropagationSeconds?: number;
  /**
   * Alias of the signing key (passed to the functions as SIGNING_KEY_ID).
   * @default `alias/ropc-token-service/<stack name>/signing`
   */
  readonly signingKeyAlias?: string;
  /**
   * SNS topic every alarm notifies.
   * @default - alarms without actions (visible in the CloudWatch console)
   */
  readonly alarmTopicArn?: string;
  /**
   * The 5xx-rate alarm fires above this percentage of requests (over 5 minutes, with at least 20 requests).
   * @default 1
   */
  readonly serverErrorRatePercent?: number;
  /**
   * The credential-stuffing alarm fires when this many password grants fail in 5 minutes (any reason:
   * wrong password, unknown user, locked). 200 is one failure every 1.5 s for five minutes: above the
   * typos of a deployment serving a few thousand logins per 5 minutes (a few percent of logins fail),
   * far below what a stuffing run at the stage's default 100 requests per second makes (30000). Raise it
   * with your traffic.
   * @default 200
   */
  readonly passwordFailureAlarmThreshold?: number;
  /**
   * The credential-stuffing alarm also fires when this many source addresses reach their daily failure
   * budget (100 failed attempts by default; logged as `lockout_started` with `lockout=ip_budget`) in
   * 5 minutes. One address doing so is contained by the budget itself and may be a shared NAT; several
   * at once are a distributed run, each address spending its own budget.
   * @default 3
   */
  readonly ipLockoutAlarmThreshold?: number;
  /**
   * X-Ray active tracing on the API stage and every function: a trace per request, through API Gateway,
   * Lambda and the function's time, for finding where latency goes. The function roles get X-Ray's
   * PutTraceSegments and PutTelemetryRecords. X-Ray bills traces beyond its free tier.
   * @default false
   */
  readonly tracing?: boolean;
}

/** Settings with every default applied and every rule checked. */
export interface ResolvedSettings {
  /** Undefined: the stack derives the issuer from the API it creates. */
  readonly issuer: string | undefined;
  readonly customDomain: CustomDomainOptions | undefined;
  readonly defaultAudience: string | undefined;
  readonly scopesSupported: readonly string[];
  readonly accessTokenTtlSeconds: number;
  readonly refreshTokenIdleTtlSeconds: number;
  readonly refreshTokenAbsoluteTtlSeconds: number;
  readonly refreshTokenGraceSeconds: number;
  readonly scrypt: ScryptParams;
  readonly legacyVerifierFunctionArn: string | undefined;
  readonly lockoutPairThreshold: number;
  readonly lockoutUserFailuresPerHour: number;
  readonly lockoutIpFailuresPerDay: number;
  readonly trustedProxyHops: number;
  readonly tokenFunctionMemoryMiB: number;
  readonly tokenFunctionTimeoutSeconds: number;
  /** Undefined: no reservation. */
  readonly tokenFunctionReservedConcurrency: number | undefined;
  readonly waf: boolean;
  readonly wafRateLimit: number;
  readonly wafWellKnownRateLimit: number;
  readonly wafRateWindowSeconds: number;
  readonly throttlingRateLimit: number;
  readonly throttlingBurstLimit: number;
  readonly apiGatewayLoggingRole: boolean;
  readonly logRetention: RetentionDays;
  readonly stageName: string;
  readonly keyRotationDays: number;
  readonly keyRotationPropagationSeconds: number;
  readonly signingKeyAlias: string;
  readonly alarmTopicArn: string | undefined;
  readonly serverErrorRatePercent: number;
  readonly passwordFailureAlarmThreshold: number;
  readonly ipLockoutAlarmThreshold: number;
  readonly tracing: boolean;
}

export const DEFAULT_SETTINGS = {
  accessTokenTtlSeconds: DEFAULTS.accessTokenTtl,
  refreshTokenIdleTtlSeconds: DEFAULTS.refreshTokenIdleTtl,
  refreshTokenAbsoluteTtlSeconds: DEFAULTS.refreshTokenAbsoluteTtl,
  refreshTokenGraceSeconds: DEFAULTS.refreshTokenGraceSeconds,
  scrypt: DEFAULTS.scrypt,
  lockoutPairThreshold: DEFAULTS.lockoutPairThreshold,
  lockoutUserFailuresPerHour: DEFAULTS.lockoutUserFailuresPerHour,
  lockoutIpFailuresPerDay: DEFAULTS.lockoutIpFailuresPerDay,
  trustedProxyHops: DEFAULTS.trustedProxyHops,
  /** One full vCPU: see TokenServiceSettings.tokenFunctionMemoryMiB. */
  tokenFunctionMemoryMiB: 1769,
  tokenFunctionTimeoutSeconds: 10,
  waf: true,
  wafRateLimit: 500,
  /** See TokenServiceSettings.wafWellKnownRateLimit. */
  wafWellKnownRateLimit: 2000,
  wafRateWindowSeconds: 300,
  throttlingRateLimit: 100,
  throttlingBurstLimit: 200,
  apiGatewayLoggingRole: true,
  logRetentionDays: 365,
  stageName: 'prod',
  keyRotationDays: 90,
  keyRotationPropagationSeconds: DEFAULT_PROPAGATION_SECONDS,
  serverErrorRatePercent: 1,
  /** See TokenServiceSettings.passwordFailureAlarmThreshold and ipLockoutAlarmThreshold. */
  passwordFailureAlarmThreshold: 200,
  ipLockoutAlarmThreshold: 3,
  tracing: false,
} as const;

/** The prefix of every signing-key alias this service creates. */
export const SIGNING_KEY_ALIAS_PREFIX = 'alias/ropc-token-service';

/** What the Node.js runtime, the AWS SDK and the bundle take besides scrypt's working set. */
export const RUNTIME_HEADROOM_MIB = 128;
/** What a login takes besides the legacy verifier's wait: the lockout reads and writes, creating the user, signing. */
const LEGACY_VERIFIER_HEADROOM_SECONDS = 5;
/** API Gateway's integration timeout is 29 s: the function must answer (even with a 503) before it. */
const MAX_FUNCTION_TIMEOUT_SECONDS = 28;
const LAMBDA_MEMORY_RANGE = [128, 10_240] as const;
/** 0 would throttle every request; above 10,000 is beyond what an account's quota is likely to leave. */
const RESERVED_CONCURRENCY_RANGE = [1, 10_000] as const;
const WAF_RATE_LIMIT_RANGE = [10, 2_000_000_000] as const;
const WAF_WINDOWS = [60, 120, 300, 600];
const RETENTION_DAYS = Object.values(RetentionDays).filter((value): value is number => typeof value === 'number');

/** Bad settings, all of them at once, so that one synth shows every problem. */
export class TokenServiceSettingsError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid ropc-token-service settings:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'TokenServiceSettingsError';
  }
}

/** Memory the token function needs for one scrypt hash at `params`: V (128·r·(N+2)) and B (128·r·p), plus headroom. */
export function minimumTokenFunctionMemoryMiB(params: ScryptParams): number {
  return Math.ceil((128 * params.r * (params.N + 2 + params.p)) / 2 ** 20) + RUNTIME_HEADROOM_MIB;
}

/** Applies the defaults and checks every rule; throws TokenServiceSettingsError naming each problem. */
export function resolveSettings(settings: TokenServiceSettings, stackName: string): ResolvedSettings {
  const problems: string[] = [];
  const check = (ok: boolean, problem: string) => {
    if (!ok) problems.push(problem);
  };
  /** A shared setting's own rules (contract/settings.ts), named as the prop and context key. */
  const shared = <T>(setting: Setting<T>, value: T) => {
    const problem = setting.check(value, setting.key);
    if (problem !== undefined) problems.push(problem);
  };
  const wholeNumber = (name: keyof TokenServiceSettings, value: number, [min, max]: readonly [number, number]) =>
    check(
      Number.isSafeInteger(value) && value >= min && value <= max,
      `${name} must be a whole number from ${min} to ${max}, got ${value}`,
    );

  const resolved: ResolvedSettings = {
    issuer: settings.issuer,
    customDomain: settings.customDomain,
    defaultAudience: settings.defaultAudience,
    scopesSupported: settings.scopesSupported ?? [],
    accessTokenTtlSeconds: settings.accessTokenTtlSeconds ?? DEFAULT_SETTINGS.accessTokenTtlSeconds,
    refreshTokenIdleTtlSeconds: settings.refreshTokenIdleTtlSeconds ?? DEFAULT_SETTINGS.refreshTokenIdleTtlSeconds,
    refreshTokenAbsoluteTtlSeconds:
      settings.refreshTokenAbsoluteTtlSeconds ?? DEFAULT_SETTINGS.refreshTokenAbsoluteTtlSeconds,
    refreshTokenGraceSeconds: settings.refreshTokenGraceSeconds ?? DEFAULT_SETTINGS.refreshTokenGraceSeconds,
    scrypt: settings.scrypt ?? DEFAULT_SETTINGS.scrypt,
    legacyVerifierFunctionArn: settings.legacyVerifierFunctionArn,
    lockoutPairThreshold: settings.lockoutPairThreshold ?? DEFAULT_SETTINGS.lockoutPairThreshold,
    lockoutUserFailuresPerHour: settings.lockoutUserFailuresPerHour ?? DEFAULT_SETTINGS.lockoutUserFailuresPerHour,
    lockoutIpFailuresPerDay: settings.lockoutIpFailuresPerDay ?? DEFAULT_SETTINGS.lockoutIpFailuresPerDay,
    trustedProxyHops: settings.trustedProxyHops ?? DEFAULT_SETTINGS.trustedProxyHops,
    tokenFunctionMemoryMiB: settings.tokenFunctionMemoryMiB ?? DEFAULT_SETTINGS.tokenFunctionMemoryMiB,
    tokenFunctionTimeoutSeconds: settings.tokenFunctionTimeoutSeconds ?? DEFAULT_SETTINGS.tokenFunctionTimeoutSeconds,
    tokenFunctionReservedConcurrency: settings.tokenFunctionReservedConcurrency,
    waf: settings.waf ?? DEFAULT_SETTINGS.waf,
    wafRateLimit: settings.wafRateLimit ?? DEFAULT_SETTINGS.wafRateLimit,
    wafWellKnownRateLimit: settings.wafWellKnownRateLimit ?? DEFAULT_SETTINGS.wafWellKnownRateLimit,
    wafRateWindowSeconds: settings.wafRateWindowSeconds ?? DEFAULT_SETTINGS.wafRateWindowSeconds,
    throttlingRateLimit: settings.throttlingRateLimit ?? DEFAULT_SETTINGS.throttlingRateLimit,
    throttlingBurstLimit: settings.throttlingBurstLimit ?? DEFAULT_SETTINGS.throttlingBurstLimit,
    apiGatewayLoggingRole: settings.apiGatewayLoggingRole ?? DEFAULT_SETTINGS.apiGatewayLoggingRole,
    logRetention: (settings.logRetentionDays ?? DEFAULT_SETTINGS.logRetentionDays) as RetentionDays,
    stageName: settings.stageName ?? DEFAULT_SETTINGS.stageName,
    keyRotationDays: settings.keyRotationDays ?? DEFAULT_SETTINGS.keyRotationDays,
    keyRotationPropagationSeconds:
      settings.keyRotationPropagationSeconds ?? DEFAULT_SETTINGS.keyRotationPropagationSeconds,
    signingKeyAlias: settings.signingKeyAlias ?? `${SIGNING_KEY_ALIAS_PREFIX}/${stackName}/signing`,
    alarmTopicArn: settings.alarmTopicArn,
    serverErrorRatePercent: settings.serverErrorRatePercent ?? DEFAULT_SETTINGS.serverErrorRatePercent,
    passwordFailureAlarmThreshold:
      settings.passwordFailureAlarmThreshold ?? DEFAULT_SETTINGS.passwordFailureAlarmThreshold,
    ipLockoutAlarmThreshold: settings.ipLockoutAlarmThreshold ?? DEFAULT_SETTINGS.ipLockoutAlarmThreshold,
    tracing: settings.tracing ?? DEFAULT_SETTINGS.tracing,
  };

  // Issuer and domain.
  if (resolved.issuer !== undefined) {
    check(
      resolved.customDomain === undefined,
      'set either issuer or customDomain, not both (with a custom domain the issuer is https://<domainName>)',
    );
    shared(ISSUER, resolved.issuer);
  }
  if (resolved.customDomain !== undefined) {
    const { domainName, certificateArn } = resolved.customDomain;
    check(
      /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(domainName),
      `customDomain.domainName must be a lower-case DNS name such as auth.example.com, got "${domainName}"`,
    );
    check(
      /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/.test(certificateArn),
      `customDomain.certificateArn must be an ACM certificate ARN, got "${certificateArn}"`,
    );
  }
  if (resolved.defaultAudience !== undefined) shared(DEFAULT_AUDIENCE, resolved.defaultAudience);
  shared(SCOPES_SUPPORTED, resolved.scopesSupported);

  // Lifetimes: each one's own rules, then the rules between them (the functions apply the same ones).
  shared(ACCESS_TOKEN_TTL, resolved.accessTokenTtlSeconds);
  shared(REFRESH_TOKEN_IDLE_TTL, resolved.refreshTokenIdleTtlSeconds);
  shared(REFRESH_TOKEN_ABSOLUTE_TTL, resolved.refreshTokenAbsoluteTtlSeconds);
  shared(REFRESH_TOKEN_GRACE, resolved.refreshTokenGraceSeconds);
  problems.push(
    ...lifetimeProblems(
      {
        accessTokenTtl: resolved.accessTokenTtlSeconds,
        refreshTokenIdleTtl: resolved.refreshTokenIdleTtlSeconds,
        refreshTokenAbsoluteTtl: resolved.refreshTokenAbsoluteTtlSeconds,
      },
      (setting) => setting.key,
    ),
  );

  // Brute-force protection of the password grant (lambda/oauth/lockout.ts).
  shared(LOCKOUT_PAIR_THRESHOLD, resolved.lockoutPairThreshold);
  shared(LOCKOUT_USER_FAILURES_PER_HOUR, resolved.lockoutUserFailuresPerHour);
  shared(LOCKOUT_IP_FAILURES_PER_DAY, resolved.lockoutIpFailuresPerDay);
  shared(TRUSTED_PROXY_HOPS, resolved.trustedProxyHops);

  // Passwords and the function that hashes them.
  const scryptProblem = SCRYPT.check(resolved.scrypt, SCRYPT.key);
  if (scryptProblem !== undefined) problems.push(scryptProblem);
  const scryptValid = scryptProblem === undefined;
  wholeNumber('tokenFunctionMemoryMiB', resolved.tokenFunctionMemoryMiB, LAMBDA_MEMORY_RANGE);
  if (scryptValid) {
    const needed = minimumTokenFunctionMemoryMiB(resolved.scrypt);
    const { N, r, p } = resolved.scrypt;
    check(
      resolved.tokenFunctionMemoryMiB >= needed,
      `tokenFunctionMemoryMiB ${resolved.tokenFunctionMemoryMiB} is too small for scrypt N=${N},r=${r},p=${p}: a hash needs ${needed - RUNTIME_HEADROOM_MIB} MiB plus ${RUNTIME_HEADROOM_MIB} MiB for the runtime, at least ${needed} MiB`,
    );
  }
  wholeNumber('tokenFunctionTimeoutSeconds', resolved.tokenFunctionTimeoutSeconds, [1, MAX_FUNCTION_TIMEOUT_SECONDS]);

  // Lazy migration: the login that asks the verifier must still answer, even with a 503, within the timeout.
  if (resolved.legacyVerifierFunctionArn !== undefined) {
    shared(LEGACY_VERIFIER_FUNCTION_ARN, resolved.legacyVerifierFunctionArn);
    const needed = LEGACY_VERIFIER_TIMEOUT_SECONDS + LEGACY_VERIFIER_HEADROOM_SECONDS;
    check(
      resolved.tokenFunctionTimeoutSeconds >= needed,
      `tokenFunctionTimeoutSeconds ${resolved.tokenFunctionTimeoutSeconds} leaves no room for the legacy verifier: it may take ${LEGACY_VERIFIER_TIMEOUT_SECONDS} s, and the rest of a login up to ${LEGACY_VERIFIER_HEADROOM_SECONDS} s more, at least ${needed}`,
    );
  }
  if (resolved.tokenFunctionReservedConcurrency !== undefined) {
    wholeNumber(
      'tokenFunctionReservedConcurrency',
      resolved.tokenFunctionReservedConcurrency,
      RESERVED_CONCURRENCY_RANGE,
    );
  }

  // Signing-key rotation (lambda/tokens/key-registry.ts).
  wholeNumber('keyRotationDays', resolved.keyRotationDays, [0, 3650]);
  wholeNumber('keyRotationPropagationSeconds', resolved.keyRotationPropagationSeconds, [0, 30 * 86_400]);
  const keySetCache = DEFAULTS.keyCacheSeconds + JWKS_MAX_AGE_SECONDS;
  check(
    resolved.keyRotationPropagationSeconds >= keySetCache,
    `keyRotationPropagationSeconds ${resolved.keyRotationPropagationSeconds} is shorter than a JWKS cache: the functions re-read the key registry every ${DEFAULTS.keyCacheSeconds} s and resource servers may keep the key set ${JWKS_MAX_AGE_SECONDS} s (max-age), so a new key must be published at least ${keySetCache} s before it signs`,
  );
  if (resolved.keyRotationDays > 0) {
    // A rotation is over when the new key signs and the old one has left the JWKS.
    const rotationSeconds =
      resolved.keyRotationPropagationSeconds + resolved.accessTokenTtlSeconds + CLOCK_SKEW_SECONDS;
    check(
      resolved.keyRotationDays * 86_400 > rotationSeconds,
      `keyRotationDays ${resolved.keyRotationDays} is shorter than one rotation (propagation + access-token lifetime + clock skew = ${rotationSeconds} s)`,
    );
  }

  // Edge protection.
  wholeNumber('wafRateLimit', resolved.wafRateLimit, WAF_RATE_LIMIT_RANGE);
  wholeNumber('wafWellKnownRateLimit', resolved.wafWellKnownRateLimit, WAF_RATE_LIMIT_RANGE);
  check(
    WAF_WINDOWS.includes(resolved.wafRateWindowSeconds),
    `wafRateWindowSeconds must be one of ${WAF_WINDOWS.join(', ')}, got ${resolved.wafRateWindowSeconds}`,
  );
  check(
    Number.isFinite(resolved.throttlingRateLimit) && resolved.throttlingRateLimit > 0,
    `throttlingRateLimit must be a positive number of requests per second, got ${resolved.throttlingRateLimit}`,
  );
  wholeNumber('throttlingBurstLimit', resolved.throttlingBurstLimit, [1, 1_000_000]);

  // Operations.
  check(
    RETENTION_DAYS.includes(resolved.logRetention),
    `logRetentionDays must be one of ${RETENTION_DAYS.filter((days) => days !== RetentionDays.INFINITE).join(', ')} or ${RetentionDays.INFINITE} (never expire), got ${settings.logRetentionDays}`,
  );
  check(
    /^[A-Za-z0-9_-]{1,128}$/.test(resolved.stageName),
    `stageName may hold only letters, digits, _ and - (1 to 128), got "${resolved.stageName}"`,
  );
  check(
    /^alias\/[A-Za-z0-9/_-]{1,250}$/.test(resolved.signingKeyAlias) &&
      !resolved.signingKeyAlias.startsWith('alias/aws/'),
    `signingKeyAlias must be "alias/" followed by letters, digits, /, _ or - and must not start with "alias/aws/", got "${resolved.signingKeyAlias}"`,
  );
  if (resolved.alarmTopicArn !== undefined) {
    check(
      /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/.test(resolved.alarmTopicArn),
      `alarmTopicArn must be an SNS topic ARN, got "${resolved.alarmTopicArn}"`,
    );
  }
  check(
    Number.isFinite(resolved.serverErrorRatePercent) &&
      resolved.serverErrorRatePercent > 0 &&
      resolved.serverErrorRatePercent <= 100,
    `serverErrorRatePercent must be above 0 and at most 100, got ${resolved.serverErrorRatePercent}`,
  );
  wholeNumber('passwordFailureAlarmThreshold', resolved.passwordFailureAlarmThreshold, [1, 1_000_000_000]);
  wholeNumber('ipLockoutAlarmThreshold', resolved.ipLockoutAlarmThreshold, [1, 1_000_000_000]);

  if (problems.length > 0) throw new TokenServiceSettingsError(problems);
  return resolved;
}
