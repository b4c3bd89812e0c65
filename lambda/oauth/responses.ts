import { DependencyUnavailableError, OAuthError, ServerError, TemporarilyUnavailableError } from './errors';
import type { IssuedTokens } from './grants/grant';
import { type HttpResponse, jsonResponse, NO_STORE_HEADERS } from './http';
import type { Logger } from './ports';

/** RFC 6749 §5.1. */
export function tokenResponse(tokens: IssuedTokens): HttpResponse {
  return jsonResponse(
    200,
    {
      access_token: tokens.accessToken,
      token_type: 'Bearer',
      expires_in: tokens.expiresIn,
      ...(tokens.refreshToken === undefined ? {} : { refresh_token: tokens.refreshToken }),
      scope: tokens.scope,
    },
    { ...NO_STORE_HEADERS },
  );
}

/**
 * The one place a failure becomes a response: OAuth errors as §5.2 bodies, unreachable dependencies as
 * 503 with Retry-After, anything else as a bare 500 (the detail goes to the log, never to the client).
 */
export function errorResponse(error: unknown, logger: Logger, requestId: string): HttpResponse {
  let oauthError: OAuthError;
  if (error instanceof OAuthError) {
    oauthError = error;
    if (error.audit !== undefined) logger[error.audit.level](error.audit.event, { requestId, ...error.audit.fields });
  } else if (error instanceof DependencyUnavailableError) {
    logger.warn('dependency_unavailable', { requestId, dependency: error.dependency, cause: describe(error.cause) });
    oauthError = new TemporarilyUnavailableError();
  } else {
    logger.error('unexpected_error', { requestId, error: describe(error) });
    oauthError = new ServerError();
  }
  return jsonResponse(
    oauthError.status,
    {
      error: oauthError.code,
      ...(oauthError.description === undefined ? {} : { error_description: oauthError.description }),
      ...oauthError.parameters,
    },
    { ...NO_STORE_HEADERS, ...oauthError.headers },
  );
}

/** Error names and messages only: never request data. */
function describe(error: unknown): Record<string, string> | string {
  if (error instanceof Error) {
    return {
      name: error.name,
      message: error.message,
      ...(error.stack ? { stack: error.stack.split('\n').slice(0, 6).join('\n') } : {}),
    };
  }
  return typeof error;
}
