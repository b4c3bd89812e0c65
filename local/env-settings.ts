import {
  LOCKOUT_IP_FAILURES_PER_DAY,
  LOCKOUT_PAIR_THRESHOLD,
  LOCKOUT_USER_FAILURES_PER_HOUR,
  REFRESH_TOKEN_GRACE,
  type Setting,
  TRUSTED_PROXY_HOPS,
} from '../contract/settings';
import { ConfigError, type ServiceConfig, settingFromEnv } from '../lambda/config';

/** The service settings `npm start` takes from its environment, by their configuration field. */
const LOCAL_ENV_SETTINGS = {
  refreshTokenGraceSeconds: REFRESH_TOKEN_GRACE,
  lockoutPairThreshold: LOCKOUT_PAIR_THRESHOLD,
  lockoutUserFailuresPerHour: LOCKOUT_USER_FAILURES_PER_HOUR,
  lockoutIpFailuresPerDay: LOCKOUT_IP_FAILURES_PER_DAY,
  // As deployed behind proxies: the client address is read from X-Forwarded-For (lambda/handlers/apigw.ts).
  trustedProxyHops: TRUSTED_PROXY_HOPS,
} as const satisfies { readonly [K in keyof ServiceConfig]?: Setting<ServiceConfig[K]> };

/** The service settings `npm start` takes from its environment; the rest are the local stack's own. */
export type LocalEnvSettings = Partial<Pick<ServiceConfig, keyof typeof LOCAL_ENV_SETTINGS>>;

/**
 * Reads the settings `npm start` honours from its environment (README "Run it locally"), each parsed and
 * checked by its own rules (contract/settings.ts), exactly as the functions read them: an absent or blank
 * variable leaves the local stack's default. Throws ConfigError naming every bad variable.
 */
export function localSettingsFromEnv(env: Readonly<Record<string, string | undefined>>): LocalEnvSettings {
  const problems: string[] = [];
  const settings: Record<string, unknown> = {};
  for (const [field, spec] of Object.entries(LOCAL_ENV_SETTINGS)) {
    const value = settingFromEnv(env, spec, problems);
    if (value !== undefined) settings[field] = value;
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  return settings as LocalEnvSettings;
}
