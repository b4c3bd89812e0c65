import { DEFAULTS } from '../../contract/settings';

/** Protocol settings the core needs. Durations in seconds. */
export interface OAuthSettings {
  /** `iss` of every access token, and the base URL of the endpoints. */
  readonly issuer: string;
  /** `aud` for clients registered without an audience. */
  readonly defaultAudience: string;
  readonly accessTokenTtl: number;
  readonly refreshTokenIdleTtl: number;
  readonly refreshTokenAbsoluteTtl: number;
  /** Advertised in the metadata document; clients and users carry their own allowed scopes. */
  readonly scopesSupported: readonly string[];
}

/** The lifetimes' defaults are the shared settings' (contract/settings.ts). */
export const DEFAULT_LIFETIMES = {
  accessTokenTtl: DEFAULTS.accessTokenTtl,
  refreshTokenIdleTtl: DEFAULTS.refreshTokenIdleTtl,
  refreshTokenAbsoluteTtl: DEFAULTS.refreshTokenAbsoluteTtl,
} as const;
