import { createDocumentClient, createKmsClient, type AwsClientOptions } from '../adapters/aws-clients';
import { DynamoClientStore } from '../adapters/client-store';
import { KmsJwtSigner } from '../adapters/kms-signer';
import { serviceLogger, type LogSink } from '../adapters/logger';
import { DynamoLoginAttemptStore } from '../adapters/login-attempt-store';
import { DynamoRefreshTokenStore } from '../adapters/refresh-token-store';
import { DynamoSigningKeyStore } from '../adapters/signing-key-store';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoUserStore } from '../adapters/user-store';
import type { ServiceConfig } from '../config';
import type { TokenEndpointDeps } from '../oauth/grants/grant';
import type { Logger } from '../oauth/ports';
import { scryptPasswordHasher } from '../passwords/hasher';
import { randomBytes, randomUUID } from 'node:crypto';

/** Options the local stack and tests add; on Lambda everything comes from the configuration. */
export interface RuntimeOptions {
  readonly credentials?: AwsClientOptions['credentials'];
  readonly logSink?: LogSink;
}

function awsOptions(config: ServiceConfig, options: RuntimeOptions): AwsClientOptions {
  return {
    region: config.region,
    dynamodbEndpoint: config.dynamodbEndpoint,
    kmsEndpoint: config.kmsEndpoint,
    credentials: options.credentials,
  };
}

export function createLogger(options: RuntimeOptions = {}): Logger {
  return serviceLogger(options.logSink);
}

export function createSigner(config: ServiceConfig, options: RuntimeOptions = {}, db?: DynamoDBDocumentClient): KmsJwtSigner {
  const registry = new DynamoSigningKeyStore(db ?? createDocumentClient(awsOptions(config, options)), config.tables.signingKeys);
  return new KmsJwtSigner(createKmsClient(awsOptions(config, options)), config.signingKeyId, {
    registry,
    cacheSeconds: config.keyCacheSeconds,
  });
}

/** Wires the token endpoint's real dependencies: DynamoDB stores, the KMS signer, scrypt. */
export function createTokenEndpointDeps(config: ServiceConfig, options: RuntimeOptions = {}): TokenEndpointDeps {
  const db = createDocumentClient(awsOptions(config, options));
  return {
    settings: config,
    clients: new DynamoClientStore(db, config.tables.clients),
    users: new DynamoUserStore(db, config.tables.users),
    refreshTokens: new DynamoRefreshTokenStore(db, config.tables.refreshTokens),
    loginAttempts: new DynamoLoginAttemptStore(db, config.tables.loginAttempts),
    signer: createSigner(config, options, db),
    passwords: scryptPasswordHasher(config.scrypt),
    clock: Date.now,
    random: { bytes: (length) => randomBytes(length), uuid: randomUUID },
    logger: createLogger(options),
  };
}
