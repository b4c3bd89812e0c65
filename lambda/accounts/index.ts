/**
 * The operator's account services: one function per action on clients and users, over ports
 * (./ports.ts) that the DynamoDB stores implement. No AWS SDK here, as in lambda/oauth. The CLI, the local
 * demo, the test seeds and the benchmarks all register clients and users through these.
 */
export {
  type ClientRegistration,
  deleteClient,
  disableClient,
  listClients,
  type NewClient,
  registerClient,
} from './clients';
export {
  AccountError,
  type AccountErrorCode,
  ClientExistsError,
  InvalidClientRegistrationError,
  UnknownClientError,
  UnknownUserError,
  UserExistsError,
} from './errors';
export type {
  ClientRegistry,
  Clock,
  LoginAttemptReset,
  Random,
  RegisteredClient,
  RegisteredUser,
  UserDirectory,
  UserRefreshTokens,
} from './ports';
export {
  deleteUser,
  disableUser,
  enableUser,
  type NewPassword,
  type NewUser,
  type PasswordSource,
  registerUser,
  revokeUserTokens,
  setPassword,
  type UserRevocation,
  unlockUser,
} from './users';
