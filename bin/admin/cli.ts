/**
 * ropc-admin: the operator CLI. `runCli` is the whole program behind the process boundary (argv, stdin,
 * stdout, stderr, environment), so tests drive it in-process; bin/ropc-admin.ts wires it to the process.
 */
import { AccountError } from '../../lambda/accounts';
import { isUnavailable } from '../../lambda/adapters/aws-errors';
import { CorruptItemError } from '../../lambda/adapters/items';
import { DependencyUnavailableError } from '../../lambda/oauth/errors';
import { accountFailure } from './accounts';
import { parseCommandLine } from './args';
import { type AuditLog, openAuditLog } from './audit';
import { CLIENT_COMMANDS } from './clients';
import type { CommandContext, CommandHandler, CommandResult } from './command';
import { OperationalError, RejectedInputError, UsageError } from './errors';
import { commandHelp, groupHelp, helpText } from './help';
import { KEY_COMMANDS } from './keys';
import type { CommandId } from './spec';
import type { StdinSource } from './stdin';
import { awsProblem, type DescribeStackOutputs, resolveTarget, type Target } from './target';
import { TOKEN_COMMANDS } from './tokens';
import { USER_COMMANDS } from './users';
import { packageVersion } from './version';

export interface CliIo {
  readonly stdin: StdinSource;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Record<string, string | undefined>;
}

/** Seams for tests: the CloudFormation call behind --stack, and the clock. */
export interface CliDeps {
  readonly describeStackOutputs?: DescribeStackOutputs;
  readonly now?: () => Date;
}

const HANDLERS: Record<CommandId, CommandHandler> = {
  ...CLIENT_COMMANDS,
  ...USER_COMMANDS,
  ...TOKEN_COMMANDS,
  ...KEY_COMMANDS,
};

const PROGRAM = 'ropc-admin';

/** Runs one command; resolves to the exit status (0 ok, 1 operation failed, 2 usage error). Never throws. */
export async function runCli(argv: string[], io: CliIo, deps: CliDeps = {}): Promise<number> {
  let target: Target | undefined;
  let audit: AuditLog | undefined;
  let json = false;
  try {
    const parsed = parseCommandLine(argv);
    if (parsed.kind === 'help') {
      io.stdout(
        parsed.command !== undefined
          ? commandHelp(parsed.command)
          : parsed.group !== undefined
            ? groupHelp(parsed.group)
            : helpText(),
      );
      return 0;
    }
    if (parsed.kind === 'version') {
      const version = await packageVersion();
      io.stdout(parsed.json ? `${JSON.stringify({ version })}\n` : `${version}\n`);
      return 0;
    }
    const { command, args, strings, lists, flags } = parsed;
    json = flags.json === true;
    const handler = HANDLERS[command.id];
    let pending: Promise<Target> | undefined;
    const context: CommandContext = {
      command,
      args,
      strings,
      lists,
      flags,
      stdin: io.stdin,
      stderr: io.stderr,
      env: io.env,
      now: deps.now ?? (() => new Date()),
      target: () =>
        (pending ??= resolveTarget({
          stack: strings.stack,
          region: strings.region,
          profile: strings.profile,
          env: io.env,
          describeStackOutputs: deps.describeStackOutputs,
        }).then((resolved) => (target = resolved))),
      audit: async (entries) => audit?.acted(context, targetName(), entries),
    };
    audit = await openAuditLog(io.env, command.id);
    // The stack's name even when it could not be reached: the local stack is `local`, as its keys are tagged.
    const targetName = () => target?.deployment ?? strings.stack ?? 'local';
    let result: CommandResult;
    try {
      result = await handler(context);
    } catch (error) {
      // A usage error is found before anything is done: there is no action to record.
      if (!(error instanceof UsageError)) {
        await audit
          ?.record(context, targetName(), { error })
          .catch((auditError: Error) => io.stderr(`${PROGRAM}: ${auditError.message}\n`));
      }
      throw error;
    }
    try {
      await audit?.record(context, targetName(), { result });
    } finally {
      // Printed whatever the audit log says: a client secret shown now is shown only this once.
      io.stdout(flags.json ? `${JSON.stringify(result.json)}\n` : `${result.human}\n`);
    }
    return 0;
  } catch (error) {
    const { message, exitCode } = describeFailure(error, target);
    io.stderr(`${PROGRAM}: ${message}\n`);
    // A refused input's result: the object with --json, otherwise the reasons under the message.
    if (error instanceof RejectedInputError) {
      if (json) io.stdout(`${JSON.stringify(error.json)}\n`);
      else for (const detail of error.details) io.stderr(`${detail}\n`);
    }
    if (io.env.ROPC_ADMIN_DEBUG && error instanceof Error && error.stack !== undefined) io.stderr(`${error.stack}\n`);
    return exitCode;
  } finally {
    target?.close();
    await audit?.close().catch(() => {});
  }
}

function describeFailure(error: unknown, target: Target | undefined): { message: string; exitCode: number } {
  if (error instanceof UsageError) {
    const hint = error.showHelpHint && !error.message.includes('(usage:') ? ` (run "${PROGRAM} --help" for usage)` : '';
    return { message: error.message + hint, exitCode: 2 };
  }
  if (error instanceof OperationalError) return { message: error.message, exitCode: 1 };
  if (error instanceof AccountError) return { message: accountFailure(error, target).message, exitCode: 1 };
  return { message: operationalMessage(error, target), exitCode: 1 };
}

function operationalMessage(error: unknown, target: Target | undefined): string {
  const cause = error instanceof DependencyUnavailableError ? error.cause : error;
  if (error instanceof DependencyUnavailableError || isUnavailable(error)) {
    if (target?.kind === 'local') {
      return `cannot reach DynamoDB Local at ${target.dynamodbEndpoint} (${reason(cause)}): is the local stack running? Start it with \`npm start\``;
    }
    return `DynamoDB${target?.region === undefined ? '' : ` in ${target.region}`} is unavailable (${reason(cause)}): nothing or only part was done, try again`;
  }
  if (error instanceof Error && error.name === 'ResourceNotFoundException') {
    const fix = target?.kind === 'local' ? ': the local state is stale, restart the local stack with `npm start`' : '';
    return `a table of ${target?.description ?? 'the target'} does not exist (${firstLine(error.message)})${fix}`;
  }
  if (error instanceof CorruptItemError) return `a stored item is invalid: ${error.message}`;
  if (target?.kind === 'stack' && error instanceof Error) return awsProblem(error);
  return `unexpected error: ${error instanceof Error ? `${error.name}: ${firstLine(error.message)}` : String(error)}`;
}

/** A short reason for a network or service failure: the errno code, or the error's name and message. */
function reason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as Error & { code?: unknown }).code;
  if (typeof code === 'string') return code;
  return error.message === '' ? error.name : `${error.name}: ${firstLine(error.message)}`;
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? '';
}
