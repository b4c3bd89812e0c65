import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { recordSdkCalls, type SdkPrincipal } from './sdk-call-log';

export interface AwsClientOptions {
  readonly region?: string;
  /** Local emulators; absent on AWS. */
  readonly dynamodbEndpoint?: string;
  readonly kmsEndpoint?: string;
  /** A stand-in for the Lambda Invoke API (tests); absent on AWS. */
  readonly lambdaEndpoint?: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** The shared-config profile for credentials and region (the operator CLI's --profile); the SDK reads AWS_PROFILE itself. */
  readonly profile?: string;
  /** Whose calls these are (a function's role, or the operator): recorded for the authorization proof. */
  readonly principal?: SdkPrincipal;
}

/**
 * A token request must answer within the function's timeout (10 s by default, always below API
 * Gateway's 29 s), and a client would rather get a quick 503 to retry than wait: few attempts, short
 * timeouts. DynamoDB and KMS answer in milliseconds, so an attempt that has not is stuck (a dead
 * connection, a failing host), and a fresh one is the quickest way out. Each attempt must connect
 * within `connectionTimeoutMs`, have its response headers within `requestTimeoutMs` of its start and
 * then never sit `socketTimeoutMs` without a byte of its body; past any of them its socket is destroyed
 * and it fails with a TimeoutError, which the SDK retries like other transient errors, up to
 * `maxAttempts` in all. A dependency that stops answering thus fails a call in about
 * maxAttempts × requestTimeoutMs (6 s, still within the function's 10 s; a shorter attempt gets retried
 * under a moment's load, and a conditional write that landed but whose answer came late is then refused
 * by its own first attempt), which callDependency turns into a 503.
 */
export const SDK_TIMEOUTS = {
  connectionTimeoutMs: 1_000,
  requestTimeoutMs: 2_000,
  socketTimeoutMs: 2_000,
  maxAttempts: 3,
} as const;

const REQUEST_HANDLER = {
  connectionTimeout: SDK_TIMEOUTS.connectionTimeoutMs,
  requestTimeout: SDK_TIMEOUTS.requestTimeoutMs,
  // Without it @smithy/node-http-handler only logs a warning when requestTimeout passes and keeps
  // waiting: until the socket's idle timeout (300 s for these clients) or the end of the invocation.
  throwOnRequestTimeout: true,
  // Otherwise the service default (300 s) would let a response that stops mid-body hang as long.
  socketTimeout: SDK_TIMEOUTS.socketTimeoutMs,
} as const;
const MAX_ATTEMPTS = SDK_TIMEOUTS.maxAttempts;

export function createDocumentClient(options: AwsClientOptions): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    region: options.region,
    endpoint: options.dynamodbEndpoint,
    credentials: options.credentials,
    profile: options.profile,
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
    profile: options.profile,
    maxAttempts: MAX_ATTEMPTS,
    requestHandler: REQUEST_HANDLER,
  });
  recordSdkCalls(client, 'kms', options.principal);
  return client;
}

/**
 * The legacy verifier's client (lazy migration): one attempt, never retried, since a retry would double a
 * wait that must end within `timeoutMs` (LEGACY_VERIFIER_TIMEOUT_SECONDS), and a verifier that failed once
 * is a 503 the client retries. The whole call, connecting included, gets `timeoutMs`. The SDK is loaded
 * on the first call: a token function without a verifier never loads it (a cold start is paid per module).
 */
export async function createLambdaClient(
  options: AwsClientOptions & { readonly timeoutMs: number },
): Promise<LambdaClient> {
  const { LambdaClient } = await import('@aws-sdk/client-lambda');
  const client = new LambdaClient({
    region: options.region,
    endpoint: options.lambdaEndpoint,
    credentials: options.credentials,
    profile: options.profile,
    maxAttempts: 1,
    requestHandler: {
      connectionTimeout: Math.min(SDK_TIMEOUTS.connectionTimeoutMs, options.timeoutMs),
      requestTimeout: options.timeoutMs,
      throwOnRequestTimeout: true,
      socketTimeout: options.timeoutMs,
    },
  });
  recordSdkCalls(client, 'lambda', options.principal);
  return client;
}
