import { Aws, Duration, RemovalPolicy, Stack, Tags } from 'aws-cdk-lib';
import { AccountRootPrincipal, Effect, type IRole, PolicyDocument, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Alias, Key, KeySpec, KeyUsage } from 'aws-cdk-lib/aws-kms';
import { Construct, type IConstruct } from 'constructs';
import { signingKeyTag } from '../contract/signing-keys';

export interface SigningKeyProps {
  /** `alias/…`: what the functions name the key by (SIGNING_KEY_ID). */
  readonly aliasName: string;
}

/** The signing algorithm and message type lambda/adapters/kms-signer.ts uses; the key refuses any other Sign call. */
export const SIGNING_ALGORITHM = 'RSASSA_PKCS1_V1_5_SHA_256';
export const SIGN_MESSAGE_TYPE = 'DIGEST';

/**
 * Key management the account keeps (through IAM) on each of the stack's KMS keys: administer, tag, disable
 * and delete it. Listed one by one, without wildcards, and without any cryptographic operation.
 */
export const KEY_MANAGEMENT_ACTIONS = [
  'kms:DescribeKey',
  'kms:GetKeyPolicy',
  'kms:PutKeyPolicy',
  'kms:ListKeyPolicies',
  'kms:GetKeyRotationStatus',
  'kms:ListResourceTags',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:UpdateKeyDescription',
  'kms:EnableKey',
  'kms:DisableKey',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
  'kms:CreateAlias',
  'kms:UpdateAlias',
  'kms:DeleteAlias',
  'kms:ListGrants',
  'kms:RevokeGrant',
] as const;

/** The key-policy statement by which the account administers a key of the stack through IAM, with `actions` only. */
export function accountAdministers(actions: readonly string[]): PolicyStatement {
  return new PolicyStatement({
    sid: 'AccountAdministersTheKeyThroughIam',
    effect: Effect.ALLOW,
    principals: [new AccountRootPrincipal()],
    actions: [...actions],
    resources: ['*'],
  });
}

/**
 * Key management the account keeps on the signing key, and reading its public key; without kms:Sign: no IAM
 * policy in the account can let anyone but the token function sign a token.
 */
export const KEY_ADMINISTRATION_ACTIONS = [...KEY_MANAGEMENT_ACTIONS, 'kms:GetPublicKey'] as const;

/**
 * The first access-token signing key: RSA_2048 SIGN_VERIFY in KMS, the private half never leaves it.
 * Who may use it is decided by its key policy alone (a key policy that names a role needs no IAM policy
 * on it), and the account's IAM policies cannot add anyone who signs.
 *
 * Asymmetric keys do not rotate automatically: `ropc-admin keys rotate` and the scheduled rotation create
 * the next keys, tagged like this one and with this key's policy (SigningKeyManager reads it with
 * GetKeyPolicy), so the same roles, and only they, may use them; the key registry publishes each in the
 * JWKS before it signs. Keys rotated in by earlier versions have KMS's default key policy (IAM decides):
 * the tag-conditioned IAM statements below keep them working until they retire.
 */
export class SigningKey extends Construct {
  readonly key: Key;
  readonly alias: Alias;
  readonly aliasName: string;

  constructor(scope: Construct, id: string, props: SigningKeyProps) {
    super(scope, id);
    this.aliasName = props.aliasName;
    this.key = new Key(this, 'Key', {
      description: 'ropc-token-service access-token signing key (RS256)',
      keySpec: KeySpec.RSA_2048,
      keyUsage: KeyUsage.SIGN_VERIFY,
      // An explicit policy replaces CDK's default, which grants the account kms:* (Sign included).
      policy: new PolicyDocument({
        statements: [accountAdministers(KEY_ADMINISTRATION_ACTIONS)],
      }),
      // Tokens it signed live minutes; deleting the stack schedules the key's deletion, cancellable for 30 days.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(30),
    });
    const tag = tagOf(this);
    Tags.of(this.key).add(tag.TagKey, tag.TagValue);
    this.alias = new Alias(this, 'Alias', { aliasName: props.aliasName, targetKey: this.key });
  }

