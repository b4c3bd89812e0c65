import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SDK_CALL_LOG_ENV } from '../../contract/environment';

/**
 * Who makes an AWS call: one of the stack's functions (each has its own IAM role) or an operator running
 * `ropc-admin`. The authorization proof (test/iam/) evaluates each recorded call as that principal.
 */
export type SdkPrincipal = 'token' | 'jwks' | 'metadata' | 'rotateKeys' | 'operator';

/*
 * SDK_CALL_LOG_ENV names a directory: when set, every SDK client made for a principal appends one JSON
 * line per call to `<dir>/<pid>.jsonl`. `npm test` sets it so the authorization proof sees every call
 * the suites make, in this process and in the ones it spawns (npm start, the CLI, the bundles from cdk.out).
 */

/**
 * One call, reduced to what IAM authorizes it by: the command, the names of the resources it touches and
 * the request parameters that IAM condition keys read. Never item keys, attribute values, messages,
 * signatures or public keys: the log holds no user data, hash or token.
 */
export interface SdkCallRecord {
  readonly principal: SdkPrincipal;
  readonly service: string;
  readonly command: string;
  readonly input: Record<string, unknown>;
  /** Identifiers the response names (the key ARN KMS resolved an alias to, a created key's ARN), and a key policy read. */
  readonly output?: Record<string, unknown>;
  /** The error's name when the call failed (it was still authorized, or refused, by IAM first). */
  readonly error?: string;
}

/** Request fields kept as they are: resource names and the parameters IAM condition keys are made of. */
const INPUT_FIELDS = [
  'TableName',
  'IndexName',
  'KeyId',
  'TargetKeyId',
  'AliasName',
  'KeySpec',
  'KeyUsage',
  'Origin',
  'SigningAlgorithm',
  'MessageType',
  'EncryptionAlgorithm',
  'PendingWindowInDays',
  'Tags',
  'PolicyName',
  'BypassPolicyLockoutSafetyCheck',
  'ReturnValues',
  'Select',
  'StackName',
  // Lambda Invoke: the function and its qualifier (never the Payload, which carries a password).
  'FunctionName',
  'Qualifier',
  'InvocationType',
] as const;

/** The minimal surface of an SDK v3 client this needs; both the DynamoDB document client and KMSClient have it. */
export interface MiddlewareClient {
  readonly middlewareStack: unknown;
}

type Next = (args: { input: object }) => Promise<{ output?: object }>;

/**
 * Calls `listener` once per call the client makes, with the command's name, its input and its output or
 * error: a middleware at the top of the initialize step, so it sees the command as the caller built it
 * and the interval covers the whole call (marshalling, signing, retries, the round trip). A document
 * client shares its DynamoDBClient's stack, so adding to it covers both.
 */
export function onSdkCall(
  client: MiddlewareClient,
  name: string,
  listener: (call: {
    command: string;
    input: object;
    output?: object;
    error?: unknown;
    start: number;
    end: number;
  }) => void,
): void {
  const middleware = (next: Next, context: { commandName?: string }) => async (args: { input: object }) => {
    const start = performance.now();
    const command = (context.commandName ?? 'unknown').replace(/Command$/, '');
    try {
      const result = await next(args);
      listener({ command, input: args.input, output: result.output, start, end: performance.now() });
      return result;
    } catch (error) {
      listener({ command, input: args.input, error, start, end: performance.now() });
      throw error;
    }
  };
  (client.middlewareStack as { add(m: typeof middleware, o: object): void }).add(middleware, {
    step: 'initialize',
    priority: 'high',
    name,
  });
}

