/** Which stack a command acts on: the local one `npm start` runs (default) or a deployed one (--stack). */
import { join } from 'node:path';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { LOCAL_DEPLOYMENT } from '../../contract/signing-keys';
import { TABLE_DEFINITIONS, type TableNames } from '../../contract/tables';
import { createDocumentClient, createKmsClient } from '../../lambda/adapters/aws-clients';
import { recordSdkCalls } from '../../lambda/adapters/sdk-call-log';
import { DEFAULT_LIFETIMES } from '../../lambda/oauth/config';
import { type ScryptParams, validateScryptParams } from '../../lambda/passwords';
import { LOCAL_CREDENTIALS, type LocalStackState, localStateDir, readStackState } from '../../local/state';
import { OperationalError } from './errors';
import { type StackOutput, stackSettingsFromOutputs } from './stack-outputs';

export interface Target {
  /** For messages: `the local stack`, `stack "prod" in eu-west-1` or `stack "prod" in eu-west-1 (profile ops)`. */
  readonly description: string;
  readonly kind: 'local' | 'stack';
  /** The deployment's name: the stack name, or `local` (what its signing keys are tagged with). */
  readonly deployment: string;
  readonly tables: TableNames;
  readonly scrypt: ScryptParams;
  readonly signingKeyAlias: string;
  /** The KMS key TOTP secrets are encrypted with (`users mfa enroll`); absent for a stack from before MFA. */
  readonly mfaKeyId?: string;
  readonly issuer: string;
  /** Set for the local stack: DynamoDB Local's URL. */
  readonly dynamodbEndpoint?: string;
  readonly region?: string;
  readonly db: DynamoDBDocumentClient;
  /** The access-token lifetime, which decides how long a retired signing key stays published. */
  readonly accessTokenTtl: number;
  /** The KMS client (the emulator for the local stack), created on first use. */
  kms(): KMSClient;
  /** Releases the SDK's sockets so the process can exit. */
  close(): void;
}

/** A KMS client made on first use and destroyed with the target. */
function lazyKms(options: Parameters<typeof createKmsClient>[0]): { kms: () => KMSClient; destroy: () => void } {
  let client: KMSClient | undefined;
  return {
    kms: () => (client ??= createKmsClient(options)),
    destroy: () => client?.destroy(),
  };
}

/**
 * DescribeStacks for one stack: its outputs, or undefined when no such stack exists. Injected in tests.
 * `region` and `profile` are the operator's --region and --profile: undefined leaves them to the SDK.
 */
export type DescribeStackOutputs = (
  stackName: string,
  region: string | undefined,
  profile: string | undefined,
) => Promise<readonly StackOutput[] | undefined>;

export interface TargetOptions {
  readonly stack?: string;
  readonly region?: string;
  /**
   * The AWS shared-config profile for every client of a deployed stack, as the AWS CLI's --profile.
   * Without it the SDK reads AWS_PROFILE (then `default`) on its own, so nothing here reads AWS_PROFILE
   * except for messages.
   */
  readonly profile?: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly describeStackOutputs?: DescribeStackOutputs;
}

export async function resolveTarget(options: TargetOptions): Promise<Target> {
  if (options.stack === undefined) return localTarget(options.env);
  return stackTarget(
    options.stack,
    { region: options.region, profile: options.profile, envProfile: options.env.AWS_PROFILE },
    options.describeStackOutputs ?? describeStackOutputsWithSdk,
  );
}

async function localTarget(env: Readonly<Record<string, string | undefined>>): Promise<Target> {
  const dir = localStateDir(env);
  const file = join(dir, 'stack.json');
  let state: LocalStackState | undefined;
  try {
    state = await readStackState(dir);
  } catch (error) {
    throw new OperationalError(
      `cannot read the local stack state ${file} (${(error as Error).message}): restart the local stack with \`npm start\``,
    );
  }
  if (state === undefined) {
    const where = env.LOCAL_STATE_DIR
      ? `looked in ${dir}, from LOCAL_STATE_DIR=${env.LOCAL_STATE_DIR}: \`npm start\` must run with the same LOCAL_STATE_DIR, and its banner prints the \`export LOCAL_STATE_DIR=…\` line for this shell`
      : `looked in ${dir}, the default, as LOCAL_STATE_DIR is not set: if \`npm start\` runs with LOCAL_STATE_DIR, run the \`export LOCAL_STATE_DIR=…\` line its banner prints in this shell`;
    throw new OperationalError(
      `the local stack is not running (no ${file}): start it with \`npm start\` in another terminal, or target a deployed stack with --stack NAME; ${where}`,
    );
  }
  checkLocalState(state, file);
  const local = { region: state.region, credentials: LOCAL_CREDENTIALS, principal: 'operator' } as const;
  const db = createDocumentClient({ ...local, dynamodbEndpoint: state.dynamodbEndpoint });
  const kms = lazyKms({ ...local, kmsEndpoint: state.kmsEndpoint });
  return {
    description: 'the local stack',
    kind: 'local',
    deployment: LOCAL_DEPLOYMENT,
    tables: state.tables,
    scrypt: state.scrypt,
    signingKeyAlias: state.signingKeyAlias,
    ...(typeof state.mfaKeyId === 'string' ? { mfaKeyId: state.mfaKeyId } : {}),
    issuer: state.issuer,
    dynamodbEndpoint: state.dynamodbEndpoint,
    region: state.region,
    db,
    accessTokenTtl: typeof state.accessTokenTtl === 'number' ? state.accessTokenTtl : DEFAULT_LIFETIMES.accessTokenTtl,
    kms: kms.kms,
    close: () => {
      db.destroy();
      kms.destroy();
    },
  };
}

