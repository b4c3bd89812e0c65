/** The CloudWatch namespace of the service's metrics (one per audit event, with `service` and `reason` dimensions). */
export const METRICS_NAMESPACE = 'RopcTokenService';

/**
 * Security-relevant outcomes: each log line with one of these events is followed by a CloudWatch Embedded
 * Metric Format line, so every event is a metric (count) for dashboards and alarms, with a `reason`
 * dimension where the event has one. The stack's alarms name them from here.
 */
export const AUDIT_EVENTS = [
  'password_grant_succeeded',
  'password_grant_failed',
  'refresh_grant_succeeded',
  'refresh_grant_failed',
  'refresh_token_reuse_detected',
  'lockout_started',
  'client_authentication_failed',
  'token_revoked',
  // A user the legacy verifier vouched for, created here (method: "lazy" at login, "import" by the CLI).
  'user_migrated',
  // A migrated password that the password policy would refuse: accepted, since it is the user's own.
  'weak_password_migrated',
  // A key-registry record that KMS does not vouch for: neither published nor used to sign (reason: why).
  'signing_key_rejected',
  // The second factor (reason on mfa_failed). mfa_enrolled and mfa_disabled are the operator CLI's
  // (bin/admin/audit.ts, the `event` of its operator_action line): nothing in the functions logs them.
  'mfa_required',
  'mfa_succeeded',
  'mfa_failed',
  'recovery_code_used',
  'mfa_enrolled',
  'mfa_disabled',
  'dependency_unavailable',
  'unexpected_error',
] as const;

export type AuditEvent = (typeof AUDIT_EVENTS)[number];

/**
 * Everything the service logs: the audit events, and operational events that are not metrics.
 * `operator_action` is the operator CLI's: one line per state-changing command, in the file that
 * ROPC_ADMIN_AUDIT_LOG names (bin/admin/audit.ts), not in a function's log.
 */
export type LogEvent =
  | AuditEvent
  | 'password_rehashed'
  | 'password_rehash_failed'
  | 'signing_key_rotated'
  // With trustedProxyHops set, an X-Forwarded-For that names no client (reason: why; never the header's value).
  | 'forwarded_for_unusable'
  // A verified first login (lazy migration) answered 503 while a `users import` holds its claim on the users table.
  | 'user_migration_paused'
  | 'operator_action';

export function isAuditEvent(event: string): event is AuditEvent {
  return (AUDIT_EVENTS as readonly string[]).includes(event);
}
