import { beforeAll, describe, expect, it } from 'vitest';
import type { SdkPrincipal } from '../../lambda/adapters/sdk-call-log';
import type { Check } from './checks';
import { type DeployedStack, deployedStack } from './deployed-stack';
import { evaluate } from './evaluate';
import { LEGACY_VERIFIER_ARN } from './legacy-verifier';

/**
 * Lazy migration's grants, evaluated on the synthesized template: with context legacyVerifierFunctionArn
 * the token function may invoke that function and nothing else, and create users; without it, neither.
 * (test/iam/authorization.test.ts proves the recorded Invoke allowed, with the context set.)
 */
let withVerifier: DeployedStack;
let withoutVerifier: DeployedStack;

beforeAll(() => {
  withVerifier = deployedStack({ legacyVerifierFunctionArn: LEGACY_VERIFIER_ARN });
  withoutVerifier = deployedStack();
}, 120_000);

async function decision(
  stack: DeployedStack,
  principal: Exclude<SdkPrincipal, 'operator'>,
  action: string,
  resource: string,
): Promise<string> {
  const role = stack.roles[principal];
  const check: Check = { principal, action, resource, label: resource, context: {}, call: action };
  const caller = { name: principal, arn: role.arn, sessionArn: role.sessionArn, policies: role.policies };
  return (await evaluate(check, caller, stack.account)).decision;
}

describe('the legacy verifier', () => {
  it('may be invoked by the token function, that function exactly: no other version, alias or function', async () => {
    expect(await decision(withVerifier, 'token', 'lambda:InvokeFunction', LEGACY_VERIFIER_ARN)).toBe('Allowed');
    for (const other of [
      `${LEGACY_VERIFIER_ARN}:prod`,
      `${LEGACY_VERIFIER_ARN}-2`,
      LEGACY_VERIFIER_ARN.replace('111122223333', '444455556666'),
    ]) {
      expect(await decision(withVerifier, 'token', 'lambda:InvokeFunction', other), other).not.toBe('Allowed');
    }
    for (const principal of ['jwks', 'metadata', 'rotateKeys'] as const) {
      expect(await decision(withVerifier, principal, 'lambda:InvokeFunction', LEGACY_VERIFIER_ARN), principal).not.toBe(
        'Allowed',
      );
    }
  });

  it('lets the token function create users only when it is configured', async () => {
    const users = (stack: DeployedStack) => stack.tables.users.arn;
    expect(await decision(withVerifier, 'token', 'dynamodb:PutItem', users(withVerifier))).toBe('Allowed');
    expect(await decision(withoutVerifier, 'token', 'dynamodb:PutItem', users(withoutVerifier))).not.toBe('Allowed');
  });

  it('is invoked by nobody without the context: no role may invoke any function', async () => {
    for (const principal of ['token', 'jwks', 'metadata', 'rotateKeys'] as const) {
      expect(
        await decision(withoutVerifier, principal, 'lambda:InvokeFunction', LEGACY_VERIFIER_ARN),
        principal,
      ).not.toBe('Allowed');
      const actions = withoutVerifier.roles[principal].policies.flatMap((policy) =>
        policy.document.Statement.flatMap((statement) =>
          typeof statement.Action === 'string' ? [statement.Action] : [...statement.Action],
        ),
      );
      expect(
        actions.filter((action) => action.startsWith('lambda:')),
        principal,
      ).toEqual([]);
    }
  });
});
