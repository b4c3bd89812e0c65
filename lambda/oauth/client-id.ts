/**
 * What a client id may be, everywhere one is made or met: registration (lambda/accounts), the operator CLI
 * and client authentication. RFC 6749 Appendix A: client-id = *VSCHAR, VSCHAR = %x20-7E; we take 1 to 128
 * of them. Space, ':' and '%' are allowed: client_secret_basic form-urlencodes the id inside the
 * Authorization header (§2.3.1), and client_id form parameters are form-urlencoded anyway.
 */
export const MAX_CLIENT_ID_LENGTH = 128;

const CLIENT_ID = /^[\x20-\x7e]{1,128}$/;

/** The rule in words, for messages that refuse an id. */
export const CLIENT_ID_RULE = `1 to ${MAX_CLIENT_ID_LENGTH} printable ASCII characters (RFC 6749 VSCHAR, %x20-7E: letters, digits, space and punctuation)`;

/** Whether the value can be a client id. A request's id that is not one names no client. */
export function isClientId(value: string): boolean {
  return CLIENT_ID.test(value);
}
