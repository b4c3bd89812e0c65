import type { Context } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { METRICS_NAMESPACE } from '../../contract/audit-events';
import { jsonLogger } from '../../lambda/adapters/logger';

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

function capture() {
  const lines: string[] = [];
  return {
    lines,
    sink: (line: string) => void lines.push(line),
    parsed: () => lines.map((line) => JSON.parse(line) as Record<string, any>),
  };
}

const context = {
  functionName: 'ropc-token-service-TokenFunction',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:ropc-token-service-TokenFunction',
  memoryLimitInMB: '1024',
  awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
} as Context;

describe('jsonLogger (Powertools Logger and Metrics)', () => {
  it('writes one JSON object per line with the fields given, and no metric for an event that is not an audit event', () => {
    const { lines, sink } = capture();
    jsonLogger('svc', sink).info('password_rehashed', { requestId: 'r1' });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({
      timestamp: expect.any(String),
      level: 'INFO',
      service: 'svc',
      event: 'password_rehashed',
      requestId: 'r1',
    });
    expect(new Date(JSON.parse(lines[0]!).timestamp).toISOString()).toBe(JSON.parse(lines[0]!).timestamp);
  });

  it('makes an audit event a CloudWatch EMF metric, on the line after the log line, with its reason as a dimension', () => {
    const { lines, sink, parsed } = capture();
    jsonLogger('svc', sink).warn('password_grant_failed', { reason: 'wrong_password', clientId: 'c' });
    expect(lines).toHaveLength(2);
    const [line, metric] = parsed();
    expect(line).toEqual({
      timestamp: expect.any(String),
      level: 'WARN',
      service: 'svc',
      event: 'password_grant_failed',
      reason: 'wrong_password',
      clientId: 'c',
    });
    expect(metric!.password_grant_failed).toBe(1);
    expect(metric!._aws.CloudWatchMetrics).toEqual([
      {
        Namespace: METRICS_NAMESPACE,
        Dimensions: [['service'], ['service', 'reason']],
        Metrics: [{ Name: 'password_grant_failed', Unit: 'Count' }],
      },
    ]);
    expect(metric).toMatchObject({ service: 'svc', reason: 'wrong_password' });
    expect(typeof metric!._aws.Timestamp).toBe('number');
    // Only the dimensions and the count: the log line's other fields stay out of the metric record.
    expect(Object.keys(metric!).sort()).toEqual(['_aws', 'password_grant_failed', 'reason', 'service']);
  });

  it("dimensions an audit event without a reason by service alone, and keeps each event's dimensions to itself", () => {
    const { sink, parsed } = capture();
    const logger = jsonLogger('svc', sink);
    logger.warn('refresh_grant_failed', { reason: 'invalid_refresh_token' });
    logger.warn('refresh_token_reuse_detected', { familyId: 'f', clientId: 'c' });
    logger.info('password_grant_succeeded', { clientId: 'c' });
    const metrics = parsed().filter((line) => '_aws' in line);
    expect(metrics.map((metric) => metric._aws.CloudWatchMetrics[0].Dimensions)).toEqual([
      [['service'], ['service', 'reason']],
      [['service']],
      [['service']],
    ]);
    expect(metrics.map((metric) => metric.reason)).toEqual(['invalid_refresh_token', undefined, undefined]);
    expect(
      metrics.map((metric) => Object.keys(metric).filter((key) => !['_aws', 'service', 'reason'].includes(key))),
    ).toEqual([['refresh_grant_failed'], ['refresh_token_reuse_detected'], ['password_grant_succeeded']]);
  });

  it('adds the Lambda context (cold start on the first invocation only), the X-Ray trace id and the levels', () => {
    process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand';
    process.env._X_AMZN_TRACE_ID = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
    const { sink, parsed } = capture();
    const logger = jsonLogger('svc', sink);
    logger.addContext(context);
    logger.error('unexpected_error', { requestId: 'api-1' });
    logger.addContext({ ...context, awsRequestId: 'second-invocation' });
    logger.info('password_rehashed', { requestId: 'api-2' });
    const [first, , second] = parsed();
    expect(first).toMatchObject({
      level: 'ERROR',
      event: 'unexpected_error',
      cold_start: true,
      function_name: context.functionName,
      function_request_id: context.awsRequestId,
      xray_trace_id: '1-5759e988-bd862e3fe1be46a994272793',
      requestId: 'api-1',
    });
    expect(second).toMatchObject({
      level: 'INFO',
      cold_start: false,
      function_request_id: 'second-invocation',
      requestId: 'api-2',
    });
  });

  it("keeps `event` and the other standard fields from being replaced by a caller's field", () => {
    const { sink, parsed } = capture();
    jsonLogger('svc', sink).info('token_revoked', { event: 'something else', cold_start: 'x', clientId: 'c' });
    expect(parsed()[0]).toMatchObject({ event: 'token_revoked', clientId: 'c' });
    expect(parsed()[0]!.cold_start).toBeUndefined();
  });

  it('counts an audit event even when the log level hides its line (POWERTOOLS_LOG_LEVEL)', () => {
    process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
    const { sink, parsed } = capture();
    const logger = jsonLogger('svc', sink);
    logger.info('password_grant_succeeded', { clientId: 'c' });
    logger.info('password_rehashed', {});
    expect(parsed()).toEqual([expect.objectContaining({ password_grant_succeeded: 1, service: 'svc' })]);
  });
});
