/** The protocol core's view of HTTP: what a handler adapter parses an event into and renders back. */
export interface HttpRequest {
  readonly method: string;
  readonly path: string;
  /**
   * Header names in lower case. A header that arrived more than once (repeated, or spelled in several
   * cases) has no value: reading it throws InvalidRequestError (400 invalid_request), and it is not listed.
   */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  readonly sourceIp: string;
  readonly requestId: string;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** RFC 6749 §5.1: responses that carry tokens or errors must never be cached. */
export const NO_STORE_HEADERS: Readonly<Record<string, string>> = {
  'Cache-Control': 'no-store',
  Pragma: 'no-cache',
};

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return {
    status,
    headers: { 'Content-Type': 'application/json;charset=UTF-8', ...headers },
    body: JSON.stringify(body),
  };
}
