import { createHash } from 'node:crypto';
import type { Construct } from 'constructs';
import type { TableDefinition } from '../../contract/tables';
import type { SdkPrincipal } from '../../lambda/adapters/sdk-call-log';
import { logicalId, synthService } from '../infra/support';

type TableName = TableDefinition['name'];

/** An IAM policy document, as IAM and the evaluator read it. */
export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: readonly PolicyStatement[];
}

export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Principal?: unknown;
  readonly Action: string | readonly string[];
  readonly Resource: string | readonly string[];
  readonly Condition?: Record<string, Record<string, unknown>>;
}

/** A function's execution role as CloudFormation would create it, with every policy attached to it. */
export interface DeployedRole {
  readonly logicalId: string;
  readonly arn: string;
  /** The ARN a function's calls carry: `arn:aws:sts::…:assumed-role/<role>/<function>`. */
  readonly sessionArn: string;
  readonly policies: readonly { readonly name: string; readonly document: PolicyDocument }[];
}

/**
 * The synthesized template with every CloudFormation expression resolved to the value it would have in a
 * deployment (account 111122223333, eu-west-1, physical names in CloudFormation's `<stack>-<logical id>-<suffix>`
 * form): what IAM would evaluate the functions' calls against.
 */
export interface DeployedStack {
  readonly stackName: string;
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly roles: Readonly<Record<Exclude<SdkPrincipal, 'operator'>, DeployedRole>>;
  readonly tables: Readonly<
    Record<TableName, { readonly logicalId: string; readonly name: string; readonly arn: string }>
  >;
  readonly signingKey: {
    readonly arn: string;
    readonly policy: PolicyDocument;
    readonly tags: Readonly<Record<string, string>>;
    /** kms:KeySpec, kms:KeyUsage and kms:KeyOrigin, as the template creates the key. */
    readonly attributes: Readonly<Record<string, string>>;
    readonly alias: string;
  };
  /** The key TOTP secrets are encrypted with (lib/mfa-key.ts). */
  readonly mfaKey: {
    readonly arn: string;
    readonly policy: PolicyDocument;
    /** kms:KeySpec, kms:KeyUsage and kms:KeyOrigin. */
    readonly attributes: Readonly<Record<string, string>>;
  };
  /** Every resource of the template (for checks of other resource kinds). */
  readonly resources: Readonly<Record<string, { Type: string; Properties?: Record<string, unknown> }>>;
}

const ACCOUNT = '111122223333';
const REGION = 'eu-west-1';
const PARTITION = 'aws';

