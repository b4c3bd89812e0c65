import { beforeAll, describe, expect, it } from 'vitest';
import { SIGNING_KEY_TAG_KEY } from '../../contract/signing-keys';
import type { SdkPrincipal } from '../../lambda/adapters/sdk-call-log';
import { SIGN_MESSAGE_TYPE, SIGNING_ALGORITHM } from '../../lib/signing-key';
import type { Check } from './checks';
import { type DeployedStack, deployedStack, type PolicyDocument } from './deployed-stack';
import { type Caller, evaluate } from './evaluate';

/**
 * What the deployed stack's policies refuse, and allow, on keys and items no recorded call touches: keys
 * that are not the stack's (untagged, or in another account), the keys rotation creates (they get the first
 * key's policy), and user items written beyond the password hash. Each is one IAM evaluation of the
 * synthesized template, as test/iam/authorization.test.ts makes for the recorded calls.
 */
let stack: DeployedStack;
const OTHER_ACCOUNT = '444455556666';
const SIGN = { 'kms:SigningAlgorithm': SIGNING_ALGORITHM, 'kms:MessageType': SIGN_MESSAGE_TYPE };
const RSA_SIGNING_KEY = { 'kms:KeySpec': 'RSA_2048', 'kms:KeyUsage': 'SIGN_VERIFY', 'kms:KeyOrigin': 'AWS_KMS' };

beforeAll(() => {
  stack = deployedStack();
});

function role(principal: Exclude<SdkPrincipal, 'operator'>): Caller {
  const deployed = stack.roles[principal];
  return { name: principal, arn: deployed.arn, sessionArn: deployed.sessionArn, policies: deployed.policies };
}

/** A principal of the account that is none of the stack's, whose IAM policy lets it sign with any key. */
function anySigner(): Caller {
  const name = 'ci-deployer';
  return {
    name,
    arn: `arn:${stack.partition}:iam::${stack.account}:role/${name}`,
    sessionArn: `arn:${stack.partition}:sts::${stack.account}:assumed-role/${name}/session`,
    policies: [
      {
        name: 'SignWithAnything',
        document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:Sign', Resource: '*' }] },
      },
    ],
  };
}

