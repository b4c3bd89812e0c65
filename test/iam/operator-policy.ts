import { SIGNING_KEY_TAG_KEY } from '../../contract/signing-keys';
import { MFA_KEY_CONDITIONS } from '../../lib/mfa-key';
import { type Check, MFA_KEY_LABEL } from './checks';
import type { DeployedStack, PolicyDocument, PolicyStatement } from './deployed-stack';

/**
 * The IAM policy an operator needs, generated from what `ropc-admin` was recorded doing: one statement per
 * kind of resource, with the recorded actions only, scoped to the stack's resources (its tables by their
 * CloudFormation names, its signing keys by their tag, its rotated keys' aliases by prefix, its TOTP key by
 * its ARN, the MfaKeyId output), plus what
 * `cdk deploy` needs (assuming the CDK bootstrap roles, which do the deployment).
 *
 * It is built for a concrete deployment, so the proof can evaluate every operator call against it, and
 * rendered for the README with placeholders for the account, the region and the stack name.
 */
export function operatorPolicy(checks: readonly Check[], stack: DeployedStack): PolicyDocument {
  const arn = (service: string, resource: string) =>
    `arn:${stack.partition}:${service}:${stack.region}:${stack.account}:${resource}`;
  const groups = new Map<
    string,
    { sid: string; resources: Set<string>; actions: Set<string>; condition?: PolicyStatement['Condition'] }
  >();
  // One statement per kind of resource: a table's indexes share one, listing each index the calls used.
  const group = (sid: string, resource: string, action: string, condition?: PolicyStatement['Condition']) => {
    const entry = groups.get(sid) ?? { sid, resources: new Set<string>(), actions: new Set<string>(), condition };
    entry.actions.add(action);
    entry.resources.add(resource);
    groups.set(sid, entry);
  };
  const tagged = { StringEquals: { [`aws:ResourceTag/${SIGNING_KEY_TAG_KEY}`]: stack.stackName } };

  for (const check of checks) {
    if (check.principal !== 'operator') continue;
    const table = Object.entries(stack.tables).find(
      ([, table]) => check.resource === table.arn || check.resource.startsWith(`${table.arn}/index/`),
    );
    if (table !== undefined) {
      const [name, { logicalId }] = table;
      // CloudFormation names the table `<stack>-<logical id>-<suffix>`; the logical id ends in CDK's 8-character hash.
      const prefix = `table/${stack.stackName}-${logicalId.replace(/[0-9A-F]{8}$/, '')}*`;
      const index = check.resource.includes('/index/') ? `/index/${check.resource.split('/index/')[1]}` : '';
      group(`${pascal(name)}${index === '' ? 'Table' : 'Index'}`, arn('dynamodb', `${prefix}${index}`), check.action);
    } else if (check.action === 'kms:CreateKey') {
      group('CreateSigningKeys', '*', check.action, createKeyCondition(checks, stack));
    } else if (check.action === 'kms:TagResource' && check.context['aws:TagKeys'] !== undefined) {
      group('TagNewSigningKeysAtCreation', arn('kms', 'key/*'), check.action, requestTagCondition(stack));
    } else if (check.label.startsWith('alias ')) {
      group('NameRotatedSigningKeys', arn('kms', `${stack.signingKey.alias}-*`), check.action);
    } else if (check.label === MFA_KEY_LABEL) {
      // `users mfa enroll`: kms:Encrypt on the stack's TOTP key, with the context its key policy requires.
      group('EncryptTotpSecrets', stack.mfaKey.arn, check.action, { ...MFA_KEY_CONDITIONS });
    } else if (check.keyPolicy !== undefined) {
      group('UseTheStacksSigningKeys', arn('kms', 'key/*'), check.action, tagged);
    } else if (check.action.startsWith('cloudformation:')) {
      group('ReadTheStacksOutputs', arn('cloudformation', `stack/${stack.stackName}/*`), check.action);
    } else {
      throw new Error(`no operator statement for ${check.action} on ${check.resource}`);
    }
  }
  const statements: PolicyStatement[] = [...groups.values()].map(({ sid, resources, actions, condition }) => ({
    Sid: sid,
    Effect: 'Allow',
    Action: [...actions].sort(),
    Resource: resources.size === 1 ? [...resources][0]! : [...resources].sort(),
    ...(condition === undefined ? {} : { Condition: condition }),
  }));
  statements.sort((a, b) => a.Sid!.localeCompare(b.Sid!));
  return {
    Version: '2012-10-17',
    Statement: [
      ...statements,
      {
        // cdk deploy and cdk diff act through the roles `cdk bootstrap` created (the deploy role passes the
        // CloudFormation execution role): the operator needs only to assume them.
        Sid: 'DeployWithTheCdkBootstrapRoles',
        Effect: 'Allow',
        Action: ['sts:AssumeRole'],
        Resource: ['deploy', 'file-publishing', 'lookup'].map(
          (role) =>
            `arn:${stack.partition}:iam::${stack.account}:role/cdk-hnb659fds-${role}-role-${stack.account}-${stack.region}`,
        ),
      },
    ],
  };
}

/** CreateKey's conditions: the signing-key tag alone, and every key property the recorded calls all share. */
function createKeyCondition(checks: readonly Check[], stack: DeployedStack): PolicyStatement['Condition'] {
  const creations = checks.filter((check) => check.principal === 'operator' && check.action === 'kms:CreateKey');
  const shared: Record<string, string> = {};
  for (const key of ['kms:KeySpec', 'kms:KeyUsage', 'kms:KeyOrigin']) {
    const values = new Set(creations.map((check) => check.context[key]));
    const [value] = values;
    if (values.size === 1 && typeof value === 'string') shared[key] = value;
  }
  const condition = requestTagCondition(stack);
  return { ...condition, StringEquals: { ...condition.StringEquals, ...shared } };
}

function requestTagCondition(stack: DeployedStack): Record<string, Record<string, unknown>> {
  return {
    StringEquals: { [`aws:RequestTag/${SIGNING_KEY_TAG_KEY}`]: stack.stackName },
    'ForAllValues:StringEquals': { 'aws:TagKeys': [SIGNING_KEY_TAG_KEY] },
  };
}

/** The policy as the README shows it: ACCOUNT_ID, REGION and STACK_NAME in place of the deployment's values. */
export function renderForReadme(policy: PolicyDocument, stack: DeployedStack): string {
  return JSON.stringify(policy, null, 2)
    .replaceAll(stack.mfaKey.arn.split('/').at(-1)!, 'MFA_KEY_ID')
    .replaceAll(stack.account, 'ACCOUNT_ID')
    .replaceAll(`:${stack.region}:`, ':REGION:')
    .replaceAll(`-${stack.region}"`, '-REGION"')
    .replaceAll(stack.stackName, 'STACK_NAME');
}

function pascal(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
