import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { type HandlerName, ROUTES } from '../contract/routes';
import type { ProxyHandler } from '../lambda/handlers/token';

export interface ApiGatewayOptions {
  readonly handlers: Readonly<Record<HandlerName, ProxyHandler>>;
  readonly port?: number;
  readonly host?: string;
  readonly stage?: string;
  /** Called once per request when its response has been sent (or its connection closed): method, path, status, time taken. */
  readonly onResponse?: (entry: { method: string; path: string; status: number; durationMs: number }) => void;
}

export interface ApiGateway {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

const FORWARDED_FOR = 'x-forwarded-for';

/** API Gateway's own payload limit for REST APIs. */
const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;

/**
 * Local stand-in for the REST API: every route of the shared route table is proxied to its handler
 * with a REST API proxy event, as the deployed stack does (ANY method, binary media type `*\/*`, so
 * request bodies arrive base64-encoded and byte-exact). Unknown paths get API Gateway's own 403, a
 * handler that throws gets its 502.
 */
export async function startApiGateway(options: ApiGatewayOptions): Promise<ApiGateway> {
  const host = options.host ?? '127.0.0.1';
  const stage = options.stage ?? 'local';
  const server = createServer((request, response) => {
    if (options.onResponse !== undefined) observe(request, response, options.onResponse);
    serve(request, response, options.handlers, stage).catch(() => {
      if (!response.headersSent)
        send(response, 502, { 'Content-Type': 'application/json' }, '{"message": "Internal server error"}');
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://${host}:${port}`,
    port,
    stop: () => close(server),
  };
}

async function serve(
  request: IncomingMessage,
  response: ServerResponse,
  handlers: ApiGatewayOptions['handlers'],
  stage: string,
): Promise<void> {
  const requestId = randomUUID();
  const url = new URL(request.url ?? '/', 'http://localhost');
  const route = ROUTES.find((candidate) => candidate.path === url.pathname);
  const body = await readBody(request);
  if (body === undefined) {
    send(
      response,
      413,
      { 'Content-Type': 'application/json', 'x-amzn-RequestId': requestId },
      '{"message":"Request Too Long"}',
    );
    return;
  }
  if (route === undefined) {
    send(
      response,
      403,
      { 'Content-Type': 'application/json', 'x-amzn-RequestId': requestId },
      '{"message":"Missing Authentication Token"}',
    );
    return;
  }
  const event = proxyEvent(request, url, route.path, body, requestId, stage);
  const result = await handlers[route.handler](event);
  const headers: Record<string, string> = { 'x-amzn-RequestId': requestId };
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  const payload = result.isBase64Encoded ? Buffer.from(result.body, 'base64') : Buffer.from(result.body, 'utf8');
  send(response, result.statusCode, headers, request.method === 'HEAD' ? Buffer.alloc(0) : payload);
}

function proxyEvent(
  request: IncomingMessage,
  url: URL,
  resource: string,
  body: Buffer,
  requestId: string,
  stage: string,
): APIGatewayProxyEvent {
  // Prototype-free maps: a header or parameter named "constructor" or "__proto__" is just a name.
  const headers: Record<string, string> = Object.create(null);
  const multiValueHeaders: Record<string, string[]> = Object.create(null);
  const sourceIp = (request.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  const forwardedFor: string[] = [];
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i]!;
    const value = request.rawHeaders[i + 1]!;
    if (name.toLowerCase() === FORWARDED_FOR) {
      forwardedFor.push(value);
      continue;
    }
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  }
  // API Gateway appends the address its connection came from (sourceIp) to what the caller sent, as one
  // field: behind proxies (TRUSTED_PROXY_HOPS), the handler reads the client's address left of it.
  const appended = [...forwardedFor, sourceIp].join(', ');
  headers['X-Forwarded-For'] = appended;
  multiValueHeaders['X-Forwarded-For'] = [appended];
  const query: Record<string, string> = Object.create(null);
  const multiQuery: Record<string, string[]> = Object.create(null);
  for (const [name, value] of url.searchParams) {
    query[name] = value;
    (multiQuery[name] ??= []).push(value);
  }
  const now = new Date();
  const method = request.method ?? 'GET';
  return {
    resource,
    path: url.pathname,
    httpMethod: method,
    headers,
    multiValueHeaders,
    queryStringParameters: Object.keys(query).length > 0 ? query : null,
    multiValueQueryStringParameters: Object.keys(multiQuery).length > 0 ? multiQuery : null,
    pathParameters: null,
    stageVariables: null,
    body: body.length > 0 ? body.toString('base64') : null,
    isBase64Encoded: body.length > 0,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      httpMethod: method,
      identity: callerIdentity(sourceIp, request.headers['user-agent'] ?? null),
      path: `/${stage}${url.pathname}`,
      protocol: `HTTP/${request.httpVersion}`,
      requestId,
      requestTime: now.toUTCString(),
      requestTimeEpoch: now.getTime(),
      resourceId: 'local',
      resourcePath: resource,
      stage,
    },
  };
}

/** Reports the request once its response is done; the path without its query string, which may carry anything. */
function observe(
  request: IncomingMessage,
  response: ServerResponse,
  report: NonNullable<ApiGatewayOptions['onResponse']>,
): void {
  const started = performance.now();
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  response.once('close', () => {
    report({
      method: request.method ?? 'GET',
      path,
      status: response.statusCode,
      durationMs: performance.now() - started,
    });
  });
}

/** requestContext.identity of an unauthenticated call (no IAM, Cognito or API key): only the caller's address and agent. */
export function callerIdentity(
  sourceIp: string,
  userAgent: string | null,
): APIGatewayProxyEvent['requestContext']['identity'] {
  return {
    accessKey: null,
    accountId: null,
    apiKey: null,
    apiKeyId: null,
    caller: null,
    clientCert: null,
    cognitoAuthenticationProvider: null,
    cognitoAuthenticationType: null,
    cognitoIdentityId: null,
    cognitoIdentityPoolId: null,
    principalOrgId: null,
    sourceIp,
    user: null,
    userAgent,
    userArn: null,
  };
}

/** Reads the body, or undefined when it exceeds API Gateway's payload limit. */
async function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_PAYLOAD_BYTES) tooLarge = true;
    else chunks.push(chunk as Buffer);
  }
  return tooLarge ? undefined : Buffer.concat(chunks);
}

function send(response: ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer): void {
  response.writeHead(status, { ...headers, 'Content-Length': String(Buffer.byteLength(body)) });
  response.end(body);
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
