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

export const DEFAULT_LIFETIMES = {
  accessTokenTtl: 15 * 60,
  refreshTokenIdleTtl: 30 * 24 * 3600,
  refreshTokenAbsoluteTtl: 90 * 24 * 3600,
} as const;
