/**
 * The operator's audit trail. With ROPC_ADMIN_AUDIT_LOG=path, every command that changes something appends
 * one JSON line to that file (created with mode 0600): when, which command, on which stack, on what (a
 * client ID, a username, a kid), and how it ended. The fields are the service's log fields (timestamp,
 * level, service, event); never a password, a secret, a hash or a token. stderr stays for the operator.
 */
import { type FileHandle, open } from 'node:fs/promises';
import type { AuditEvent, LogEvent } from '../../contract/audit-events';
import { AccountError } from '../../lambda/accounts';
import { isUnavailable } from '../../lambda/adapters/aws-errors';
import { DependencyUnavailableError } from '../../lambda/oauth/errors';
import type { AuditEntry, CommandContext, CommandResult } from './command';
import { OperationalError } from './errors';
import type { CommandId } from './spec';

export const AUDIT_LOG_ENV = 'ROPC_ADMIN_AUDIT_LOG';

const EVENT: LogEvent = 'operator_action';

/** The commands that only read: not audited. Any other command, present or future, is. */
const READ_ONLY: ReadonlySet<CommandId> = new Set<CommandId>([
  'clients list',
  'clients show',
  'users list',
  'users show',
  'keys list',
]);

/**
 * Commands whose outcome is one of the service's audit events too: their line names it as `action`
 * (the event stays operator_action, so every line of the trail has one shape).
 */
const ACTIONS: Partial<Record<CommandId, AuditEvent>> = {
  'users mfa enroll': 'mfa_enrolled',
  'users mfa disable': 'mfa_disabled',
  'users import': 'user_migrated',
};

export interface AuditLog {
  /** Appends the command's line; `result` when it succeeded, `error` when it failed. */
  record(
    context: CommandContext,
    target: string,
    outcome: { result: CommandResult } | { error: unknown },
  ): Promise<void>;
  /** Appends one succeeded line per entry, each with its own subject (CommandContext.audit). */
  acted(context: CommandContext, target: string, entries: readonly AuditEntry[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * The audit log for this command, opened before it runs, so that a log that cannot be written stops the
 * command before it changes anything; undefined when none is asked for or the command only reads.
 */
export async function openAuditLog(
  env: Readonly<Record<string, string | undefined>>,
  command: CommandId,
): Promise<AuditLog | undefined> {
  const path = env[AUDIT_LOG_ENV];
  if (path === undefined || path === '' || READ_ONLY.has(command)) return undefined;
  let file: FileHandle;
  try {
    file = await open(path, 'a', 0o600);
  } catch (error) {
    throw new OperationalError(
      `cannot open the audit log ${path} from ${AUDIT_LOG_ENV} (${reason(error)}): nothing was done`,
    );
  }
  const header = (context: CommandContext, target: string, failed: boolean) => ({
    timestamp: context.now().toISOString(),
    level: failed ? 'WARN' : 'INFO',
    service: 'ropc-admin',
    event: EVENT,
    command: context.command.id,
    ...(ACTIONS[context.command.id] === undefined ? {} : { action: ACTIONS[context.command.id] }),
    target,
    ...(context.strings.region === undefined ? {} : { region: context.strings.region }),
  });
  const append = async (lines: readonly Record<string, unknown>[]) => {
    try {
      await file.appendFile(lines.map((line) => `${JSON.stringify(line)}\n`).join(''));
    } catch (error) {
      throw new OperationalError(
        `the command ran, but its line could not be appended to the audit log ${path} (${reason(error)})`,
      );
    }
  };
  return {
    record: (context, target, outcome) => {
      const failed = 'error' in outcome;
      return append([
        {
          ...header(context, target, failed),
          subject: subjectOf(context, failed ? undefined : outcome.result) ?? null,
          ...(failed ? (outcome.error instanceof OperationalError ? outcome.error.audit : {}) : outcome.result.audit),
          outcome: failed ? 'failed' : 'succeeded',
          ...(failed ? { reason: failureReason(outcome.error) } : {}),
        },
      ]);
    },
    acted: (context, target, entries) =>
      append(
        entries.map(({ subject, fields }) => ({
          ...header(context, target, false),
          subject,
          ...fields,
          outcome: 'succeeded',
        })),
      ),
    close: () => file.close(),
  };
}

/** What the command acted on: its argument, its --username, or what it created. */
function subjectOf(context: CommandContext, result: CommandResult | undefined): string | undefined {
  return context.args.ID ?? context.args.NAME ?? context.args.KID ?? context.strings.username ?? result?.subject;
}

/** Why it failed, as a code: the account service's refusal, an unavailable dependency, or `error`. */
function failureReason(error: unknown): string {
  if (error instanceof AccountError) return error.code;
  if (error instanceof DependencyUnavailableError || isUnavailable(error)) return 'dependency_unavailable';
  return 'error';
}

function reason(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.message : String(error);
}
