import { type Agent, request as httpRequest } from 'node:http';

/** One raw HTTP request, headers in order and possibly repeated, exactly as the fuzzer wants them sent. */
export interface RawRequest {
  readonly method: string;
  /** Path and query, e.g. `/token?x=1`. */
  readonly path: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

/**
 * Sends `request` with node:http, which (unlike fetch) sends repeated headers as separate lines, any
 * method the HTTP parser knows, and a body with any method. Host and Content-Length are added here.
 */
export function sendRaw(origin: URL, request: RawRequest, agent: Agent, timeoutMs = 30_000): Promise<RawResponse> {
  const headers: string[] = ['Host', origin.host];
  for (const [name, value] of request.headers) headers.push(name, value);
  if (request.body.length > 0 || !['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE'].includes(request.method)) {
    headers.push('Content-Length', String(request.body.length));
  }
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        host: origin.hostname,
        port: origin.port,
        method: request.method,
        path: request.path,
        headers,
        agent,
        timeout: timeoutMs,
      },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('error', reject);
        incoming.on('end', () =>
          resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error(`no response within ${timeoutMs} ms`)));
    outgoing.on('error', reject);
    outgoing.end(request.body);
  });
}

/** Runs `task` over `items` with at most `concurrency` in flight; results in input order. */
export async function mapPool<T, R>(
  items: readonly T[],
  concurrency: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
