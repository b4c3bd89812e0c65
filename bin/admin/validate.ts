/** Checks of operator input; each throws UsageError with a message that names the offending argument. */
import { isRefreshGraceSeconds, REFRESH_GRACE_SECONDS_RANGE } from '../../contract/settings';
import { CLIENT_ID_RULE, isClientId } from '../../lambda/oauth/client-id';
import { InvalidScopeError } from '../../lambda/oauth/errors';
import { GRANT_TYPES, type GrantType } from '../../lambda/oauth/grants';
import { parseScope } from '../../lambda/oauth/scope';
import { prepareUsername } from '../../lambda/oauth/username';
import { UsageError } from './errors';

/** Longest audience accepted (a URI, typically). */
const MAX_AUDIENCE_LENGTH = 1024;
/** DynamoDB partition keys hold at most 2048 bytes; the stores refuse keys above 1024. */
const MAX_KEY_BYTES = 1024;
const CONTROL = /\p{Cc}/u;

/**
 * A client ID argument, for every clients command: the client-id rule (lambda/oauth/client-id.ts), since no
 * client can be registered with any other. The message says what is wrong and states the rule.
 */
export function validateClientId(id: string): string {
  if (isClientId(id)) return id;
  const outside = [...id].find((character) => !isClientId(character));
  const problem =
    id === ''
      ? 'it is empty'
      : outside !== undefined
        ? `it contains ${describeCharacter(outside)}`
        : `it is ${id.length} characters long`;
  throw new UsageError(`invalid client ID "${printable(id)}": ${problem}; a client ID is ${CLIENT_ID_RULE}`);
}

/** One character in a message: its code point, and the character itself when it is visible. */
function describeCharacter(character: string): string {
  const codePoint = `U+${character.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  return /[\p{Cc}\p{Cf}\p{Z}]/u.test(character) ? codePoint : `"${printable(character)}" (${codePoint})`;
}

/** A client ID in a message: quoted and escaped as a JSON string, in full when it is a valid ID. */
export function quotedClientId(id: string): string {
  return isClientId(id) ? JSON.stringify(id) : `"${printable(id)}"`;
}

/**
 * A client ID in a table cell: as it is when it is one word of visible characters, otherwise quoted as in
 * messages, so that a space in an ID never reads as a column break.
 */
export function clientIdCell(id: string): string {
  return /^[\x21-\x7e]+$/.test(id) && !id.startsWith('"') ? id : quotedClientId(id);
}

/**
 * A new user's NAME: stored in its prepared form (RFC 8265 UsernameCaseMapped, lambda/oauth/username.ts),
 * which is returned; a name the profile refuses is a usage error that names the problem.
 */
export function validateNewUsername(name: string): string {
  const prepared = prepareUsername(name);
  if (!prepared.ok) throw new UsageError(`invalid user NAME "${printable(name)}": ${prepared.problem}`);
  return prepared.username;
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

/**
 * `clients update --refresh-grace SECONDS|default`: a grace as at creation, or `default` (null), which
 * removes the client's own so that the stack's applies again; absent means no change.
 */
export function parseRefreshGraceChange(value: string | undefined): number | null | undefined {
  if (value === 'default') return null;
  try {
    return parseRefreshGraceOption(value);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    throw new UsageError(error.message.replace(/\)$/, ", or default for the stack's)"));
  }
}

/**
 * A username in a table cell: as it is (escaped) when it has no whitespace, otherwise quoted, so that a
 * space in a name never reads as a column break.
 */
export function usernameCell(name: string): string {
  return /^[^\s"]\S*$/u.test(name) ? printable(name) : `"${printable(name)}"`;
}

/**
 * Shows a value in a message without letting control characters reach the terminal, cut short if long: JSON
 * string escapes, and \uXXXX for the controls JSON leaves alone (DEL, C1) and for format characters (such
 * as bidirectional overrides) and line or paragraph separators.
 */
export function printable(value: string): string {
  const escaped = JSON.stringify(value)
    .slice(1, -1)
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (character) => {
      let units = '';
      for (let i = 0; i < character.length; i++) units += `\\u${character.charCodeAt(i).toString(16).padStart(4, '0')}`;
      return units;
    });
  return escaped.length > 80 ? `${escaped.slice(0, 77)}...` : escaped;
}
