import { isAuditEvent, METRICS_NAMESPACE } from '../../contract/audit-events';
import { SERVICE_NAME_ENV } from '../../contract/environment';
import type { Logger } from '../oauth/ports';

export type LogSink = (line: string) => void;

/** The service's logger: named after the stack (SERVICE_NAME) where one is set. */
export function serviceLogger(sink?: LogSink): Logger {
  return jsonLogger(process.env[SERVICE_NAME_ENV] || 'ropc-token-service', sink);
}

/**
 * One JSON object per line (CloudWatch parses it; Lambda adds the request id to its own lines).
 * Callers pass named fields only: never a request, event, header, password, secret or token.
 */
export function jsonLogger(service: string, sink: LogSink = (line) => process.stdout.write(line + '\n')): Logger {
  const write = (level: string, event: string, fields?: Record<string, unknown>) => {
    const line: Record<string, unknown> = { timestamp: new Date().toISOString(), level, service, event, ...fields };
    if (isAuditEvent(event)) Object.assign(line, metricFields(event, typeof fields?.reason === 'string'));
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
