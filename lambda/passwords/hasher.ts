import type { ScryptParams } from '../../contract/scrypt-params';
import type { PasswordHasher } from '../oauth/ports';
import { dummyHash, hashPassword, needsRehash, verifyPassword } from './scrypt';

/** The protocol core's PasswordHasher, with the configured scrypt policy. */
export function scryptPasswordHasher(params: ScryptParams): PasswordHasher {
  return {
    verify: verifyPassword,
    async verifyDummy(password) {
      await verifyPassword(password, await dummyHash(params));
      return false;
    },
    needsRehash: (encoded) => needsRehash(encoded, params),
    hash: (password) => hashPassword(password, params),
  };
}