/** Synthesizes the stack as `cdk synth` does (cdk.json's context plus `context`) and resolves it. */
export function deployedStack(context: Record<string, unknown> = {}): DeployedStack {
  const { stack, template } = synthService(context);
  const resources = template.toJSON().Resources as DeployedStack['resources'];
  const resolver = new TemplateResolver(stack.stackName, resources);

  const role = (construct: Construct, functionName: string): DeployedRole => {
    const id = logicalId(construct);
    const name = resolver.physicalId(id);
    return {
      logicalId: id,
      arn: resolver.arnOf(id),
      sessionArn: `arn:${PARTITION}:sts::${ACCOUNT}:assumed-role/${name}/${functionName}`,
      policies: resolver.policiesOf(id),
    };
  };
  const { token, jwks, metadata } = stack.functions.roles;
  if (stack.keyRotation === undefined)
    throw new Error('the proof needs the scheduled key rotation (keyRotationDays > 0)');
  const roles = {
    token: role(token, 'token'),
    jwks: role(jwks, 'jwks'),
    metadata: role(metadata, 'metadata'),
    rotateKeys: role(stack.keyRotation.role, 'rotateKeys'),
  };
  const tables = Object.fromEntries(
    Object.entries(stack.tables.tables).map(([name, table]) => {
      const id = logicalId(table);
      return [name, { logicalId: id, name: resolver.physicalId(id), arn: resolver.arnOf(id) }];
    }),
  ) as DeployedStack['tables'];
  const keyId = logicalId(stack.signingKey.key);
  const keyProperties = resources[keyId]!.Properties!;
  const tags = Object.fromEntries(
    ((keyProperties.Tags ?? []) as { Key: string; Value: unknown }[]).map((tag) => [
      tag.Key,
      String(resolver.resolve(tag.Value)),
    ]),
  );
  const mfaKeyId = logicalId(stack.mfaKey.key);
  const mfaKeyProperties = resources[mfaKeyId]!.Properties!;
  return {
    stackName: stack.stackName,
    partition: PARTITION,
    region: REGION,
    account: ACCOUNT,
    roles,
    tables,
    signingKey: {
      arn: resolver.arnOf(keyId),
      policy: resolver.resolve(keyProperties.KeyPolicy) as PolicyDocument,
      tags,
      attributes: {
        'kms:KeySpec': String(keyProperties.KeySpec ?? 'SYMMETRIC_DEFAULT'),
        'kms:KeyUsage': String(keyProperties.KeyUsage ?? 'ENCRYPT_DECRYPT'),
        'kms:KeyOrigin': String(keyProperties.Origin ?? 'AWS_KMS'),
      },
      alias: stack.signingKey.aliasName,
    },
    mfaKey: {
      arn: resolver.arnOf(mfaKeyId),
      policy: resolver.resolve(mfaKeyProperties.KeyPolicy) as PolicyDocument,
      attributes: {
        'kms:KeySpec': String(mfaKeyProperties.KeySpec ?? 'SYMMETRIC_DEFAULT'),
        'kms:KeyUsage': String(mfaKeyProperties.KeyUsage ?? 'ENCRYPT_DECRYPT'),
        'kms:KeyOrigin': String(mfaKeyProperties.Origin ?? 'AWS_KMS'),
      },
    },
    resources,
  };
}

/**
 * Resolves the intrinsic functions CDK writes (Ref, Fn::GetAtt, Fn::Join, Fn::Select, Fn::Split, Fn::Sub)
 * to deployment values. An expression it does not know fails loudly rather than being guessed.
 */
class TemplateResolver {
  constructor(
    private readonly stackName: string,
    private readonly resources: DeployedStack['resources'],
  ) {}

  /** What CloudFormation names a resource without an explicit name: `<stack>-<logical id>-<13 characters>`. */
  physicalId(id: string): string {
    const resource = this.resource(id);
    const suffix = createHash('sha256').update(id).digest('hex').slice(0, 12).toUpperCase();
    switch (resource.Type) {
      case 'AWS::KMS::Key':
        // Key ids are UUIDs.
        return [
          suffix.slice(0, 8),
          suffix.slice(8, 12),
          '4000',
          '8000',
          createHash('sha256').update(`${id}/key`).digest('hex').slice(0, 12),
        ]
          .join('-')
          .toLowerCase();
      case 'AWS::DynamoDB::Table':
        return String(
          resource.Properties?.TableName === undefined
            ? `${this.stackName}-${id}-${suffix}`
            : this.resolve(resource.Properties.TableName),
        );
      case 'AWS::IAM::Role':
        return `${this.stackName}-${id}-${suffix}`.slice(0, 64);
      case 'AWS::Logs::LogGroup':
        return `${this.stackName}-${id}-${suffix}`;
      case 'AWS::Lambda::Function':
        return `${this.stackName}-${id}-${suffix}`.slice(0, 64);
      default:
        return `${this.stackName}-${id}-${suffix}`;
    }
  }

