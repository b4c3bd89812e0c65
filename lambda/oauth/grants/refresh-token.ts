import { hashRefreshToken } from '../../tokens/refresh-token';
import { InvalidGrantError } from '../errors';
import { type RefreshToken, RefreshTokenConflictError } from '../ports';
import { formatScope, narrowScope, parseScope } from '../scope';
import { type Grant, type RequestContext, started, type TokenEndpointDeps } from './grant';
import { clientRegisteredAt, epochSeconds, familyIssuedAt, issueAccessToken, mintRefreshToken } from './issue';

const INVALID_REFRESH_TOKEN = 'the refresh token is invalid, expired or revoked';

/**
 * RFC 6749 §6 with rotation (RFC 9700 §4.14.2). Three stages: read the token (with the client);
 * sign (with the user check); one conditional write that retires the token and stores its successor.
 * Signing comes before the commit, so a signing failure never consumes the presented token.
 */
export const refreshTokenGrant: Grant<'refresh_token', RefreshToken | undefined> = {
  type: 'refresh_token',
  parameters: ['refresh_token'],

  prefetch(params, deps) {
    const token = params.get('refresh_token');
    return started(token === undefined ? Promise.resolve(undefined) : deps.refreshTokens.get(hashRefreshToken(token)));
  },

  async issue(client, params, prefetched, deps, context) {
    const requestedScope = parseScope(params.get('scope'));
    const current = await prefetched;
    const now = epochSeconds(deps);
    const log = { requestId: context.requestId, clientId: client.clientId };

    if (current === undefined || current.clientId !== client.clientId) {
      throw invalid({ ...log, reason: current === undefined ? 'unknown_token' : 'other_client' });
    }
    // A family older than the client's registration was issued to a deleted client with the same id: that
    // registration's sessions died with it. Checked before the state, so that its spent tokens raise no alarm.
    if (familyIssuedAt(current) < clientRegisteredAt(client)) {
      throw invalid({ ...log, userId: current.userId, familyId: current.familyId, reason: 'client_reregistered' });
    }
    if (current.state !== 'active') {
      if (current.state === 'rotated') throw await revokeReusedFamily(deps, current, context);
      throw invalid({ ...log, userId: current.userId, reason: 'revoked' });
    }
    // DynamoDB deletes expired items late: the expiry is checked here, and again in the commit's condition.
    if (now >= current.idleExpiresAt || now >= current.familyExpiresAt) {
      throw invalid({ ...log, userId: current.userId, reason: 'expired' });
    }

    // Never a token with "scope": "": an empty result is invalid_scope, logged with its reason.
    const scope = narrowScope(requestedScope, current.scope, client.scopes, {
      event: 'refresh_grant_failed',
      fields: { ...log, userId: current.userId },
    });
    const [user, accessToken] = await Promise.all([
      deps.users.getUser(current.username),
      issueAccessToken(deps, client, current.userId, scope, now),
    ]);
    if (user === undefined || user.userId !== current.userId || user.disabled) {
      throw invalid({ ...log, userId: current.userId, reason: 'user_unavailable' });
    }

    const next = mintRefreshToken(deps, current, scope, now, current);
    try {
      await deps.refreshTokens.rotate(current, next.record, now);
    } catch (error) {
      if (!(error instanceof RefreshTokenConflictError)) throw error;
      // Another request rotated it first: this one presented a token that is now used (RFC 9700 §4.14.2).
      const state = error.current?.state;
      if (state === 'rotated') throw await revokeReusedFamily(deps, current, context);
      // 'revoked': its family was revoked while it was still active (reuse of an older token, RFC 7009).
      throw invalid({ ...log, userId: current.userId, reason: state === 'revoked' ? 'revoked' : 'conflict' });
    }

    deps.logger.info('refresh_grant_succeeded', {
      ...log,
      userId: current.userId,
      familyId: current.familyId,
      generation: next.record.generation,
    });
    return {
      accessToken,
      expiresIn: deps.settings.accessTokenTtl,
      refreshToken: next.token,
      scope: formatScope(scope),
    };
  },
};

/** The one answer to every unusable refresh token, with what the log records about it. */
function invalid(fields: Record<string, unknown>): InvalidGrantError {
  return new InvalidGrantError(INVALID_REFRESH_TOKEN).audited('refresh_grant_failed', fields);
}

/**
 * A used token came back: someone holds a copy. Revokes its whole family, the current token included,
 * and returns the error to answer with (the reuse is logged as a warning, and alarms).
 */
async function revokeReusedFamily(
  deps: TokenEndpointDeps,
  token: RefreshToken,
  context: RequestContext,
): Promise<InvalidGrantError> {
  const newlyRevoked = await deps.refreshTokens.revokeFamily(token);
  return new InvalidGrantError(INVALID_REFRESH_TOKEN).audited(
    'refresh_token_reuse_detected',
    {
      requestId: context.requestId,
      clientId: token.clientId,
      userId: token.userId,
      familyId: token.familyId,
      generation: token.generation,
      newlyRevoked,
    },
    'warn',
  );
}
