import type { Node } from 'constructs';
import {
  ACCESS_TOKEN_TTL,
  DEFAULT_AUDIENCE,
  ISSUER,
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
} from '../contract/settings';
import { didYouMean } from '../contract/suggest';
import { type TokenServiceSettings, TokenServiceSettingsError } from './settings';

/** The stack name when `-c stackName=…` is not given. */
export const DEFAULT_STACK_NAME = 'RopcTokenService';

type Parser = (value: unknown) => unknown;

const text: Parser = (value) => {
  if (typeof value !== 'string' || value.trim() === '') throw new Error('expected a non-empty string');
  return value.trim();
};

const number: Parser = (value) => {
  const parsed =
    typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(parsed)) throw new Error('expected a number');
  return parsed;
};

const boolean: Parser = (value) => {
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new Error('expected true or false');
};

/**
 * The context keys `cdk deploy -c key=value` accepts: the TokenServiceSettings names, one for one, except
 * the custom domain, which takes two flat keys.
 */
const SETTINGS_PARSERS: { readonly [K in Exclude<keyof TokenServiceSettings, 'customDomain'>]-?: Parser } = {
  // The settings the functions share are parsed as they are from the environment (contract/settings.ts).
  issuer: ISSUER.parse,
  defaultAudience: DEFAULT_AUDIENCE.parse,
  scopesSupported: SCOPES_SUPPORTED.parse,
  accessTokenTtlSeconds: ACCESS_TOKEN_TTL.parse,
  refreshTokenIdleTtlSeconds: REFRESH_TOKEN_IDLE_TTL.parse,
  refreshTokenAbsoluteTtlSeconds: REFRESH_TOKEN_ABSOLUTE_TTL.parse,
  refreshTokenGraceSeconds: REFRESH_TOKEN_GRACE.parse,
  scrypt: SCRYPT.parse,
  legacyVerifierFunctionArn: LEGACY_VERIFIER_FUNCTION_ARN.parse,
  lockoutPairThreshold: LOCKOUT_PAIR_THRESHOLD.parse,
  lockoutUserFailuresPerHour: LOCKOUT_USER_FAILURES_PER_HOUR.parse,
  lockoutIpFailuresPerDay: LOCKOUT_IP_FAILURES_PER_DAY.parse,
  trustedProxyHops: TRUSTED_PROXY_HOPS.parse,
  tokenFunctionMemoryMiB: number,
  tokenFunctionTimeoutSeconds: number,
  tokenFunctionReservedConcurrency: number,
  waf: boolean,
  wafRateLimit: number,
  wafWellKnownRateLimit: number,
  wafRateWindowSeconds: number,
  throttlingRateLimit: number,
  throttlingBurstLimit: number,
  apiGatewayLoggingRole: boolean,
  logRetentionDays: number,
  stageName: text,
  keyRotationDays: number,
  keyRotationPropagationSeconds: number,
  signingKeyAlias: text,
  alarmTopicArn: text,
  serverErrorRatePercent: number,
  passwordFailureAlarmThreshold: number,
  ipLockoutAlarmThreshold: number,
  tracing: boolean,
};

const CUSTOM_DOMAIN_NAME = 'customDomainName';
const CUSTOM_DOMAIN_CERTIFICATE = 'customDomainCertificateArn';
const STACK_NAME = 'stackName';

/** Every context key this app reads. */
export const CONTEXT_KEYS: readonly string[] = [
  STACK_NAME,
  ...Object.keys(SETTINGS_PARSERS),
  CUSTOM_DOMAIN_NAME,
  CUSTOM_DOMAIN_CERTIFICATE,
];

export interface ContextSettings {
  readonly stackName: string;
  readonly settings: TokenServiceSettings;
}

/** Reads the app's context (cdk.json, `-c key=value`); throws TokenServiceSettingsError naming each bad or unknown key. */
export function settingsFromContext(node: Node): ContextSettings {
  const problems: string[] = [];
  const settings: Record<string, unknown> = {};
  const read = (key: string, parse: Parser): unknown => {
    const raw: unknown = node.tryGetContext(key);
    if (raw === undefined) return undefined;
    try {
      return parse(raw);
    } catch (error) {
      problems.push(`context ${key}=${JSON.stringify(raw)}: ${(error as Error).message}`);
      return undefined;
    }
  };

  for (const [key, parse] of Object.entries(SETTINGS_PARSERS)) {
    const value = read(key, parse);
    if (value !== undefined) settings[key] = value;
  }
  const domainName = read(CUSTOM_DOMAIN_NAME, text) as string | undefined;
  const certificateArn = read(CUSTOM_DOMAIN_CERTIFICATE, text) as string | undefined;
  if ((domainName === undefined) !== (certificateArn === undefined)) {
    problems.push(`context ${CUSTOM_DOMAIN_NAME} and ${CUSTOM_DOMAIN_CERTIFICATE} go together: give both or neither`);
  } else if (domainName !== undefined && certificateArn !== undefined) {
    settings.customDomain = { domainName, certificateArn };
  }
  const stackName = (read(STACK_NAME, text) as string | undefined) ?? DEFAULT_STACK_NAME;
  if (!/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(stackName)) {
    problems.push(
      `context ${STACK_NAME}="${stackName}": a stack name starts with a letter and holds only letters, digits and -`,
    );
  }
  for (const key of unknownContextKeys(node)) {
    const suggestion = didYouMean(key, CONTEXT_KEYS, (candidate) => candidate);
    problems.push(
      `context key "${key}" is not a setting of this app${suggestion === '' ? ` (the settings: ${CONTEXT_KEYS.join(', ')})` : suggestion}`,
    );
  }

  if (problems.length > 0) throw new TokenServiceSettingsError(problems);
  return { stackName, settings: settings as TokenServiceSettings };
}

/**
 * Whether a context key is CDK's rather than a setting: feature flags (`@aws-cdk/…`, and every other
 * `@…` flag cdk.json carries), the toolkit's and the framework's own keys (`aws:cdk:…`, `cdk-…`,
 * `acknowledged-issue-numbers`), and the cached results of context lookups (`availability-zones:…`,
 * `ssm:…`), which all contain ":". No setting name contains ":" or starts with "@".
 */
export function isCdkContextKey(key: string): boolean {
  return key.includes(':') || key.startsWith('@') || key.startsWith('cdk-') || key === 'acknowledged-issue-numbers';
}

/**
 * Context keys that are neither a setting of this app nor CDK's own: most likely misspelt settings,
 * which would otherwise be ignored without a word. settingsFromContext refuses them.
 */
export function unknownContextKeys(node: Node): string[] {
  return Object.keys(node.getAllContext() as Record<string, unknown>).filter(
    (key) => !isCdkContextKey(key) && !CONTEXT_KEYS.includes(key),
  );
}
