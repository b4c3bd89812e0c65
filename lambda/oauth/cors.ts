/**
 * CORS (the Fetch standard's CORS protocol) at the token and revocation endpoints, so that a browser app
 * (a public client) can read their answers. As in node-oidc-provider (its `clientBasedCORS`), what a page
 * may read depends on the client the request names: a response carries Access-Control-Allow-Origin only
 * when the request's Origin is one of that client's allowedOrigins, echoed; never "*". A preflight names no
 * client (browsers send it without credentials or body), so it is answered for every origin a client could
 * list: it only lets the browser send the request, and a page can send these POSTs without one anyway (a
 * form-encoded POST without an Authorization header is a CORS "simple" request). What protects the
 * responses is the actual response's header, checked against the client.
 *
 * No Access-Control-Allow-Credentials: the endpoints use no cookies or other ambient credentials; the
 * client's credentials travel in the request itself.
 */
import { MethodNotAllowedError } from './errors';
import type { HttpRequest, HttpResponse } from './http';
import { normalizeOrigin } from './origin';
import type { Client } from './ports';

/** How long a browser may reuse a preflight's answer (it depends on nothing that changes). */
export const PREFLIGHT_MAX_AGE_SECONDS = 600;

/**
 * What the CORS headers of one response depend on, filled in as the request is handled: its Origin once
 * read (readOrigin), and the client it names once looked up.
 */
export interface CorsState {
  request?: RequestOrigin;
  client?: Pick<Client, 'allowedOrigins'>;
}

export interface RequestOrigin {
  /** The Origin header in its serialization; undefined when it is not an origin a client could list. */
  readonly origin: string | undefined;
}

/**
 * The request's Origin; undefined when it has none. Reading a repeated Origin throws invalid_request
 * (HttpRequest.headers), so call it inside the endpoint's try.
 */
export function readOrigin(request: HttpRequest): RequestOrigin | undefined {
  const value = request.headers.origin;
  return value === undefined ? undefined : { origin: normalizeOrigin(value) };
}

/**
 * The response with the CORS headers the state calls for: Access-Control-Allow-Origin (and the headers a
 * page may read besides the safelisted ones) when the request's origin is one the client lists. Every
 * response to a request with an Origin says that it varies with it, so that no cache hands one origin's
 * answer to another.
 */
export function withCors(response: HttpResponse, state: CorsState): HttpResponse {
  if (state.request === undefined) return response;
  const headers: Record<string, string> = { ...response.headers, Vary: 'Origin' };
  const { origin } = state.request;
  if (origin !== undefined && state.client?.allowedOrigins?.includes(origin) === true) {
    headers['Access-Control-Allow-Origin'] = origin;
    // A 401's challenge (Basic) and a 503's Retry-After; the other response headers are CORS-safelisted.
    headers['Access-Control-Expose-Headers'] = 'WWW-Authenticate, Retry-After';
  }
  return { ...response, headers };
}

/**
 * OPTIONS: a CORS preflight for a POST, from an origin a client could list, is answered 204 with what the
 * endpoints accept (POST; Authorization and Content-Type). Any other OPTIONS request is refused as any
 * method but POST is (405, Allow: POST). Throws invalid_request on a repeated Origin or
 * Access-Control-Request-Method.
 */
export function preflightResponse(request: HttpRequest): HttpResponse {
  const origin = readOrigin(request)?.origin;
  const method = request.headers['access-control-request-method'];
  if (origin === undefined || method !== 'POST') throw new MethodNotAllowedError(['POST']);
  return {
    status: 204,
    headers: {
      'Access-Control-Allow-Origin': origin,
      'Access-Control-Allow-Methods': 'POST',
      'Access-Control-Allow-Headers': 'Authorization, Content-Type',
      'Access-Control-Max-Age': String(PREFLIGHT_MAX_AGE_SECONDS),
      Vary: 'Origin',
    },
    body: '',
  };
}