  arnOf(id: string): string {
    const resource = this.resource(id);
    const name = this.physicalId(id);
    switch (resource.Type) {
      case 'AWS::DynamoDB::Table':
        return `arn:${PARTITION}:dynamodb:${REGION}:${ACCOUNT}:table/${name}`;
      case 'AWS::IAM::Role':
        return `arn:${PARTITION}:iam::${ACCOUNT}:role/${name}`;
      case 'AWS::KMS::Key':
        return `arn:${PARTITION}:kms:${REGION}:${ACCOUNT}:key/${name}`;
      case 'AWS::Logs::LogGroup':
        return `arn:${PARTITION}:logs:${REGION}:${ACCOUNT}:log-group:${name}:*`;
      case 'AWS::Lambda::Function':
        return `arn:${PARTITION}:lambda:${REGION}:${ACCOUNT}:function:${name}`;
      default:
        throw new Error(`no Arn attribute known for ${resource.Type} ${id}`);
    }
  }

  /** The policies attached to a role: AWS::IAM::Policy resources naming it, and its inline policies. */
  policiesOf(roleId: string): { name: string; document: PolicyDocument }[] {
    const role = this.resource(roleId);
    if (role.Properties?.ManagedPolicyArns !== undefined)
      throw new Error(`${roleId} has managed policies, which the proof cannot read`);
    const inline = ((role.Properties?.Policies ?? []) as { PolicyName: string; PolicyDocument: unknown }[]).map(
      (policy) => ({
        name: `${roleId}/${policy.PolicyName}`,
        document: this.resolve(policy.PolicyDocument) as PolicyDocument,
      }),
    );
    const attached = Object.entries(this.resources)
      .filter(([, resource]) => resource.Type === 'AWS::IAM::Policy')
      .filter(([, resource]) =>
        ((resource.Properties?.Roles ?? []) as unknown[]).some((ref) => (ref as { Ref?: string }).Ref === roleId),
      )
      .map(([id, resource]) => ({
        name: id,
        document: this.resolve(resource.Properties!.PolicyDocument) as PolicyDocument,
      }));
    return [...inline, ...attached];
  }

  resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((item) => this.resolve(item));
    if (typeof value !== 'object' || value === null) return value;
    const entries = Object.entries(value as Record<string, unknown>);
    const [key, argument] = entries[0] ?? [];
    if (entries.length === 1 && key !== undefined && (key === 'Ref' || key.startsWith('Fn::')))
      return this.intrinsic(key, argument);
    return Object.fromEntries(entries.map(([name, item]) => [name, this.resolve(item)]));
  }

  private intrinsic(name: string, argument: unknown): unknown {
    switch (name) {
      case 'Ref':
        return this.ref(String(argument));
      case 'Fn::GetAtt': {
        const [id, attribute] = argument as [string, string];
        if (attribute !== 'Arn') throw new Error(`Fn::GetAtt ${id}.${attribute} is not resolved by the proof`);
        return this.arnOf(id);
      }
      case 'Fn::Join': {
        const [separator, parts] = argument as [string, unknown[]];
        return (this.resolve(parts) as unknown[]).map(String).join(separator);
      }
      case 'Fn::Select': {
        const [index, list] = argument as [number | string, unknown];
        return (this.resolve(list) as unknown[])[Number(index)];
      }
      case 'Fn::Split': {
        const [separator, text] = argument as [string, unknown];
        return String(this.resolve(text)).split(separator);
      }
      case 'Fn::Sub': {
        const [text, variables] = (typeof argument === 'string' ? [argument, {}] : argument) as [
          string,
          Record<string, unknown>,
        ];
        return text.replace(/\$\{([^}]+)\}/g, (_, variable: string) =>
          variable in variables ? String(this.resolve(variables[variable])) : String(this.ref(variable)),
        );
      }
      default:
        throw new Error(`${name} is not resolved by the proof`);
    }
  }

  private ref(name: string): string {
    switch (name) {
      case 'AWS::AccountId':
        return ACCOUNT;
      case 'AWS::Region':
        return REGION;
      case 'AWS::Partition':
        return PARTITION;
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackName':
        return this.stackName;
      default:
        if (name.startsWith('AWS::')) throw new Error(`Ref ${name} is not resolved by the proof`);
        return this.physicalId(name);
    }
  }

  private resource(id: string) {
    const resource = this.resources[id];
    if (resource === undefined) throw new Error(`the template has no resource ${id}`);
    return resource;
  }
}
