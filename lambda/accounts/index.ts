/**
 * The operator's account services: one function per action on clients and users, over ports
 * (./ports.ts) that the DynamoDB stores implement. No AWS SDK here, as in lambda/oauth. The CLI, the local
 * demo, the test seeds and the benchmarks all register clients and users through these.
 */
export { deleteClient, disableClient, listClients, registerClient, type ClientRegistration, type NewClient } from './clients';
export {
  deleteUser,
  disableUser,
  enableUser,
  registerUser,
  revokeUserTokens,
  setPassword,
  unlockUser,
  type NewPassword,
  type NewUser,
  type PasswordSource,
  type UserRevocation,
} from './users';
export {
  AccountError,
  ClientExistsError,
  InvalidClientRegistrationError,
  UnknownClientError,
  UnknownUserError,
  UserExistsError,
  type AccountErrorCode,
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
