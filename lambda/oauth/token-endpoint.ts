import { authenticateClient, readClientCredentials } from './client-auth';
import { isClientId } from './client-id';
import { type CorsState, preflightResponse, readOrigin, withCors } from './cors';
import {
  InvalidRequestError,
  MethodNotAllowedError,
  OAuthError,
  UnauthorizedClientError,
  UnsupportedGrantTypeError,
} from './errors';
import { parseForm } from './form';
import { clientMayUse, grantFor, UNSUPPORTED_GRANT_DESCRIPTION } from './grants';
import type { TokenEndpointDeps } from './grants/grant';
import type { HttpRequest, HttpResponse } from './http';
import type { Client } from './ports';
import { errorResponse, tokenResponse } from './responses';

/** Where a trusted back-end client reports its end user's IP (see RequestContext.endUserIp). */
export const END_USER_IP_HEADER = 'x-end-user-ip';

/**
 * POST /token as a chain of small steps: method → form → grant_type present → (the grant's own reads ∥
 * client lookup ∥ the signer's key reads, when its cache needs them) → client authentication → grant
 * supported (grants/index.ts) → grant allowed for the client (its registration, and confidential-only
 * grants for confidential clients) → the grant.
 * Every outcome is rendered by tokenResponse or errorResponse, with the CORS headers of the client the
 * request names once it is looked up (./cors.ts); OPTIONS is the CORS preflight.
 */
export async function handleTokenRequest(request: HttpRequest, deps: TokenEndpointDeps): Promise<HttpResponse> {
  const cors: CorsState = {};
  try {
    if (request.method === 'OPTIONS') return preflightResponse(request);
    if (request.method !== 'POST') throw new MethodNotAllowedError(['POST']);
    cors.request = readOrigin(request);
    const params = parseForm(request.headers['content-type'], request.body);
    const grantType = params.get('grant_type');
    if (grantType === undefined) {
      readClientCredentials(request.headers.authorization, params);
      throw new InvalidRequestError('grant_type is required');
    }
    const context = {
      requestId: request.requestId,
      sourceIp: request.sourceIp,
      endUserIp: request.headers[END_USER_IP_HEADER],
    };
    const grant = grantFor(grantType);
    const prefetched = grant?.prefetch?.(params, deps, context) ?? Promise.resolve(undefined);
    // Every grant signs: the signer's reads (if its cache needs them) overlap the lookups.
    if (grant !== undefined) deps.signer.prepare();
    const client = await authenticateRequestClient(request, params, deps, cors);
    if (grant === undefined) throw new UnsupportedGrantTypeError(UNSUPPORTED_GRANT_DESCRIPTION);
    if (!clientMayUse(client, grant) || (grant.confidentialOnly === true && client.isPublic)) {
      throw new UnauthorizedClientError(`this client may not use the ${grant.type} grant`);
    }
    const missing = grant.parameters.filter((name) => params.get(name) === undefined);
    if (missing.length > 0)
      throw new InvalidRequestError(
        `${listed(grant.parameters)} ${grant.parameters.length > 1 ? 'are' : 'is'} required`,
      );
    const tokens = await grant.issue(client, params, prefetched, deps, context);
    return withCors(tokenResponse(tokens), cors);
  } catch (error) {
    return withCors(errorResponse(error, deps.logger, request.requestId), cors);
  }
}

function listed(names: readonly string[]): string {
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

/**
 * Client authentication as the token and revocation endpoints share it (RFC 6749 §2.3, RFC 7009 §2.1):
 * read the credentials, look the client up, check them; every failure is logged and is invalid_client.
 * An id that breaks the client-id rule (./client-id.ts) names no client: it is not looked up, and it fails
 * as an unknown client does. The client found goes into `cors` whether or not it authenticates: a browser
 * app at an origin it lists may read why it was refused (the same invalid_client whatever the reason).
 */
export async function authenticateRequestClient(
  request: HttpRequest,
  params: ReadonlyMap<string, string>,
  deps: TokenEndpointDeps,
  cors: CorsState = {},
): Promise<Client> {
  const credentials = readClientCredentials(request.headers.authorization, params);
  const client = isClientId(credentials.clientId) ? await deps.clients.getClient(credentials.clientId) : undefined;
  cors.client = client;
  try {
    return authenticateClient(credentials, client);
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error;
    throw error.audited('client_authentication_failed', {
      clientId: client?.clientId,
      method: credentials.method,
      reason: client === undefined ? 'unknown_client' : client.disabled ? 'disabled_client' : 'bad_credentials',
    });
  }
}
