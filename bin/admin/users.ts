/** users create | set-password | disable | enable | delete | unlock */
import { randomUUID } from 'node:crypto';
import { DynamoLoginAttemptStore } from '../../lambda/adapters/login-attempt-store';
import { DynamoUserStore, UserExistsError, type StoredUser } from '../../lambda/adapters/user-store';
import { usernameKey } from '../../lambda/oauth/lockout';
import { hashPassword } from '../../lambda/passwords';
import { arg, type CommandContext, type CommandHandler, type CommandResult } from './command';
import { OperationalError } from './errors';
import type { CommandId } from './spec';
import { readPasswordFromStdin } from './stdin';
import type { Target } from './target';
import { UserRefreshTokens } from './user-tokens';
import { parseScopesOption, printable, validateExistingKey, validateNewUsername } from './validate';

function users(target: Target): DynamoUserStore {
  return new DynamoUserStore(target.db, target.tables.users);
}

function tokens(target: Target): UserRefreshTokens {
  return new UserRefreshTokens(target.db, target.tables.refreshTokens);
}

async function createUser(context: CommandContext): Promise<CommandResult> {
  const username = validateNewUsername(arg(context, 'NAME'));
  const scopes = parseScopesOption(context.strings.scopes);
  const target = await context.target();
  const store = users(target);
  // Fail before asking for a password that would be thrown away.
  if ((await store.getUser(username)) !== undefined) throw userExists(username, target);
  const password = await readPasswordFromStdin(context.stdin, context.stderr);
  const at = context.now().toISOString();
  const user: StoredUser = {
    username,
    userId: randomUUID(),
    passwordHash: await hashPassword(password, target.scrypt),
    scopes,
    disabled: false,
    createdAt: at,
    passwordChangedAt: at,
  };
  try {
    await store.createUser(user);
  } catch (error) {
    if (error instanceof UserExistsError) throw userExists(username, target);
    throw error;
  }
  return {
    json: { username, user_id: user.userId, created: true },
    human: `Created user "${printable(username)}" (user id ${user.userId}).`,
  };
}

async function setPassword(context: CommandContext): Promise<CommandResult> {
  const username = validateExistingKey('user NAME', arg(context, 'NAME'));
  const target = await context.target();
  const store = users(target);
  const user = await store.getUser(username);
  if (user === undefined) throw noSuchUser(username, target);
  const password = await readPasswordFromStdin(context.stdin, context.stderr);
  const passwordHash = await hashPassword(password, target.scrypt);
  if (!(await store.setPassword(username, passwordHash, context.now().toISOString()))) throw noSuchUser(username, target);
  const revoked = await tokens(target).revokeAllForUser(user.userId);
  return {
    json: { username, password_changed: true, revoked_refresh_tokens: revoked },
    human: `Changed the password of user "${printable(username)}"; revoked ${plural(revoked, 'refresh token')}.`,
  };
}

async function disableUser(context: CommandContext): Promise<CommandResult> {
  const username = validateExistingKey('user NAME', arg(context, 'NAME'));
  const target = await context.target();
  const store = users(target);
  const user = await store.getUser(username);
  // Disabled first: from then on the refresh grant refuses the user's tokens even if revoking is cut short.
  if (user === undefined || !(await store.setDisabled(username, true))) throw noSuchUser(username, target);
  const revoked = await tokens(target).revokeAllForUser(user.userId);
  return {
    json: { username, disabled: true, revoked_refresh_tokens: revoked },
    human: `Disabled user "${printable(username)}"; revoked ${plural(revoked, 'refresh token')}.`,
  };
}

async function enableUser(context: CommandContext): Promise<CommandResult> {
  const username = validateExistingKey('user NAME', arg(context, 'NAME'));
  const target = await context.target();
  if (!(await users(target).setDisabled(username, false))) throw noSuchUser(username, target);
  return { json: { username, disabled: false }, human: `Enabled user "${printable(username)}".` };
}

async function deleteUser(context: CommandContext): Promise<CommandResult> {
  const username = validateExistingKey('user NAME', arg(context, 'NAME'));
  const target = await context.target();
  // Deleted first: the refresh grant refuses tokens whose user is gone, even if revoking is cut short.
  const user = await users(target).deleteUser(username);
  if (user === undefined) throw noSuchUser(username, target);
  const revoked = await tokens(target).revokeAllForUser(user.userId);
  return {
    json: { username, user_id: user.userId, deleted: true, revoked_refresh_tokens: revoked },
    human: `Deleted user "${printable(username)}" (user id ${user.userId}); revoked ${plural(revoked, 'refresh token')}.`,
  };
}

async function unlockUser(context: CommandContext): Promise<CommandResult> {
  const username = validateExistingKey('user NAME', arg(context, 'NAME'));
  const target = await context.target();
  if ((await users(target).getUser(username)) === undefined) throw noSuchUser(username, target);
  // Per-user and per-(user, IP) counters go; an IP's daily budget is that IP's, not this user's.
  const cleared = await new DynamoLoginAttemptStore(target.db, target.tables.loginAttempts).clearUser(usernameKey(username));
  return {
    json: { username, unlocked: true, cleared_counters: cleared },
    human: `Unlocked user "${printable(username)}" (cleared ${plural(cleared, 'failure counter')}).`,
  };
}

export function noSuchUser(username: string, target: Target): OperationalError {
  return new OperationalError(`there is no user "${printable(username)}" in ${target.description}`);
}

function userExists(username: string, target: Target): OperationalError {
  return new OperationalError(`user "${printable(username)}" already exists in ${target.description}`);
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

export const USER_COMMANDS: Record<Extract<CommandId, `users ${string}`>, CommandHandler> = {
  'users create': createUser,
  'users set-password': setPassword,
  'users disable': disableUser,
  'users enable': enableUser,
  'users delete': deleteUser,
  'users unlock': unlockUser,
};
