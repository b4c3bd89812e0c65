import type { Grant } from './grant';
import { passwordGrant } from './password';
import { refreshTokenGrant } from './refresh-token';

/** Every grant the token endpoint serves, in the order the metadata lists them. */
export const GRANTS = [passwordGrant, refreshTokenGrant] as const;

export type GrantType = (typeof GRANTS)[number]['type'];

export const GRANT_TYPES: readonly GrantType[] = GRANTS.map((grant) => grant.type);

const BY_TYPE: ReadonlyMap<string, Grant> = new Map(GRANTS.map((grant) => [grant.type, grant as unknown as Grant]));

/** The grant for a grant_type value, or undefined when the endpoint does not serve it. */
export function grantFor(type: string): Grant | undefined {
  return BY_TYPE.get(type);
}

export function isGrantType(type: string): type is GrantType {
  return BY_TYPE.has(type);
}

/** The unsupported_grant_type description (RFC 6749 §5.2), naming what is supported. */
export const UNSUPPORTED_GRANT_DESCRIPTION = `grant_type must be ${listed(GRANT_TYPES)}`;

function listed(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}
