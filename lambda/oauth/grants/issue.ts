import { signAccessToken } from '../../tokens/access-token';
import { generateFamilyId, generateRefreshToken, hashRefreshToken } from '../../tokens/refresh-token';
import type { Client, RefreshFamily, RefreshToken } from '../ports';
import { formatScope } from '../scope';
import type { TokenEndpointDeps } from './grant';

/** Signs an RFC 9068 access token for `userId`, as of `now` (epoch seconds). */
export async function issueAccessToken(
  deps: TokenEndpointDeps,
  client: Client,
  userId: string,
  scope: readonly string[],
  now: number,
): Promise<string> {
  const key = await deps.signer.signingKey();
  return signAccessToken(
    {
      iss: deps.settings.issuer,
      sub: userId,
      aud: client.audience ?? deps.settings.defaultAudience,
      exp: now + deps.settings.accessTokenTtl,
      iat: now,
      jti: deps.random.uuid(),
      client_id: client.clientId,
      scope: formatScope(scope),
    },
    key,
  );
}

/** The first token of a new family, issued by a password grant at `now`, and the family to store for it. */
export function mintFamily(
  deps: TokenEndpointDeps,
  subject: { clientId: string; userId: string; username: string; sessionEpoch?: number },
  scope: readonly string[],
  now: number,
): { token: string; family: RefreshFamily } {
  const familyId = generateFamilyId(deps.random);
  const token = generateRefreshToken(deps.random, familyId);
  const familyExpiresAt = now + deps.settings.refreshTokenAbsoluteTtl;
  return {
    token,
    family: {
      familyId,
      clientId: subject.clientId,
      userId: subject.userId,
      username: subject.username,
      scope: [...scope],
      generation: 0,
      currentHash: hashRefreshToken(token),
      issuedAt: now,
      familyIssuedAt: now,
      ...(subject.sessionEpoch === undefined ? {} : { sessionEpoch: subject.sessionEpoch }),
      idleExpiresAt: Math.min(now + deps.settings.refreshTokenIdleTtl, familyExpiresAt),
      familyExpiresAt,
    },
  };
}

/** When a legacy token's family started (epoch seconds); a token stored before that was recorded, its own issue time. */
export function familyIssuedAt(token: RefreshToken): number {
  return token.familyIssuedAt ?? token.issuedAt;
}

/**
 * When the client's current registration was made (epoch seconds, floored); 0 for a client with no
 * registration time. A family issued in an earlier second belongs to an earlier client with the same id.
 */
export function clientRegisteredAt(client: Client): number {
  return client.createdAt === undefined ? 0 : Math.floor(Date.parse(client.createdAt) / 1000);
}

export function epochSeconds(deps: TokenEndpointDeps): number {
  return Math.floor(deps.clock() / 1000);
}
