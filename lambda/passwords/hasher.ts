import type { ScryptParams } from '../../contract/scrypt-params';
import type { PasswordHasher } from '../oauth/ports';
import { dummyHash, hashPassword, needsRehash, verifyPassword } from './scrypt';

/**
 * The protocol core's PasswordHasher, with the configured scrypt policy. The dummy hash unknown users are
 * checked against is made here, when the hasher is created (it costs no scrypt: see dummyHash), so every
 * verifyDummy, the first on an instance included, runs exactly one scrypt at `params`, as checking a real
 * user does. Invalid parameters throw RangeError here, at creation, rather than at the first login.
 */
export function scryptPasswordHasher(params: ScryptParams): PasswordHasher {
  const dummy = dummyHash(params);
  return {
    verify: verifyPassword,
    async verifyDummy(password) {
      await verifyPassword(password, dummy);
      return false;
    },
    needsRehash: (encoded) => needsRehash(encoded, params),
    hash: (password) => hashPassword(password, params),
  };
}
