import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';

export interface AwsClientOptions {
  readonly region?: string;
  /** Local emulators; absent on AWS. */
  readonly dynamodbEndpoint?: string;
  readonly kmsEndpoint?: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/**
 * A token request must answer within API Gateway's 29 s, and a client would rather get a quick 503 to
 * retry than wait: few attempts, short timeouts.
 */
const REQUEST_HANDLER = { connectionTimeout: 1_000, requestTimeout: 3_000 } as const;
const MAX_ATTEMPTS = 3;

export function createDocumentClient(options: AwsClientOptions): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    region: options.region,
    endpoint: options.dynamodbEndpoint,
    credentials: options.credentials,
    maxAttempts: MAX_ATTEMPTS,
    requestHandler: REQUEST_HANDLER,
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

export function createKmsClient(options: AwsClientOptions): KMSClient {
  return new KMSClient({
    region: options.region,
    endpoint: options.kmsEndpoint,
    credentials: options.credentials,
    maxAttempts: MAX_ATTEMPTS,
    requestHandler: REQUEST_HANDLER,
  });
}
