/** Paths of the public endpoints, relative to the issuer (RFC 8414 metadata, the REST API, the local emulation). */
export const ENDPOINT_PATHS = {
  token: '/token',
  revocation: '/revoke',
  jwks: '/.well-known/jwks.json',
  metadata: '/.well-known/oauth-authorization-server',
} as const;

/** The functions that serve requests (the scheduled key rotation serves none). */
export type HandlerName = 'token' | 'jwks' | 'metadata';

export interface Route {
  readonly path: string;
  /**
   * The methods the endpoint serves; the function answers every other method itself (405 with Allow), and
   * the token function answers CORS preflights (OPTIONS) of /token and /revoke (lambda/oauth/cors.ts).
   */
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

/** Resource servers refetch the JWKS at least this often; far below any key-rotation propagation period. */
export const JWKS_MAX_AGE_SECONDS = 300;

/** The metadata document changes only with a deployment. */
export const METADATA_MAX_AGE_SECONDS = 3600;
