import { REFRESH_TOKEN_GRACE } from '../contract/settings';
import { ConfigError, type ServiceConfig, settingFromEnv } from '../lambda/config';

/** The service settings `npm start` takes from its environment; the rest are the local stack's own. */
export type LocalEnvSettings = Partial<Pick<ServiceConfig, 'refreshTokenGraceSeconds'>>;

/**
 * Reads the settings `npm start` honours from its environment (README "Run it locally"), each parsed and
 * checked by its own rules (contract/settings.ts), exactly as the functions read them: an absent or blank
 * variable leaves the local stack's default. Throws ConfigError naming every bad variable.
 */
export function localSettingsFromEnv(env: Readonly<Record<string, string | undefined>>): LocalEnvSettings {
  const problems: string[] = [];
  const refreshTokenGraceSeconds = settingFromEnv(env, REFRESH_TOKEN_GRACE, problems);
  if (problems.length > 0) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  return refreshTokenGraceSeconds === undefined ? {} : { refreshTokenGraceSeconds };
}
