import { randomBytes, randomUUID } from 'node:crypto';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type AwsClientOptions, createDocumentClient, createKmsClient } from '../adapters/aws-clients';
import { DynamoClientStore } from '../adapters/client-store';
import { KmsJwtSigner } from '../adapters/kms-signer';
import { type LambdaLogger, type LogSink, serviceLogger } from '../adapters/logger';
import { DynamoLoginAttemptStore } from '../adapters/login-attempt-store';
import { DynamoRefreshTokenStore } from '../adapters/refresh-token-store';
import type { SdkPrincipal } from '../adapters/sdk-call-log';
import { DynamoSigningKeyStore } from '../adapters/signing-key-store';
import { DynamoUserStore } from '../adapters/user-store';
import type { ServiceConfig } from '../config';
import type { TokenEndpointDeps } from '../oauth/grants/grant';
import { DEFAULT_LOCKOUT_POLICY, type LockoutPolicy } from '../oauth/lockout';
import type { Logger } from '../oauth/ports';
import { scryptPasswordHasher } from '../passwords/hasher';

/** Options the local stack and tests add; on Lambda everything comes from the configuration. */
export interface RuntimeOptions {
  readonly credentials?: AwsClientOptions['credentials'];
  readonly logSink?: LogSink;
  /** The logger the signer reports rejected registry records to; one of its own (on logSink) when absent. */
  readonly logger?: Logger;
  /** SDK clients to use instead of new ones (benchmarks instrument them). */
  readonly sdk?: SdkClients;
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
    clock: Date.now,
    random: { bytes: (length) => randomBytes(length), uuid: randomUUID },
    logger,
  };
}
