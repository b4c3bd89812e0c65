import {
  generateRefreshToken,
  hashRefreshToken,
  openSuccessor,
  type PresentedRefreshToken,
  parseRefreshToken,
  sameTokenHash as sameHash,
  sealSuccessor,
} from '../../tokens/refresh-token';
import { InvalidGrantError } from '../errors';
import {
  type Client,
  type RefreshFamily,
  type RefreshToken,
  RefreshTokenConflictError,
  type RefreshTokenStore,
} from '../ports';
import { formatScope, narrowScope, parseScope } from '../scope';
import { type Grant, type IssuedTokens, type RequestContext, started, type TokenEndpointDeps } from './grant';
import { clientRegisteredAt, epochSeconds, familyIssuedAt, issueAccessToken } from './issue';

const INVALID_REFRESH_TOKEN = 'the refresh token is invalid, expired or revoked';

/** A presented refresh token and what the store holds for it. */
export interface FoundRefreshToken {
  readonly presented: PresentedRefreshToken;
  /** The family the token names (for a legacy token, the family it moved into, once it has). */
  readonly family?: RefreshFamily;
  /** A token stored one item per token (before families were one item). */
  readonly legacy?: RefreshToken;
}

/**
 * Reads what the store holds for a presented refresh token: one read for a token of the family model, one
 * for a legacy token (two when it was rotated: its family may have moved into one item). Undefined when
 * the value has neither token shape.
 */
export async function findRefreshToken(
  token: string,
  store: RefreshTokenStore,
): Promise<FoundRefreshToken | undefined> {
  const presented = parseRefreshToken(token);
  if (presented === undefined) return undefined;
  if (presented.format === 'family') return { presented, family: await store.getFamily(presented.familyId) };
  const legacy = await store.getLegacyToken(presented.hash);
  if (legacy?.state !== 'rotated') return { presented, legacy };
  return { presented, legacy, family: await store.getFamily(legacy.familyId) };
}

/** What a presented token may do with its family (judge). */
type Verdict =
  | { readonly kind: 'rotate' }
  | { readonly kind: 'retry' }
  | { readonly kind: 'reuse' }
  | { readonly kind: 'invalid'; readonly reason: 'revoked' | 'expired' };

/**
 * RFC 9700 §4.14.2 with a retry grace: the current token rotates; the one it replaced, presented again by
 * its client within the client's grace, gets the same successor; any other token of the family (older,
 * later than the grace, or a secret the family never had) is a stolen copy, and the family is revoked.
 * Hashes are compared in constant time.
 */
export function judge(family: RefreshFamily, presentedHash: string, graceSeconds: number, now: number): Verdict {
  if (family.revokedAt !== undefined) return { kind: 'invalid', reason: 'revoked' };
  // DynamoDB deletes expired items late: the expiry is checked here, and again in the rotation's condition.
  if (now >= family.idleExpiresAt || now >= family.familyExpiresAt) return { kind: 'invalid', reason: 'expired' };
  if (sameHash(presentedHash, family.currentHash)) return { kind: 'rotate' };
  const previous = family.previous;
  if (previous !== undefined && sameHash(presentedHash, previous.hash) && now < previous.rotatedAt + graceSeconds) {
    return { kind: 'retry' };
  }
  return { kind: 'reuse' };
}

/** The grace of `client`'s refresh tokens: its own, or the stack's. */
export function refreshGraceSeconds(client: Client, deps: TokenEndpointDeps): number {
  return client.refreshGraceSeconds ?? deps.settings.refreshTokenGraceSeconds;
}

/**
 * RFC 6749 §6 with rotation (RFC 9700 §4.14.2) and a retry grace. Three stages: read the family (with the
 * client); sign (with the user check); one conditional write that rotates the family in place. Signing
 * comes before the commit, so a signing failure never consumes the presented token. Concurrent uses of one
 * token all succeed with one successor: the rotation that loses the write reads the winner's result and
 * answers as a retry.
 */
