import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SIGNING_KEY_TAG_KEY } from '../../contract/signing-keys';
import type { TableDefinition } from '../../contract/tables';
import type { SdkCallRecord, SdkPrincipal } from '../../lambda/adapters/sdk-call-log';
import { LOCAL_MFA_KEY_ALIAS, localTableNames } from '../../local/bootstrap';
import type { DeployedStack, PolicyDocument } from './deployed-stack';

type TableName = TableDefinition['name'];

/** One permission IAM checks for a call: the action, on one resource, with the request context. */
export interface Check {
  readonly principal: SdkPrincipal;
  readonly action: string;
  /** The resource's ARN in the deployment (`*` for CreateKey). */
  readonly resource: string;
  /** What the resource is, for messages: `table users`, `the first signing key`, `a rotated signing key`. */
  readonly label: string;
  readonly context: Readonly<Record<string, string | string[]>>;
  /** The key policy of the key the check is on, when it is a KMS key. */
  readonly keyPolicy?: PolicyDocument;
  /** The call it comes from, for messages: `TransactWriteItems (ConditionCheck)`. */
  readonly call: string;
}

/** Every record of a recording directory (one JSON Lines file per process). */
export function readRecording(dir: string): SdkCallRecord[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((file) => file.endsWith('.jsonl'));
  } catch {
    return [];
  }
  return files.flatMap((file) =>
    readFileSync(join(dir, file), 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as SdkCallRecord),
  );
}

/** The suffixes local tables carry (local/bootstrap.ts), mapped back to the logical tables. */
const LOCAL_TABLE_SUFFIXES = Object.entries(localTableNames('')) as [TableName, string][];

function logicalTable(localName: string): TableName {
  const found = LOCAL_TABLE_SUFFIXES.find(([, suffix]) => localName.endsWith(suffix));
  if (found === undefined) throw new Error(`table ${localName} is none of the service's tables`);
  return found[0];
}

/** What the proof calls the key TOTP secrets are encrypted with, in checks and messages. */
export const MFA_KEY_LABEL = 'the TOTP secret key';

/** A rotated key's alias: the first key's alias, a UTC timestamp and a key id prefix (key-manager.ts aliasFor). */
const ROTATED_ALIAS = /^(.*)-(\d{8}T\d{6}Z-[0-9a-f-]{8})$/;

/** KMS's default key policy, which a key created without a Policy gets: the account's IAM decides everything. */
function defaultKeyPolicy(stack: DeployedStack): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'Enable IAM User Permissions',
        Effect: 'Allow',
        Principal: { AWS: `arn:${stack.partition}:iam::${stack.account}:root` },
        Action: 'kms:*',
        Resource: '*',
      },
    ],
  };
}

interface KeyFacts {
  readonly arn: string;
  readonly label: string;
  readonly tags: Readonly<Record<string, string>>;
  /** kms:KeySpec, kms:KeyUsage and kms:KeyOrigin: what IAM knows of every call on the key. */
  readonly attributes: Readonly<Record<string, string>>;
  readonly policy: PolicyDocument;
}

/**
 * Expands recorded calls into the permissions AWS checks for them, on the deployment's resources:
 * - DynamoDB: one action per call on the table, or on the index for a Query or Scan of one;
 *   TransactWriteItems into PutItem / UpdateItem / DeleteItem / ConditionCheckItem per item;
 *   batch calls into the batch action on each table.
 * - DynamoDB writes with an UpdateExpression: the attribute names they touch as dynamodb:Attributes, and
 *   their ReturnValues (dynamodb:ReturnValues).
 * - KMS: the key's ARN even when the call names an alias (IAM authorizes the key), with the key's tags
 *   as aws:ResourceTag/… and its kms:KeySpec, kms:KeyUsage, kms:KeyOrigin; CreateKey on `*` with those of
 *   the new key, its kms:BypassPolicyLockoutSafetyCheck and request tags, plus kms:TagResource on the new
 *   key when it has tags; CreateAlias on the alias and on the key. A key CreateKey made is evaluated under
 *   the key policy it was given: the first key's, when the policy is one GetKeyPolicy read from it.
 * - Lambda: Invoke as lambda:InvokeFunction on the function's ARN (with its qualifier, if the call names one).
 * Local names map to the deployment's: tables by their local suffix, the first signing key (the one the
 * functions name by alias) to the template's key, keys that rotation created to new keys of the account,
 * the signing-key tag's value (the deployment's name, `local` locally) to the stack name.
 */
