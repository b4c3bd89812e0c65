/** Checks of operator input; each throws UsageError with a message that names the offending argument. */
import { isRefreshGraceSeconds, REFRESH_GRACE_SECONDS_RANGE } from '../../contract/settings';
import { InvalidScopeError } from '../../lambda/oauth/errors';
import { GRANT_TYPES, type GrantType } from '../../lambda/oauth/grants';
import { parseScope } from '../../lambda/oauth/scope';
import { UsageError } from './errors';

/** Printable and URL-safe (RFC 3986 unreserved characters), so it survives Basic auth and form encoding unchanged. */
const CLIENT_ID = /^[A-Za-z0-9._~-]{1,128}$/;
const MAX_USERNAME_LENGTH = 256;
/** Longest audience accepted (a URI, typically). */
const MAX_AUDIENCE_LENGTH = 1024;
/** DynamoDB partition keys hold at most 2048 bytes; the stores refuse keys above 1024. */
const MAX_KEY_BYTES = 1024;
const CONTROL = /\p{Cc}/u;

export function validateNewClientId(id: string): string {
  if (!CLIENT_ID.test(id)) {
    throw new UsageError(`invalid client ID "${printable(id)}": use 1 to 128 characters of A-Z a-z 0-9 . _ ~ -`);
  }
  return id;
}

/**
 * Usernames are kept exactly as given (no case folding, no normalization): 1 to 256 characters, no control
 * characters, no leading or trailing whitespace.
 */
export function validateNewUsername(name: string): string {
  const length = [...name].length;
  if (length === 0 || length > MAX_USERNAME_LENGTH) {
    throw new UsageError(`invalid user NAME: use 1 to ${MAX_USERNAME_LENGTH} characters (got ${length})`);
  }
  if (CONTROL.test(name))
    throw new UsageError(`invalid user NAME "${printable(name)}": it contains control characters`);
  if (name.trim() !== name)
    throw new UsageError(`invalid user NAME "${printable(name)}": it starts or ends with whitespace`);
  return name;
}

/** For commands on an existing item: anything that can be a key (it may predate today's rules). */
export function validateExistingKey(what: 'client ID' | 'user NAME', value: string): string {
  if (value === '' || Buffer.byteLength(value, 'utf8') > MAX_KEY_BYTES || CONTROL.test(value)) {
    throw new UsageError(`invalid ${what} "${printable(value)}"`);
  }
  return value;
}

/** `--scopes "a b"`: space-separated RFC 6749 §3.3 scope tokens, duplicates dropped; empty means none. */
export function parseScopesOption(value: string | undefined): string[] {
  try {
    return parseScope(value) ?? [];
  } catch (error) {
    if (error instanceof InvalidScopeError) {
      throw new UsageError(
        `invalid --scopes "${printable(value ?? '')}": scopes are separated by spaces and each uses printable ASCII except " and \\`,
      );
    }
    throw error;
  }
}

export const DEFAULT_GRANT_TYPES: readonly GrantType[] = ['password', 'refresh_token'];

/** `--grant-types password,refresh_token`: a comma-separated subset of GRANT_TYPES. */
export function parseGrantTypesOption(value: string | undefined): GrantType[] {
  if (value === undefined) return [...DEFAULT_GRANT_TYPES];
  const entries = value.split(',').map((entry) => entry.trim());
  if (entries.some((entry) => entry === '')) {
    throw new UsageError(
      `invalid --grant-types "${printable(value)}": give a comma-separated list of ${GRANT_TYPES.join(', ')}`,
    );
  }
  for (const entry of entries) {
    if (!GRANT_TYPES.includes(entry as GrantType)) {
      throw new UsageError(
        `unsupported grant type "${printable(entry)}" in --grant-types (supported: ${GRANT_TYPES.join(', ')})`,
      );
    }
  }
  return [...new Set(entries as GrantType[])];
}

/** `--audience A`: the access tokens' `aud`, a non-empty string without whitespace or control characters. */
export function parseAudienceOption(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value === '' || value.length > MAX_AUDIENCE_LENGTH || /[\s\p{Cc}]/u.test(value)) {
    throw new UsageError(
      `invalid --audience "${printable(value)}": use 1 to ${MAX_AUDIENCE_LENGTH} characters without whitespace`,
    );
  }
  return value;
}

/**
 * `--refresh-grace SECONDS`: the client's own refresh-token grace, a whole number of seconds from 0 to 60
 * (0 is strict one-time use); absent means the stack's.
 */
export function parseRefreshGraceOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
  if (!isRefreshGraceSeconds(seconds)) {
    const { min, max } = REFRESH_GRACE_SECONDS_RANGE;
    throw new UsageError(
      `invalid --refresh-grace "${printable(value)}": use a whole number of seconds from ${min} to ${max} (${min} = strict one-time use)`,
    );
  }
  return seconds;
}

/** Shows a value in a message without letting control characters reach the terminal, cut short if long. */
export function printable(value: string): string {
  const escaped = JSON.stringify(value).slice(1, -1);
  return escaped.length > 80 ? `${escaped.slice(0, 77)}...` : escaped;
}
