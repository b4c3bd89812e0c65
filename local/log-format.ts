/**
 * What `npm start` shows of the service's log: by default a person's view, one line per request and one
 * per log event; with LOG_FORMAT=json the handlers' JSON lines exactly as the Lambda functions write them.
 * The handlers' logger is unchanged either way: the readable form is made here, from each JSON line.
 */
import type { LogSink } from '../lambda/adapters/logger';

export type LogFormat = 'text' | 'json';

const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

/** LOG_FORMAT: `text` (the default, also when blank) or `json`; anything else names the variable. */
export function logFormatFromEnv(env: Readonly<Record<string, string | undefined>>): LogFormat {
  const value = env.LOG_FORMAT?.trim().toLowerCase() ?? '';
  if (value === '') return 'text';
  if ((LOG_FORMATS as readonly string[]).includes(value)) return value as LogFormat;
  throw new Error(`LOG_FORMAT must be ${LOG_FORMATS.join(' or ')}, not "${env.LOG_FORMAT}"`);
}

/** Powertools' envelope and the Lambda context: the same on every line, or absent locally. */
const ENVELOPE = new Set([
  'timestamp',
  'level',
  'service',
  'event',
  'cold_start',
  'function_name',
  'function_request_id',
  'xray_trace_id',
  'requestId',
]);

/**
 * Field names that could only hold a credential. The service's logger never writes one; should a line
 * ever carry such a field, its value is not shown.
 */
const SECRET_NAME = /password|secret|token$|^token|authorization|credential|cookie/i;

/**
 * One JSON log line as a person reads it: `[LEVEL ]event name=value …` (the level only when it is not
 * INFO), the fields in the order the logger wrote them, without the envelope every line has. An
 * Embedded Metric Format line (the metric that repeats an audit event) is dropped: undefined. A line that
 * is not a JSON log event comes back unchanged.
 */
export function readableLogLine(line: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return line;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return line;
  const record = parsed as Record<string, unknown>;
  if ('_aws' in record) return undefined;
  if (typeof record.event !== 'string') return line;
  const parts: string[] = [];
  if (typeof record.level === 'string' && record.level !== 'INFO') parts.push(record.level);
  parts.push(record.event);
  for (const [name, value] of Object.entries(record)) {
    if (ENVELOPE.has(name) || value === undefined || value === null || value === '') continue;
    parts.push(`${name}=${SECRET_NAME.test(name) ? '[not shown]' : fieldValue(value)}`);
  }
  return parts.join(' ');
}

function fieldValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** One request through the API Gateway emulation. */
export interface AccessEntry {
  readonly method: string;
  /** The path alone: a query string is never shown. */
  readonly path: string;
  readonly status: number;
  readonly durationMs: number;
}

/** `POST /token 200 12 ms` */
export function accessLogLine(entry: AccessEntry): string {
  return `${entry.method} ${entry.path} ${entry.status} ${Math.round(entry.durationMs)} ms`;
}

/** The handlers' log sink for `format`, writing to `out`: the JSON lines as they are, or their readable form. */
export function localLogSink(format: LogFormat, out: LogSink): LogSink {
  if (format === 'json') return out;
  return (line) => {
    const readable = readableLogLine(line);
    if (readable !== undefined) out(readable);
  };
}

/** The access log for `format`: a line per request in the readable form, none with JSON (the lines stay as the functions write them). */
export function localAccessLog(format: LogFormat, out: LogSink): ((entry: AccessEntry) => void) | undefined {
  return format === 'json' ? undefined : (entry) => out(accessLogLine(entry));
}