export function expandToChecks(records: readonly SdkCallRecord[], stack: DeployedStack): Check[] {
  const keys = keyDirectory(records, stack);
  const checks: Check[] = [];
  for (const record of records) {
    if (isMissingTableProbe(record)) continue;
    const add = (
      action: string,
      resource: string,
      label: string,
      context: Check['context'] = {},
      extra: Partial<Check> = {},
      part?: string,
    ) =>
      checks.push({
        principal: record.principal,
        action,
        resource,
        label,
        context,
        call: part === undefined ? record.command : `${record.command} (${part})`,
        ...extra,
      });
    const input = record.input as Record<string, any>;
    if (record.service === 'dynamodb') {
      const table = (localName: string) => stack.tables[logicalTable(localName)];
      switch (record.command) {
        case 'TransactWriteItems':
          for (const item of input.TransactItems as { kind: string; TableName: string; Attributes?: string[] }[]) {
            const action = {
              Put: 'PutItem',
              Update: 'UpdateItem',
              Delete: 'DeleteItem',
              ConditionCheck: 'ConditionCheckItem',
            }[item.kind];
            if (action === undefined) throw new Error(`unknown transaction item ${item.kind}`);
            add(
              `dynamodb:${action}`,
              table(item.TableName).arn,
              `table ${logicalTable(item.TableName)}`,
              writeContext(item),
              {},
              item.kind,
            );
          }
          break;
        case 'TransactGetItems':
          for (const item of input.TransactItems as { TableName: string }[]) {
            add('dynamodb:GetItem', table(item.TableName).arn, `table ${logicalTable(item.TableName)}`, {}, {}, 'Get');
          }
          break;
        case 'BatchGetItem':
        case 'BatchWriteItem':
          for (const localName of Object.keys(input.RequestItems as object)) {
            add(`dynamodb:${record.command}`, table(localName).arn, `table ${logicalTable(localName)}`);
          }
          break;
        default: {
          const name = String(input.TableName);
          const index = input.IndexName as string | undefined;
          const arn = index === undefined ? table(name).arn : `${table(name).arn}/index/${index}`;
          add(
            `dynamodb:${record.command}`,
            arn,
            index === undefined ? `table ${logicalTable(name)}` : `index ${logicalTable(name)}/${index}`,
            writeContext(input),
          );
        }
      }
    } else if (record.service === 'kms') {
      const onKey = (action: string, key: KeyFacts, context: Record<string, string | string[]> = {}, part?: string) =>
        add(
          action,
          key.arn,
          key.label,
          { ...resourceTags(key.tags), ...key.attributes, ...context },
          { keyPolicy: key.policy },
          part,
        );
      switch (record.command) {
        case 'CreateKey': {
          const tags = deployedTags(input.Tags, stack);
          const requestTags = requestTagContext(tags);
          add('kms:CreateKey', '*', 'a new key', {
            ...requestTags,
            ...createdKeyAttributes(input),
            ...(input.BypassPolicyLockoutSafetyCheck === undefined
              ? {}
              : { 'kms:BypassPolicyLockoutSafetyCheck': String(input.BypassPolicyLockoutSafetyCheck) }),
          });
          const created = record.output?.KeyArn;
          if (Object.keys(tags).length > 0 && typeof created === 'string') {
            // Tagging at creation is authorized as TagResource on the new key (KMS developer guide, "Tagging keys").
            const key = keys.byLocalArn(created);
            add('kms:TagResource', key.arn, key.label, requestTags, { keyPolicy: key.policy }, 'Tags');
          }
          break;
        }
        case 'CreateAlias': {
          const alias = deployedAlias(String(input.AliasName), stack);
          add(
            'kms:CreateAlias',
            `arn:${stack.partition}:kms:${stack.region}:${stack.account}:${alias}`,
            `alias ${alias}`,
            {},
            {},
            'alias',
          );
          onKey('kms:CreateAlias', keys.resolve(String(input.TargetKeyId), undefined), {}, 'key');
          break;
        }
        case 'Sign':
        case 'Verify':
          onKey(
            `kms:${record.command}`,
            keys.resolve(String(input.KeyId), record.output?.KeyId as string | undefined),
            {
              ...(input.SigningAlgorithm === undefined ? {} : { 'kms:SigningAlgorithm': input.SigningAlgorithm }),
              ...(input.MessageType === undefined ? {} : { 'kms:MessageType': input.MessageType }),
            },
          );
          break;
        case 'Encrypt':
        case 'Decrypt': {
          // TOTP secrets: the condition keys of the encryption context (its keys; values are not recorded).
          const contextKeys = (Array.isArray(input.EncryptionContext) ? input.EncryptionContext : []).map(String);
          onKey(
            `kms:${record.command}`,
            keys.resolve(String(input.KeyId), record.output?.KeyId as string | undefined),
            {
              ...(input.EncryptionAlgorithm === undefined
                ? {}
                : { 'kms:EncryptionAlgorithm': input.EncryptionAlgorithm }),
              ...(contextKeys.length === 0 ? {} : { 'kms:EncryptionContextKeys': contextKeys }),
            },
          );
          break;
        }
        case 'ScheduleKeyDeletion':
          onKey(
            'kms:ScheduleKeyDeletion',
            keys.resolve(String(input.KeyId), record.output?.KeyId as string | undefined),
            {
              ...(input.PendingWindowInDays === undefined
                ? {}
                : { 'kms:ScheduleKeyDeletionPendingWindowInDays': String(input.PendingWindowInDays) }),
            },
          );
          break;
        case 'ListAliases':
        case 'ListKeys':
          add(`kms:${record.command}`, '*', 'the account');
          break;
        default:
          if (input.KeyId === undefined)
            throw new Error(`the proof does not know which resource KMS ${record.command} is on`);
          onKey(
            `kms:${record.command}`,
            keys.resolve(String(input.KeyId), (record.output?.KeyId ?? record.output?.KeyArn) as string | undefined),
          );
      }
    } else if (record.service === 'lambda') {
      // The token function's call of the legacy verifier (lazy migration), by the ARN it was configured with.
      if (record.command !== 'Invoke') throw new Error(`the proof does not know Lambda ${record.command}`);
      const name = String(input.FunctionName);
      if (!name.startsWith('arn:')) throw new Error(`Lambda Invoke of ${name}: the proof needs the function's ARN`);
      const arn = input.Qualifier === undefined ? name : `${name}:${input.Qualifier}`;
      add('lambda:InvokeFunction', arn, `function ${arn}`);
    } else if (record.service === 'cloudformation') {
      add(
        `cloudformation:${record.command}`,
        `arn:${stack.partition}:cloudformation:${stack.region}:${stack.account}:stack/${stack.stackName}/00000000-0000-4000-8000-000000000000`,
        `stack ${stack.stackName}`,
      );
    } else {
      throw new Error(`the proof does not know the ${record.service} service`);
    }
  }
  return checks;
}

