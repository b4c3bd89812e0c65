/**
 * The operator's account services: one function per action on clients and users, over ports
 * (./ports.ts) that the DynamoDB stores implement. No AWS SDK here, as in lambda/oauth. The CLI, the local
 * demo, the test seeds and the benchmarks all register clients and users through these.
 */
export {
  type ClientRegistration,
  deleteClient,
  disableClient,
  enableClient,
  listClients,
  type NewClient,
  registerClient,
  showClient,
  updateClient,
} from './clients';
export {
  AccountError,
  type AccountErrorCode,
  ClientExistsError,
  ImportClaimLostError,
  ImportInProgressError,
  InvalidClientRegistrationError,
  InvalidUsernameError,
  UnknownClientError,
  UnknownUserError,
  UserExistsError,
} from './errors';
export {
  type CheckedImport,
  checkImport,
  type ImportedUser,
  type ImportLine,
  type ImportOptions,
  type ImportOutcome,
  type ImportProgress,
  type ImportSource,
  ImportSourceChangedError,
  importUsers,
  type LineError,
  MAX_REPORTED_ERRORS,
  parseImportLine,
  writeImport,
} from './import';
export type {
  ClientChanges,
  ClientRegistry,
  Clock,
  ImportBatchOutcome,
  LoginAttemptReset,
  Random,
  RegisteredClient,
  RegisteredUser,
  UserChanges,
  UserDirectory,
  UserImport,
  UserProfile,
  UserRefreshTokens,
} from './ports';
export { IMPORT_BATCH_SIZE } from './ports';
export {
  deleteUser,
  disableUser,
  enableUser,
  listUsers,
  type NewPassword,
  type NewUser,
  type PasswordSource,
  registerUser,
  resolveUser,
  revokeUserTokens,
  setPassword,
  showUser,
  type UserRevocation,
  unlockUser,
  updateUser,
} from './users';
