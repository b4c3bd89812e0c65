/**
 * The HTTP side of the KMS JSON protocol: reading requests, X-Amz-Target dispatch through
 * OPERATIONS, JSON and KMS-shaped error responses, and the test-only fault control endpoint.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { KmsError, unsupported } from './errors';
import { type FaultInjector, type KmsFault, normalizeFault } from './faults';
import type { KeyStore } from './key-store';
import { OPERATIONS } from './operations';
import { Params } from './params';

const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';
const TARGET_PREFIX = 'TrentService.';
const CONTROL_PATH = '/_emulator/faults';
const MAX_BODY_BYTES = 1024 * 1024;

function sendJson(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': JSON_CONTENT_TYPE,
    'content-length': Buffer.byteLength(text),
    'x-amzn-RequestId': randomUUID(),
    ...headers,
  });
  res.end(text);
}

function sendError(res: ServerResponse, err: KmsError): void {
  sendJson(res, err.status, { __type: err.type, message: err.message }, { 'x-amzn-ErrorType': err.type });
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  if (size > MAX_BODY_BYTES)
    throw new KmsError('ValidationException', `The request body exceeds ${MAX_BODY_BYTES} bytes.`);
  return Buffer.concat(chunks);
}

function operationName(target: string | string[] | undefined): string {
  if (typeof target !== 'string' || !target.startsWith(TARGET_PREFIX)) {
    throw new KmsError('UnknownOperationException', 'The X-Amz-Target header must name a TrentService operation.');
  }
  return target.slice(TARGET_PREFIX.length);
}

export class KmsHttpServer {
  private readonly shutdown = new AbortController();

  constructor(
    private readonly store: KeyStore,
    private readonly faults: FaultInjector,
  ) {}

  readonly listener = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    const handled = path === CONTROL_PATH ? this.handleControl(req, res) : this.handleKms(req, res, path);
    handled.catch((err: unknown) => this.handleUnexpected(res, err));
  };

  stop(): void {
    this.shutdown.abort();
  }

  private async handleKms(req: IncomingMessage, res: ServerResponse, path: string | undefined): Promise<void> {
    if (req.method !== 'POST' || path !== '/') {
      req.resume();
      throw new KmsError(
        'UnknownOperationException',
        `${req.method} ${path} is not a KMS operation; send POST / with X-Amz-Target.`,
        404,
      );
    }
    const body = await readBody(req);
    const operation = operationName(req.headers['x-amz-target']);
    for (const fault of this.faults.take(operation)) {
      if (fault.kind === 'latency') {
        await sleep(fault.latencyMs ?? 0, undefined, { signal: this.shutdown.signal });
      } else {
        return this.answerFault(res, fault.kind);
      }
    }
    const handler = OPERATIONS.get(operation);
    if (!handler) throw unsupported(`The KMS emulator does not support operation ${operation}.`);
    const result = await handler(this.store, Params.parse(body));
    sendJson(res, 200, result);
  }

  private answerFault(res: ServerResponse, kind: Exclude<KmsFault['kind'], 'latency'>): void {
    switch (kind) {
      case 'throttle':
        sendError(res, new KmsError('ThrottlingException', 'Rate exceeded'));
        return;
      case 'internal':
        sendError(
          res,
          new KmsError(
            'KMSInternalException',
            'The request was rejected because an internal exception occurred. The request can be retried.',
            500,
          ),
        );
        return;
      case 'unavailable':
        // What a failing front end gives: a bare 503, no KMS error body.
        res.writeHead(503, { 'content-length': 0, connection: 'close' });
        res.end();
    }
  }

  private async handleControl(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (req.method === 'POST') {
      let fault: KmsFault;
      try {
        fault = normalizeFault(JSON.parse(body.toString('utf8')));
      } catch (err) {
        throw new KmsError('ValidationException', err instanceof TypeError ? err.message : 'The fault must be JSON.');
      }
      this.faults.add(fault);
    } else if (req.method === 'DELETE') {
      this.faults.clear();
    } else if (req.method !== 'GET') {
      throw new KmsError('UnsupportedOperationException', `Use POST, DELETE or GET on ${CONTROL_PATH}.`, 405);
    }
    sendJson(res, 200, { Faults: this.faults.list() }, { 'content-type': 'application/json' });
  }

  private handleUnexpected(res: ServerResponse, err: unknown): void {
    if (err instanceof KmsError) {
      sendError(res, err);
      return;
    }
    if (this.shutdown.signal.aborted) {
      res.destroy();
      return;
    }
    // Only the error's name and message: never request contents or key material.
    const { name, message } = err instanceof Error ? err : { name: 'Error', message: String(err) };
    console.error(`[kms-emulator] internal error: ${name}: ${message}`);
    sendError(res, new KmsError('KMSInternalException', 'The KMS emulator failed to process the request.', 500));
  }
}