  /** kms:Sign (only RS256 over a SHA-256 digest) and kms:GetPublicKey (the kid and the JWKS). */
  allowSigning(role: IRole): void {
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'TokenFunctionSigns',
        principals: [role],
        actions: ['kms:Sign'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'kms:SigningAlgorithm': SIGNING_ALGORITHM, 'kms:MessageType': SIGN_MESSAGE_TYPE },
        },
      }),
    );
    this.allowPublicKeyRead(role, 'TokenFunctionReadsPublicKey');
  }

  /** kms:GetPublicKey only. */
  allowPublicKeyRead(role: IRole, sid = 'JwksFunctionReadsPublicKey'): void {
    this.key.addToResourcePolicy(
      new PolicyStatement({ sid, principals: [role], actions: ['kms:GetPublicKey'], resources: ['*'] }),
    );
  }

  /**
   * kms:Sign, through IAM, on rotated keys whose key policy lets IAM decide (those earlier versions created
   * with KMS's default key policy; keys created now carry this key's policy, which names the role): any
   * key of this account and region, but only while it carries the service's tag, and only RS256 over a
   * digest. The root statement of this key's policy does not delegate kms:Sign to IAM, so on this key and
   * on keys created with its policy the statement adds nothing.
   */
  static allowSigningWithServiceKeys(role: IRole): void {
    const tag = tagOf(role);
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'SignWithRotatedServiceKeys',
        actions: ['kms:Sign'],
        resources: [`arn:${Aws.PARTITION}:kms:${Aws.REGION}:${Aws.ACCOUNT_ID}:key/*`],
        conditions: {
          StringEquals: {
            [`aws:ResourceTag/${tag.TagKey}`]: tag.TagValue,
            'kms:SigningAlgorithm': SIGNING_ALGORITHM,
            'kms:MessageType': SIGN_MESSAGE_TYPE,
          },
        },
      }),
    );
  }

  /**
   * kms:GetPublicKey, through IAM, on this account's and region's keys that carry the service's tag: the
   * signers check every registry record against the public key KMS holds for its ARN. A key without the
   * tag, or in another account (whatever its key policy says), is refused. Keys with this key's policy
   * name the role themselves; this covers keys earlier versions rotated in with KMS's default key policy.
   */
  static allowPublicKeyReadOfServiceKeys(role: IRole): void {
    const tag = tagOf(role);
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'ReadServiceSigningKeys',
        actions: ['kms:GetPublicKey'],
        resources: [`arn:${Aws.PARTITION}:kms:${Aws.REGION}:${Aws.ACCOUNT_ID}:key/*`],
        conditions: { StringEquals: { [`aws:ResourceTag/${tag.TagKey}`]: tag.TagValue } },
      }),
    );
  }

  /**
   * The scheduled rotation on this (the first) key: describe it (its ARN and creation date, and the sweep
   * tells it apart), read its public key, to register it, and read its key policy, which every new key
   * gets. Never its deletion: the first key belongs to the stack (SigningKeyManager.sweep leaves it to
   * CloudFormation), and an explicit Deny keeps the tag-conditioned deletion grant off it.
   */
  allowRotation(role: IRole): void {
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'RotationRegistersFirstKey',
        principals: [role],
        actions: ['kms:DescribeKey', 'kms:GetPublicKey', 'kms:GetKeyPolicy'],
        resources: ['*'],
      }),
    );
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'NeverDeleteTheFirstSigningKey',
        effect: Effect.DENY,
        actions: ['kms:ScheduleKeyDeletion'],
        resources: [this.key.keyArn],
      }),
    );
  }

  /**
   * What SigningKeyManager (lambda/adapters/key-manager.ts) does to the keys it rotates in, through IAM:
   * create an RSA_2048 SIGN_VERIFY key that carries the service's tag and no other, name it with an alias
   * beside the first key's, and schedule the deletion of tagged RSA_2048 SIGN_VERIFY keys (never the first:
   * allowRotation denies it). Reading a new key's public key needs no IAM: the key policy it gets names
   * the role.
   *
   * KMS cannot scope CreateKey to a resource, and tagging at creation needs kms:TagResource in an IAM
   * policy covering every key of the account and region (KMS developer guide, "Controlling access to
   * tags"): both are conditioned on the request carrying exactly the service tag. KMS has no condition key
   * that tells tagging at creation from a TagResource call on an existing key, so the tag proves a key is
   * the service's only as far as no one else with tagging rights puts it on a key; the key-attribute
   * conditions narrow what the deletion grant reaches to signing keys like the service's.
   */
  static allowManagingServiceKeys(role: IRole, aliasName: string): void {
    const keys = `arn:${Aws.PARTITION}:kms:${Aws.REGION}:${Aws.ACCOUNT_ID}:key/*`;
    const aliases = `arn:${Aws.PARTITION}:kms:${Aws.REGION}:${Aws.ACCOUNT_ID}:${aliasName}-*`;
    const tag = tagOf(role);
    const requestTags = {
      StringEquals: { [`aws:RequestTag/${tag.TagKey}`]: tag.TagValue },
      'ForAllValues:StringEquals': { 'aws:TagKeys': [tag.TagKey] },
    };
    const serviceKey = {
      StringEquals: {
        [`aws:ResourceTag/${tag.TagKey}`]: tag.TagValue,
        'kms:KeySpec': 'RSA_2048',
        'kms:KeyUsage': 'SIGN_VERIFY',
        'kms:KeyOrigin': 'AWS_KMS',
      },
    };
    const statements = [
      new PolicyStatement({
        sid: 'CreateServiceSigningKeys',
        actions: ['kms:CreateKey'],
        resources: ['*'],
        conditions: {
          ...requestTags,
          StringEquals: {
            ...requestTags.StringEquals,
            'kms:KeySpec': 'RSA_2048',
            'kms:KeyUsage': 'SIGN_VERIFY',
            'kms:KeyOrigin': 'AWS_KMS',
          },
        },
      }),
      new PolicyStatement({
        sid: 'TagNewServiceSigningKeys',
        actions: ['kms:TagResource'],
        resources: [keys],
        conditions: requestTags,
      }),
      new PolicyStatement({ sid: 'NameServiceSigningKeys', actions: ['kms:CreateAlias'], resources: [aliases] }),
      new PolicyStatement({
        sid: 'ManageServiceSigningKeys',
        actions: ['kms:CreateAlias', 'kms:ScheduleKeyDeletion'],
        resources: [keys],
        conditions: serviceKey,
      }),
    ];
    for (const statement of statements) role.addToPrincipalPolicy(statement);
  }
}

/** The signing-key tag of the stack `scope` belongs to: its value is the stack name. */
function tagOf(scope: IConstruct) {
  return signingKeyTag(Stack.of(scope).stackName);
}
