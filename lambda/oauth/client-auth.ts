import { verifyClientSecret } from './client-secret';
import { InvalidClientError, InvalidRequestError } from './errors';
import { decodeComponent } from './form';
import type { Client } from './ports';

/** How the client presented itself (RFC 6749 §2.3; RFC 8414 token_endpoint_auth_methods_supported). */
export type ClientCredentials =
  | { readonly method: 'client_secret_basic'; readonly clientId: string; readonly secret: string }
  | { readonly method: 'client_secret_post'; readonly clientId: string; readonly secret: string }
  | { readonly method: 'none'; readonly clientId: string };

export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const;

/**
 * Extracts the client's credentials from the Authorization header and the form, without I/O, so that
 * the client lookup can start in parallel with the grant's own lookups.
 */
export function readClientCredentials(
  authorization: string | undefined,
  params: ReadonlyMap<string, string>,
): ClientCredentials {
  const formId = params.get('client_id');
  const formSecret = params.get('client_secret');
  if (authorization !== undefined) {
    const basic = parseBasic(authorization);
    if (formSecret !== undefined) {
      throw new InvalidRequestError('use only one client authentication method');
    }
    if (formId !== undefined && formId !== basic.clientId) {
      throw new InvalidRequestError('client_id does not match the Authorization header');
    }
    return { method: 'client_secret_basic', ...basic };
  }
  if (formId === undefined) {
    throw new InvalidClientError('client authentication is required');
  }
  if (formSecret !== undefined) {
    return { method: 'client_secret_post', clientId: formId, secret: formSecret };
  }
  return { method: 'none', clientId: formId };
}

/** §2.3.1: Basic credentials whose id and secret are each form-urlencoded before base64. */
function parseBasic(authorization: string): { clientId: string; secret: string } {
  const match = /^basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(authorization);
  if (match === null) {
    throw new InvalidClientError('unsupported or malformed Authorization header', true);
  }
  const decoded = Buffer.from(match[1]!, 'base64');
  const colon = decoded.indexOf(0x3a /* : */);
  if (colon === -1) {
    throw new InvalidClientError('malformed Basic credentials', true);
  }
  try {
    const clientId = decodeComponent(decoded.subarray(0, colon));
    const secret = decodeComponent(decoded.subarray(colon + 1));
    if (clientId === '' || secret === '') throw new InvalidClientError('malformed Basic credentials', true);
    return { clientId, secret };
  } catch (error) {
    if (error instanceof InvalidClientError) throw error;
    throw new InvalidClientError('malformed Basic credentials', true);
  }
}

/**
 * Checks the credentials against the registered client. Every failure is the same invalid_client, and
 * the secret comparison runs (against a dummy when there is nothing to compare) whatever failed first.
 */
export function authenticateClient(credentials: ClientCredentials, client: Client | undefined): Client {
  const usedBasic = credentials.method === 'client_secret_basic';
  const secretMatches =
    credentials.method === 'none' ? false : verifyClientSecret(credentials.secret, client?.secretHash);
  if (client === undefined || client.disabled) {
    throw new InvalidClientError('client authentication failed', usedBasic);
  }
  if (client.isPublic ? credentials.method !== 'none' : !secretMatches) {
    throw new InvalidClientError('client authentication failed', usedBasic);
  }
  return client;
}
