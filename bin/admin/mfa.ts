/** users mfa enroll | users mfa disable: a user's second factor (TOTP, RFC 6238, and recovery codes). */
import { randomBytes } from 'node:crypto';
import { showUser } from '../../lambda/accounts';
import { DynamoMfaEnrollment } from '../../lambda/adapters/mfa-enrollment';
import { encryptTotpSecret } from '../../lambda/adapters/mfa-secret-key';
import { otpauthUri } from '../../lambda/mfa/otpauth-uri';
import { generateRecoveryCodes, RECOVERY_CODE_COUNT } from '../../lambda/mfa/recovery-codes';
import { generateTotpSecret } from '../../lambda/mfa/totp';
import { accountPorts } from './accounts';
import { arg, type CommandContext, type CommandResult } from './command';
import { OperationalError } from './errors';
import { terminalQr } from './qr';
import type { Target } from './target';
import { printable, validateExistingKey } from './validate';

/**
 * The issuer label authenticator apps show beside the account: the service's name, fixed, rather than the
 * stack's host (an API Gateway host says nothing to a user, a local one has a colon, which the label may
 * not hold, and a custom domain added later would not change the entries already scanned).
 */
export const OTPAUTH_ISSUER = 'ropc-token-service';

/** A fresh secret and codes from node:crypto, encrypted by KMS for the user, stored with one conditional write. */
export async function enrollMfa(context: CommandContext): Promise<CommandResult> {
  const name = validateExistingKey('user NAME', arg(context, 'NAME'));
  const target = await context.target();
  const keyId = mfaKeyOf(target);
  const user = await showUser(accountPorts(target, context), name);
  const shown = `"${printable(user.username)}"`;
  if (user.mfa !== undefined) throw alreadyEnrolled(shown, user.mfa.enrolledAt, target);
  const random = { bytes: (length: number) => randomBytes(length) };
  const { secret, base32 } = generateTotpSecret(random);
  const uri = otpauthUri({ issuer: OTPAUTH_ISSUER, account: user.username, secret });
  const codes = generateRecoveryCodes(random, user.userId);
  const ciphertext = await encryptTotpSecret(target.kms(), keyId, user.userId, secret);
  const enrolledAt = context.now().toISOString();
  const outcome = await new DynamoMfaEnrollment(target.db, target.tables.users).enroll(user.username, {
    userId: user.userId,
    secretCiphertext: ciphertext,
    enrolledAt,
    recoveryCodeHashes: codes.hashes,
  });
  secret.fill(0);
  if (outcome === 'already_enrolled') throw alreadyEnrolled(shown, undefined, target);
  if (outcome === 'no_such_user') throw new OperationalError(`there is no user ${shown} in ${target.description}`);
  return {
    json: { otpauth_uri: uri, secret: base32, recovery_codes: [...codes.codes] },
    human: [
      `Enrolled user ${shown} in two-factor login (TOTP, 6 digits, 30 s); the user's refresh tokens are revoked.`,
      '',
      'Scan this code with an authenticator app, or enter the URI or the secret by hand:',
      '',
      terminalQr(uri, process.stdout.isTTY === true),
      '',
      `URI:     ${uri}`,
      `Secret:  ${base32}`,
      '',
      `Recovery codes (${RECOVERY_CODE_COUNT}, each works once; shown once, nowhere else: give them to the user now):`,
      ...codes.codes.map((code) => `  ${code}`),
    ].join('\n'),
  };
}

export async function disableMfa(context: CommandContext): Promise<CommandResult> {
  const name = validateExistingKey('user NAME', arg(context, 'NAME'));
  const target = await context.target();
  const user = await showUser(accountPorts(target, context), name);
  const shown = `"${printable(user.username)}"`;
  const outcome = await new DynamoMfaEnrollment(target.db, target.tables.users).disable(user.username);
  if (outcome === 'no_such_user') throw new OperationalError(`there is no user ${shown} in ${target.description}`);
  if (outcome === 'not_enrolled')
    throw new OperationalError(`user ${shown} has no second factor in ${target.description}`);
  return {
    json: { username: user.username, mfa: false },
    human: `Removed the second factor of user ${shown}: the password alone logs in again.`,
  };
}

function mfaKeyOf(target: Target): string {
  if (target.mfaKeyId !== undefined) return target.mfaKeyId;
  throw new OperationalError(
    target.kind === 'local'
      ? `${target.description} has no MFA key: restart it with \`npm start\` (this version creates one)`
      : `${target.description} has no MfaKeyId output: deploy this version of the stack first (\`npx cdk deploy\`)`,
  );
}

function alreadyEnrolled(shown: string, since: string | undefined, target: Target): OperationalError {
  return new OperationalError(
    `user ${shown} is enrolled already${since === undefined ? '' : ` (since ${since})`} in ${target.description}: \`ropc-admin users mfa disable NAME\` first, then enroll again`,
  );
}
