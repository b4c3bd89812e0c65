/** What the operator CLI reads from a deployed stack's outputs (`ropc-admin --stack NAME`; keys in contract/stack-outputs.ts). */

import {
  ACCESS_TOKEN_TTL_OUTPUT,
  CLIENTS_TABLE_NAME_OUTPUT,
  ISSUER_OUTPUT,
  LOGIN_ATTEMPTS_TABLE_NAME_OUTPUT,
  MFA_CHALLENGES_TABLE_NAME_OUTPUT,
  MFA_KEY_ID_OUTPUT,
  REFRESH_TOKENS_TABLE_NAME_OUTPUT,
  REQUIRED_STACK_OUTPUTS,
  SCRYPT_PARAMS_OUTPUT,
  SIGNING_KEY_ALIAS_OUTPUT,
  SIGNING_KEYS_TABLE_NAME_OUTPUT,
  TOKEN_ENDPOINT_OUTPUT,
  USERS_TABLE_NAME_OUTPUT,
} from '../../contract/stack-outputs';
import type { TableNames } from '../../contract/tables';
import { DEFAULT_LIFETIMES } from '../../lambda/oauth/config';
import { DEFAULT_SCRYPT_PARAMS, parseScryptParams, type ScryptParams } from '../../lambda/passwords';

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
  /** The KMS key TOTP secrets are encrypted with; absent on a stack from before MFA. */
  readonly mfaKeyId?: string;
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
      throw new Error(
        `stack "${stackName}" has an invalid ${SCRYPT_PARAMS_OUTPUT} output: ${(error as Error).message}`,
      );
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
      // The CLI never touches it; a stack from before MFA has none.
      mfaChallenges: get(MFA_CHALLENGES_TABLE_NAME_OUTPUT),
    },
    signingKeyAlias: get(SIGNING_KEY_ALIAS_OUTPUT),
    issuer: get(ISSUER_OUTPUT),
    tokenEndpoint: get(TOKEN_ENDPOINT_OUTPUT),
    scrypt,
    accessTokenTtl,
    ...(values.has(MFA_KEY_ID_OUTPUT) ? { mfaKeyId: get(MFA_KEY_ID_OUTPUT) } : {}),
  };
}
