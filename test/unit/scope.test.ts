import { describe, expect, it } from 'vitest';
import { InvalidScopeError } from '../../lambda/oauth/errors';
import { grantScope, narrowScope, parseScope } from '../../lambda/oauth/scope';

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

describe('grantScope', () => {
  const client = ['read', 'write', 'admin'];
  const user = ['read', 'write', 'profile'];
  it.each([
    [undefined, ['read', 'write']],
    [['read'], ['read']],
    [
      ['write', 'read'],
      ['write', 'read'],
    ],
    [['read', 'admin'], ['read']],
    [['read', 'profile'], ['read']],
  ])('requested %j → %j', (requested, expected) => {
    expect(grantScope(requested, client, user)).toEqual(expected);
  });

  it('refuses a scope neither the client nor the user knows', () => {
    expect(() => grantScope(['read', 'delete'], client, user)).toThrow('the requested scope is unknown');
  });

  it('refuses a request of which nothing can be granted', () => {
    expect(() => grantScope(['admin'], client, user)).toThrow('none of the requested scopes');
  });

  it('grants the empty set when client and user share nothing and nothing was asked', () => {
    expect(grantScope(undefined, ['a'], ['b'])).toEqual([]);
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
});
