import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { ENDPOINT_PATHS } from '../../contract/routes';
import { configFromEnv } from '../config';
import type { TokenEndpointDeps } from '../oauth/grants/grant';
import { handleRevocationRequest } from '../oauth/revocation-endpoint';
import { handleTokenRequest } from '../oauth/token-endpoint';
import { fromProxyEvent, toProxyResult } from './apigw';
import { createTokenEndpointDeps } from './runtime';

export type ProxyHandler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;
/** What Lambda calls: the proxy event and the invocation's context (its request id goes on every log line). */
export type LambdaProxyHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** POST /token and POST /revoke. */
export function createTokenHandler(deps: TokenEndpointDeps): ProxyHandler {
  // The lockout counts the client's address: behind trusted proxies, the one X-Forwarded-For names (./apigw.ts).
  const trustedProxyHops = deps.settings.trustedProxyHops ?? 0;
  return async (event) => {
    const request = fromProxyEvent(event, {
      trustedProxyHops,
      onUnusableForwardedFor: (reason) =>
        deps.logger.warn('forwarded_for_unusable', {
          requestId: event.requestContext?.requestId,
          reason,
          trustedProxyHops,
        }),
    });
    const handle = request.path === ENDPOINT_PATHS.revocation ? handleRevocationRequest : handleTokenRequest;
    return toProxyResult(await handle(request, deps));
  };
}

let deps: ReturnType<typeof createTokenEndpointDeps> | undefined;

/** The Lambda entry point: configuration is read and validated once, at the first invocation. */
export const handler: LambdaProxyHandler = (event, context) => {
  deps ??= createTokenEndpointDeps(configFromEnv(process.env));
  deps.logger.addContext(context);
  return createTokenHandler(deps)(event);
};
