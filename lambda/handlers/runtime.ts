import { randomBytes, randomUUID } from 'node:crypto';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  type AwsClientOptions,
  createDocumentClient,
  createKmsClient,
  createLambdaClient,
} from '../adapters/aws-clients';
import { DynamoClientStore } from '../adapters/client-store';
import { KmsJwtSigner } from '../adapters/kms-signer';
import { type LambdaLogger, type LogSink, serviceLogger } from '../adapters/logger';
import { DynamoLoginAttemptStore } from '../adapters/login-attempt-store';
import { DynamoMfaChallengeStore } from '../adapters/mfa-challenge-store';
import { KmsTotpSecretKey } from '../adapters/mfa-secret-key';
import { DynamoRefreshTokenStore } from '../adapters/refresh-token-store';
import type { SdkPrincipal } from '../adapters/sdk-call-log';
import { DynamoSigningKeyStore } from '../adapters/signing-key-store';
import { DynamoUserStore } from '../adapters/user-store';
import type { ServiceConfig } from '../config';
import type { TokenEndpointDeps } from '../oauth/grants/grant';
import { DEFAULT_LOCKOUT_POLICY, type LockoutPolicy } from '../oauth/lockout';
import type { LegacyVerifier, Logger, PasswordPolicy, TotpSecretKey } from '../oauth/ports';
import { scryptPasswordHasher } from '../passwords/hasher';