/**
 * A call on a table that is not one of the service's and that DynamoDB answered with "no such table": a
 * test of how the CLI reports a stack that is not there, not a call the deployed stack makes.
 */
function isMissingTableProbe(record: SdkCallRecord): boolean {
  const table = (record.input as { TableName?: unknown }).TableName;
  return (
    record.service === 'dynamodb' &&
    record.error === 'ResourceNotFoundException' &&
    typeof table === 'string' &&
    !LOCAL_TABLE_SUFFIXES.some(([, suffix]) => table.endsWith(suffix))
  );
}

/** A KMS key's id, from its ARN or the bare id (CreateKey answers both; later calls may name either). */
function keyIdOf(keyArnOrId: string): string {
  return keyArnOrId.split('/').at(-1)!;
}

/**
 * What the recording says about each key: those CreateKey made (rotated keys, with the tags and policy
 * they were given) and, for every alias the functions name a key by, the ARN KMS resolved it to.
 */
function keyDirectory(records: readonly SdkCallRecord[], stack: DeployedStack) {
  const created = new Map<
    string,
    { tags: Record<string, string>; attributes: Record<string, string>; policy?: string }
  >();
  const rotatedAliases = new Set<string>();
  const aliasTargets = new Map<string, string>();
  for (const record of records) {
    if (record.service !== 'kms') continue;
    const input = record.input as Record<string, any>;
    if (record.command === 'CreateKey' && typeof record.output?.KeyArn === 'string') {
      created.set(keyIdOf(record.output.KeyArn), {
        tags: deployedTags(input.Tags, stack),
        attributes: createdKeyAttributes(input),
        policy: input.Policy,
      });
    }
    if (record.command === 'CreateAlias') rotatedAliases.add(String(input.AliasName));
  }
  for (const record of records) {
    const keyId = (record.input as { KeyId?: string }).KeyId;
    const resolved = record.output?.KeyId ?? record.output?.KeyArn;
    if (keyId?.startsWith('alias/') && typeof resolved === 'string') aliasTargets.set(keyId, resolved);
  }
  // The policies GetKeyPolicy read from the first key: a key created with one of them has the first key's.
  const firstKeyPolicies = new Set<string>();
  for (const record of records) {
    const keyId = (record.input as { KeyId?: string }).KeyId;
    const policy = record.output?.Policy;
    if (record.service !== 'kms' || record.command !== 'GetKeyPolicy' || typeof policy !== 'string') continue;
    if (keyId !== undefined && !created.has(keyIdOf(keyId))) firstKeyPolicies.add(policy);
  }
  const first: KeyFacts = {
    arn: stack.signingKey.arn,
    label: 'the first signing key',
    tags: stack.signingKey.tags,
    attributes: stack.signingKey.attributes,
    policy: stack.signingKey.policy,
  };
  // The TOTP key, which the functions and the CLI name by its local alias (local/bootstrap.ts).
  const mfa: KeyFacts = {
    arn: stack.mfaKey.arn,
    label: MFA_KEY_LABEL,
    tags: {},
    attributes: stack.mfaKey.attributes,
    policy: stack.mfaKey.policy,
  };
  const mfaLocalArn = aliasTargets.get(LOCAL_MFA_KEY_ALIAS);
  const byLocalArn = (localArn: string): KeyFacts => {
    const keyId = keyIdOf(localArn);
    if (mfaLocalArn !== undefined && keyId === keyIdOf(mfaLocalArn)) return mfa;
    const rotated = created.get(keyId);
    if (rotated === undefined) return first;
    return {
      arn: `arn:${stack.partition}:kms:${stack.region}:${stack.account}:key/${keyId}`,
      label: 'a rotated signing key',
      tags: rotated.tags,
      attributes: rotated.attributes,
      policy:
        rotated.policy === undefined
          ? defaultKeyPolicy(stack)
          : deployedKeyPolicy(rotated.policy, firstKeyPolicies, stack),
    };
  };
  return {
    byLocalArn,
    /** The key a call is on: by the ARN KMS answered with, else by the ARN or alias it named. */
    resolve(keyId: string, answered: string | undefined): KeyFacts {
      if (keyId === LOCAL_MFA_KEY_ALIAS) return mfa;
      if (answered !== undefined) return byLocalArn(answered);
      if (!keyId.startsWith('alias/')) return byLocalArn(keyId);
      const target = aliasTargets.get(keyId);
      if (target !== undefined) return byLocalArn(target);
      if (rotatedAliases.has(keyId)) throw new Error(`no call shows which key ${keyId} names`);
      // The functions and the CLI name only the first key by alias (SIGNING_KEY_ID).
      return first;
    },
  };
}

