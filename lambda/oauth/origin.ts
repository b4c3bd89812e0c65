/**
 * What a browser origin a client may list is, everywhere one is made or met: registration
 * (lambda/accounts), the operator CLI, the client store and the CORS headers of the token and revocation
 * endpoints (./cors.ts). An origin is `scheme://host[:port]` (RFC 6454 §6.1, the WHATWG URL standard's
 * serialization, which is what browsers send in Origin): https, or http on a loopback host for development;
 * no user info, path (not even "/"), query or fragment. It is kept and compared in that serialization:
 * scheme and host lower case, an internationalized host in its punycode (A-label) form, no default port.
 */
export const MAX_ALLOWED_ORIGINS = 20;

/** Longest value looked at: a 253-character host with scheme and port fits with room to spare. */
const MAX_ORIGIN_LENGTH = 300;

/** The hosts on which plain http is accepted: a page served from the developer's own machine. */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The rule in words, for messages that refuse an origin. */
export const ORIGIN_RULE =
  'scheme://host[:port] with https (or http on localhost, 127.0.0.1 or [::1]), and no path, query or fragment, not even a trailing "/"';

/** Scheme "://" authority, nothing after it; the authority without user info. */
const SHAPE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#@\\]+)$/;

/** What the URL parser would silently drop (tabs, newlines, leading and trailing controls) or map. */
const INVISIBLE = /[\s\p{Cc}\p{Cf}\p{Z}]/u;

/** DNS labels (underscores too, as browsers accept them) or a dotted IPv4 address, as the URL parser leaves them. */
const DOMAIN = /^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*$/;
const IPV6 = /^\[[0-9a-f:.]+\]$/;

/** The origin in its serialization, or why the value is not one a client may list. */
export function parseOrigin(value: string): { origin: string } | { problem: string } {
  if (value.length === 0) return { problem: 'it is empty' };
  if (value.length > MAX_ORIGIN_LENGTH) return { problem: `it is longer than ${MAX_ORIGIN_LENGTH} characters` };
  if (INVISIBLE.test(value)) return { problem: 'it contains whitespace or a control or format character' };
  const shape = SHAPE.exec(value);
  if (shape === null) {
    return /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*[/?#]/.test(value)
      ? { problem: 'an origin has no path, query or fragment, not even a trailing "/"' }
      : { problem: 'it is not scheme://host[:port]' };
  }
  const scheme = shape[1]!.toLowerCase();
  if (scheme !== 'https' && scheme !== 'http') return { problem: `the scheme is ${scheme}, not https` };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { problem: 'its host or port is malformed' };
  }
  if (!DOMAIN.test(url.hostname) && !IPV6.test(url.hostname))
    return { problem: 'its host is not a domain name or an IP address' };
  if (scheme === 'http' && !LOOPBACK_HOSTS.has(url.hostname)) {
    return { problem: 'plain http is only for localhost, 127.0.0.1 and [::1]: use https' };
  }
  const origin = url.origin;
  if (origin === 'null' || origin.length > MAX_ORIGIN_LENGTH) return { problem: 'it is not scheme://host[:port]' };
  return { origin };
}

/** The origin in its serialization, or undefined when the value is not one a client may list. */
export function normalizeOrigin(value: string): string | undefined {
  const parsed = parseOrigin(value);
  return 'origin' in parsed ? parsed.origin : undefined;
}
