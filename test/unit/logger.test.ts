import { describe, expect, it } from 'vitest';
import { jsonLogger } from '../../lambda/adapters/logger';
import { METRICS_NAMESPACE } from '../../contract/audit-events';

describe('jsonLogger', () => {
  it('writes one JSON object per line with the fields given, and no metric for an event that is not an audit event', () => {
    const lines: string[] = [];
    jsonLogger('svc', (line) => lines.push(line)).info('password_rehashed', { requestId: 'r1' });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({ timestamp: expect.any(String), level: 'INFO', service: 'svc', event: 'password_rehashed', requestId: 'r1' });
  });

  it('makes an audit event a CloudWatch EMF metric, with its reason as a dimension', () => {
    const lines: string[] = [];
    jsonLogger('svc', (line) => lines.push(line)).info('password_grant_failed', { reason: 'wrong_password', clientId: 'c' });
    const line = JSON.parse(lines[0]!);
    expect(line.password_grant_failed).toBe(1);
    expect(line._aws.CloudWatchMetrics).toEqual([
      { Namespace: METRICS_NAMESPACE, Dimensions: [['service'], ['service', 'reason']], Metrics: [{ Name: 'password_grant_failed', Unit: 'Count' }] },
    ]);
    expect(line.reason).toBe('wrong_password');
    expect(typeof line._aws.Timestamp).toBe('number');
  });
});
