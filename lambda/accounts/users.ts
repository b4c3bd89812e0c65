/**
 * The operator's actions on users: register, list, show, change their scopes, set a password, disable,
 * enable, delete, unlock, and revoke their refresh tokens. Disabling, deleting or changing the password of a user also revokes every refresh
 * token of theirs.
 */
import { usernameKey } from '../oauth/lockout';
import { lookUpUsername, prepareUsername } from '../oauth/username';
import { hashPassword, type ScryptParams } from '../passwords';
import { InvalidUsernameError, UnknownUserError, UserExistsError } from './errors';
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
  /** The user's name as stored (the name given may be another form of it: see resolveUser). */
  readonly username: string;
  readonly userId: string;
  /** Refresh-token families revoked by this action (those revoked before do not count). */
  readonly revokedRefreshTokens: number;
}

type Users = { readonly users: UserDirectory };
type UsersAndTokens = Users & { readonly refreshTokens: UserRefreshTokens; readonly clock: Clock };

/**
 * Registers a user with a fresh `sub`: the stable opaque id its access tokens carry, never the username
 * (RFC 9068 §2.2). The name is stored prepared (RFC 8265 UsernameCaseMapped, lambda/oauth/username.ts),
 * and the username returned is that form. Fails with InvalidUsernameError if the profile refuses the name,
 * with UserExistsError if it is taken, in its prepared form or, by a user registered before names were
 * prepared, exactly as given.
 */
export async function registerUser(
  deps: Users & { readonly clock: Clock; readonly random: Pick<Random, 'uuid'> },
  user: NewUser,
): Promise<{ readonly username: string; readonly userId: string }> {
  const prepared = prepareUsername(user.username);
  if (!prepared.ok) throw new InvalidUsernameError(user.username, prepared.problem);
  const { username } = prepared;
  // Fail before asking for a password that would be thrown away.
  if ((await lookUpUsername(user.username, (name) => deps.users.getUser(name))) !== undefined)
    throw new UserExistsError(username);
  const passwordHash =
    'passwordHash' in user ? user.passwordHash : await hashPassword(await passwordOf(user.password), user.scrypt);
  const at = new Date(deps.clock()).toISOString();
  const registered: RegisteredUser = {
    username,
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

/**
 * The user a name given by the operator means, found as the token endpoint finds it: by its prepared form
 * first, then, for a user registered before names were prepared, as given. Fails with UnknownUserError.
 * Every action on an existing user starts here and then acts on the name as stored.
 */
export async function resolveUser(deps: Users, username: string): Promise<RegisteredUser> {
  const user = await lookUpUsername(username, (name) => deps.users.getUser(name));
  if (user === undefined) throw new UnknownUserError(username);
  return user;
}

/** One user, without the password hash. Fails with UnknownUserError. */
export async function showUser(deps: Users, username: string): Promise<UserProfile> {
  const { passwordHash: _hash, ...profile } = await resolveUser(deps, username);
  return profile;
}

/**
 * Replaces the user's scopes, in one write; returns the user as they are now. Password grants from then on
 * get the new scopes; refresh tokens issued before keep the scope they were issued with (RFC 6749 §6) until
 * they are revoked (revokeUserTokens) or expire. Fails with UnknownUserError.
 */
export async function updateUser(deps: Users, username: string, changes: UserChanges): Promise<UserProfile> {
  const stored = (await resolveUser(deps, username)).username;
  const updated = await deps.users.updateUser(stored, {
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
  const user = await resolveUser(deps, change.username);
  const passwordHash = await hashPassword(await passwordOf(change.password), change.scrypt);
  if (!(await deps.users.setPassword(user.username, passwordHash, new Date(deps.clock()).toISOString()))) {
    throw new UnknownUserError(change.username);
  }
  return revokeAll(deps, user);
}

/** Fails with UnknownUserError. */
export async function disableUser(deps: UsersAndTokens, username: string): Promise<UserRevocation> {
  const user = await resolveUser(deps, username);
  // Disabled first: from then on the refresh grant refuses the user's tokens even if revoking is cut short.
  if (!(await deps.users.setDisabled(user.username, true))) throw new UnknownUserError(username);
  return revokeAll(deps, user);
}

/** Fails with UnknownUserError; the user's name as stored. */
export async function enableUser(deps: Users, username: string): Promise<{ readonly username: string }> {
  const stored = (await resolveUser(deps, username)).username;
  if (!(await deps.users.setDisabled(stored, false))) throw new UnknownUserError(username);
  return { username: stored };
}

/** Fails with UnknownUserError. */
export async function deleteUser(deps: UsersAndTokens, username: string): Promise<UserRevocation> {
  // Deleted first: the refresh grant refuses tokens whose user is gone, even if revoking is cut short.
  const user = await deps.users.deleteUser((await resolveUser(deps, username)).username);
  if (user === undefined) throw new UnknownUserError(username);
  return revokeAll(deps, user);
}

/** The operator's "log this user out everywhere". Fails with UnknownUserError. */
export async function revokeUserTokens(deps: UsersAndTokens, username: string): Promise<UserRevocation> {
  const user = await resolveUser(deps, username);
  // Sessions ended first: from then on the refresh grant refuses every family begun before, including
  // those the eventually consistent index does not show yet.
  if (!(await deps.users.endSessions(user.username))) throw new UnknownUserError(username);
  return revokeAll(deps, user);
}

/** Ends a lockout (lambda/oauth/lockout.ts) at once. Fails with UnknownUserError. */
export async function unlockUser(
  deps: Users & { readonly loginAttempts: LoginAttemptReset },
  username: string,
): Promise<{ readonly username: string; readonly clearedCounters: number }> {
  const stored = (await resolveUser(deps, username)).username;
  // Per-user and per-(user, IP) counters go; an IP's daily budget is that IP's, not this user's. They are
  // keyed by the prepared name, which every form of the name a client types shares (lambda/oauth/lockout.ts).
  return { username: stored, clearedCounters: await deps.loginAttempts.clearUser(usernameKey(stored)) };
}

async function revokeAll(deps: UsersAndTokens, user: RegisteredUser): Promise<UserRevocation> {
  const now = Math.floor(deps.clock() / 1000);
  return {
    username: user.username,
    userId: user.userId,
    revokedRefreshTokens: await deps.refreshTokens.revokeAllForUser(user.userId, now),
  };
}

function passwordOf(source: PasswordSource): Promise<string> {
  return typeof source === 'string' ? Promise.resolve(source) : source();
}
