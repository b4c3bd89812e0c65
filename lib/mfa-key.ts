import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AccountRootPrincipal, Effect, type IRole, PolicyDocument, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Key, KeySpec, KeyUsage } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { accountAdministers, KEY_MANAGEMENT_ACTIONS } from './signing-key';

/** The encryption context every TOTP secret is bound to its user by (lambda/adapters/mfa-secret-key.ts). */
export const MFA_ENCRYPTION_CONTEXT_KEY = 'userId';

/**
 * What every use of the key must look like: the symmetric default algorithm, and an encryption context of
 * exactly one key, userId: every key is userId (ForAllValues, which an empty context would satisfy alone)
 * and one of them is (ForAnyValue). A call without it, or with other keys, matches no Allow.
 */
export const MFA_KEY_CONDITIONS = {
  StringEquals: { 'kms:EncryptionAlgorithm': 'SYMMETRIC_DEFAULT' },
  'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': [MFA_ENCRYPTION_CONTEXT_KEY] },
  'ForAnyValue:StringEquals': { 'kms:EncryptionContextKeys': [MFA_ENCRYPTION_CONTEXT_KEY] },
} as const;

/**
 * Key management the account keeps (through IAM) on the TOTP key: administer, tag, disable and delete it,
 * keep its automatic rotation; one by one, without wildcards, and without any cryptographic operation, so
 * that no IAM policy in the account can let anyone decrypt a secret.
 */
export const MFA_KEY_ADMINISTRATION_ACTIONS = [
  ...KEY_MANAGEMENT_ACTIONS,
  'kms:EnableKeyRotation',
  'kms:DisableKeyRotation',
] as const;

/**
 * The KMS key TOTP secrets are encrypted with: SYMMETRIC_DEFAULT (AES-256-GCM inside KMS), rotated yearly by
 * KMS (old key material keeps decrypting what it encrypted), and kept when the stack goes: deleting it
 * would make every enrollment unusable, so it is retained, and its deletion (by an operator) waits 30 days.
 *
 * Its key policy decides who uses it, and nothing else can add anyone: operators encrypt (`users mfa
 * enroll`), through the IAM policies the account gives them (the root statement delegates kms:Encrypt to
 * IAM, and nothing more of the key's cryptography); the token function decrypts, named in the key policy
 * itself (allowDecrypt). Both only with the {userId} encryption context. Nobody re-encrypts, generates data
 * keys or decrypts through IAM.
 */
export class MfaKey extends Construct {
  readonly key: Key;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.key = new Key(this, 'Key', {
      description: 'ropc-token-service TOTP secret encryption key (second factor)',
      keySpec: KeySpec.SYMMETRIC_DEFAULT,
      keyUsage: KeyUsage.ENCRYPT_DECRYPT,
      enableKeyRotation: true,
      // An explicit policy replaces CDK's default, which grants the account kms:* (Decrypt included).
      policy: new PolicyDocument({
        statements: [
          accountAdministers(MFA_KEY_ADMINISTRATION_ACTIONS),
          new PolicyStatement({
            sid: 'OperatorsEncryptTotpSecretsThroughIam',
            effect: Effect.ALLOW,
            principals: [new AccountRootPrincipal()],
            actions: ['kms:Encrypt'],
            resources: ['*'],
            conditions: MFA_KEY_CONDITIONS,
          }),
        ],
      }),
      removalPolicy: RemovalPolicy.RETAIN,
      pendingWindow: Duration.days(30),
    });
  }

  /** kms:Decrypt for the role, by the key policy alone, with the {userId} context only. */
  allowDecrypt(role: IRole): void {
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'TokenFunctionDecryptsTotpSecrets',
        principals: [role],
        actions: ['kms:Decrypt'],
        resources: ['*'],
        conditions: MFA_KEY_CONDITIONS,
      }),
    );
  }
}
