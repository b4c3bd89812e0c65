import { sameTokenHash } from '../tokens/refresh-token';
import { type CorsState, preflightResponse, readOrigin, withCors } from './cors';
import { InvalidRequestError, MethodNotAllowedError } from './errors';
import { parseForm } from './form';
import { started, type TokenEndpointDeps } from './grants/grant';
import { type FoundRefreshToken, findRefreshToken } from './grants/refresh-token';
import { type HttpRequest, type HttpResponse, jsonResponse, NO_STORE_HEADERS } from './http';
import { errorResponse } from './responses';
import { authenticateRequestClient } from './token-endpoint';

/**
 * POST /revoke (RFC 7009). The client authenticates as at the token endpoint. Revoking a refresh token
 * revokes its whole family (§2.1 lets the server revoke related tokens; every token of a family comes from
 * one grant). Unknown tokens, access tokens (self-contained JWTs that expire on their own) and other
 * clients' tokens all get the same 200 (§2.2), and another client's token is left untouched.
 * token_type_hint is only a hint (§2.1): every token is looked up as a refresh token. CORS as at the token
 * endpoint (./cors.ts): the headers of the client the request names, and OPTIONS is the preflight.
 */
export async function handleRevocationRequest(request: HttpRequest, deps: TokenEndpointDeps): Promise<HttpResponse> {
  const cors: CorsState = {};
  try {
    if (request.method === 'OPTIONS') return preflightResponse(request);
    if (request.method !== 'POST') throw new MethodNotAllowedError(['POST']);
    cors.request = readOrigin(request);
    const params = parseForm(request.headers['content-type'], request.body);
    const token = params.get('token');
    const lookup = token === undefined ? undefined : started(findRefreshToken(token, deps.refreshTokens));
    const client = await authenticateRequestClient(request, params, deps, cors);
    if (token === undefined || lookup === undefined) throw new InvalidRequestError('token is required');

    const family = revocable(await lookup, client.clientId);
    if (family !== undefined) {
      const newlyRevoked = await deps.refreshTokens.revokeFamily(
        family.familyId,
        family.familyExpiresAt,
        Math.floor(deps.clock() / 1000),
      );
      deps.logger.info('token_revoked', {
        requestId: request.requestId,
        clientId: client.clientId,
        userId: family.userId,
        familyId: family.familyId,
        newlyRevoked,
      });
    }
    // §2.2: clients ignore the body; an empty JSON object keeps strict JSON clients content.
    return withCors(jsonResponse(200, {}, { ...NO_STORE_HEADERS }), cors);
  } catch (error) {
    return withCors(errorResponse(error, deps.logger, request.requestId), cors);
  }
}

/**
 * The family a revocation request may revoke: the client's own, named by a token it holds — the family's
 * current token or the one it replaced (a legacy token: any of its tokens not revoked yet).
 */
function revocable(
  found: FoundRefreshToken | undefined,
  clientId: string,
): { familyId: string; familyExpiresAt: number; userId: string } | undefined {
  if (found === undefined) return undefined;
  const { presented, family, legacy } = found;
  if (presented.format === 'legacy') {
    return legacy !== undefined && legacy.clientId === clientId && legacy.state !== 'revoked' ? legacy : undefined;
  }
  if (family === undefined || family.clientId !== clientId || family.revokedAt !== undefined) return undefined;
  const previous = family.previous?.hash;
  const held =
    sameTokenHash(presented.hash, family.currentHash) ||
    (previous !== undefined && sameTokenHash(presented.hash, previous));
  return held ? family : undefined;
}
