import { describe, expect, it } from 'vitest';
import { InvalidScopeError } from '../../lambda/oauth/errors';
import { grantableScope, narrowScope, parseScope, requestableScope } from '../../lambda/oauth/scope';

describe('parseScope', () => {
  it.each([
    [undefined, undefined],
    ['read', ['read']],
    ['read  write read', ['read', 'write']],
    ['   ', undefined],
    ['urn:x:y https://api/x', ['urn:x:y', 'https://api/x']],
  ])('%j → %j', (input, expected) => {
    expect(parseScope(input)).toEqual(expected);
  });

  it.each(['a"b', 'a\\b', 'a\tb', 'é'])('rejects %j', (input) => {
    expect(() => parseScope(input)).toThrow(InvalidScopeError);
  });
});

describe('requestableScope (before the password)', () => {
  const client = ['read', 'write', 'admin'];
  it.each([
    [undefined, ['read', 'write', 'admin']],
    [['read'], ['read']],
    [
      ['write', 'read'],
      ['write', 'read'],
    ],
  ])('requested %j → %j', (requested, expected) => {
    expect(requestableScope(requested, client)).toEqual(expected);
  });

  it('refuses any scope the client may not have, even with others it may', () => {
    expect(() => requestableScope(['read', 'profile'], client)).toThrow(InvalidScopeError);
    expect(() => requestableScope(['delete'], client)).toThrow('the requested scope is not available to this client');
  });

  it('refuses when the client may have nothing', () => {
    expect(() => requestableScope(undefined, [])).toThrow(InvalidScopeError);
  });

  it('attaches the audit record with the reason', () => {
    const audit = { event: 'password_grant_failed' as const, fields: { clientId: 'app' } };
    const refusal = (requested: string[] | undefined, scopes: string[]) => {
      try {
        requestableScope(requested, scopes, audit);
      } catch (error) {
        return (error as InvalidScopeError).audit;
      }
      return undefined;
    };
    expect(refusal(['delete'], client)).toEqual({
      event: 'password_grant_failed',
      level: 'info',
      fields: { clientId: 'app', reason: 'scope_not_allowed' },
    });
    expect(refusal(undefined, [])?.fields).toEqual({ clientId: 'app', reason: 'scope_empty' });
  });
});

describe('grantableScope (after the password)', () => {
  it('keeps what the user has, in the order asked', () => {
    expect(grantableScope(['write', 'admin', 'read'], ['read', 'write', 'profile'])).toEqual(['write', 'read']);
  });

  it('returns the empty set for the caller to refuse, never throws', () => {
    expect(grantableScope(['admin'], ['read'])).toEqual([]);
    expect(grantableScope(['read'], [])).toEqual([]);
  });
});

describe('narrowScope', () => {
  it('keeps the original scope, minus what the client lost', () => {
    expect(narrowScope(undefined, ['read', 'write'], ['read', 'write'])).toEqual(['read', 'write']);
    expect(narrowScope(undefined, ['read', 'write'], ['read'])).toEqual(['read']);
    expect(narrowScope(['write'], ['read', 'write'], ['read', 'write'])).toEqual(['write']);
  });

  it('refuses to widen', () => {
    expect(() => narrowScope(['read', 'admin'], ['read'], ['read', 'admin'])).toThrow(InvalidScopeError);
  });

  it.each([
    ['the client lost every scope', undefined, ['read'], ['admin']],
    ['the client lost the requested scope', ['write'], ['read', 'write'], ['read']],
    ['the original scope is empty', undefined, [], ['read']],
  ])('refuses an empty result: %s', (_name, requested, original, clientScopes) => {
    expect(() => narrowScope(requested, original, clientScopes)).toThrow(InvalidScopeError);
  });
});
