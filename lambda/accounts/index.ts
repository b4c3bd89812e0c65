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
  InvalidClientRegistrationError,
  UnknownClientError,
  UnknownUserError,
  UserExistsError,
} from './errors';
export type {
  ClientChanges,
  ClientRegistry,
  Clock,
  LoginAttemptReset,
  Random,
  RegisteredClient,
  RegisteredUser,
  UserChanges,
  UserDirectory,
  UserProfile,
  UserRefreshTokens,
} from './ports';
export {
  deleteUser,
  disableUser,
  enableUser,
  listUsers,
  type NewPassword,
  type NewUser,
  type PasswordSource,
  registerUser,
  revokeUserTokens,
  setPassword,
  showUser,
  type UserRevocation,
  unlockUser,
  updateUser,
} from './users';
