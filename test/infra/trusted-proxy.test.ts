import { beforeAll, describe, expect, it } from 'vitest';
import { TokenServiceSettingsError } from '../../lib/settings';
import { logicalId, resourcesOfType, synthService } from './support';

/** The token function's environment variables in a synthesis with `context`. */
function tokenEnvironment(context: Record<string, unknown> = {}): Record<string, unknown> {
  const { stack, template } = synthService(context);
  const fn = resourcesOfType(template, 'AWS::Lambda::Function')[logicalId(stack.functions.functions.token)]!;
  return fn.Properties!.Environment.Variables as Record<string, unknown>;
}

describe('the trustedProxyHops setting in the stack', () => {
  let byDefault: Record<string, unknown>;

  // The first synthesis of a run loads the CDK: a hook has the time for it.
  beforeAll(() => {
    byDefault = tokenEnvironment();
  });

  it('is 0 unless given: the token function counts API Gateway sourceIp', () => {
    expect(byDefault.TRUSTED_PROXY_HOPS).toBe('0');
  });

  it.each<[unknown, string]>([
    ['1', '1'],
    [2, '2'],
  ])('passes context trustedProxyHops=%j to the token function', (value, variable) => {
    expect(tokenEnvironment({ trustedProxyHops: value }).TRUSTED_PROXY_HOPS).toBe(variable);
  });

  it.each<[unknown, RegExp]>([
    ['6', /trustedProxyHops must be a whole number from 0 to 5, got 6/],
    ['-1', /trustedProxyHops must be a whole number from 0 to 5, got -1/],
    ['1.5', /trustedProxyHops must be a whole number from 0 to 5, got 1.5/],
    ['cloudfront', /context trustedProxyHops="cloudfront": expected a number/],
  ])('stops the synthesis for context trustedProxyHops=%j, naming the key and the range', (value, message) => {
    const attempt = () => synthService({ trustedProxyHops: value });
    expect(attempt).toThrow(TokenServiceSettingsError);
    expect(attempt).toThrow(message);
  });

  it('suggests the setting for a misspelt key', () => {
    expect(() => synthService({ trustedProxyHop: '1' })).toThrow(/trustedProxyHops/);
  });
});
