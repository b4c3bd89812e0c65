/**
 * Bare digests of the password: hex MD5, SHA-1, SHA-256 or SHA-512, and LDAP's {MD5}, {SHA}, {SHA256},
 * {SHA384}, {SHA512}. The service could verify them, but will not store them: one precomputed table cracks
 * them all at once, and a copy of the table would be as good as the passwords until every such user has
 * logged in. An operator with such users keeps them in the legacy system behind the legacy verifier
 * (LEGACY_VERIFIER_MODULE / legacyVerifierFunctionArn), which moves each one over at their next login.
 */
import { PasswordHashFormatError } from '../phc';
import type { LegacyFamily } from './family';

const HEX_DIGESTS: Record<number, string> = { 32: 'MD5', 40: 'SHA-1', 64: 'SHA-256', 128: 'SHA-512' };
const LDAP_UNSALTED = /^\{(MD5|SHA|SHA256|SHA384|SHA512)\}/i;

/** Recognised only to be refused with the reason: parse always throws. */
export const unsaltedFamily: LegacyFamily<never> = {
  claims: (encoded) => LDAP_UNSALTED.test(encoded) || (/^[0-9a-f]+$/i.test(encoded) && encoded.length in HEX_DIGESTS),

  parse(encoded) {
    const ldap = LDAP_UNSALTED.exec(encoded)?.[1];
    const kind = ldap === undefined ? `hex ${HEX_DIGESTS[encoded.length] ?? ''}` : `LDAP {${ldap.toUpperCase()}}`;
    throw new PasswordHashFormatError(
      `unsalted ${kind} digest: too weak to import; keep such users behind the legacy verifier, which moves them at their next login`,
    );
  },

  verify: () => Promise.reject(new Error('an unsalted digest is never verified')),
};
