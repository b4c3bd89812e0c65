/**
 * The two ways a command fails. The message is one readable line for stderr: it never carries a
 * password, a secret or a stack trace.
 */

/** The command line is wrong (unknown command or option, missing or bad argument): exit status 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(
    message: string,
    /** Whether to add "run ropc-admin --help" to the message. */
    readonly showHelpHint = true,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The command was understood but could not be carried out (no stack, no such client, unreachable DynamoDB): exit 1. */
export class OperationalError extends Error {
  readonly exitCode = 1;
  /** More fields for the command's audit line, as CommandResult.audit: what it did before it failed. */
  readonly audit?: Readonly<Record<string, string | number>>;
  constructor(message: string, options?: { cause?: unknown; audit?: Readonly<Record<string, string | number>> }) {
    super(message, options);
    this.name = 'OperationalError';
    if (options?.audit !== undefined) this.audit = options.audit;
  }
}

/**
 * The input was refused as a whole (users import: some lines are invalid, nothing was written): exit 1, with
 * `message` on stderr, then `details` (one line each) unless --json, which prints `json` on stdout instead.
 */
export class RejectedInputError extends OperationalError {
  constructor(
    message: string,
    readonly details: readonly string[],
    readonly json: Readonly<Record<string, unknown>>,
  ) {
    super(message);
    this.name = 'RejectedInputError';
  }
}
