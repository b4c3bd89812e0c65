import { matchRecoveryCode } from '../../mfa/recovery-codes';
import { type CodeCheck, secondFactorGrant } from './second-factor';

export const MFA_RECOVERY_CODE_GRANT_TYPE = 'http://auth0.com/oauth/grant-type/mfa-recovery-code';

/** One of the user's unused recovery codes; the commit removes exactly its hash, on the condition that it is there. */
const recoveryCode: CodeCheck = {
  parameter: 'recovery_code',
  async check(code, user) {
    const match = matchRecoveryCode(code, user.userId, user.mfa.recoveryCodeHashes);
    return match === undefined
      ? { failure: 'wrong_recovery_code' }
      : { use: { kind: 'recovery_code', hash: match.hash } };
  },
};

/** Auth0's second step with a recovery code: mfa_token and recovery_code, by the client that got the token. */
export const mfaRecoveryCodeGrant = secondFactorGrant(MFA_RECOVERY_CODE_GRANT_TYPE, recoveryCode);
