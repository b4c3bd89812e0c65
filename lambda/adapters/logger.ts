import type { Logger } from '../oauth/ports';

export type LogSink = (line: string) => void;

/**
 * One JSON object per line (CloudWatch parses it; Lambda adds the request id to its own lines).
 * Callers pass named fields only: never a request, event, header, password, secret or token.
 */
export function jsonLogger(service: string, sink: LogSink = (line) => process.stdout.write(line + '\n')): Logger {
  const write = (level: string, event: string, fields?: Record<string, unknown>) => {
    sink(JSON.stringify({ timestamp: new Date().toISOString(), level, service, event, ...fields }));
  };
  return {
    info: (event, fields) => write('INFO', event, fields),
    warn: (event, fields) => write('WARN', event, fields),
    error: (event, fields) => write('ERROR', event, fields),
  };
}
