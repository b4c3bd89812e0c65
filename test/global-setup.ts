import { rmSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '../local/dynamodb-local';
import { sdkCallLogDir } from './support/sdk-call-log';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `http://127.0.0.1:PORT` of the in-memory DynamoDB Local shared by the whole run. */
    dynamodbEndpoint: string;
  }
}

/**
 * One in-memory DynamoDB Local (a JVM, a few seconds to start) for the whole run; test files read its
 * endpoint with `inject('dynamodbEndpoint')` and create their own uniquely named tables.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // A new recording of the suites' SDK calls for the authorization proof (test/iam/).
  rmSync(sdkCallLogDir(project.config.env), { recursive: true, force: true });
  const dynamodb = await startDynamoDbLocal({
    log: (line) => process.stderr.write(`[dynamodb-local] ${line}\n`),
  });
  project.provide('dynamodbEndpoint', dynamodb.endpoint);
  return async () => {
    await dynamodb.stop();
  };
}
