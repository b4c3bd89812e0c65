import { InvalidRequestError } from './errors';

/** Token and revocation requests are small; anything larger is not a legitimate client. */
export const MAX_FORM_BYTES = 16 * 1024;

// ignoreBOM: a leading U+FEFF is part of the value, not a byte-order mark to strip.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Parses an `application/x-www-form-urlencoded` body (RFC 6749 §3.2, §4.3.2, WHATWG URL form encoding).
 * Strict where OAuth requires it: a repeated parameter (§3.1), malformed percent-encoding or invalid UTF-8
 * is an invalid_request. Parameters without a value count as absent (§3.1), but they are still occurrences
 * of their name: `username=&username=demo` repeats username, whatever the values.
 * Pairs without a name (`=x`, `&&`) name no parameter and are skipped.
 */
export function parseForm(contentType: string | undefined, body: Uint8Array): Map<string, string> {
  assertFormContentType(contentType);
  if (body.length > MAX_FORM_BYTES) {
    throw new InvalidRequestError('request body too large');
  }
  const params = new Map<string, string>();
  // Every name that occurred, with a value or not: the repetition check must see the empty ones too.
  const seen = new Set<string>();
  for (const pair of splitBytes(body, 0x26 /* & */)) {
    if (pair.length === 0) continue;
    const eq = pair.indexOf(0x3d /* = */);
    const name = decodeComponent(eq === -1 ? pair : pair.subarray(0, eq));
    const value = eq === -1 ? '' : decodeComponent(pair.subarray(eq + 1));
    if (name === '') continue;
    if (seen.has(name)) {
      throw new InvalidRequestError(`parameter ${safeName(name)} is repeated`);
    }
    seen.add(name);
    if (value !== '') params.set(name, value);
  }
  return params;
}

function assertFormContentType(contentType: string | undefined): void {
  if (contentType === undefined) {
    throw new InvalidRequestError('content type must be application/x-www-form-urlencoded');
  }
  const [mediaType = '', ...parameters] = contentType.split(';');
  if (mediaType.trim().toLowerCase() !== 'application/x-www-form-urlencoded') {
    throw new InvalidRequestError('content type must be application/x-www-form-urlencoded');
  }
  for (const parameter of parameters) {
    const eq = parameter.indexOf('=');
    if (eq === -1) continue;
    const key = parameter.slice(0, eq).trim().toLowerCase();
    const value = parameter
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    if (key === 'charset' && value !== 'utf-8' && value !== 'utf8') {
      throw new InvalidRequestError('only the UTF-8 charset is supported');
    }
  }
}

/** Decodes one name or value: '+' is a space, %XX a byte, and the bytes must be UTF-8. */
export function decodeComponent(bytes: Uint8Array): string {
  const out = new Uint8Array(bytes.length);
  let length = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (byte === 0x2b /* + */) {
      out[length++] = 0x20;
    } else if (byte === 0x25 /* % */) {
      const high = hexValue(bytes[i + 1]);
      const low = hexValue(bytes[i + 2]);
      if (high === -1 || low === -1) {
        throw new InvalidRequestError('malformed percent-encoding');
      }
      out[length++] = high * 16 + low;
      i += 2;
    } else {
      out[length++] = byte;
    }
  }
  try {
    return utf8.decode(out.subarray(0, length));
  } catch {
    throw new InvalidRequestError('parameters must be UTF-8');
  }
}

function hexValue(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  return -1;
}

function* splitBytes(bytes: Uint8Array, separator: number): Generator<Uint8Array> {
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === separator) {
      yield bytes.subarray(start, i);
      start = i + 1;
    }
  }
}

/** Parameter names are echoed in error descriptions only when they are short and plain. */
function safeName(name: string): string {
  return /^[A-Za-z0-9_.-]{1,40}$/.test(name) ? name : 'a parameter';
}
