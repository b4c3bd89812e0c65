import { LogFormatter, LogItem, Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { ConstructorOptions, LogAttributes, UnformattedAttributes } from '@aws-lambda-powertools/logger/types';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricsOptions } from '@aws-lambda-powertools/metrics/types';
import type { Context } from 'aws-lambda';
import { type AuditEvent, isAuditEvent, METRICS_NAMESPACE } from '../../contract/audit-events';
import { SERVICE_NAME_ENV } from '../../contract/environment';
import type { Logger } from '../oauth/ports';

/** Where the JSON lines go: stdout on Lambda and in `npm start`, an array in tests. */
export type LogSink = (line: string) => void;

/** The port's logger, plus what a Lambda handler adds at each invocation. */
export interface LambdaLogger extends Logger {
  /** The invocation's request id, function name and cold start, on every line that follows (Powertools `addContext`). */
  addContext(context: Context): void;
}

const stdout: LogSink = (line) => process.stdout.write(`${line}\n`);

/** The service's logger: named after the stack (SERVICE_NAME) where one is set. */
export function serviceLogger(sink?: LogSink): LambdaLogger {
  return jsonLogger(process.env[SERVICE_NAME_ENV] || 'ropc-token-service', sink);
}

/**
 * Powertools Logger and Metrics, one JSON object per line. Callers pass named fields only: never a
 * request, event, header, password, secret or token (nothing here logs the Lambda event either).
 * Each audit event is also a CloudWatch metric (Embedded Metric Format), on its own line right after
 * the log line: it counts whatever the log level.
 */
export function jsonLogger(service: string, sink: LogSink = stdout): LambdaLogger {
  const logger = new SinkLogger({ serviceName: service, logFormatter: new EventLogFormatter() }, sink);
  const metrics = new SinkMetrics({ namespace: METRICS_NAMESPACE, serviceName: service, logger }, sink);
  const write = (level: 'info' | 'warn' | 'error', event: string, fields?: Record<string, unknown>) => {
    logger[level](event, fields ?? {});
    if (isAuditEvent(event)) countAuditEvent(metrics, event, fields?.reason);
  };
  return {
    info: (event, fields) => write('info', event, fields),
    warn: (event, fields) => write('warn', event, fields),
    error: (event, fields) => write('error', event, fields),
    addContext: (context) => logger.addContext(context),
  };
}

/**
 * One Count of `event`, dimensioned by `service` and, where the event has a reason, by `service` and
 * `reason` too (an empty dimension set is the default dimensions alone, so the service-wide count sits
 * beside the per-reason one). Published at once: dimensions belong to a Metrics instance until it
 * flushes, so audit events with different reasons cannot share one end-of-invocation flush.
 */
function countAuditEvent(metrics: Metrics, event: AuditEvent, reason: unknown): void {
  if (typeof reason === 'string') metrics.addDimensions({}).addDimensions({ reason });
  metrics.addMetric(event, MetricUnit.Count, 1).publishStoredMetrics();
}

/**
 * Powertools' fields under Powertools' names, except `message`, which is `event` here: the stack's
 * metric filters and alarms match `$.event` (lib/monitoring.ts), and events are the typed union in
 * contract/audit-events.ts. A caller's field never replaces one of these.
 */
class EventLogFormatter extends LogFormatter {
  override formatAttributes(attributes: UnformattedAttributes, fields: LogAttributes): LogItem {
    const context = attributes.lambdaContext;
    const line: LogAttributes = {
      timestamp: this.formatTimestamp(attributes.timestamp),
      level: attributes.logLevel,
      service: attributes.serviceName,
      event: attributes.message,
      cold_start: context?.coldStart,
      function_name: context?.functionName,
      function_request_id: context?.awsRequestId,
      xray_trace_id: attributes.xRayTraceId,
    };
    for (const [name, value] of Object.entries(fields)) if (!(name in line)) line[name] = value;
    return new LogItem({ attributes: line });
  }
}

/**
 * Writes each log line to the sink (on Lambda, stdout, as Powertools' own console does, but every level
 * on stdout as before). Unlike Powertools it keeps a caller's empty-string and null fields; the fields
 * that are undefined (no Lambda context, no trace id) drop out of the JSON.
 */
class SinkLogger extends PowertoolsLogger {
  // `declare`: the base constructor may print (a buffered warning) before a subclass field would be set.
  declare private readonly sink: LogSink;

  constructor(options: ConstructorOptions, sink: LogSink) {
    super(options);
    this.sink = sink;
  }

  protected override printLog(_level: number, log: LogItem): void {
    (this.sink ?? stdout)(JSON.stringify(log.getAttributes(), this.getJsonReplacer()));
  }
}

/** Powertools' flush, to the sink instead of Powertools' own console (so tests and `npm start` see the metrics). */
class SinkMetrics extends Metrics {
  declare private readonly sink: LogSink;

  constructor(options: MetricsOptions, sink: LogSink) {
    super(options);
    this.sink = sink;
  }

  override publishStoredMetrics(): this {
    try {
      if (this.hasStoredMetrics() && !this.isDisabled()) this.sink(JSON.stringify(this.serializeMetrics()));
    } finally {
      this.clearMetrics();
      this.clearDimensions();
      this.clearMetadata();
    }
    return this;
  }
}
