/**
 * Usernames as the service keys them. Every place a username enters (creation, import, login) prepares it
 * here, so that one person has one account whatever form of the name they type.
 */

const MAX_USERNAME_LENGTH = 256;
const CONTROL = /\p{Cc}/u;

export type PreparedUsername =
  | { readonly ok: true; readonly username: string }
  | { readonly ok: false; readonly problem: string };

/** The username as stored and looked up, or why `raw` cannot be one (a sentence naming no secret). */
export function prepareUsername(raw: string): PreparedUsername {
  const length = [...raw].length;
  if (length === 0 || length > MAX_USERNAME_LENGTH)
    return { ok: false, problem: `use 1 to ${MAX_USERNAME_LENGTH} characters (got ${length})` };
  if (CONTROL.test(raw)) return { ok: false, problem: 'it contains control characters' };
  if (raw.trim() !== raw) return { ok: false, problem: 'it starts or ends with whitespace' };
  return { ok: true, username: raw };
}