/** stack.json is written by another program (and maybe an older version): check what the CLI relies on. */
function checkLocalState(state: LocalStackState, file: string): void {
  const bad = (what: string) =>
    new OperationalError(
      `the local stack state ${file} is invalid (${what}): restart the local stack with \`npm start\``,
    );
  if (typeof state !== 'object' || state === null) throw bad('not a JSON object');
  if (typeof state.dynamodbEndpoint !== 'string' || !/^https?:\/\//.test(state.dynamodbEndpoint))
    throw bad('dynamodbEndpoint');
  if (typeof state.region !== 'string' || state.region === '') throw bad('region');
  const tables = state.tables as Partial<TableNames> | undefined;
  for (const { name } of TABLE_DEFINITIONS) {
    const tableName = tables?.[name];
    if (typeof tableName !== 'string' || tableName === '') throw bad(`tables.${name}`);
  }
  try {
    validateScryptParams(state.scrypt);
  } catch (error) {
    throw bad(`scrypt: ${(error as Error).message}`);
  }
}

interface AwsSettings {
  /** --region and --profile, as given. */
  readonly region: string | undefined;
  readonly profile: string | undefined;
  /** AWS_PROFILE, which the SDK uses when --profile is absent. */
  readonly envProfile: string | undefined;
}

async function stackTarget(stackName: string, aws: AwsSettings, describe: DescribeStackOutputs): Promise<Target> {
  const { region, profile } = aws;
  const usedProfile = profile ?? (aws.envProfile || undefined);
  const as = usedProfile === undefined ? '' : ` (profile ${usedProfile})`;
  const where = region === undefined ? '' : ` in ${region}`;
  let outputs: readonly StackOutput[] | undefined;
  try {
    outputs = await describe(stackName, region, profile);
  } catch (error) {
    throw new OperationalError(
      `cannot read the CloudFormation stack "${stackName}"${where}${as}: ${awsProblem(error, usedProfile)}`,
      { cause: error },
    );
  }
  if (outputs === undefined) {
    const check = usedProfile === undefined ? '--stack and --region' : '--stack, --region and --profile';
    throw new OperationalError(`there is no CloudFormation stack "${stackName}"${where}${as} (check ${check})`);
  }
  let settings: ReturnType<typeof stackSettingsFromOutputs>;
  try {
    settings = stackSettingsFromOutputs(stackName, outputs);
  } catch (error) {
    throw new OperationalError((error as Error).message);
  }
  const db = createDocumentClient({ region, profile, principal: 'operator' });
  const kms = lazyKms({ region, profile, principal: 'operator' });
  // The region the clients use, for messages: DescribeStacks has just resolved the same one (AWS_REGION or
  // the profile's), so this reads no file anew. Only a seam without the SDK leaves it unknown.
  const resolvedRegion = region ?? (await db.config.region().catch(() => undefined));
  return {
    description: `stack "${stackName}"${resolvedRegion === undefined ? '' : ` in ${resolvedRegion}`}${as}`,
    kind: 'stack',
    deployment: stackName,
    tables: settings.tables,
    scrypt: settings.scrypt,
    signingKeyAlias: settings.signingKeyAlias,
    ...(settings.mfaKeyId === undefined ? {} : { mfaKeyId: settings.mfaKeyId }),
    issuer: settings.issuer,
    region: resolvedRegion,
    db,
    accessTokenTtl: settings.accessTokenTtl,
    kms: kms.kms,
    close: () => {
      db.destroy();
      kms.destroy();
    },
  };
}

/** The real DescribeStacks, loaded only when --stack is used. */
const describeStackOutputsWithSdk: DescribeStackOutputs = async (stackName, region, profile) => {
  const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  const cloudFormation = new CloudFormationClient({ region, profile });
  recordSdkCalls(cloudFormation, 'cloudformation', 'operator');
  try {
    const { Stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = Stacks?.[0];
    return stack === undefined ? undefined : (stack.Outputs ?? []);
  } catch (error) {
    if (error instanceof Error && error.name === 'ValidationError' && /does not exist/.test(error.message))
      return undefined;
    throw error;
  } finally {
    cloudFormation.destroy();
  }
};

/**
 * A one-line explanation of an AWS SDK failure, with a hint for the usual setup problems. `profile` is the
 * shared-config profile in use (--profile or AWS_PROFILE): a misspelt one shows up only as a missing region
 * or missing credentials, as the SDK treats an unknown profile as an empty one.
 */
export function awsProblem(error: unknown, profile?: string): string {
  if (!(error instanceof Error)) return String(error);
  const inProfile =
    profile === undefined
      ? ''
      : ` (is there a profile "${profile}" in the AWS config, ~/.aws/config or AWS_CONFIG_FILE, or ~/.aws/credentials?)`;
  if (error.name === 'CredentialsProviderError' || /credential/i.test(error.message)) {
    const hint =
      profile === undefined
        ? 'e.g. --profile P, AWS_PROFILE or `aws sso login`'
        : `e.g. \`aws sso login --profile ${profile}\``;
    return `no usable AWS credentials (${firstLine(error.message)})${inProfile}; configure them, ${hint}`;
  }
  if (/region is missing/i.test(error.message)) {
    return `no AWS region${inProfile}: pass --region R, set AWS_REGION or set the profile's region`;
  }
  return `${error.name}: ${firstLine(error.message)}`;
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? '';
}
