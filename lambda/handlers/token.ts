import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { configFromEnv } from '../config';
import type { TokenEndpointDeps } from '../oauth/grants/grant';
import { ENDPOINT_PATHS } from '../../contract/routes';
import { handleRevocationRequest } from '../oauth/revocation-endpoint';
import { handleTokenRequest } from '../oauth/token-endpoint';
import { fromProxyEvent, toProxyResult } from './apigw';
import { createTokenEndpointDeps } from './runtime';

export type ProxyHandler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

/** POST /token and POST /revoke. */
export function createTokenHandler(deps: TokenEndpointDeps): ProxyHandler {
  return async (event) => {
    const request = fromProxyEvent(event);
    const handle = request.path === ENDPOINT_PATHS.revocation ? handleRevocationRequest : handleTokenRequest;
    return toProxyResult(await handle(request, deps));
  };
}

let deps: TokenEndpointDeps | undefined;

/** The Lambda entry point: configuration is read and validated once, at the first invocation. */
export const handler: ProxyHandler = (event) => {
  deps ??= createTokenEndpointDeps(configFromEnv(process.env));
  return createTokenHandler(deps)(event);
};
