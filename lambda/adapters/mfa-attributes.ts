import { USER_MFA_ATTRIBUTES } from '../../contract/tables';
import type { UserMfa } from '../oauth/ports';
import { CorruptItemError, num, str } from './items';

const TABLE = 'users';

/** The second-factor attributes a user-item read projects (contract/tables.ts USER_MFA_ATTRIBUTES). */
export const USER_MFA_ITEM_ATTRIBUTES: readonly string[] = Object.values(USER_MFA_ATTRIBUTES);

/** The user's enrollment as stored, or undefined when the user is not enrolled. */
export function userMfaFromItem(item: Record<string, unknown>): UserMfa | undefined {
  const { secret, enrolledAt, lastStep, recoveryCodeHashes } = USER_MFA_ATTRIBUTES;
  if (item[secret] === undefined) return undefined;
  const ciphertext = item[secret];
  if (!(ciphertext instanceof Uint8Array)) throw new CorruptItemError(TABLE, secret);
  // A String Set, which DynamoDB drops when its last element goes: no codes left.
  const codes = item[recoveryCodeHashes] ?? new Set<string>();
  if (!(codes instanceof Set) || [...codes].some((code) => typeof code !== 'string'))
    throw new CorruptItemError(TABLE, recoveryCodeHashes);
  return {
    secretCiphertext: ciphertext,
    enrolledAt: str(item, TABLE, enrolledAt),
    ...(item[lastStep] === undefined ? {} : { lastAcceptedStep: num(item, TABLE, lastStep) }),
    recoveryCodeHashes: [...(codes as Set<string>)].sort(),
  };
}
