/**
 * The operator's actions on users: register, list, show, change their scopes, set a password, disable,
 * enable, delete, unlock, and revoke their refresh tokens. Disabling, deleting or changing the password of a user also revokes every refresh
 * token of theirs.
 */
import { usernameKey } from '../oauth/lockout';
import { hashPassword, type ScryptParams } from '../passwords';
import { UnknownUserError, UserExistsError } from './errors';
import type {
  Clock,
  LoginAttemptReset,
  Random,
  RegisteredUser,
  UserChanges,
  UserDirectory,
  UserProfile,
  UserRefreshTokens,
} from './ports';

/**
 * A password in clear, or how to ask for it: a function is called only once the action is known to go
 * ahead (the username is free, or the user exists), so the CLI prompts on stdin only then.
 */
export type PasswordSource = string | (() => Promise<string>);

/** A new password, hashed with scrypt at `scrypt` (lambda/passwords). */
export interface NewPassword {
  readonly password: PasswordSource;
  readonly scrypt: ScryptParams;
}

export type NewUser = {
  readonly username: string;
  readonly scopes: readonly string[];
} & (
  | NewPassword
  /** Hashed already by lambda/passwords, stored as given: the benchmarks hash once for many users. */
  | { readonly passwordHash: string }
);

/** What an action that revokes the user's refresh tokens did. */
export interface UserRevocation {
  readonly userId: string;
  /** Refresh-token families revoked by this action (those revoked before do not count). */
  readonly revokedRefreshTokens: number;
}

type Users = { readonly users: UserDirectory };
type UsersAndTokens = Users & { readonly refreshTokens: UserRefreshTokens; readonly clock: Clock };

/**
 * Registers a user with a fresh `sub`: the stable opaque id its access tokens carry, never the username
 * (RFC 9068 §2.2). Fails with UserExistsError if the username is taken.
 */
export async function registerUser(
  deps: Users & { readonly clock: Clock; readonly random: Pick<Random, 'uuid'> },
  user: NewUser,
): Promise<{ readonly username: string; readonly userId: string }> {
  // Fail before asking for a password that would be thrown away.
  if ((await deps.users.getUser(user.username)) !== undefined) throw new UserExistsError(user.username);
  const passwordHash =
    'passwordHash' in user ? user.passwordHash : await hashPassword(await passwordOf(user.password), user.scrypt);
  const at = new Date(deps.clock()).toISOString();
  const registered: RegisteredUser = {
    username: user.username,
    userId: deps.random.uuid(),
    passwordHash,
    scopes: [...user.scopes],
    disabled: false,
    createdAt: at,
    passwordChangedAt: at,
  };
  await deps.users.createUser(registered);
  return { username: registered.username, userId: registered.userId };
}

/** Every user, by username, without password hashes. */
export function listUsers(deps: Users): Promise<UserProfile[]> {
  return deps.users.listUsers();
}

/** One user, without the password hash. Fails with UnknownUserError. */
export async function showUser(deps: Users, username: string): Promise<UserProfile> {
  const user = await deps.users.getUser(username);
  if (user === undefined) throw new UnknownUserError(username);
  const { passwordHash: _hash, ...profile } = user;
  return profile;
}

/**
 * Replaces the user's scopes, in one write; returns the user as they are now. Password grants from then on
 * get the new scopes; refresh tokens issued before keep the scope they were issued with (RFC 6749 §6) until
 * they are revoked (revokeUserTokens) or expire. Fails with UnknownUserError.
 */
export async function updateUser(deps: Users, username: string, changes: UserChanges): Promise<UserProfile> {
  const updated = await deps.users.updateUser(username, {
    ...(changes.scopes === undefined ? {} : { scopes: [...new Set(changes.scopes)] }),
  });
  if (updated === undefined) throw new UnknownUserError(username);
  return updated;
}

/**
 * Sets a new password; the sessions the old one began end with it, in the same write: once this returns,
 * no refresh-token family begun with the old password works, even one whose login was still running.
 * Fails with UnknownUserError.
 */
export async function setPassword(
  deps: UsersAndTokens,
  change: { readonly username: string } & NewPassword,
): Promise<UserRevocation> {
  const user = await deps.users.getUser(change.username);
  if (user === undefined) throw new UnknownUserError(change.username);
  const passwordHash = await hashPassword(await passwordOf(change.password), change.scrypt);
  if (!(await deps.users.setPassword(change.username, passwordHash, new Date(deps.clock()).toISOString()))) {
    throw new UnknownUserError(change.username);
  }
  return revokeAll(deps, user);
}

/** Fails with UnknownUserError. */
export async function disableUser(deps: UsersAndTokens, username: string): Promise<UserRevocation> {
  const user = await deps.users.getUser(username);
  // Disabled first: from then on the refresh grant refuses the user's tokens even if revoking is cut short.
  if (user === undefined || !(await deps.users.setDisabled(username, true))) throw new UnknownUserError(username);
  return revokeAll(deps, user);
}

/** Fails with UnknownUserError. */
export async function enableUser(deps: Users, username: string): Promise<void> {
  if (!(await deps.users.setDisabled(username, false))) throw new UnknownUserError(username);
}

/** Fails with UnknownUserError. */
export async function deleteUser(deps: UsersAndTokens, username: string): Promise<UserRevocation> {
  // Deleted first: the refresh grant refuses tokens whose user is gone, even if revoking is cut short.
  const user = await deps.users.deleteUser(username);
  if (user === undefined) throw new UnknownUserError(username);
  return revokeAll(deps, user);
}

/** The operator's "log this user out everywhere". Fails with UnknownUserError. */
export async function revokeUserTokens(deps: UsersAndTokens, username: string): Promise<UserRevocation> {
  const user = await deps.users.getUser(username);
  // Sessions ended first: from then on the refresh grant refuses every family begun before, including
  // those the eventually consistent index does not show yet.
  if (user === undefined || !(await deps.users.endSessions(username))) throw new UnknownUserError(username);
  return revokeAll(deps, user);
}

/** Ends a lockout (lambda/oauth/lockout.ts) at once. Fails with UnknownUserError. */
export async function unlockUser(
  deps: Users & { readonly loginAttempts: LoginAttemptReset },
  username: string,
): Promise<{ readonly clearedCounters: number }> {
  if ((await deps.users.getUser(username)) === undefined) throw new UnknownUserError(username);
  // Per-user and per-(user, IP) counters go; an IP's daily budget is that IP's, not this user's.
  return { clearedCounters: await deps.loginAttempts.clearUser(usernameKey(username)) };
}

async function revokeAll(deps: UsersAndTokens, user: RegisteredUser): Promise<UserRevocation> {
  const now = Math.floor(deps.clock() / 1000);
  return { userId: user.userId, revokedRefreshTokens: await deps.refreshTokens.revokeAllForUser(user.userId, now) };
}

function passwordOf(source: PasswordSource): Promise<string> {
  return typeof source === 'string' ? Promise.resolve(source) : source();
}
