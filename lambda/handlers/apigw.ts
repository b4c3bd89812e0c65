import { isIP } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { InvalidRequestError } from '../oauth/errors';
import type { HttpRequest, HttpResponse } from '../oauth/http';

export interface ProxyEventOptions {
  /** Proxies in front of API Gateway that append to X-Forwarded-For (contract/settings.ts TRUSTED_PROXY_HOPS); 0 when absent. */
  readonly trustedProxyHops?: number;
  /** Told why X-Forwarded-For gave no client address, when it did not (sourceIp is used then). */
  readonly onUnusableForwardedFor?: (problem: ForwardedForProblem) => void;
}

/** An API Gateway REST API proxy event as the core's HttpRequest. */
export function fromProxyEvent(event: APIGatewayProxyEvent, options: ProxyEventOptions = {}): HttpRequest {
  const body = event.body ?? '';
  const client = clientAddress(event, options.trustedProxyHops ?? 0);
  if (client.problem !== undefined) options.onUnusableForwardedFor?.(client.problem);
  return {
    method: event.httpMethod.toUpperCase(),
    // The resource is the route as declared (no stage or custom-domain base path in it).
    path: event.resource ?? event.path,
    headers: headerMap(event),
    body: event.isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8'),
    sourceIp: client.address,
    requestId: event.requestContext?.requestId ?? '',
  };
}

/**
 * Why X-Forwarded-For could not name the client: absent; given in several spellings (whose order is
 * lost); holding fewer entries than the proxies append; an entry that is needed and is not an IP address;
 * or not ending with the address API Gateway appends (sourceIp), so not as API Gateway delivers it.
 */
export type ForwardedForProblem = 'missing' | 'repeated' | 'short' | 'malformed' | 'not_appended';

/**
 * The caller's address, as the lockout counts it. API Gateway's sourceIp is the address its TCP connection
 * came from, and API Gateway appends that same address to X-Forwarded-For (a regional REST API: what the
 * caller sent, then ", <sourceIp>"). Behind `hops` proxies that each append the address they were called
 * from (CloudFront, an ALB), sourceIp is the nearest proxy's; the client's is the entry `hops` places left
 * of API Gateway's own, the one the farthest proxy appended. Entries further left are whatever the client
 * sent, and are never read. With hops 0, or a header that does not hold what the proxies append, the answer
 * is sourceIp (with the problem, for the log).
 */
export function clientAddress(
  event: Pick<APIGatewayProxyEvent, 'headers' | 'multiValueHeaders' | 'requestContext'>,
  hops: number,
): { readonly address: string; readonly problem?: ForwardedForProblem } {
  const sourceIp = event.requestContext?.identity?.sourceIp ?? '';
  if (hops <= 0) return { address: sourceIp };
  const header = forwardedFor(event);
  if (typeof header !== 'string') return { address: sourceIp, problem: header.problem };
  const entries = header.split(',').map((entry) => entry.trim());
  if (entries.length < hops + 1) return { address: sourceIp, problem: 'short' };
  const appended = entries.slice(-(hops + 1)).map(ipAddress);
  if (appended.some((entry) => entry === undefined)) return { address: sourceIp, problem: 'malformed' };
  if (appended.at(-1) !== ipAddress(sourceIp)) return { address: sourceIp, problem: 'not_appended' };
  return { address: appended[0]! };
}

/** The X-Forwarded-For lines as one list, in order; several spellings of the name are refused (order unknown). */
function forwardedFor(
  event: Pick<APIGatewayProxyEvent, 'headers' | 'multiValueHeaders'>,
): string | { readonly problem: ForwardedForProblem } {
  const named = (map: Record<string, unknown> | null | undefined) =>
    Object.keys(map ?? {}).filter((name) => name.toLowerCase() === 'x-forwarded-for');
  const spellings = new Set([...named(event.multiValueHeaders), ...named(event.headers)]);
  if (spellings.size === 0) return { problem: 'missing' };
  if (spellings.size > 1) return { problem: 'repeated' };
  const [name] = spellings as Set<string>;
  const lines = event.multiValueHeaders?.[name!] ?? [];
  const value = lines.length > 0 ? lines.join(',') : event.headers?.[name!];
  return value === undefined || value.trim() === '' ? { problem: 'missing' } : value;
}

/** An IPv4 or IPv6 address (brackets allowed around IPv6), in one spelling so that two can be compared. */
function ipAddress(text: string): string | undefined {
  const bare = /^\[.*\]$/.test(text) ? text.slice(1, -1) : text;
  const version = isIP(bare);
  if (version === 4) return bare;
  // The WHATWG URL parser writes IPv6 hosts in RFC 5952 form.
  if (version === 6 && !bare.includes('%')) return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  return undefined;
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
