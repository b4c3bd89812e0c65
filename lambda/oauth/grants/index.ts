import type { Grant } from './grant';
import { mfaOtpGrant } from './mfa-otp';
import { mfaRecoveryCodeGrant } from './mfa-recovery-code';
import { passwordGrant } from './password';
import { refreshTokenGrant } from './refresh-token';

/** Every grant the token endpoint serves, in the order the metadata lists them. */
export const GRANTS = [passwordGrant, refreshTokenGrant, mfaOtpGrant, mfaRecoveryCodeGrant] as const;

export type GrantType = (typeof GRANTS)[number]['type'];

/** Every grant_type the endpoint serves (the metadata's grant_types_supported). */
export const SUPPORTED_GRANT_TYPES: readonly GrantType[] = GRANTS.map((grant) => grant.type);

/**
 * The grants a client is registered for (--grant-types): those that come with another grant (the second
 * factor, with password) are allowed by it and are not chosen on their own.
 */
export const GRANT_TYPES: readonly GrantType[] = GRANTS.filter(
  (grant) => (grant as Grant).allowedWith === undefined,
).map((grant) => grant.type);

const BY_TYPE: ReadonlyMap<string, Grant> = new Map(GRANTS.map((grant) => [grant.type, grant as unknown as Grant]));

/** Whether the client's registration allows the grant: its own type, or the grant it comes with. */
export function clientMayUse(client: { readonly grantTypes: readonly string[] }, grant: Grant): boolean {
  return client.grantTypes.includes(grant.allowedWith ?? grant.type);
}

/** The grant for a grant_type value, or undefined when the endpoint does not serve it. */
export function grantFor(type: string): Grant | undefined {
  return BY_TYPE.get(type);
}

export function isGrantType(type: string): type is GrantType {
  return BY_TYPE.has(type);
}

/** The unsupported_grant_type description (RFC 6749 §5.2), naming what is supported. */
export const UNSUPPORTED_GRANT_DESCRIPTION = `grant_type must be ${listed(SUPPORTED_GRANT_TYPES)}`;

function listed(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}
