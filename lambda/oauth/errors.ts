import type { AuditEvent } from '../../contract/audit-events';

/**
 * OAuth 2.0 error responses (RFC 6749 §5.2), one class per error code, with the HTTP status built in.
 * `description` is fixed text written here: nothing from an SDK or a stack trace ever reaches a client.
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'method_not_allowed'
  | 'not_found'
  // Auth0's MFA API: the password was right, a second factor is due (grants/password.ts).
  | 'mfa_required';

/**
 * What the operator's log says about a failure (node-oidc-provider's private error detail): the audit
 * event and its fields (the reason, the ids), never sent to the client. The single error exit
 * (responses.ts errorResponse) logs it once, so a grant throws instead of logging and throwing.
 */
export interface AuditRecord {
  readonly event: AuditEvent;
  readonly level: 'info' | 'warn';
  readonly fields: Readonly<Record<string, unknown>>;
}

export abstract class OAuthError extends Error {
  abstract readonly code: OAuthErrorCode;
  abstract readonly status: number;
  /** Extra response headers (WWW-Authenticate, Retry-After, Allow). */
  readonly headers: Record<string, string> = {};
  /** Body members after error and error_description (mfa_required's mfa_token); none for RFC 6749 errors. */
  readonly parameters: Record<string, string> = {};
  /** Logged by the error exit; absent for failures that are not audit events (a malformed request). */
  audit?: AuditRecord;

  constructor(readonly description?: string) {
    super(description);
  }

  /** Attaches the audit record the error exit logs (`reason` among the fields, where there is one). */
  audited(event: AuditEvent, fields: Record<string, unknown>, level: AuditRecord['level'] = 'info'): this {
    this.audit = { event, level, fields };
    return this;
  }
}

export class InvalidRequestError extends OAuthError {
  readonly code = 'invalid_request';
  readonly status = 400;
}

/**
 * §5.2: always 401; the WWW-Authenticate challenge is added when the client authenticated (or tried to)
 * with the Authorization header, where the RFC requires it.
 */
export class InvalidClientError extends OAuthError {
  readonly code = 'invalid_client';
  readonly status = 401;
  constructor(description = 'client authentication failed', usedBasic = false) {
    super(description);
    if (usedBasic) this.headers['WWW-Authenticate'] = 'Basic realm="token", charset="UTF-8"';
  }
}

export class InvalidGrantError extends OAuthError {
  readonly code = 'invalid_grant';
  readonly status = 400;
}

/**
 * The password of an MFA-enrolled user was right: 403 with the mfa_token the second step presents (Auth0's
 * wire format, which its SDKs expect). Only a right password gets it; a wrong one is invalid_grant as for
 * everybody, so who is enrolled is not told to a guesser.
 */
export class MfaRequiredError extends OAuthError {
  readonly code = 'mfa_required';
  readonly status = 403;
  constructor(mfaToken: string) {
    super('Multifactor authentication required');
    this.parameters.mfa_token = mfaToken;
  }
}

export class UnauthorizedClientError extends OAuthError {
  readonly code = 'unauthorized_client';
  readonly status = 400;
}

export class UnsupportedGrantTypeError extends OAuthError {
  readonly code = 'unsupported_grant_type';
  readonly status = 400;
}

export class InvalidScopeError extends OAuthError {
  readonly code = 'invalid_scope';
  readonly status = 400;
}

export class ServerError extends OAuthError {
  readonly code = 'server_error';
  readonly status = 500;
  constructor() {
    super('internal server error');
  }
}

/** A dependency (DynamoDB, KMS) failed or throttled: nothing was committed, the client may retry. */
export class TemporarilyUnavailableError extends OAuthError {
  readonly code = 'temporarily_unavailable';
  readonly status = 503;
  constructor(retryAfterSeconds = 1) {
    super('the service is temporarily unavailable, retry later');
    this.headers['Retry-After'] = String(retryAfterSeconds);
  }
}

export class MethodNotAllowedError extends OAuthError {
  readonly code = 'method_not_allowed';
  readonly status = 405;
  constructor(allow: readonly string[]) {
    super(`use ${allow.join(', ')}`);
    this.headers.Allow = allow.join(', ');
  }
}

export class NotFoundError extends OAuthError {
  readonly code = 'not_found';
  readonly status = 404;
  constructor() {
    super('no such resource');
  }
}

/**
 * Thrown by adapters when a dependency is unreachable, throttles or fails on its side.
 * The endpoint turns it into 503 temporarily_unavailable; `cause` is for the log only.
 */
export class DependencyUnavailableError extends Error {
  constructor(
    readonly dependency: 'dynamodb' | 'kms',
    options?: { cause?: unknown },
  ) {
    super(`${dependency} unavailable`, options);
    this.name = 'DependencyUnavailableError';
  }
}
