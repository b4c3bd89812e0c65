import { ENDPOINT_PATHS } from '../oauth/metadata';

export type HandlerName = 'token' | 'jwks' | 'metadata';

export interface Route {
  readonly path: string;
  /** The methods the endpoint serves; the function answers every other method itself (405 with Allow). */
  readonly methods: readonly string[];
  readonly handler: HandlerName;
}

/** The route table, once: the CDK REST API and the local API Gateway emulation are both built from it. */
export const ROUTES: readonly Route[] = [
  { path: ENDPOINT_PATHS.token, methods: ['POST'], handler: 'token' },
  // Revocation shares the token function: same stores, same client authentication, same permissions.
  { path: ENDPOINT_PATHS.revocation, methods: ['POST'], handler: 'token' },
  { path: ENDPOINT_PATHS.jwks, methods: ['GET'], handler: 'jwks' },
  { path: ENDPOINT_PATHS.metadata, methods: ['GET'], handler: 'metadata' },
];
