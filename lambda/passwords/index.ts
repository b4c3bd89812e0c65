export type { ScryptParams } from '../../contract/scrypt-params';
export {
  DEFAULT_SCRYPT_PARAMS,
  MAX_SCRYPT_MEMORY,
  MAX_SCRYPT_P,
  MAX_SCRYPT_WORK,
  parseScryptParams,
  validateScryptParams,
} from '../../contract/scrypt-params';
export { hashProblem } from './formats';
export { scryptPasswordHasher } from './hasher';
export { PasswordHashFormatError } from './phc';
export {
  dummyHash,
  hashPassword,
  KEY_BYTES,
  MAX_PASSWORD_LENGTH,
  needsRehash,
  SALT_BYTES,
  verifyPassword,
} from './scrypt';
