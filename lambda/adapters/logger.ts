import type { Logger } from '../oauth/ports';

export type LogSink = (line: string) => void;

export const METRICS_NAMESPACE = 'RopcTokenService';

/** The `service` field and metric dimension: the stack name on AWS, so two stacks' metrics stay apart. */
export const SERVICE_NAME_ENV = 'SERVICE_NAME';

/** The service's logger: named after the stack (SERVICE_NAME) where one is set. */
export function serviceLogger(sink?: LogSink): Logger {
  return jsonLogger(process.env[SERVICE_NAME_ENV] || 'ropc-token-service', sink);
}

/**
 * Security-relevant outcomes: each log line with one of these events also carries a CloudWatch
 * Embedded Metric Format block, so every event is a metric (count) for dashboards and alarms, with a
 * `reason` dimension where the event has one.
 */
export const AUDIT_EVENTS = new Set([
  'password_grant_succeeded',
  'password_grant_failed',
  'refresh_grant_succeeded',
  'refresh_grant_failed',
  'refresh_token_reuse_detected',
  'lockout_started',
  'client_authentication_failed',
  'token_revoked',
  'dependency_unavailable',
  'unexpected_error',
]);

/**
 * One JSON object per line (CloudWatch parses it; Lambda adds the request id to its own lines).
 * Callers pass named fields only: never a request, event, header, password, secret or token.
 */
export function jsonLogger(service: string, sink: LogSink = (line) => process.stdout.write(line + '\n')): Logger {
  const write = (level: string, event: string, fields?: Record<string, unknown>) => {
    const line: Record<string, unknown> = { timestamp: new Date().toISOString(), level, service, event, ...fields };
    if (AUDIT_EVENTS.has(event)) Object.assign(line, metricFields(event, typeof fields?.reason === 'string'));
    sink(JSON.stringify(line));
  };
  return {
    info: (event, fields) => write('INFO', event, fields),
    warn: (event, fields) => write('WARN', event, fields),
    error: (event, fields) => write('ERROR', event, fields),
  };
}

function metricFields(event: string, hasReason: boolean): Record<string, unknown> {
  return {
    _aws: {
      Timestamp: Date.now(),
      CloudWatchMetrics: [
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions: hasReason ? [['service'], ['service', 'reason']] : [['service']],
          Metrics: [{ Name: event, Unit: 'Count' }],
        },
      ],
    },
    [event]: 1,
  };
}
