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
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OperationalError';
  }
}
