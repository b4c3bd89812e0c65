/**
 * The outputs of the deployed CloudFormation stack that the operator CLI reads (`ropc-admin --stack NAME`).
 * The CDK stack defines its CfnOutputs with exactly these keys (import them from here), so the two
 * cannot drift apart. Pure: no SDK imports, safe to import from CDK code.
 */
import { DEFAULT_SCRYPT_PARAMS, parseScryptParams, type ScryptParams } from '../../lambda/passwords';
import type { TableNames } from '../../lambda/adapters/tables';
import { DEFAULT_LIFETIMES } from '../../lambda/oauth/config';

export const CLIENTS_TABLE_NAME_OUTPUT = 'ClientsTableName';
export const USERS_TABLE_NAME_OUTPUT = 'UsersTableName';
export const REFRESH_TOKENS_TABLE_NAME_OUTPUT = 'RefreshTokensTableName';
export const LOGIN_ATTEMPTS_TABLE_NAME_OUTPUT = 'LoginAttemptsTableName';
export const SIGNING_KEYS_TABLE_NAME_OUTPUT = 'SigningKeysTableName';
/** Access-token lifetime in seconds; decides how long a retired key stays published. Optional: 900. */
export const ACCESS_TOKEN_TTL_OUTPUT = 'AccessTokenTtlSeconds';
export const SIGNING_KEY_ALIAS_OUTPUT = 'SigningKeyAlias';
export const ISSUER_OUTPUT = 'Issuer';
export const TOKEN_ENDPOINT_OUTPUT = 'TokenEndpoint';
/** The scrypt policy, e.g. "N=131072,r=8,p=1" (parseScryptParams syntax). Optional: DEFAULT_SCRYPT_PARAMS without it. */
export const SCRYPT_PARAMS_OUTPUT = 'ScryptParams';

export const STACK_OUTPUT_KEYS = {
  clientsTableName: CLIENTS_TABLE_NAME_OUTPUT,
  usersTableName: USERS_TABLE_NAME_OUTPUT,
  refreshTokensTableName: REFRESH_TOKENS_TABLE_NAME_OUTPUT,
  loginAttemptsTableName: LOGIN_ATTEMPTS_TABLE_NAME_OUTPUT,
  signingKeysTableName: SIGNING_KEYS_TABLE_NAME_OUTPUT,
  accessTokenTtl: ACCESS_TOKEN_TTL_OUTPUT,
  signingKeyAlias: SIGNING_KEY_ALIAS_OUTPUT,
  issuer: ISSUER_OUTPUT,
  tokenEndpoint: TOKEN_ENDPOINT_OUTPUT,
  scryptParams: SCRYPT_PARAMS_OUTPUT,
} as const;

/** Outputs every stack of this service has; ScryptParams and AccessTokenTtlSeconds are optional. */
export const REQUIRED_STACK_OUTPUTS: readonly string[] = [
  CLIENTS_TABLE_NAME_OUTPUT,
  USERS_TABLE_NAME_OUTPUT,
  REFRESH_TOKENS_TABLE_NAME_OUTPUT,
  LOGIN_ATTEMPTS_TABLE_NAME_OUTPUT,
  SIGNING_KEYS_TABLE_NAME_OUTPUT,
  SIGNING_KEY_ALIAS_OUTPUT,
  ISSUER_OUTPUT,
  TOKEN_ENDPOINT_OUTPUT,
];

/** One entry of DescribeStacks' Stacks[].Outputs. */
export interface StackOutput {
  readonly OutputKey?: string;
  readonly OutputValue?: string;
}

/** What the CLI needs to know about a deployed stack. */
export interface StackSettings {
  readonly tables: TableNames;
  readonly signingKeyAlias: string;
  readonly issuer: string;
  readonly tokenEndpoint: string;
  readonly scrypt: ScryptParams;
  readonly accessTokenTtl: number;
}

/** Maps a stack's outputs to settings; throws an Error naming the stack and what is missing or invalid. */
export function stackSettingsFromOutputs(stackName: string, outputs: readonly StackOutput[]): StackSettings {
  const values = new Map<string, string>();
  for (const output of outputs) {
    if (output.OutputKey !== undefined && output.OutputValue !== undefined && output.OutputValue !== '') {
      values.set(output.OutputKey, output.OutputValue);
    }
  }
  const missing = REQUIRED_STACK_OUTPUTS.filter((key) => !values.has(key));
  if (missing.length > 0) {
    throw new Error(
      `stack "${stackName}" lacks the output${missing.length > 1 ? 's' : ''} ${missing.join(', ')}: is it a ropc-token-service stack, and is its deployment complete?`,
    );
  }
  const get = (key: string): string => values.get(key) ?? '';
  const scryptText = values.get(SCRYPT_PARAMS_OUTPUT);
  let scrypt: ScryptParams = DEFAULT_SCRYPT_PARAMS;
  if (scryptText !== undefined) {
    try {
      scrypt = parseScryptParams(scryptText);
    } catch (error) {
      throw new Error(`stack "${stackName}" has an invalid ${SCRYPT_PARAMS_OUTPUT} output: ${(error as Error).message}`);
    }
  }
  const ttlText = values.get(ACCESS_TOKEN_TTL_OUTPUT);
  const accessTokenTtl = ttlText === undefined ? DEFAULT_LIFETIMES.accessTokenTtl : Number(ttlText);
  if (!Number.isSafeInteger(accessTokenTtl) || accessTokenTtl <= 0) {
    throw new Error(`stack "${stackName}" has an invalid ${ACCESS_TOKEN_TTL_OUTPUT} output: "${ttlText}"`);
  }
  return {
    tables: {
      clients: get(CLIENTS_TABLE_NAME_OUTPUT),
      users: get(USERS_TABLE_NAME_OUTPUT),
      refreshTokens: get(REFRESH_TOKENS_TABLE_NAME_OUTPUT),
      loginAttempts: get(LOGIN_ATTEMPTS_TABLE_NAME_OUTPUT),
      signingKeys: get(SIGNING_KEYS_TABLE_NAME_OUTPUT),
    },
    signingKeyAlias: get(SIGNING_KEY_ALIAS_OUTPUT),
    issuer: get(ISSUER_OUTPUT),
    tokenEndpoint: get(TOKEN_ENDPOINT_OUTPUT),
    scrypt,
    accessTokenTtl,
  };
}