/** KMS's default key policy in `account`: that account's IAM policies decide. */
function defaultKeyPolicy(account: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:${stack.partition}:iam::${account}:root` },
        Action: 'kms:*',
        Resource: '*',
      },
    ],
  };
}

interface KeyUnderTest {
  readonly arn: string;
  readonly account: string;
  readonly policy: PolicyDocument;
  readonly context: Record<string, string>;
}

/** A key rotation creates: in the stack's account, tagged with its name, with the first key's policy. */
function rotatedKey(): KeyUnderTest {
  return {
    arn: `arn:${stack.partition}:kms:${stack.region}:${stack.account}:key/0f0e0d0c-0b0a-4000-8000-000000000001`,
    account: stack.account,
    policy: stack.signingKey.policy,
    context: { [`aws:ResourceTag/${SIGNING_KEY_TAG_KEY}`]: stack.stackName, ...RSA_SIGNING_KEY },
  };
}

function untaggedKey(account = stack.account): KeyUnderTest {
  return {
    arn: `arn:${stack.partition}:kms:${stack.region}:${account}:key/0f0e0d0c-0b0a-4000-8000-000000000002`,
    account,
    policy: defaultKeyPolicy(account),
    context: { ...RSA_SIGNING_KEY },
  };
}

async function decide(
  caller: Caller,
  action: string,
  key: KeyUnderTest,
  context: Record<string, string | string[]> = {},
): Promise<string> {
  const check: Check = {
    principal: 'token',
    action,
    resource: key.arn,
    label: key.arn,
    context: { ...key.context, ...context },
    keyPolicy: key.policy,
    call: action,
  };
  return (await evaluate(check, caller, key.account)).decision;
}

describe('keys that are not the stack’s', () => {
  it('refuses the JWKS and token functions the public key of a key without the stack’s tag, in its account or another', async () => {
    // Another account's key whose key policy lets the function read it: IAM in the stack's account must allow it too.
    const foreign: KeyUnderTest = {
      ...untaggedKey(OTHER_ACCOUNT),
      policy: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: [stack.roles.jwks.arn, stack.roles.token.arn] },
            Action: 'kms:GetPublicKey',
            Resource: '*',
          },
        ],
      },
    };
    // Even one tagged like the stack's keys: the grant covers this account's keys only.
    const foreignTagged: KeyUnderTest = {
      ...foreign,
      context: { ...foreign.context, [`aws:ResourceTag/${SIGNING_KEY_TAG_KEY}`]: stack.stackName },
    };
    for (const principal of ['jwks', 'token'] as const) {
      expect(await decide(role(principal), 'kms:GetPublicKey', untaggedKey()), principal).not.toBe('Allowed');
      expect(await decide(role(principal), 'kms:GetPublicKey', foreign), principal).not.toBe('Allowed');
      expect(await decide(role(principal), 'kms:GetPublicKey', foreignTagged), principal).not.toBe('Allowed');
      // Another stack's key (tagged with its own name) in the same account.
      const otherStack = { ...rotatedKey(), policy: defaultKeyPolicy(stack.account) };
      expect(
        await decide(role(principal), 'kms:GetPublicKey', {
          ...otherStack,
          context: { ...otherStack.context, [`aws:ResourceTag/${SIGNING_KEY_TAG_KEY}`]: 'OtherStack' },
        }),
        principal,
      ).not.toBe('Allowed');
    }
  });

  it('refuses the rotation the deletion of a key without the stack’s tag, of a tagged key that is no RSA signing key, and of the first key', async () => {
    const rotation = role('rotateKeys');
    const window = { 'kms:ScheduleKeyDeletionPendingWindowInDays': '30' };
    expect(await decide(rotation, 'kms:ScheduleKeyDeletion', untaggedKey(), window)).not.toBe('Allowed');
    const ecc = { ...rotatedKey(), context: { ...rotatedKey().context, 'kms:KeySpec': 'ECC_NIST_P256' } };
    expect(await decide(rotation, 'kms:ScheduleKeyDeletion', ecc, window)).not.toBe('Allowed');
    const first: KeyUnderTest = {
      arn: stack.signingKey.arn,
      account: stack.account,
      policy: stack.signingKey.policy,
      context: { ...resourceTags(stack.signingKey.tags), ...stack.signingKey.attributes },
    };
    expect(await decide(rotation, 'kms:ScheduleKeyDeletion', first, window)).toBe('ExplicitlyDenied');
    // What it does delete: keys it created (tagged, RSA_2048 SIGN_VERIFY), whatever their key policy.
    expect(await decide(rotation, 'kms:ScheduleKeyDeletion', rotatedKey(), window)).toBe('Allowed');
    expect(
      await decide(
        rotation,
        'kms:ScheduleKeyDeletion',
        { ...rotatedKey(), policy: defaultKeyPolicy(stack.account) },
        window,
      ),
    ).toBe('Allowed');
  });
});

describe('keys rotation creates, with the first key’s key policy', () => {
  it('let the token function sign (RS256 over a digest only) and it and the JWKS function read the public key', async () => {
    const key = rotatedKey();
    expect(await decide(role('token'), 'kms:Sign', key, SIGN)).toBe('Allowed');
    expect(
      await decide(role('token'), 'kms:Sign', key, { ...SIGN, 'kms:SigningAlgorithm': 'RSASSA_PSS_SHA_256' }),
    ).not.toBe('Allowed');
    expect(await decide(role('token'), 'kms:GetPublicKey', key)).toBe('Allowed');
    expect(await decide(role('jwks'), 'kms:GetPublicKey', key)).toBe('Allowed');
    expect(await decide(role('jwks'), 'kms:Sign', key, SIGN)).not.toBe('Allowed');
    expect(await decide(role('metadata'), 'kms:GetPublicKey', key)).not.toBe('Allowed');
  });

  it('let the rotation tag the key at its creation, name it, read it and schedule its deletion, but never sign', async () => {
    const key = rotatedKey();
    const rotation = role('rotateKeys');
    const requestTags = {
      [`aws:RequestTag/${SIGNING_KEY_TAG_KEY}`]: stack.stackName,
      'aws:TagKeys': [SIGNING_KEY_TAG_KEY],
    };
    expect(await decide(rotation, 'kms:TagResource', key, requestTags)).toBe('Allowed');
    expect(await decide(rotation, 'kms:CreateAlias', key)).toBe('Allowed');
    expect(await decide(rotation, 'kms:GetPublicKey', key)).toBe('Allowed');
    expect(
      await decide(rotation, 'kms:ScheduleKeyDeletion', key, { 'kms:ScheduleKeyDeletionPendingWindowInDays': '30' }),
    ).toBe('Allowed');
    expect(await decide(rotation, 'kms:Sign', key, SIGN)).not.toBe('Allowed');
    expect(await decide(rotation, 'kms:PutKeyPolicy', key)).not.toBe('Allowed');
  });

  it('refuse a principal of the account whose IAM policy allows kms:Sign on every key, as the first key does', async () => {
    expect(await decide(anySigner(), 'kms:Sign', rotatedKey(), SIGN)).not.toBe('Allowed');
    const first: KeyUnderTest = { ...rotatedKey(), arn: stack.signingKey.arn };
    expect(await decide(anySigner(), 'kms:Sign', first, SIGN)).not.toBe('Allowed');
    // KMS's default key policy, which such keys had before, lets it sign.
    expect(
      await decide(anySigner(), 'kms:Sign', { ...rotatedKey(), policy: defaultKeyPolicy(stack.account) }, SIGN),
    ).toBe('Allowed');
  });
});

describe("the token function's writes to user items", () => {
  const users = () => stack.tables.users.arn;

  async function update(context: Record<string, string | string[]>): Promise<string> {
    const check: Check = {
      principal: 'token',
      action: 'dynamodb:UpdateItem',
      resource: users(),
      label: 'table users',
      context,
      call: 'UpdateItem',
    };
    return (await evaluate(check, role('token'), stack.account)).decision;
  }

  it('may replace the password hash, and nothing else, and may not ask for the whole item back', async () => {
    expect(await update({ 'dynamodb:Attributes': ['passwordHash', 'username'] })).toBe('Allowed');
    expect(
      await update({ 'dynamodb:Attributes': ['passwordHash', 'username'], 'dynamodb:ReturnValues': 'UPDATED_OLD' }),
    ).toBe('Allowed');
    for (const attribute of ['scopes', 'disabled', 'sessionEpoch', 'userId']) {
      expect(await update({ 'dynamodb:Attributes': ['passwordHash', 'username', attribute] }), attribute).not.toBe(
        'Allowed',
      );
    }
    expect(
      await update({ 'dynamodb:Attributes': ['passwordHash', 'username'], 'dynamodb:ReturnValues': 'ALL_NEW' }),
    ).not.toBe('Allowed');
    expect(
      await update({ 'dynamodb:Attributes': ['passwordHash', 'username'], 'dynamodb:ReturnValues': 'ALL_OLD' }),
    ).not.toBe('Allowed');
  });
});

function resourceTags(tags: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).map(([key, value]) => [`aws:ResourceTag/${key}`, value]));
}

describe('the TOTP secret key', () => {
  const key = (): KeyUnderTest => ({
    arn: stack.mfaKey.arn,
    account: stack.account,
    policy: stack.mfaKey.policy,
    context: { ...stack.mfaKey.attributes },
  });
  /** A call with the {userId} encryption context, as the adapters make them. */
  const USER_CONTEXT = {
    'kms:EncryptionAlgorithm': 'SYMMETRIC_DEFAULT',
    'kms:EncryptionContextKeys': ['userId'],
  };
  /** A principal of the account (an operator, a CI role) whose IAM policy allows every KMS action on every key. */
  const administrator = (): Caller => ({
    name: 'kms-administrator',
    arn: `arn:${stack.partition}:iam::${stack.account}:role/kms-administrator`,
    sessionArn: `arn:${stack.partition}:sts::${stack.account}:assumed-role/kms-administrator/session`,
    policies: [
      {
        name: 'EverythingKms',
        document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] },
      },
    ],
  });

  it('lets the token function decrypt with the {userId} context only, and never encrypt', async () => {
    expect(await decide(role('token'), 'kms:Decrypt', key(), USER_CONTEXT)).toBe('Allowed');
    // No encryption context, an empty one, another key, or userId with another key beside it.
    const { 'kms:EncryptionContextKeys': _keys, ...withoutContext } = USER_CONTEXT;
    for (const context of [
      withoutContext,
      { ...USER_CONTEXT, 'kms:EncryptionContextKeys': [] },
      { ...USER_CONTEXT, 'kms:EncryptionContextKeys': ['username'] },
      { ...USER_CONTEXT, 'kms:EncryptionContextKeys': ['userId', 'tenant'] },
      { ...USER_CONTEXT, 'kms:EncryptionAlgorithm': 'RSAES_OAEP_SHA_256' },
    ]) {
      expect(await decide(role('token'), 'kms:Decrypt', key(), context), JSON.stringify(context)).not.toBe('Allowed');
    }
    expect(await decide(role('token'), 'kms:Encrypt', key(), USER_CONTEXT)).not.toBe('Allowed');
    expect(await decide(role('token'), 'kms:ReEncryptFrom', key(), USER_CONTEXT)).not.toBe('Allowed');
    expect(await decide(role('token'), 'kms:GenerateDataKey', key(), USER_CONTEXT)).not.toBe('Allowed');
  });

  it('refuses every other function decryption', async () => {
    for (const principal of ['jwks', 'metadata', 'rotateKeys'] as const) {
      expect(await decide(role(principal), 'kms:Decrypt', key(), USER_CONTEXT), principal).not.toBe('Allowed');
      expect(await decide(role(principal), 'kms:Encrypt', key(), USER_CONTEXT), principal).not.toBe('Allowed');
    }
  });

  it('lets a principal of the account encrypt through IAM, with the {userId} context, but never decrypt', async () => {
    expect(await decide(administrator(), 'kms:Encrypt', key(), USER_CONTEXT)).toBe('Allowed');
    expect(
      await decide(administrator(), 'kms:Encrypt', key(), { ...USER_CONTEXT, 'kms:EncryptionContextKeys': ['other'] }),
    ).not.toBe('Allowed');
    for (const action of ['kms:Decrypt', 'kms:ReEncryptFrom', 'kms:GenerateDataKey', 'kms:CreateGrant']) {
      expect(await decide(administrator(), action, key(), USER_CONTEXT), action).not.toBe('Allowed');
    }
    // IAM alone grants nothing: without an IAM policy the account's principals cannot even encrypt.
    expect(await decide({ ...administrator(), policies: [] }, 'kms:Encrypt', key(), USER_CONTEXT)).not.toBe('Allowed');
  });

  it('keeps the token function from writing a user’s TOTP secret', async () => {
    const check: Check = {
      principal: 'token',
      action: 'dynamodb:UpdateItem',
      resource: stack.tables.users.arn,
      label: 'table users',
      context: { 'dynamodb:Attributes': ['mfaEnrolledAt', 'mfaSecret', 'username'] },
      call: 'UpdateItem',
    };
    expect((await evaluate(check, role('token'), stack.account)).decision).not.toBe('Allowed');
    const commit = { ...check, context: { 'dynamodb:Attributes': ['mfaEnrolledAt', 'mfaLastStep', 'username'] } };
    expect((await evaluate(commit, role('token'), stack.account)).decision).toBe('Allowed');
  });
});
