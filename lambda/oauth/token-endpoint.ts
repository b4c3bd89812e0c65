import { authenticateClient, readClientCredentials } from './client-auth';
import { InvalidRequestError, MethodNotAllowedError, UnauthorizedClientError, UnsupportedGrantTypeError } from './errors';
import { parseForm } from './form';
import type { HttpRequest, HttpResponse } from './http';
import type { GrantType } from './ports';
import { errorResponse, tokenResponse } from './responses';
import { started, type Grant, type TokenEndpointDeps } from './grants/grant';
import { passwordGrant } from './grants/password';
import { refreshTokenGrant } from './grants/refresh-token';

const GRANTS: ReadonlyMap<string, Grant<unknown>> = new Map<GrantType, Grant<unknown>>([
  ['password', passwordGrant],
  ['refresh_token', refreshTokenGrant],
]);

/**
 * POST /token as a chain of small steps: method → form → client credentials → grant_type → (client
 * lookup ∥ the grant's own reads) → client authentication → grant supported → grant allowed for the
 * client → the grant. Every outcome is rendered by tokenResponse or errorResponse.
 */
export async function handleTokenRequest(request: HttpRequest, deps: TokenEndpointDeps): Promise<HttpResponse> {
  try {
    if (request.method !== 'POST') throw new MethodNotAllowedError(['POST']);
    const params = parseForm(request.headers['content-type'], request.body);
    const credentials = readClientCredentials(request.headers.authorization, params);
    const grantType = params.get('grant_type');
    if (grantType === undefined) throw new InvalidRequestError('grant_type is required');

    const grant = GRANTS.get(grantType);
    const clientLookup = started(deps.clients.getClient(credentials.clientId));
    const prefetched = grant?.prefetch(params, deps);

    const client = authenticateClientLogged(credentials, await clientLookup, deps, request.requestId);
    if (grant === undefined || prefetched === undefined) {
      throw new UnsupportedGrantTypeError('grant_type must be password or refresh_token');
    }
    if (!client.grantTypes.includes(grantType as GrantType)) {
      throw new UnauthorizedClientError(`this client may not use the ${grantType} grant`);
    }
    const tokens = await grant.issue(client, params, prefetched, deps, {
      requestId: request.requestId,
      sourceIp: request.sourceIp,
    });
    return tokenResponse(tokens);
  } catch (error) {
    return errorResponse(error, deps.logger, request.requestId);
  }
}

function authenticateClientLogged(
  credentials: Parameters<typeof authenticateClient>[0],
  client: Parameters<typeof authenticateClient>[1],
  deps: TokenEndpointDeps,
  requestId: string,
) {
  try {
    return authenticateClient(credentials, client);
  } catch (error) {
    deps.logger.info('client_authentication_failed', {
      requestId,
      clientId: client === undefined ? undefined : client.clientId,
      method: credentials.method,
      reason: client === undefined ? 'unknown_client' : client.disabled ? 'disabled_client' : 'bad_credentials',
    });
    throw error;
  }
}
