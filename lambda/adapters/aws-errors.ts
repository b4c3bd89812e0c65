import { DependencyUnavailableError } from '../oauth/errors';

/**
 * Errors that mean "the dependency is unavailable right now": throttling, its own faults, timeouts and
 * network failures. Anything else (validation, access denied, missing table) is a defect and stays a 500.
 */
const UNAVAILABLE_NAMES = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'KMSInternalException',
  'DependencyTimeoutException',
  'KeyUnavailableException',
  // The signing key is disabled or pending deletion: an operator can fix it, clients should retry.
  'DisabledException',
  'KMSInvalidStateException',
  'LimitExceededException',
  'TransactionInProgressException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
]);

export function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const withMeta = error as Error & { code?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  if (UNAVAILABLE_NAMES.has(error.name)) return true;
  if (withMeta.code !== undefined && NETWORK_CODES.has(withMeta.code)) return true;
  const status = withMeta.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 500) return true;
  if (withMeta.$retryable !== undefined) return true;
  return error.cause !== undefined && isUnavailable(error.cause);
}

/** Runs one dependency call and translates unavailability into DependencyUnavailableError. */
export async function callDependency<T>(dependency: 'dynamodb' | 'kms', call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (isUnavailable(error)) throw new DependencyUnavailableError(dependency, { cause: error });
    throw error;
  }
}