export const refreshTokenGrant: Grant<'refresh_token', FoundRefreshToken | undefined> = {
  type: 'refresh_token',
  parameters: ['refresh_token'],

  prefetch(params, deps) {
    const token = params.get('refresh_token');
    return started(token === undefined ? Promise.resolve(undefined) : findRefreshToken(token, deps.refreshTokens));
  },

  async issue(client, params, prefetched, deps, context) {
    const found = await prefetched;
    const request: RefreshRequest = {
      client,
      deps,
      context,
      now: epochSeconds(deps),
      requestedScope: parseScope(params.get('scope')),
      graceSeconds: refreshGraceSeconds(client, deps),
    };
    if (found === undefined) throw invalid(request, { reason: 'unknown_token' });
    if (found.presented.format === 'legacy') return fromLegacyToken(request, found.presented, found);
    if (found.family === undefined) throw invalid(request, { reason: 'unknown_token' });
    checkOwner(request, found.family);
    return settle(
      request,
      found.presented,
      found.family,
      judge(found.family, found.presented.hash, request.graceSeconds, request.now),
      true,
    );
  },
};

interface RefreshRequest {
  readonly client: Client;
  readonly deps: TokenEndpointDeps;
  readonly context: RequestContext;
  readonly now: number;
  readonly requestedScope: readonly string[] | undefined;
  readonly graceSeconds: number;
}

/** Another client's token, or one issued to an earlier client with the same id, is refused without a write. */
function checkOwner(
  request: RefreshRequest,
  owner: { clientId: string; userId: string; familyId: string; familyIssuedAt: number },
): void {
  if (owner.clientId !== request.client.clientId) throw invalid(request, { reason: 'other_client' });
  // A family older than the client's registration was issued to a deleted client with the same id: that
  // registration's sessions died with it. Checked before the state, so that its spent tokens raise no alarm.
  if (owner.familyIssuedAt < clientRegisteredAt(request.client)) {
    throw invalid(request, { userId: owner.userId, familyId: owner.familyId, reason: 'client_reregistered' });
  }
}

/** Acts on a verdict about `family`: rotates it, answers a retry with the successor, or revokes it. */
async function settle(
  request: RefreshRequest,
  presented: PresentedRefreshToken,
  family: RefreshFamily,
  verdict: Verdict,
  mayRotate: boolean,
): Promise<IssuedTokens> {
  const fields = { userId: family.userId, familyId: family.familyId };
  switch (verdict.kind) {
    case 'invalid':
      throw invalid(request, { ...fields, reason: verdict.reason });
    case 'reuse':
      throw await revokeReusedFamily(request, family);
    case 'retry': {
      const accessToken = await signFor(request, family);
      return retried(request, presented, family, accessToken);
    }
    case 'rotate': {
      if (!mayRotate) throw invalid(request, { ...fields, reason: 'conflict' });
      const accessToken = await signFor(request, family);
      const next = successorOf(request.deps, family, presented.token, request.now);
      try {
        await request.deps.refreshTokens.rotate(family, next.family, request.now);
      } catch (error) {
        if (!(error instanceof RefreshTokenConflictError)) throw error;
        // Another request changed the family first: judged again on what it left, without a second rotation.
        return afterConflict(request, presented, error, accessToken);
      }
      return succeeded(request, next.family, next.token, accessToken, {});
    }
  }
}

/**
 * A write lost to another request: judged again on the family as it was stored when the write was refused.
 * Usually a concurrent use of the same token won, and this one is its retry.
 */
async function afterConflict(
  request: RefreshRequest,
  presented: PresentedRefreshToken,
  error: RefreshTokenConflictError,
  accessToken: AccessToken,
): Promise<IssuedTokens> {
  const family = error.family;
  if (error.revoked || family === undefined) {
    throw invalid(request, {
      familyId: family?.familyId,
      userId: family?.userId,
      reason: error.revoked ? 'revoked' : 'conflict',
    });
  }
  const verdict = judge(family, presented.hash, request.graceSeconds, request.now);
  // The access token is signed already: a retry uses it; anything else is settled without a second rotation.
  if (verdict.kind === 'retry') return retried(request, presented, family, accessToken);
  return settle(request, presented, family, verdict, false);
}

