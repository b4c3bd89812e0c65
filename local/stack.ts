import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import type { TableNames } from '../contract/tables';
import type { LogSink } from '../lambda/adapters/logger';
import { DEFAULT_KEY_CACHE_SECONDS, type ServiceConfig } from '../lambda/config';
import { createJwksHandler } from '../lambda/handlers/jwks';
import { createMetadataHandler } from '../lambda/handlers/metadata';
import { createLogger, createSigner, createTokenEndpointDeps } from '../lambda/handlers/runtime';
import { createTokenHandler } from '../lambda/handlers/token';
import { DEFAULT_LIFETIMES, DEFAULT_LOCKOUT_LIMITS } from '../lambda/oauth/config';
import type { LegacyVerifier } from '../lambda/oauth/ports';
import { DEFAULT_SCRYPT_PARAMS } from '../lambda/passwords';
import { type ApiGateway, startApiGateway } from './api-gateway';
import { ensureMfaKey, ensureSigningKey, ensureTables, LOCAL_MFA_KEY_ALIAS, localTableNames } from './bootstrap';
import { type DynamoDbLocal, startDynamoDbLocal } from './dynamodb-local';
import { type KmsEmulator, startKmsEmulator } from './kms-emulator';
import type { AccessEntry } from './log-format';
import { freePort } from './net';
import { LOCAL_CREDENTIALS, LOCAL_REGION, type LocalStackState } from './state';

export const LOCAL_SIGNING_KEY_ALIAS = 'alias/ropc-token-service/signing';

export interface LocalStackOptions {
  /** API port; a free one when omitted. */
  readonly port?: number;
  /** Persistent state (DynamoDB Local files, KMS keys); everything in memory when omitted. */
  readonly stateDir?: string;
  /** Use an already running DynamoDB (tests share one); otherwise DynamoDB Local is started. */
  readonly dynamodbEndpoint?: string;
  readonly tablePrefix?: string;
  /** Overrides of the service configuration (lifetimes, scrypt parameters, …). */
  readonly config?: Partial<Omit<ServiceConfig, 'tables' | 'dynamodbEndpoint' | 'kmsEndpoint'>>;
  /** Progress messages of the stack itself. */
  readonly log?: (line: string) => void;
  /** Where the handlers' JSON log lines go (stdout by default). */
  readonly logSink?: LogSink;
  /** Called once per HTTP request the API Gateway emulation answered. */
  readonly accessLog?: (entry: AccessEntry) => void;
  /** Lazy migration: the legacy verifier the token endpoint asks about unknown usernames (LEGACY_VERIFIER_MODULE). */
  readonly legacyVerifier?: LegacyVerifier;
}

export interface LocalStack {
  readonly url: string;
  readonly issuer: string;
  readonly tokenEndpoint: string;
  readonly dynamodbEndpoint: string;
  readonly kmsEndpoint: string;
  readonly region: string;
  readonly tables: TableNames;
  readonly signingKeyAlias: string;
  readonly config: ServiceConfig;
  readonly kms: KmsEmulator;
  /** Stops what this stack started, in reverse order. */
  stop(): Promise<void>;
}

/**
 * The whole service on loopback: DynamoDB Local, the KMS emulator, the tables and a signing key, and the
 * API Gateway emulation in front of the same handlers the Lambda functions run.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const log = options.log ?? (() => undefined);
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  };
  try {
    const dynamodbEndpoint: string = options.dynamodbEndpoint ?? (await startDynamoDb(options.stateDir, log, stops));
    const kms = await startKmsEmulator({
      stateDir: options.stateDir === undefined ? undefined : join(options.stateDir, 'kms'),
      region: LOCAL_REGION,
    });
    stops.push(() => kms.stop());

    const signingKeyId = options.config?.signingKeyId ?? LOCAL_SIGNING_KEY_ALIAS;
    const tables = localTableNames(options.tablePrefix ?? 'ropc');
    const db = new DynamoDBClient({ endpoint: dynamodbEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const kmsClient = new KMSClient({ endpoint: kms.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    try {
      await ensureTables(db, tables);
      await ensureSigningKey(kmsClient, signingKeyId);
      await ensureMfaKey(kmsClient, LOCAL_MFA_KEY_ALIAS);
    } finally {
      db.destroy();
      kmsClient.destroy();
    }

    const port = options.port ?? (await freePort());
    const url = `http://127.0.0.1:${port}`;
    const config: ServiceConfig = {
      issuer: url,
      defaultAudience: url,
      ...DEFAULT_LIFETIMES,
      ...DEFAULT_LOCKOUT_LIMITS,
      scopesSupported: [],
      scrypt: DEFAULT_SCRYPT_PARAMS,
      keyCacheSeconds: DEFAULT_KEY_CACHE_SECONDS,
      region: LOCAL_REGION,
      ...options.config,
      signingKeyId,
      mfaKeyId: LOCAL_MFA_KEY_ALIAS,
      tables,
      dynamodbEndpoint,
      kmsEndpoint: kms.endpoint,
    };
    const runtime = { credentials: LOCAL_CREDENTIALS, logSink: options.logSink };
    const logger = createLogger(runtime);
    const api: ApiGateway = await startApiGateway({
      port,
      onResponse: options.accessLog,
      handlers: {
        token: createTokenHandler(
          createTokenEndpointDeps(config, { ...runtime, legacyVerifier: options.legacyVerifier }),
        ),
        jwks: createJwksHandler(createSigner(config, { ...runtime, logger }), logger),
        metadata: createMetadataHandler(config, logger),
      },
    });
    stops.push(() => api.stop());

    return {
      url,
      issuer: config.issuer,
      tokenEndpoint: `${url}/token`,
      dynamodbEndpoint,
      kmsEndpoint: kms.endpoint,
      region: LOCAL_REGION,
      tables,
      signingKeyAlias: signingKeyId,
      config,
      kms,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function startDynamoDb(
  stateDir: string | undefined,
  log: (line: string) => void,
  stops: (() => Promise<void>)[],
) {
  const dynamodb: DynamoDbLocal = await startDynamoDbLocal({
    dbPath: stateDir === undefined ? undefined : join(stateDir, 'dynamodb'),
    log,
  });
  stops.push(() => dynamodb.stop());
  return dynamodb.endpoint;
}

/** What the operator CLI needs to reach this stack (written to stack.json by `npm start`). */
export function localStackState(stack: LocalStack): LocalStackState {
  return {
    issuer: stack.issuer,
    tokenEndpoint: stack.tokenEndpoint,
    dynamodbEndpoint: stack.dynamodbEndpoint,
    kmsEndpoint: stack.kmsEndpoint,
    region: stack.region,
    tables: stack.tables,
    signingKeyAlias: stack.signingKeyAlias,
    ...(stack.config.mfaKeyId === undefined ? {} : { mfaKeyId: stack.config.mfaKeyId }),
    scrypt: stack.config.scrypt,
    accessTokenTtl: stack.config.accessTokenTtl,
    pid: process.pid,
    startedAt: new Date().toISOString(),
  };
}
