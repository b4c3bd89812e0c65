/**
 * One family of legacy password-hash formats, as an import brings them: how a stored string says it is one
 * of the family, how it is read (strictly, within cost bounds), and how a password is checked against it.
 * Verification only: the service never writes these formats; a login that verifies rehashes to scrypt.
 */
export interface LegacyFamily<Parsed> {
  /** Whether `encoded` claims to be of this family (by its prefix); from then on only `parse` decides. */
  claims(encoded: string): boolean;
  /**
   * Reads `encoded` strictly and checks its cost parameters against the family's bounds, so that no
   * stored hash can make a login cost minutes. Anything else throws PasswordHashFormatError.
   */
  parse(encoded: string): Parsed;
  /**
   * Whether `password` (the bytes as the legacy system would have hashed them) matches, compared in constant
   * time. The work done depends on the parameters alone, never on how much of the password matches.
   */
  verify(password: Uint8Array, parsed: Parsed): Promise<boolean>;
}
