import { base32Encode } from './base32';
import { TOTP_POLICY, type TotpParameters } from './totp';

/**
 * The Key Uri Format authenticator apps scan (google/google-authenticator wiki, "Key-Uri-Format"):
 * otpauth://totp/ISSUER:ACCOUNT?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30. Both halves of the
 * label and every parameter are percent-encoded (a space as %20, never '+'), and the issuer is given twice,
 * in the label prefix and as the parameter, as the format recommends for apps that read only one of them.
 * algorithm, digits and period are spelt out although they are the defaults: an app that assumes other
 * defaults would show codes that never verify.
 */
export interface OtpauthUriInput {
  /** Who the account is with, as the app shows it: the service's name. */
  readonly issuer: string;
  /** The account at that issuer: the username. */
  readonly account: string;
  readonly secret: Uint8Array;
  readonly parameters?: TotpParameters;
}

export function otpauthUri({ issuer, account, secret, parameters = TOTP_POLICY }: OtpauthUriInput): string {
  // The label's issuer prefix ends at the first colon (encoded or not), so the issuer may not hold one;
  // the account may (usernames can): it comes after that colon, percent-encoded.
  if (issuer.length === 0 || issuer.includes(':')) throw new Error('the issuer is non-empty and has no colon');
  if (account.length === 0) throw new Error('the account name is non-empty');
  const query = [
    ['secret', base32Encode(secret)],
    ['issuer', issuer],
    ['algorithm', parameters.algorithm],
    ['digits', String(parameters.digits)],
    ['period', String(parameters.period)],
  ]
    .map(([name, value]) => `${name}=${encodeURIComponent(value!)}`)
    .join('&');
  return `otpauth://totp/${encodeURIComponent(issuer)}:${encodeURIComponent(account)}?${query}`;
}
