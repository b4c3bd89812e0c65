import { InvalidScopeError } from './errors';

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** Parses a space-delimited scope parameter into distinct tokens, in the order given. */
export function parseScope(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const tokens = value.split(' ').filter((token) => token !== '');
  for (const token of tokens) {
    if (!SCOPE_TOKEN.test(token)) throw new InvalidScopeError('scope contains invalid characters');
  }
  return tokens.length === 0 ? undefined : [...new Set(tokens)];
}

export function formatScope(scope: readonly string[]): string {
  return scope.join(' ');
}

/**
 * Password grant (§3.3): the allowed set is what both the client and the user may have. A requested
 * scope that neither knows is invalid_scope; one only the client or only the user knows is left out.
 * No request means the whole allowed set.
 */
export function grantScope(
  requested: readonly string[] | undefined,
  clientScopes: readonly string[],
  userScopes: readonly string[],
): string[] {
  const userSet = new Set(userScopes);
  const allowed = clientScopes.filter((scope) => userSet.has(scope));
  if (requested === undefined) return allowed;
  const known = new Set([...clientScopes, ...userScopes]);
  if (requested.some((scope) => !known.has(scope))) {
    throw new InvalidScopeError('the requested scope is unknown');
  }
  const granted = requested.filter((scope) => allowed.includes(scope));
  if (granted.length === 0) {
    throw new InvalidScopeError('none of the requested scopes is available to this client and user');
  }
  return granted;
}

/**
 * Refresh grant (§6): the new scope may only narrow the original grant, and never exceeds what the
 * client may still have.
 */
export function narrowScope(
  requested: readonly string[] | undefined,
  original: readonly string[],
  clientScopes: readonly string[],
): string[] {
  if (requested?.some((scope) => !original.includes(scope))) {
    throw new InvalidScopeError('the requested scope exceeds the scope originally granted');
  }
  const clientSet = new Set(clientScopes);
  return (requested ?? original).filter((scope) => clientSet.has(scope));
}
