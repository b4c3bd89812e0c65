import { authenticateClient, readClientCredentials } from './client-auth';
import { InvalidRequestError, MethodNotAllowedError, UnauthorizedClientError, UnsupportedGrantTypeError } from './errors';
import { parseForm } from './form';
import type { HttpRequest, HttpResponse } from './http';
import type { Client, GrantType } from './ports';
import { errorResponse, tokenResponse } from './responses';
import type { Grant, TokenEndpointDeps } from './grants/grant';
import { passwordGrant } from './grants/password';
import { refreshTokenGrant } from './grants/refresh-token';

/** Where a trusted back-end client reports its end user's IP (see RequestContext.endUserIp). */
export const END_USER_IP_HEADER = 'x-end-user-ip';

const GRANTS: ReadonlyMap<string, Grant<unknown>> = new Map<GrantType, Grant<unknown>>([
  ['password', passwordGrant],
  ['refresh_token', refreshTokenGrant],
]);

/**
 * POST /token as a chain of small steps: method → form → grant_type present → (the grant's own reads ∥
 * client lookup ∥ the signer's key reads, when its cache needs them) → client authentication → grant
 * supported → grant allowed for the client → the grant.
 * Every outcome is rendered by tokenResponse or errorResponse.
 */
export async function handleTokenRequest(request: HttpRequest, deps: TokenEndpointDeps): Promise<HttpResponse> {
  try {
    if (request.method !== 'POST') throw new MethodNotAllowedError(['POST']);
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
    const grant = GRANTS.get(grantType);
    const prefetched = grant?.prefetch(params, deps, context);
    // Every grant signs: the signer's reads (if its cache needs them) overlap the lookups.
    if (grant !== undefined) deps.signer.prepare();
    const client = await authenticateRequestClient(request, params, deps);
    if (grant === undefined || prefetched === undefined) {
      throw new UnsupportedGrantTypeError('grant_type must be password or refresh_token');
    }
    if (!client.grantTypes.includes(grantType as GrantType)) {
      throw new UnauthorizedClientError(`this client may not use the ${grantType} grant`);
    }
    const tokens = await grant.issue(client, params, prefetched, deps, context);
    return tokenResponse(tokens);
  } catch (error) {
    return errorResponse(error, deps.logger, request.requestId);
  }
}

/**
 * Client authentication as the token and revocation endpoints share it (RFC 6749 §2.3, RFC 7009 §2.1):
 * read the credentials, look the client up, check them; every failure is logged and is invalid_client.
 */
export async function authenticateRequestClient(
  request: HttpRequest,
  params: ReadonlyMap<string, string>,
  deps: TokenEndpointDeps,
): Promise<Client> {
  const credentials = readClientCredentials(request.headers.authorization, params);
  const client = await deps.clients.getClient(credentials.clientId);
  try {
    return authenticateClient(credentials, client);
  } catch (error) {
    deps.logger.info('client_authentication_failed', {
      requestId: request.requestId,
      clientId: client?.clientId,
      method: credentials.method,
      reason: client === undefined ? 'unknown_client' : client.disabled ? 'disabled_client' : 'bad_credentials',
    });
    throw error;
  }
}
