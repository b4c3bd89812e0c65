/** KMS-shaped errors: the `__type` name, message and HTTP status an operation fails with. */

/** An error answered the way KMS answers it: `__type` name, message and HTTP status. */
export class KmsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = type;
  }
}

export const notFound = (message: string) => new KmsError('NotFoundException', message);
export const serializationError = (message: string) => new KmsError('SerializationException', message);
export const unsupported = (message: string) => new KmsError('UnsupportedOperationException', message);

/**
 * KMS-style constraint violation: "1 validation error detected: Value null at 'keyId' failed to
 * satisfy constraint: Member must not be null". `value` is echoed when a string, shown as null when
 * null, and left out when undefined (blobs, which may be sensitive).
 */
export function validationError(field: string, constraint: string, value?: string | null): KmsError {
  const member = field.charAt(0).toLowerCase() + field.slice(1);
  const shown = value === undefined ? '' : value === null ? 'null ' : `'${value}' `;
  return new KmsError(
    'ValidationException',
    `1 validation error detected: Value ${shown}at '${member}' failed to satisfy constraint: ${constraint}`,
  );
}
