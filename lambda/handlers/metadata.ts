import { METADATA_MAX_AGE_SECONDS } from '../../contract/routes';
import { type LambdaLogger, serviceLogger } from '../adapters/logger';
import { configFromEnv } from '../config';
import type { OAuthSettings } from '../oauth/config';
import { MethodNotAllowedError } from '../oauth/errors';
import { type HttpRequest, type HttpResponse, jsonResponse } from '../oauth/http';
import { authorizationServerMetadata } from '../oauth/metadata';
import type { Logger } from '../oauth/ports';
import { errorResponse } from '../oauth/responses';
import { fromProxyEvent, toProxyResult } from './apigw';
import type { LambdaProxyHandler, ProxyHandler } from './token';

/** GET /.well-known/oauth-authorization-server (RFC 8414 §3). */
export function handleMetadataRequest(request: HttpRequest, settings: OAuthSettings, logger: Logger): HttpResponse {
  try {
    if (request.method !== 'GET' && request.method !== 'HEAD') throw new MethodNotAllowedError(['GET']);
    const response = jsonResponse(200, authorizationServerMetadata(settings), {
      'Cache-Control': `public, max-age=${METADATA_MAX_AGE_SECONDS}`,
    });
    return request.method === 'HEAD' ? { ...response, body: '' } : response;
  } catch (error) {
    return errorResponse(error, logger, request.requestId);
  }
}

export function createMetadataHandler(settings: OAuthSettings, logger: Logger): ProxyHandler {
  return async (event) => toProxyResult(handleMetadataRequest(fromProxyEvent(event), settings, logger));
}

let logger: LambdaLogger | undefined;
let instance: ProxyHandler | undefined;

export const handler: LambdaProxyHandler = (event, context) => {
  logger ??= serviceLogger();
  logger.addContext(context);
  instance ??= createMetadataHandler(configFromEnv(process.env), logger);
  return instance(event);
};
