import { ENDPOINT_PATHS } from '../../contract/routes';
import { CLIENT_AUTH_METHODS } from './client-auth';
import type { OAuthSettings } from './config';
import { SUPPORTED_GRANT_TYPES } from './grants';

/** RFC 8414 §2 authorization server metadata. */
export function authorizationServerMetadata(settings: OAuthSettings): Record<string, unknown> {
  const base = settings.issuer.replace(/\/+$/, '');
  return {
    issuer: settings.issuer,
    token_endpoint: base + ENDPOINT_PATHS.token,
    jwks_uri: base + ENDPOINT_PATHS.jwks,
    revocation_endpoint: base + ENDPOINT_PATHS.revocation,
    grant_types_supported: [...SUPPORTED_GRANT_TYPES],
    // No authorization endpoint: this server issues tokens only through the token endpoint.
    response_types_supported: [],
    token_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
    revocation_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
    scopes_supported: [...settings.scopesSupported],
  };
}
