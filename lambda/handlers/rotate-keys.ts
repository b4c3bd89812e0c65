import type { Context } from 'aws-lambda';
import { ROTATION_PROPAGATION_ENV, SERVICE_NAME_ENV } from '../../contract/environment';
import { createDocumentClient, createKmsClient } from '../adapters/aws-clients';
import { SigningKeyManager } from '../adapters/key-manager';
import { type LambdaLogger, serviceLogger } from '../adapters/logger';
import { DynamoSigningKeyStore } from '../adapters/signing-key-store';
import { configFromEnv } from '../config';
import { DEFAULT_PROPAGATION_SECONDS } from '../tokens/key-registry';

let logger: LambdaLogger | undefined;

/**
 * Scheduled rotation (EventBridge Scheduler): the same SigningKeyManager.rotate that
 * `ropc-admin keys rotate` runs, then the sweep that schedules deletion of keys past their time.
 */
export async function handler(
  _event?: unknown,
  context?: Context,
): Promise<{ created: string; signsFrom: string; scheduledForDeletion: string[] }> {
  logger ??= serviceLogger();
  // Absent only when a test calls the handler directly.
  if (context !== undefined) logger.addContext(context);
  const config = configFromEnv(process.env);
  const propagation = Number(process.env[ROTATION_PROPAGATION_ENV] ?? DEFAULT_PROPAGATION_SECONDS);
  if (!Number.isSafeInteger(propagation) || propagation < 0)
    throw new Error(`${ROTATION_PROPAGATION_ENV} must be a whole number of seconds`);
  const aws = {
    region: config.region,
    dynamodbEndpoint: config.dynamodbEndpoint,
    kmsEndpoint: config.kmsEndpoint,
    principal: 'rotateKeys',
  } as const;
  const manager = new SigningKeyManager(
    createKmsClient(aws),
    new DynamoSigningKeyStore(createDocumentClient(aws), config.tables.signingKeys),
    {
      deployment: process.env[SERVICE_NAME_ENV] || 'ropc-token-service',
      bootstrapKeyId: config.signingKeyId,
      accessTokenTtl: config.accessTokenTtl,
    },
  );
  const result = await manager.rotate(propagation);
  const summary = {
    created: result.created.kid,
    signsFrom: new Date(result.created.signsFrom * 1000).toISOString(),
    scheduledForDeletion: result.scheduledForDeletion,
  };
  logger.info('signing_key_rotated', summary);
  return summary;
}
