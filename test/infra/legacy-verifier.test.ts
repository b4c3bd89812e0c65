import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { LEGACY_VERIFIER_FUNCTION_ARN } from '../../contract/settings';
import { TokenServiceSettingsError } from '../../lib/settings';
import { logicalId, resourcesOfType, type SynthesizedService, statements, synthService } from './support';

/**
 * Lazy migration in the stack (context legacyVerifierFunctionArn): the token function learns the ARN from
 * its environment and may invoke exactly that function and create users; without the context, nothing of
 * it is there. A malformed or misspelt value stops the synthesis.
 */
const ARN = 'arn:aws:lambda:eu-west-1:123456789012:function:ldap-verifier';

let plain: SynthesizedService;
let migrating: SynthesizedService;

beforeAll(() => {
  plain = synthService();
  migrating = synthService({ legacyVerifierFunctionArn: ARN });
});

function functionEnvironment(service: SynthesizedService, name: 'token' | 'jwks' | 'metadata'): Record<string, string> {
  const fn = resourcesOfType(service.template, 'AWS::Lambda::Function')[
    logicalId(service.stack.functions.functions[name])
  ]!;
  return fn.Properties!.Environment.Variables;
}

function roleStatements(service: SynthesizedService, roleId: string) {
  return Object.values(resourcesOfType(service.template, 'AWS::IAM::Policy'))
    .filter((policy) => JSON.stringify(policy.Properties!.Roles).includes(`"${roleId}"`))
    .flatMap((policy) => statements(policy.Properties!.PolicyDocument));
}

const allStatements = (service: SynthesizedService) =>
  Object.values(resourcesOfType(service.template, 'AWS::IAM::Policy')).flatMap((policy) =>
    statements(policy.Properties!.PolicyDocument),
  );

describe('the legacy verifier of lazy migration', () => {
  it('is given to the token function as LEGACY_VERIFIER_FUNCTION_ARN, only with the context', () => {
    expect(functionEnvironment(migrating, 'token')[LEGACY_VERIFIER_FUNCTION_ARN.env]).toBe(ARN);
    for (const name of ['token', 'jwks', 'metadata'] as const)
      expect(functionEnvironment(plain, name), name).not.toHaveProperty(LEGACY_VERIFIER_FUNCTION_ARN.env);
  });

  it('may be invoked by the token function, that exact ARN, and by no other role', () => {
    const tokenRole = logicalId(migrating.stack.functions.roles.token);
    const invokes = allStatements(migrating).filter((statement) =>
      statement.Action.some((action) => action.startsWith('lambda:')),
    );
    // The key rotation's scheduler may invoke the rotation function; nothing else invokes anything.
    const verifierGrants = invokes.filter((statement) => JSON.stringify(statement.Resource).includes(ARN));
    expect(verifierGrants).toEqual([
      expect.objectContaining({ Effect: 'Allow', Action: ['lambda:InvokeFunction'], Resource: [ARN] }),
    ]);
    expect(roleStatements(migrating, tokenRole)).toContainEqual(verifierGrants[0]);
    expect(
      roleStatements(migrating, tokenRole).filter((statement) =>
        statement.Action.some((action) => action.startsWith('lambda:')),
      ),
    ).toEqual(verifierGrants);
    expect(JSON.stringify(allStatements(plain))).not.toContain(':function:ldap-verifier');
  });

  it('lets the token function create users (PutItem, with the import claim ConditionCheckItem, on the users table) only with the context', () => {
    const users = { 'Fn::GetAtt': [logicalId(migrating.stack.tables.tables.users), 'Arn'] };
    const puts = (service: SynthesizedService) =>
      roleStatements(service, logicalId(service.stack.functions.roles.token)).filter(
        (statement) =>
          statement.Action.includes('dynamodb:PutItem') &&
          JSON.stringify(statement.Resource).includes(JSON.stringify(users)),
      );
    expect(puts(migrating)).toHaveLength(1);
    expect(puts(migrating)[0]!.Action).toContain('dynamodb:ConditionCheckItem');
    expect(puts(migrating)[0]!.Condition).toBeUndefined();
    expect(puts(plain)).toEqual([]);
    expect(JSON.stringify(roleStatements(plain, logicalId(plain.stack.functions.roles.token)))).not.toContain(
      'dynamodb:ConditionCheckItem',
    );
  });

  it('leaves cdk-nag with nothing to report', () => {
    expect(new AwsSolutionsChecks(migrating.app).validateScope(migrating.app).violations).toEqual([]);
  });

  it.each<[string, unknown]>([
    ['not an ARN', 'ldap-verifier'],
    ['an ARN of another service', 'arn:aws:sns:eu-west-1:123456789012:ldap-verifier'],
    ['a partial ARN', 'arn:aws:lambda:eu-west-1:123456789012:function:'],
    ['a wildcard', 'arn:aws:lambda:eu-west-1:123456789012:function:*'],
    ['a bad account', 'arn:aws:lambda:eu-west-1:1234:function:ldap-verifier'],
  ])('stops the synthesis for %s, naming the key', (_, value) => {
    const attempt = () => synthService({ legacyVerifierFunctionArn: value });
    expect(attempt).toThrow(TokenServiceSettingsError);
    expect(attempt).toThrow(/legacyVerifierFunctionArn must be a Lambda function ARN/);
  });

  it.each([
    'arn:aws:lambda:us-gov-west-1:123456789012:function:ldap_verifier-2',
    'arn:aws:lambda:eu-west-1:123456789012:function:ldap-verifier:live',
    'arn:aws:lambda:eu-west-1:123456789012:function:ldap-verifier:7',
  ])('accepts the function ARN %s, qualified or not, and grants exactly it', (arn) => {
    const service = synthService({ legacyVerifierFunctionArn: arn });
    expect(allStatements(service)).toContainEqual(
      expect.objectContaining({ Action: ['lambda:InvokeFunction'], Resource: [arn] }),
    );
  });

  it('stops the synthesis for a misspelt key, suggesting the setting', () => {
    const attempt = () => synthService({ legacyVerifierFunctionARN: ARN });
    expect(attempt).toThrow(
      /context key "legacyVerifierFunctionARN" is not a setting of this app: did you mean legacyVerifierFunctionArn\?/,
    );
  });

  it('needs a token function timeout that leaves room for the verifier’s 5 s', () => {
    const attempt = () => synthService({ legacyVerifierFunctionArn: ARN, tokenFunctionTimeoutSeconds: '9' });
    expect(attempt).toThrow(/tokenFunctionTimeoutSeconds 9 leaves no room for the legacy verifier: .* at least 10/);
    expect(() => synthService({ tokenFunctionTimeoutSeconds: '9' })).not.toThrow();
    expect(() => synthService({ legacyVerifierFunctionArn: ARN, tokenFunctionTimeoutSeconds: '10' })).not.toThrow();
  });
});
