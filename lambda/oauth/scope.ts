import type { AuditEvent } from '../../contract/audit-events';
import { InvalidScopeError } from './errors';

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** Whether `value` is one scope token (RFC 6749 §3.3). */
export function isScopeToken(value: string): boolean {
  return SCOPE_TOKEN.test(value);
}

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

/** The audit record a grant wants on a scope refusal; the refusal adds its `reason`. */
export interface ScopeAudit {
  readonly event: AuditEvent;
  readonly fields: Readonly<Record<string, unknown>>;
}

export type ScopeRefusalReason = 'scope_not_allowed' | 'scope_empty' | 'scope_exceeds_grant';

function refuse(description: string, reason: ScopeRefusalReason, audit: ScopeAudit | undefined): InvalidScopeError {
  const error = new InvalidScopeError(description);
  return audit === undefined ? error : error.audited(audit.event, { ...audit.fields, reason });
}

/**
 * Password grant, first half, decided BEFORE anything about the user or the password is read (RFC 6749
 * §3.3, §5.2 invalid_scope): the request may name only scopes the client is registered for, and must
 * leave something to grant. The answer depends on the client and the request alone, so it is the same
 * for a right, a wrong or no password, and for an unknown user. No request means all the client's scopes.
 */
export function requestableScope(
  requested: readonly string[] | undefined,
  clientScopes: readonly string[],
  audit?: ScopeAudit,
): string[] {
  if (requested?.some((scope) => !clientScopes.includes(scope))) {
    throw refuse('the requested scope is not available to this client', 'scope_not_allowed', audit);
  }
  const candidate = [...(requested ?? clientScopes)];
  if (candidate.length === 0) throw refuse('no scope is available to this client', 'scope_empty', audit);
  return candidate;
}

/**
 * Password grant, second half, after a right password: the part of the candidate the user has, in the
 * order asked (§3.3 lets the server grant less than asked; the response then names the scope). It may be
 * empty, and deliberately does not throw: the caller refuses it the way it refuses a wrong password
 * (see grants/password.ts), because an answer given only after a right password would reveal it.
 */
export function grantableScope(candidate: readonly string[], userScopes: readonly string[]): string[] {
  const userSet = new Set(userScopes);
  return candidate.filter((scope) => userSet.has(scope));
}

/**
 * Refresh grant (§6): the new scope may only narrow the original grant, and never exceeds what the
 * client may still have. A result that would be empty is invalid_scope, never a token with "scope": "".
 * (The presented refresh token is already proven valid here, so this reveals nothing new.)
 */
export function narrowScope(
  requested: readonly string[] | undefined,
  original: readonly string[],
  clientScopes: readonly string[],
  audit?: ScopeAudit,
): string[] {
  if (requested?.some((scope) => !original.includes(scope))) {
    throw refuse('the requested scope exceeds the scope originally granted', 'scope_exceeds_grant', audit);
  }
  const clientSet = new Set(clientScopes);
  const scope = (requested ?? original).filter((token) => clientSet.has(token));
  if (scope.length === 0) throw refuse('no scope of this grant is available to this client', 'scope_empty', audit);
  return scope;
}
