import type { KMSClient } from '@aws-sdk/client-kms';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { onSdkCall } from '../lambda/adapters/sdk-call-log';

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
 * Records every call an SDK client makes, with the interval of the whole call (marshalling, signing,
 * retries, the HTTP round trip, unmarshalling): the same middleware the authorization proof's call log
 * uses (lambda/adapters/sdk-call-log.ts).
 */
export function instrument(
  client: DynamoDBDocumentClient | KMSClient,
  service: CallRecord['service'],
  sink: CallRecord[],
): void {
  onSdkCall(client, 'benchCallRecorder', ({ command, input, start, end }) => {
    const { TableName, RequestItems, TransactItems } = input as {
      TableName?: string;
      RequestItems?: Record<string, unknown>;
      TransactItems?: Record<string, { TableName?: string }>[];
    };
    const table =
      TableName ??
      (RequestItems !== undefined ? Object.keys(RequestItems).join('+') : undefined) ??
      TransactItems?.map((item) => Object.values(item)[0]?.TableName).join('+');
    sink.push({ service, command, table, start, end });
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
