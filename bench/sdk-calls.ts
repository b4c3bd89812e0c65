import type { KMSClient } from '@aws-sdk/client-kms';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * Counting the DynamoDB and KMS calls on a request's critical path: the round-trips benchmark reports them,
 * and tests hold the stage goals (a new instance's signer reads overlap the first stage).
 */
export interface CallRecord {
  readonly service: 'dynamodb' | 'kms';
  readonly command: string;
  readonly table?: string;
  readonly start: number;
  readonly end: number;
}

/**
 * Records every call an SDK client makes: a middleware at the top of the initialize step, so the interval
 * covers the whole call (marshalling, signing, retries, the HTTP round trip, unmarshalling). The document
 * client shares its DynamoDBClient's middleware stack, so instrumenting it covers both.
 */
export function instrument(client: DynamoDBDocumentClient | KMSClient, service: CallRecord['service'], sink: CallRecord[]): void {
  const middleware = (next: (args: { input: object }) => Promise<unknown>, context: { commandName?: string }) => async (args: { input: object }) => {
    const start = performance.now();
    try {
      return await next(args);
    } finally {
      const input = args.input as { TableName?: string; RequestItems?: Record<string, unknown>; TransactItems?: Record<string, { TableName?: string }>[] };
      const table =
        input.TableName ??
        (input.RequestItems !== undefined ? Object.keys(input.RequestItems).join('+') : undefined) ??
        input.TransactItems?.map((item) => Object.values(item)[0]?.TableName).join('+');
      sink.push({ service, command: (context.commandName ?? 'unknown').replace(/Command$/, ''), table, start, end: performance.now() });
    }
  };
  // The stacks of the two clients have different type parameters; the middleware only reads `input`.
  (client.middlewareStack as unknown as { add(m: typeof middleware, o: object): void }).add(middleware, {
    step: 'initialize',
    priority: 'high',
    name: 'benchCallRecorder',
  });
}

/** A stage is a maximal set of overlapping calls: the critical path is the sequence of stages. */
export function stages(calls: readonly CallRecord[]): CallRecord[][] {
  const sorted = [...calls].sort((a, b) => a.start - b.start);
  const result: CallRecord[][] = [];
  let end = Number.NEGATIVE_INFINITY;
  for (const call of sorted) {
    if (call.start < end) {
      result.at(-1)!.push(call);
      end = Math.max(end, call.end);
    } else {
      result.push([call]);
      end = call.end;
    }
  }
  return result;
}
