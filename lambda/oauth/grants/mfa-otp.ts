import { verifyTotp } from '../../mfa/totp';
import { type CodeCheck, secondFactorGrant } from './second-factor';

export const MFA_OTP_GRANT_TYPE = 'http://auth0.com/oauth/grant-type/mfa-otp';

/** The TOTP code (RFC 6238) of the user's authenticator: the secret is decrypted by KMS for each check. */
const totp: CodeCheck = {
  parameter: 'otp',
  async check(code, user, deps, now) {
    const secret = await deps.secondFactor!.secrets.decrypt(user.userId, user.mfa.secretCiphertext);
    const verdict = verifyTotp(secret, code, now, user.mfa.lastAcceptedStep);
    secret.fill(0);
    return verdict.valid ? { use: { kind: 'totp', step: verdict.step } } : { failure: verdict.reason };
  },
};

/** Auth0's second step with a one-time password: mfa_token and otp, by the client that got the token. */
export const mfaOtpGrant = secondFactorGrant(MFA_OTP_GRANT_TYPE, totp);