/**
 * A token stored one item per token. An active one moves its family into one item (its first rotation in
 * the family model, one transaction); a rotated one is judged by the family it moved into, so that its
 * retry within the grace works and its reuse revokes the family as before.
 */
async function fromLegacyToken(
  request: RefreshRequest,
  presented: PresentedRefreshToken,
  found: FoundRefreshToken,
): Promise<IssuedTokens> {
  const legacy = found.legacy;
  if (legacy === undefined) throw invalid(request, { reason: 'unknown_token' });
  const base = familyOfLegacy(legacy);
  checkOwner(request, base);
  const fields = { userId: legacy.userId, familyId: legacy.familyId };
  if (legacy.state === 'revoked') throw invalid(request, { ...fields, reason: 'revoked' });
  if (legacy.state === 'rotated') {
    // Rotated in the legacy model, or moved into a family item that has since expired and gone: a spent token.
    if (found.family === undefined) throw await revokeReusedFamily(request, base);
    return settle(
      request,
      presented,
      found.family,
      judge(found.family, presented.hash, request.graceSeconds, request.now),
      false,
    );
  }
  if (request.now >= legacy.idleExpiresAt || request.now >= legacy.familyExpiresAt) {
    throw invalid(request, { ...fields, reason: 'expired' });
  }
  const accessToken = await signFor(request, base);
  const next = successorOf(request.deps, base, presented.token, request.now);
  try {
    await request.deps.refreshTokens.migrate(legacy, next.family, request.now);
  } catch (error) {
    if (!(error instanceof RefreshTokenConflictError)) throw error;
    // Usually a concurrent use of the same token moved the family first: its item says what this one gets.
    const family = error.revoked
      ? error.family
      : (error.family ?? (await request.deps.refreshTokens.getFamily(legacy.familyId)));
    return afterConflict(request, presented, new RefreshTokenConflictError(family, error.revoked), accessToken);
  }
  return succeeded(request, next.family, next.token, accessToken, { migrated: true });
}

/** A legacy token's family as the family model records it, at the legacy token's generation. */
function familyOfLegacy(legacy: RefreshToken): RefreshFamily {
  return {
    familyId: legacy.familyId,
    clientId: legacy.clientId,
    userId: legacy.userId,
    username: legacy.username,
    scope: legacy.scope,
    generation: legacy.generation,
    currentHash: legacy.tokenHash,
    issuedAt: legacy.issuedAt,
    familyIssuedAt: familyIssuedAt(legacy),
    idleExpiresAt: legacy.idleExpiresAt,
    familyExpiresAt: legacy.familyExpiresAt,
  };
}

/** `family` rotated at `now`: a new current token, and the presented one kept as its predecessor. */
export function successorOf(
  deps: TokenEndpointDeps,
  family: RefreshFamily,
  presentedToken: string,
  now: number,
): { token: string; family: RefreshFamily } {
  const generation = family.generation + 1;
  const token = generateRefreshToken(deps.random, family.familyId);
  const { revokedAt: _revoked, ...rest } = family;
  return {
    token,
    family: {
      ...rest,
      generation,
      currentHash: hashRefreshToken(token),
      issuedAt: now,
      previous: {
        hash: hashRefreshToken(presentedToken),
        rotatedAt: now,
        sealedSuccessor: sealSuccessor(presentedToken, token, { familyId: family.familyId, generation }, deps.random),
      },
      idleExpiresAt: Math.min(now + deps.settings.refreshTokenIdleTtl, family.familyExpiresAt),
    },
  };
}

interface AccessToken {
  readonly jwt: string;
  readonly scope: readonly string[];
}