/** Records the client's calls as `principal` when SDK_CALL_LOG_ENV is set; does nothing otherwise. */
export function recordSdkCalls(
  client: MiddlewareClient,
  service: string,
  principal: SdkPrincipal | undefined,
  env = process.env,
): void {
  const dir = env[SDK_CALL_LOG_ENV];
  if (principal === undefined || dir === undefined || dir === '') return;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${process.pid}.jsonl`);
  onSdkCall(client, 'sdkCallLog', ({ command, input, output, error }) => {
    const record: SdkCallRecord = {
      principal,
      service,
      command,
      input: describeInput(input as Record<string, unknown>),
      output: output === undefined ? undefined : describeOutput(output as Record<string, unknown>),
      error: error === undefined ? undefined : error instanceof Error ? error.name : 'unknown',
    };
    append(dir, file, `${JSON.stringify(record)}\n`);
  });
}

/**
 * The log is a test aid: it must never fail the call it records. A directory removed under a running
 * process (another test run starting) is made again; any other write failure drops the line.
 */
function append(dir: string, file: string, line: string): void {
  try {
    appendFileSync(file, line);
  } catch {
    try {
      mkdirSync(dir, { recursive: true });
      appendFileSync(file, line);
    } catch {
      // Nothing to do: the call itself has already succeeded or failed on its own.
    }
  }
}

function describeInput(input: Record<string, unknown>): Record<string, unknown> {
  const described: Record<string, unknown> = {};
  for (const field of INPUT_FIELDS) if (input[field] !== undefined) described[field] = input[field];
  // KMS: the key policy a CreateKey gives the new key (no secret in it): the proof evaluates that key's calls against it.
  if (typeof input.Policy === 'string') described.Policy = input.Policy;
  // KMS Encrypt and Decrypt: the encryption context's keys (kms:EncryptionContextKeys), never its values.
  if (isRecord(input.EncryptionContext)) described.EncryptionContext = Object.keys(input.EncryptionContext).sort();
  // DynamoDB: the names (never the values) of the attributes a write touches, for dynamodb:Attributes.
  const attributes = attributeNames(input);
  if (attributes !== undefined) described.Attributes = attributes;
  // Batch operations: per table, which kinds of request (a BatchWriteItem of Puts and Deletes).
  if (isRecord(input.RequestItems)) {
    described.RequestItems = Object.fromEntries(
      Object.entries(input.RequestItems).map(([table, requests]) => [
        table,
        Array.isArray(requests)
          ? [...new Set(requests.flatMap((request) => (isRecord(request) ? Object.keys(request) : [])))]
          : [],
      ]),
    );
  }
  // Transactions: each item's kind (Put, Update, Delete, ConditionCheck, Get) and table.
  if (Array.isArray(input.TransactItems)) {
    described.TransactItems = input.TransactItems.map((item: unknown) => {
      const [kind, part] = isRecord(item) ? (Object.entries(item)[0] ?? []) : [];
      const attributes = isRecord(part) ? attributeNames(part) : undefined;
      return {
        kind,
        TableName: isRecord(part) ? part.TableName : undefined,
        ...(attributes === undefined ? {} : { Attributes: attributes }),
      };
    });
  }
  return described;
}

/** Words of an expression that are DynamoDB's own, not attribute names. */
const EXPRESSION_WORDS = new Set(['SET', 'REMOVE', 'ADD', 'DELETE', 'AND', 'OR', 'NOT', 'BETWEEN', 'IN']);

/**
 * The top-level attribute names an update touches, sorted: those of its key, of its UpdateExpression and of
 * its ConditionExpression, with `#name` placeholders resolved (what IAM's dynamodb:Attributes holds for an
 * UpdateItem). Undefined for a request without an UpdateExpression.
 */
export function attributeNames(input: Record<string, unknown>): string[] | undefined {
  if (typeof input.UpdateExpression !== 'string') return undefined;
  const aliases = isRecord(input.ExpressionAttributeNames) ? input.ExpressionAttributeNames : {};
  const names = new Set(isRecord(input.Key) ? Object.keys(input.Key) : []);
  for (const expression of [input.UpdateExpression, input.ConditionExpression]) {
    if (typeof expression !== 'string') continue;
    // A path's first element (a[0].b names a), never a value (:v), a function (size(…)) or a nested name (.b).
    for (const match of expression.matchAll(/(^|[^\w:#.])(#?[A-Za-z_][\w]*)(?=\s*(\(?))/g)) {
      const [, , word, call] = match;
      if (word === undefined || call === '(' || EXPRESSION_WORDS.has(word.toUpperCase())) continue;
      const name = word.startsWith('#') ? aliases[word] : word;
      if (typeof name === 'string') names.add(name);
    }
  }
  return [...names].sort();
}

function describeOutput(output: Record<string, unknown>): Record<string, unknown> | undefined {
  const described: Record<string, unknown> = {};
  if (typeof output.KeyId === 'string') described.KeyId = output.KeyId;
  // GetKeyPolicy: the policy (no secret in it), so the proof can tell a new key's policy copied from it.
  if (typeof output.Policy === 'string') described.Policy = output.Policy;
  if (isRecord(output.KeyMetadata) && typeof output.KeyMetadata.Arn === 'string')
    described.KeyArn = output.KeyMetadata.Arn;
  return Object.keys(described).length === 0 ? undefined : described;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
