import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { recordSdkCalls, type SdkPrincipal } from './sdk-call-log';

export interface AwsClientOptions {
  readonly region?: string;
  /** Local emulators; absent on AWS. */
  readonly dynamodbEndpoint?: string;
  readonly kmsEndpoint?: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Whose calls these are (a function's role, or the operator): recorded for the authorization proof. */
  readonly principal?: SdkPrincipal;
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
  const documents = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  recordSdkCalls(documents, 'dynamodb', options.principal);
  return documents;
}

export function createKmsClient(options: AwsClientOptions): KMSClient {
  const client = new KMSClient({
    region: options.region,
    endpoint: options.kmsEndpoint,
    credentials: options.credentials,
    maxAttempts: MAX_ATTEMPTS,
    requestHandler: REQUEST_HANDLER,
  });
  recordSdkCalls(client, 'kms', options.principal);
  return client;
}
