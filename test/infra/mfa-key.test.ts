import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../contract/config';
import { MFA_CHALLENGES_TABLE_NAME_OUTPUT, MFA_KEY_ID_OUTPUT } from '../../contract/stack-outputs';
import { MFA_KEY_ADMINISTRATION_ACTIONS, MFA_KEY_CONDITIONS } from '../../lib/mfa-key';
import { ATTRIBUTE_WRITES, TABLE_ACTIONS } from '../../lib/token-service-stack';
import {
  acknowledgments,
  logicalId,
  resourcesOfType,
  type Statement,
  type SynthesizedService,
  statements,
  synthService,
} from './support';

/** The second factor's part of the stack: the TOTP key, its policy, the challenges table, what the token function may do. */
let service: SynthesizedService;
let keyId: string;
let policy: Statement[];

beforeAll(() => {
  service = synthService();
  keyId = logicalId(service.stack.mfaKey.key);
  const key = resourcesOfType(service.template, 'AWS::KMS::Key')[keyId]!;
  policy = statements(key.Properties!.KeyPolicy as { Statement: unknown[] });
});

const principalOf = (statement: Statement) => JSON.stringify(statement.Principal);
const roleArn = (role: 'token' | 'jwks' | 'metadata') => ({
  AWS: { 'Fn::GetAtt': [logicalId(service.stack.functions.roles[role]), 'Arn'] },
});

describe('the TOTP secret key', () => {
  it('is a SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key with automatic rotation, retained with the stack', () => {
    const resource = resourcesOfType(service.template, 'AWS::KMS::Key')[keyId]!;
    expect(resource.Properties).toMatchObject({ EnableKeyRotation: true, PendingWindowInDays: 30 });
    expect(resource.Properties?.KeySpec ?? 'SYMMETRIC_DEFAULT').toBe('SYMMETRIC_DEFAULT');
    expect(resource.Properties?.KeyUsage ?? 'ENCRYPT_DECRYPT').toBe('ENCRYPT_DECRYPT');
    expect((resource as { DeletionPolicy?: string }).DeletionPolicy).toBe('Retain');
    expect((resource as { UpdateReplacePolicy?: string }).UpdateReplacePolicy).toBe('Retain');
  });

  it('lets only the token function decrypt, and only IAM principals of the account encrypt, both with the {userId} context', () => {
    for (const statement of policy) {
      expect(statement.Effect).toBe('Allow');
      for (const action of statement.Action) expect(action).not.toContain('*');
    }
    const decrypting = policy.filter((statement) =>
      statement.Action.some((action) => /Decrypt|ReEncrypt/.test(action)),
    );
    expect(decrypting).toHaveLength(1);
    expect(decrypting[0]!.Action).toEqual(['kms:Decrypt']);
    expect(decrypting[0]!.Principal).toEqual(roleArn('token'));
    expect(decrypting[0]!.Condition).toEqual(MFA_KEY_CONDITIONS);
    const encrypting = policy.filter((statement) => statement.Action.includes('kms:Encrypt'));
    expect(encrypting).toHaveLength(1);
    expect(principalOf(encrypting[0]!)).toContain(':root');
    expect(encrypting[0]!.Action).toEqual(['kms:Encrypt']);
    expect(encrypting[0]!.Condition).toEqual(MFA_KEY_CONDITIONS);
    // The account keeps the key's administration through IAM, and no other cryptography.
    const account = policy.filter((statement) => principalOf(statement).includes(':root'));
    expect(account.flatMap((statement) => statement.Action).sort()).toEqual(
      [...MFA_KEY_ADMINISTRATION_ACTIONS, 'kms:Encrypt'].sort(),
    );
    expect(policy.flatMap((statement) => statement.Action)).not.toEqual(
      expect.arrayContaining([expect.stringMatching(/GenerateDataKey|ReEncrypt|kms:Sign/)]),
    );
    for (const role of ['jwks', 'metadata'] as const) {
      expect(policy.filter((statement) => principalOf(statement) === JSON.stringify(roleArn(role)))).toEqual([]);
    }
  });

  it('is named to the token function by ARN and to ropc-admin by a stack output', () => {
    const functions = resourcesOfType(service.template, 'AWS::Lambda::Function');
    const token = functions[logicalId(service.stack.functions.functions.token)]!;
    const env = (token.Properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables;
    expect(env[ENV.mfaKeyId]).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    expect(env[ENV.mfaChallengesTable]).toEqual({ Ref: logicalId(service.stack.tables.tables.mfaChallenges) });
    service.template.hasOutput(MFA_KEY_ID_OUTPUT, { Value: { 'Fn::GetAtt': [keyId, 'Arn'] } });
    service.template.hasOutput(MFA_CHALLENGES_TABLE_NAME_OUTPUT, {
      Value: { Ref: logicalId(service.stack.tables.tables.mfaChallenges) },
    });
  });

  it('gives the token function the challenge actions, and user writes only of the step, the codes and the enrollment date', () => {
    expect(TABLE_ACTIONS.token.mfaChallenges).toEqual([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
    ]);
    expect(TABLE_ACTIONS.jwks.mfaChallenges).toBeUndefined();
    expect([...ATTRIBUTE_WRITES.token.users!.attributes].sort()).toEqual(
      ['mfaEnrolledAt', 'mfaLastStep', 'passwordHash', 'recoveryCodeHashes', 'username'].sort(),
    );
  });

  it('adds no cdk-nag finding, and needs no acknowledgment', () => {
    expect(new AwsSolutionsChecks(service.app).validateScope(service.app).violations).toEqual([]);
    expect(acknowledgments(service.app).filter((entry) => entry.path.includes('MfaKey'))).toEqual([]);
  });
});
