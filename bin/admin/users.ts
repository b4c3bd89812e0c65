/** users create | list | show | update | set-password | disable | enable | delete | unlock */
import {
  deleteUser,
  disableUser,
  enableUser,
  listUsers,
  registerUser,
  setPassword,
  showUser,
  type UserProfile,
  unlockUser,
  updateUser,
} from '../../lambda/accounts';
import { minPasswordLength, passwordProblem } from '../../lambda/accounts/password-policy';
import { accountPorts } from './accounts';
import {
  arg,
  type CommandContext,
  type CommandHandler,
  type CommandResult,
  formatFields,
  formatTable,
} from './command';
import { UsageError } from './errors';
import type { CommandId } from './spec';
import { readPasswordFromStdin } from './stdin';
import { parseScopesOption, printable, usernameCell, validateExistingKey, validateNewUsername } from './validate';

/**
 * The password, read from stdin once the service has checked the user (a wrong name fails before the
 * prompt), and refused (exit 2) when it is too short or a common or breached one (NIST SP 800-63B).
 */
function stdinPassword(context: CommandContext): () => Promise<string> {
  const minLength = minPasswordLength(context.env);
  if (typeof minLength === 'string') throw new UsageError(minLength, false);
  return async () => {
    const password = await readPasswordFromStdin(context.stdin, context.stderr);
    const problem = passwordProblem(password, minLength);
    if (problem !== undefined) throw new UsageError(`the password read from stdin is refused: ${problem}`, false);
    return password;
  };
}

async function createUser(context: CommandContext): Promise<CommandResult> {
  const username = validateNewUsername(arg(context, 'NAME'));
  const scopes = parseScopesOption(context.strings.scopes);
  const target = await context.target();
  const { userId } = await registerUser(accountPorts(target, context), {
    username,
    scopes,
    password: stdinPassword(context),
    scrypt: target.scrypt,
  });
  return {
    json: { username, user_id: userId, created: true },
    human: `Created user "${printable(username)}" (user id ${userId}).`,
  };
}

/** A user in JSON, as users list prints each one and users show and update print theirs: never the hash. */
function userJson(user: UserProfile): Record<string, unknown> {
  return {
    username: user.username,
    user_id: user.userId,
    scopes: [...user.scopes],
    disabled: user.disabled,
    created_at: user.createdAt,
    password_changed_at: user.passwordChangedAt,
  };
}

function scopesCell(scopes: readonly string[]): string {
  return scopes.length === 0 ? '-' : printable(scopes.join(' '));
}

async function listAllUsers(context: CommandContext): Promise<CommandResult> {
  const users = await listUsers(accountPorts(await context.target(), context));
  const json = { users: users.map(userJson) };
  if (users.length === 0) return { json, human: 'No users.' };
  const rows = users.map((user) => [
    usernameCell(user.username),
    user.userId,
    scopesCell(user.scopes),
    user.disabled ? 'yes' : 'no',
    user.createdAt,
    user.passwordChangedAt,
  ]);
  return {
    json,
    human: formatTable(['USERNAME', 'USER ID', 'SCOPES', 'DISABLED', 'CREATED', 'PASSWORD CHANGED'], rows),
  };
}

function userFields(user: UserProfile): string {
  return formatFields([
    ['Username', `"${printable(user.username)}"`],
    ['User ID', user.userId],
    ['Scopes', scopesCell(user.scopes)],
    ['Disabled', user.disabled ? 'yes' : 'no'],
    ['Created', user.createdAt],
    ['Password changed', user.passwordChangedAt],
  ]);
}

async function showOneUser(context: CommandContext): Promise<CommandResult> {
  const username = validateExistingKey('user NAME', arg(context, 'NAME'));
  const user = await showUser(accountPorts(await context.target(), context), username);
  return { json: userJson(user), human: userFields(user) };
}

async function updateOneUser(context: CommandContext): Promise<CommandResult> {
  const username = validateExistingKey('user NAME', arg(context, 'NAME'));
  const scopes = parseScopesOption(context.strings.scopes);
  const user = await updateUser(accountPorts(await context.target(), context), username, { scopes });
  return {
    json: userJson(user),
    human: [
      `Updated user "${printable(username)}":`,
      userFields(user),
      `Refresh tokens issued before keep the scope they were issued with: \`ropc-admin tokens revoke --username NAME\` ends them.`,
    ].join('\n'),
  };
}

async function changePassword(context: CommandContext): Promise<CommandResult> {
  const username = validateExistingKey('user NAME', arg(context, 'NAME'));
  const target = await context.target();
  const { revokedRefreshTokens: revoked } = await setPassword(accountPorts(target, context), {
    username,
    password: stdinPassword(context),
    scrypt: target.scrypt,
  });
  return {
    json: { username, password_changed: true, revoked_refresh_tokens: revoked },
    human: `Changed the password of user "${printable(username)}"; revoked ${plural(revoked, 'refresh token')}.`,
  };
}

async function disableOneUser(context: CommandContext): Promise<CommandResult> {
  const username = validateExistingKey('user NAME', arg(context, 'NAME'));
  const { revokedRefreshTokens: revoked } = await disableUser(accountPorts(await context.target(), context), username);
  return {
    json: { username, disabled: true, revoked_refresh_tokens: revoked },
    human: `Disabled user "${printable(username)}"; revoked ${plural(revoked, 'refresh token')}.`,
  };
}

async function enableOneUser(context: CommandContext): Promise<CommandResult> {
  const username = validateExistingKey('user NAME', arg(context, 'NAME'));
  await enableUser(accountPorts(await context.target(), context), username);
  return { json: { username, disabled: false }, human: `Enabled user "${printable(username)}".` };
}

async function deleteOneUser(context: CommandContext): Promise<CommandResult> {
  const username = validateExistingKey('user NAME', arg(context, 'NAME'));
  const { userId, revokedRefreshTokens: revoked } = await deleteUser(
    accountPorts(await context.target(), context),
    username,
  );
  return {
    json: { username, user_id: userId, deleted: true, revoked_refresh_tokens: revoked },
    human: `Deleted user "${printable(username)}" (user id ${userId}); revoked ${plural(revoked, 'refresh token')}.`,
  };
}

async function unlockOneUser(context: CommandContext): Promise<CommandResult> {
  const username = validateExistingKey('user NAME', arg(context, 'NAME'));
  const { clearedCounters: cleared } = await unlockUser(accountPorts(await context.target(), context), username);
  return {
    json: { username, unlocked: true, cleared_counters: cleared },
    human: `Unlocked user "${printable(username)}" (cleared ${plural(cleared, 'failure counter')}).`,
  };
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

export const USER_COMMANDS: Record<Extract<CommandId, `users ${string}`>, CommandHandler> = {
  'users create': createUser,
  'users list': listAllUsers,
  'users show': showOneUser,
  'users update': updateOneUser,
  'users set-password': changePassword,
  'users disable': disableOneUser,
  'users enable': enableOneUser,
  'users delete': deleteOneUser,
  'users unlock': unlockOneUser,
};
