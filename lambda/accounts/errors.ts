/**
 * Why an account service refused an operator's action. Each carries a stable `code` and the name it is
 * about; callers word it for their audience (bin/admin/cli.ts adds which stack).
 */
export type AccountErrorCode =
  | 'client_exists'
  | 'unknown_client'
  | 'invalid_client_registration'
  | 'user_exists'
  | 'unknown_user'
  | 'invalid_username'
  | 'import_in_progress';

export abstract class AccountError extends Error {
  abstract readonly code: AccountErrorCode;
}

export class ClientExistsError extends AccountError {
  readonly code = 'client_exists';
  constructor(readonly clientId: string) {
    super(`a client with id "${clientId}" already exists`);
    this.name = 'ClientExistsError';
  }
}

export class UnknownClientError extends AccountError {
  readonly code = 'unknown_client';
  constructor(readonly clientId: string) {
    super(`there is no client with id "${clientId}"`);
    this.name = 'UnknownClientError';
  }
}

/** A registration, or a change of one, that breaks a rule of confidential and public clients (RFC 6749 §2.1). */
export class InvalidClientRegistrationError extends AccountError {
  readonly code = 'invalid_client_registration';
  constructor(
    readonly clientId: string,
    reason: string,
    action: 'registered' | 'updated' = 'registered',
  ) {
    // The id may be the problem (a control character, say): it is shown escaped, as a JSON string.
    super(`client ${JSON.stringify(clientId)} cannot be ${action}: ${reason}`);
    this.name = 'InvalidClientRegistrationError';
  }
}

export class UserExistsError extends AccountError {
  readonly code = 'user_exists';
  constructor(readonly username: string) {
    super(`a user named "${username}" already exists`);
    this.name = 'UserExistsError';
  }
}

export class UnknownUserError extends AccountError {
  readonly code = 'unknown_user';
  constructor(readonly username: string) {
    super(`there is no user named "${username}"`);
    this.name = 'UnknownUserError';
  }
}

/** A new user's name that the username profile refuses (lambda/oauth/username.ts, RFC 8265 §3.3). */
export class InvalidUsernameError extends AccountError {
  readonly code = 'invalid_username';
  constructor(
    readonly username: string,
    readonly problem: string,
  ) {
    // The name may be the problem (a control character, say): it is shown escaped, as a JSON string.
    super(`${JSON.stringify(username)} cannot be a username: ${problem}`);
    this.name = 'InvalidUsernameError';
  }
}

/**
 * An import holds the users table's claim (ports.ts UserImport): no other import runs, and no user is
 * created, until it ends or its claim lapses at `until` (epoch milliseconds).
 */
export class ImportInProgressError extends AccountError {
  readonly code = 'import_in_progress';
  constructor(
    /** Epoch milliseconds; NaN when DynamoDB did not say. */
    readonly until: number,
    /** The import that holds the claim, when known. */
    readonly holder?: string,
  ) {
    super(
      `an import is running: no user can be created until it ends${Number.isFinite(until) ? ` (at the latest ${new Date(until).toISOString()})` : ''}`,
    );
    this.name = 'ImportInProgressError';
  }
}

/**
 * An import's claim on the users table lapsed, or another import took it, before the import was done
 * (the process was suspended, or DynamoDB unreachable, for minutes): it stopped writing at once.
 */
export class ImportClaimLostError extends Error {
  constructor(
    /** Users the import wrote, and skipped, before it stopped (as writeImport counts them; 0 from a store). */
    readonly imported = 0,
    readonly skipped = 0,
  ) {
    super("the import's claim on the users table lapsed before it was done");
    this.name = 'ImportClaimLostError';
  }
}
