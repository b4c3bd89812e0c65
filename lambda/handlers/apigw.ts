import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { HttpRequest, HttpResponse } from '../oauth/http';

/** An API Gateway REST API proxy event as the core's HttpRequest. */
export function fromProxyEvent(event: APIGatewayProxyEvent): HttpRequest {
  const headers: Record<string, string> = Object.create(null);
  for (const [name, values] of Object.entries(event.multiValueHeaders ?? {})) {
    if (values !== undefined && values.length > 0) headers[name.toLowerCase()] = values.join(', ');
  }
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    const key = name.toLowerCase();
    if (value !== undefined && headers[key] === undefined) headers[key] = value;
  }
  const body = event.body ?? '';
  return {
    method: event.httpMethod.toUpperCase(),
    // The resource is the route as declared (no stage or custom-domain base path in it).
    path: event.resource ?? event.path,
    headers,
    body: event.isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8'),
    sourceIp: event.requestContext?.identity?.sourceIp ?? '',
    requestId: event.requestContext?.requestId ?? '',
  };
}

export function toProxyResult(response: HttpResponse): APIGatewayProxyResult {
  return { statusCode: response.status, headers: response.headers, body: response.body, isBase64Encoded: false };
}
