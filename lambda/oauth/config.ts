import type { ProtocolSettings } from '../../contract/config';
import { DEFAULTS } from '../../contract/settings';

/** Protocol settings the core needs: the configuration's protocol part (contract/config.ts). */
export type OAuthSettings = ProtocolSettings;

/** The lifetimes' defaults (and the refresh-token grace's) are the shared settings' (contract/settings.ts). */
export const DEFAULT_LIFETIMES = {
  accessTokenTtl: DEFAULTS.accessTokenTtl,
  refreshTokenIdleTtl: DEFAULTS.refreshTokenIdleTtl,
  refreshTokenAbsoluteTtl: DEFAULTS.refreshTokenAbsoluteTtl,
  refreshTokenGraceSeconds: DEFAULTS.refreshTokenGraceSeconds,
} as const;

/** The lockout limits' defaults (contract/settings.ts), those of DEFAULT_LOCKOUT_POLICY. */
export const DEFAULT_LOCKOUT_LIMITS = {
  lockoutPairThreshold: DEFAULTS.lockoutPairThreshold,
  lockoutUserFailuresPerHour: DEFAULTS.lockoutUserFailuresPerHour,
  lockoutIpFailuresPerDay: DEFAULTS.lockoutIpFailuresPerDay,
} as const;
