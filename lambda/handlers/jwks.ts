import { createHash } from 'node:crypto';
import { JWKS_MAX_AGE_SECONDS } from '../../contract/routes';
import type { LambdaLogger } from '../adapters/logger';
import { configFromEnv } from '../config';
import { MethodNotAllowedError } from '../oauth/errors';
import type { HttpRequest, HttpResponse } from '../oauth/http';
import type { Logger } from '../oauth/ports';
import { errorResponse } from '../oauth/responses';
import type { PublicJwk } from '../tokens/jwk';
import { fromProxyEvent, toProxyResult } from './apigw';
import { createLogger, createSigner } from './runtime';
import type { LambdaProxyHandler, ProxyHandler } from './token';

export interface JwksSource {
  publicJwks(): Promise<PublicJwk[]>;
}

/** GET /.well-known/jwks.json (RFC 7517 §5), with an ETag so caches can revalidate cheaply. */
export async function handleJwksRequest(
  request: HttpRequest,
  source: JwksSource,
  logger: Logger,
): Promise<HttpResponse> {
  try {
    if (request.method !== 'GET' && request.method !== 'HEAD') throw new MethodNotAllowedError(['GET']);
    const body = JSON.stringify({ keys: await source.publicJwks() });
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    const headers = {
      'Content-Type': 'application/jwk-set+json',
      'Cache-Control': `public, max-age=${JWKS_MAX_AGE_SECONDS}`,
      ETag: etag,
    };
    if (request.headers['if-none-match']?.split(',').some((tag) => tag.trim() === etag)) {
      return { status: 304, headers, body: '' };
    }
    return { status: 200, headers, body: request.method === 'HEAD' ? '' : body };
  } catch (error) {
    return errorResponse(error, logger, request.requestId);
  }
}

export function createJwksHandler(source: JwksSource, logger: Logger): ProxyHandler {
  return async (event) => toProxyResult(await handleJwksRequest(fromProxyEvent(event), source, logger));
}

let logger: LambdaLogger | undefined;
let instance: ProxyHandler | undefined;

export const handler: LambdaProxyHandler = (event, context) => {
  logger ??= createLogger();
  logger.addContext(context);
  instance ??= createJwksHandler(createSigner(configFromEnv(process.env), { logger }), logger);
  return instance(event);
};
