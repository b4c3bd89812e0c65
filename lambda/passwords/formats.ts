/**
 * The stored password-hash formats the service verifies. Today only its own scrypt PHC string; the
 * legacy formats an import brings are added here.
 */
import { decodePhc, PasswordHashFormatError } from './phc';

/**
 * Why `encoded` cannot be stored as a user's password hash (a sentence for an import's line error, never
 * containing the hash), or undefined when the service can verify it within its parameter bounds.
 */
export function hashProblem(encoded: string): string | undefined {
  try {
    decodePhc(encoded);
    return undefined;
  } catch (error) {
    if (error instanceof PasswordHashFormatError) return error.message;
    throw error;
  }
}