/**
 * The access token for a use of `family`'s token, after checking its user: the family's scope, or the
 * narrower one the request asks for (RFC 6749 §6: the refresh token's own scope never changes).
 */
async function signFor(request: RefreshRequest, family: RefreshFamily): Promise<AccessToken> {
  const { client, deps, now } = request;
  const fields = { userId: family.userId, familyId: family.familyId };
  // Never a token with "scope": "": an empty result is invalid_scope, logged with its reason.
  const scope = narrowScope(request.requestedScope, family.scope, client.scopes, {
    event: 'refresh_grant_failed',
    fields: { ...logFields(request), ...fields },
  });
  const [user, jwt] = await Promise.all([
    deps.users.getUser(family.username),
    issueAccessToken(deps, client, family.userId, scope, now),
  ]);
  if (user === undefined || user.userId !== family.userId || user.disabled) {
    throw invalid(request, { ...fields, reason: 'user_unavailable' });
  }
  // A new password, disabling or the operator's revocation ended the sessions begun before it.
  if ((user.sessionEpoch ?? 0) !== (family.sessionEpoch ?? 0)) {
    throw invalid(request, { ...fields, reason: 'sessions_ended' });
  }
  return { jwt, scope };
}

/** The answer to a retry within the grace: the successor already issued, opened with the presented token. */
function retried(
  request: RefreshRequest,
  presented: PresentedRefreshToken,
  family: RefreshFamily,
  accessToken: AccessToken,
): IssuedTokens {
  const sealed = family.previous?.sealedSuccessor;
  const successor =
    sealed === undefined
      ? undefined
      : openSuccessor(presented.token, sealed, { familyId: family.familyId, generation: family.generation });
  if (successor === undefined || !sameHash(hashRefreshToken(successor), family.currentHash)) {
    // The stored successor does not open with the token whose hash the family holds: a damaged item.
    throw invalid(
      request,
      { userId: family.userId, familyId: family.familyId, reason: 'successor_unreadable' },
      'warn',
    );
  }
  return succeeded(request, family, successor, accessToken, { retry: true });
}

function succeeded(
  request: RefreshRequest,
  family: RefreshFamily,
  refreshToken: string,
  accessToken: AccessToken,
  extra: Record<string, unknown>,
): IssuedTokens {
  request.deps.logger.info('refresh_grant_succeeded', {
    ...logFields(request),
    userId: family.userId,
    familyId: family.familyId,
    generation: family.generation,
    ...extra,
  });
  return {
    accessToken: accessToken.jwt,
    expiresIn: request.deps.settings.accessTokenTtl,
    refreshToken,
    scope: formatScope(accessToken.scope),
  };
}

function logFields(request: RefreshRequest): Record<string, unknown> {
  return { requestId: request.context.requestId, clientId: request.client.clientId };
}

/** The one answer to every unusable refresh token, with what the log records about it. */
function invalid(
  request: RefreshRequest,
  fields: Record<string, unknown>,
  level: 'info' | 'warn' = 'info',
): InvalidGrantError {
  return new InvalidGrantError(INVALID_REFRESH_TOKEN).audited(
    'refresh_grant_failed',
    { ...logFields(request), ...fields },
    level,
  );
}

/**
 * A spent token came back: someone holds a copy. Revokes the whole family, the current token included, with
 * one write, and returns the error to answer with (the reuse is logged as a warning, and alarms).
 */
async function revokeReusedFamily(request: RefreshRequest, family: RefreshFamily): Promise<InvalidGrantError> {
  const newlyRevoked = await request.deps.refreshTokens.revokeFamily(
    family.familyId,
    family.familyExpiresAt,
    request.now,
  );
  return new InvalidGrantError(INVALID_REFRESH_TOKEN).audited(
    'refresh_token_reuse_detected',
    {
      ...logFields(request),
      userId: family.userId,
      familyId: family.familyId,
      generation: family.generation,
      newlyRevoked,
    },
    'warn',
  );
}