/** Options the local stack and tests add; on Lambda everything comes from the configuration. */
export interface RuntimeOptions {
  readonly credentials?: AwsClientOptions['credentials'];
  readonly logSink?: LogSink;
  /** The logger the signer reports rejected registry records to; one of its own (on logSink) when absent. */
  readonly logger?: Logger;
  /** SDK clients to use instead of new ones (benchmarks instrument them). */
  readonly sdk?: SdkClients;
  /** The legacy verifier of lazy migration instead of the configured function (the local stack's module). */
  readonly legacyVerifier?: LegacyVerifier;
  /** Where the configured verifier function is served instead of AWS Lambda (tests). */
  readonly lambdaEndpoint?: string;
  /** The environment the password policy's minimum is read from (PASSWORD_MIN_LENGTH); the process's when absent. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface SdkClients {
  readonly db: DynamoDBDocumentClient;
  readonly kms: KMSClient;
}

/** The clients of one function, whose calls its role authorizes (`principal`). */
function sdkClients(config: ServiceConfig, options: RuntimeOptions, principal: SdkPrincipal): SdkClients {
  if (options.sdk !== undefined) return options.sdk;
  const aws = awsOptions(config, options, principal);
  return { db: createDocumentClient(aws), kms: createKmsClient(aws) };
}

function awsOptions(
  config: ServiceConfig,
  options: Pick<RuntimeOptions, 'credentials'>,
  principal: SdkPrincipal,
): AwsClientOptions {
  return {
    region: config.region,
    dynamodbEndpoint: config.dynamodbEndpoint,
    kmsEndpoint: config.kmsEndpoint,
    credentials: options.credentials,
    principal,
  };
}

export function createLogger(options: RuntimeOptions = {}): LambdaLogger {
  return serviceLogger(options.logSink);
}

/** The JWKS function's signer: it only reads keys. */
export function createSigner(config: ServiceConfig, options: RuntimeOptions = {}): KmsJwtSigner {
  return signerWith(config, sdkClients(config, options, 'jwks'), options.logger ?? createLogger(options));
}

function signerWith(config: ServiceConfig, { db, kms }: SdkClients, logger: Logger): KmsJwtSigner {
  return new KmsJwtSigner(kms, config.signingKeyId, {
    registry: new DynamoSigningKeyStore(db, config.tables.signingKeys),
    cacheSeconds: config.keyCacheSeconds,
    logger,
  });
}

/** The configured brute-force limits; the backoff's cap is not a setting. */
export function lockoutPolicy(config: ServiceConfig): LockoutPolicy {
  return {
    pairThreshold: config.lockoutPairThreshold,
    pairMaxDelaySeconds: DEFAULT_LOCKOUT_POLICY.pairMaxDelaySeconds,
    userFailuresPerHour: config.lockoutUserFailuresPerHour,
    ipFailuresPerDay: config.lockoutIpFailuresPerDay,
  };
}

/** Wires the token endpoint's real dependencies: DynamoDB stores, the KMS signer, scrypt; the logger takes the Lambda context. */
export function createTokenEndpointDeps(
  config: ServiceConfig,
  options: RuntimeOptions = {},
): TokenEndpointDeps & { readonly logger: LambdaLogger } {
  const sdk = sdkClients(config, options, 'token');
  const { db } = sdk;
  const logger = createLogger(options);
  return {
    settings: config,
    clients: new DynamoClientStore(db, config.tables.clients),
    users: new DynamoUserStore(db, config.tables.users),
    refreshTokens: new DynamoRefreshTokenStore(db, config.tables.refreshTokens),
    loginAttempts: new DynamoLoginAttemptStore(db, config.tables.loginAttempts),
    lockoutPolicy: lockoutPolicy(config),
    signer: signerWith(config, sdk, options.logger ?? logger),
    passwords: scryptPasswordHasher(config.scrypt),
    ...migrationDeps(config, options),
    secondFactor: {
      challenges: new DynamoMfaChallengeStore(db, config.tables.mfaChallenges, config.tables.users),
      secrets: totpSecretKey(config, sdk),
    },
    clock: Date.now,
    random: { bytes: (length) => randomBytes(length), uuid: randomUUID },
    logger,
  };
}

/** The TOTP secrets' key; without one configured, no enrollment can have been made with it, and none decrypts. */
function totpSecretKey(config: ServiceConfig, { kms }: SdkClients): TotpSecretKey {
  if (config.mfaKeyId !== undefined) return new KmsTotpSecretKey(kms, config.mfaKeyId);
  return {
    decrypt: () => Promise.reject(new Error('an enrolled user logged in, but no MFA key is configured (MFA_KEY_ID)')),
  };
}

/**
 * Lazy migration, when a verifier is configured (the function's ARN, or the local stack's module): the
 * verifier, and the password policy migrated passwords are judged by. Neither the Lambda client nor the
 * policy's list of common passwords (hundreds of milliseconds to load) is loaded before a first migration.
 */
function migrationDeps(
  config: ServiceConfig,
  options: RuntimeOptions,
): { legacyVerifier?: LegacyVerifier; passwordPolicy?: PasswordPolicy } {
  const arn = config.legacyVerifierFunctionArn;
  if (options.legacyVerifier === undefined && arn === undefined) return {};
  // A conditional expression on the defined constant, so that esbuild drops the other branch as it parses,
  // and with it every reference to the migration's modules (an if/return would leave them in the bundle).
  return typeof ROPC_LEGACY_MIGRATION !== 'undefined' && ROPC_LEGACY_MIGRATION === false
    ? withoutMigration()
    : {
        legacyVerifier: options.legacyVerifier ?? lambdaLegacyVerifier(config, options, arn!),
        passwordPolicy: migratedPasswordPolicy(options.env ?? process.env),
      };
}

/**
 * False only in a token bundle built for a stack without lazy migration (lib/functions.ts defines it):
 * esbuild then leaves out the Lambda client and the password dictionary that migration loads, about half a
 * megabyte each cold start would fetch for nothing. Not defined when run from source: migration is there.
 */
declare const ROPC_LEGACY_MIGRATION: boolean | undefined;

/** The stack sets the verifier's ARN only together with a bundle that has migration; a hand-edited environment stops here. */
function withoutMigration(): never {
  throw new Error('LEGACY_VERIFIER_FUNCTION_ARN is set, but this token bundle was built without lazy migration');
}

function lambdaLegacyVerifier(config: ServiceConfig, options: RuntimeOptions, arn: string): LegacyVerifier {
  let verifier: Promise<LegacyVerifier> | undefined;
  return {
    async verify(request) {
      if (verifier === undefined) {
        verifier = import('../adapters/legacy-verifier').then(
          async ({ LambdaLegacyVerifier, LEGACY_VERIFIER_TIMEOUT_MS }) =>
            new LambdaLegacyVerifier(
              await createLambdaClient({
                ...awsOptions(config, options, 'token'),
                // A function is invoked in its own region (its ARN's), which may not be this one's.
                region: arn.split(':')[3],
                lambdaEndpoint: options.lambdaEndpoint,
                timeoutMs: LEGACY_VERIFIER_TIMEOUT_MS,
              }),
              arn,
            ),
        );
        // A failed load is retried by the next login rather than remembered.
        verifier.catch(() => {
          verifier = undefined;
        });
      }
      return (await verifier).verify(request);
    },
  };
}

/** The policy `ropc-admin` applies to new passwords, with the same minimum (PASSWORD_MIN_LENGTH, else 8). */
function migratedPasswordPolicy(env: Readonly<Record<string, string | undefined>>): PasswordPolicy {
  return {
    async problem(password) {
      const { DEFAULT_MIN_PASSWORD_LENGTH, minPasswordLength, passwordProblem } = await import(
        '../accounts/password-policy'
      );
      const minimum = minPasswordLength(env);
      return passwordProblem(password, typeof minimum === 'number' ? minimum : DEFAULT_MIN_PASSWORD_LENGTH);
    },
  };
}