/**
 * A key policy given at CreateKey, in the deployment: a copy of the first key's (what GetKeyPolicy read
 * from it) is, on AWS, the first key's policy as the template writes it. Any other policy names local
 * principals the proof cannot map.
 */
function deployedKeyPolicy(
  policy: string,
  firstKeyPolicies: ReadonlySet<string>,
  stack: DeployedStack,
): PolicyDocument {
  if (firstKeyPolicies.has(policy)) return stack.signingKey.policy;
  throw new Error(
    `a key was created with a key policy that is not the first key's (${policy.slice(0, 60)}…): the proof cannot map its principals into the deployment`,
  );
}

/** What IAM knows of a key CreateKey makes, from the request (KMS's defaults where it says nothing). */
function createdKeyAttributes(input: Record<string, unknown>): Record<string, string> {
  return {
    'kms:KeySpec': String(input.KeySpec ?? 'SYMMETRIC_DEFAULT'),
    'kms:KeyUsage': String(input.KeyUsage ?? 'ENCRYPT_DECRYPT'),
    'kms:KeyOrigin': String(input.Origin ?? 'AWS_KMS'),
  };
}

/** The condition keys of a DynamoDB write: the attribute names it touches, and what it asks back. */
function writeContext(input: {
  Attributes?: unknown;
  ReturnValues?: unknown;
  Select?: unknown;
}): Record<string, string | string[]> {
  return {
    ...(Array.isArray(input.Attributes) ? { 'dynamodb:Attributes': input.Attributes.map(String) } : {}),
    ...(typeof input.ReturnValues === 'string' ? { 'dynamodb:ReturnValues': input.ReturnValues } : {}),
    ...(typeof input.Select === 'string' ? { 'dynamodb:Select': input.Select } : {}),
  };
}

/** Tags in a request, with the signing-key tag's value (the local deployment's name) as the stack's name. */
function deployedTags(tags: unknown, stack: DeployedStack): Record<string, string> {
  const list = (Array.isArray(tags) ? tags : []) as { TagKey: string; TagValue: string }[];
  return Object.fromEntries(
    list.map(({ TagKey, TagValue }) => [TagKey, TagKey === SIGNING_KEY_TAG_KEY ? stack.stackName : TagValue]),
  );
}

function requestTagContext(tags: Record<string, string>): Record<string, string | string[]> {
  const keys = Object.keys(tags);
  if (keys.length === 0) return {};
  return { ...Object.fromEntries(keys.map((key) => [`aws:RequestTag/${key}`, tags[key]!])), 'aws:TagKeys': keys };
}

function resourceTags(tags: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).map(([key, value]) => [`aws:ResourceTag/${key}`, value]));
}

/** A rotated key's alias in the deployment: the stack's signing alias with the same timestamp. */
function deployedAlias(localAlias: string, stack: DeployedStack): string {
  const match = ROTATED_ALIAS.exec(localAlias);
  if (match === null) throw new Error(`alias ${localAlias} is not a rotated key's alias (<signing alias>-<timestamp>)`);
  return `${stack.signingKey.alias}-${match[2]}`;
}
