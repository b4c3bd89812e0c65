import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { InvalidRequestError } from '../oauth/errors';
import type { HttpRequest, HttpResponse } from '../oauth/http';

/** An API Gateway REST API proxy event as the core's HttpRequest. */
export function fromProxyEvent(event: APIGatewayProxyEvent): HttpRequest {
  const body = event.body ?? '';
  return {
    method: event.httpMethod.toUpperCase(),
    // The resource is the route as declared (no stage or custom-domain base path in it).
    path: event.resource ?? event.path,
    headers: headerMap(event),
    body: event.isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8'),
    sourceIp: event.requestContext?.identity?.sourceIp ?? '',
    requestId: event.requestContext?.requestId ?? '',
  };
}

/**
 * Fields defined as comma-separated lists (RFC 9110 §5.3, §5.6.1): several lines of one are one value,
 * joined with ", ". Only these may be repeated.
 */
const LIST_FIELDS = new Set([
  'accept',
  'accept-charset',
  'accept-encoding',
  'accept-language',
  'cache-control',
  'forwarded',
  'if-match',
  'if-none-match',
  'pragma',
  'via',
  'x-forwarded-for',
]);

/**
 * The event's headers by lower-case name. Any other field that arrived more than once, as several lines
 * of one spelling (multiValueHeaders lists each) or in spellings that differ only in case (separate keys
 * of `headers` and `multiValueHeaders`; field names are case-insensitive), has no single value: a sender
 * must not repeat it (RFC 9110 §5.3), and whichever value one component picked, another (a WAF rule, a
 * proxy) may have judged the other. Reading such a header throws invalid_request, so every endpoint that
 * uses it refuses the request. It is not enumerable: listing or spreading the map
 * never throws, and never shows it.
 */
function headerMap(event: APIGatewayProxyEvent): Readonly<Record<string, string>> {
  // Prototype-free: a header named "constructor" or "__proto__" is just a name.
  const values: Record<string, string[]> = Object.create(null);
  for (const [name, lines] of Object.entries(event.multiValueHeaders ?? {})) {
    if (lines !== undefined && lines.length > 0) (values[name.toLowerCase()] ??= []).push(...lines);
  }
  // `headers` holds one value a spelling (the last line); it adds names a test or an older event
  // lists only there, and catches two spellings of one name even when multiValueHeaders is missing.
  const single: Record<string, string[]> = Object.create(null);
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value !== undefined) (single[name.toLowerCase()] ??= []).push(value);
  }
  for (const [key, lines] of Object.entries(single)) {
    // In a consistent event multiValueHeaders has at least one line a spelling of `headers`.
    if ((values[key]?.length ?? 0) < lines.length) values[key] = lines;
  }
  const headers: Record<string, string> = Object.create(null);
  for (const [key, lines] of Object.entries(values)) {
    if (lines.length === 1 || LIST_FIELDS.has(key)) {
      headers[key] = lines.join(', ');
    } else {
      Object.defineProperty(headers, key, {
        enumerable: false,
        get: () => {
          throw new InvalidRequestError(`header ${safeHeaderName(key)} is repeated`);
        },
      });
    }
  }
  return Object.freeze(headers);
}

/** Header names are echoed in error descriptions only when they are short and plain. */
function safeHeaderName(name: string): string {
  return /^[a-z0-9-]{1,40}$/.test(name) ? name : 'a header';
}

export function toProxyResult(response: HttpResponse): APIGatewayProxyResult {
  return { statusCode: response.status, headers: response.headers, body: response.body, isBase64Encoded: false };
}
