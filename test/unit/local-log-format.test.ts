import { describe, expect, it } from 'vitest';
import { jsonLogger } from '../../lambda/adapters/logger';
import { accessLogLine, localAccessLog, localLogSink, logFormatFromEnv, readableLogLine } from '../../local/log-format';
import { LogAudit } from '../support/log-audit';

/** The lines the service's logger writes for `log`, as they reach a sink. */
function loggedLines(log: (logger: ReturnType<typeof jsonLogger>) => void): string[] {
  const lines: string[] = [];
  log(jsonLogger('ropc-token-service', (line) => lines.push(line)));
  return lines;
}

describe('readable local log lines', () => {
  it('shows an event with its fields in order, without the envelope, the request id or the metric line', () => {
    const lines = loggedLines((logger) =>
      logger.info('password_grant_succeeded', { requestId: 'r-1', clientId: 'demo-client', userId: 'u-1' }),
    );
    expect(lines).toHaveLength(2); // the log line and its EMF metric
    expect(lines.map(readableLogLine)).toEqual(['password_grant_succeeded clientId=demo-client userId=u-1', undefined]);
  });

  it('leads with the level when it is not INFO, and shows the reason and the lockout', () => {
    const [line] = loggedLines((logger) =>
      logger.warn('password_grant_failed', {
        requestId: 'r-2',
        clientId: 'demo-client',
        userId: undefined,
        reason: 'locked',
        lockout: 'pair',
      }),
    );
    expect(readableLogLine(line!)).toBe('WARN password_grant_failed clientId=demo-client reason=locked lockout=pair');
  });

  it('shows an event without fields as its name alone', () => {
    const [line] = loggedLines((logger) => logger.info('signing_key_rotated'));
    expect(readableLogLine(line!)).toBe('signing_key_rotated');
  });

  it('quotes a value with spaces and writes objects and numbers as JSON', () => {
    const [line] = loggedLines((logger) =>
      logger.error('unexpected_error', { error: 'Error: it broke', lockout: { until: 1700000000 }, generation: 3 }),
    );
    expect(readableLogLine(line!)).toBe(
      'ERROR unexpected_error error="Error: it broke" lockout={"until":1700000000} generation=3',
    );
  });

  it('passes a line that is not a JSON log event through unchanged', () => {
    for (const line of ['DynamoDB Local ready', '', '{not json', '[1,2]', '"text"', '{"message":"no event"}', 'null'])
      expect(readableLogLine(line)).toBe(line);
  });

  it('shows no value of a field named like a credential, should one ever be written', () => {
    const line = JSON.stringify({
      level: 'INFO',
      event: 'operator_action',
      password: 'hunter2-hunter2',
      client_secret: 'abc123abc123',
      refreshToken: 'rt-value-123',
      authorization: 'Basic ZGVtbzpzZWNyZXQ=',
    });
    const readable = readableLogLine(line)!;
    expect(readable).toBe(
      'operator_action password=[not shown] client_secret=[not shown] refreshToken=[not shown] authorization=[not shown]',
    );
    const audit = new LogAudit();
    audit.secret('hunter2-hunter2', 'abc123abc123', 'rt-value-123', 'ZGVtbzpzZWNyZXQ=');
    audit.expectClean([readable]);
  });
});

describe('the local log sinks', () => {
  it('renders each line in text mode and drops metric lines', () => {
    const out: string[] = [];
    const sink = localLogSink('text', (line) => out.push(line));
    const lines = loggedLines((logger) => logger.info('token_revoked', { clientId: 'c', userId: 'u' }));
    for (const line of lines) sink(line);
    expect(out).toEqual(['token_revoked clientId=c userId=u']);
  });

  it('writes the JSON lines unchanged in json mode, and no access line', () => {
    const out: string[] = [];
    const sink = localLogSink('json', (line) => out.push(line));
    const lines = loggedLines((logger) => logger.info('token_revoked', { clientId: 'c' }));
    for (const line of lines) sink(line);
    expect(out).toEqual(lines);
    expect(localAccessLog('json', (line) => out.push(line))).toBeUndefined();
  });

  it('writes an access line with method, path, status and whole milliseconds', () => {
    expect(accessLogLine({ method: 'POST', path: '/token', status: 200, durationMs: 12.4 })).toBe(
      'POST /token 200 12 ms',
    );
    const out: string[] = [];
    localAccessLog('text', (line) => out.push(line))!({ method: 'GET', path: '/x', status: 403, durationMs: 0.2 });
    expect(out).toEqual(['GET /x 403 0 ms']);
  });

  it('reads LOG_FORMAT: text by default, json on request, and names the variable for anything else', () => {
    expect(logFormatFromEnv({})).toBe('text');
    expect(logFormatFromEnv({ LOG_FORMAT: ' ' })).toBe('text');
    expect(logFormatFromEnv({ LOG_FORMAT: 'JSON' })).toBe('json');
    expect(logFormatFromEnv({ LOG_FORMAT: 'text' })).toBe('text');
    expect(() => logFormatFromEnv({ LOG_FORMAT: 'yaml' })).toThrow(/LOG_FORMAT must be text or json, not "yaml"/);
  });
});
