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
import { importUsersCommand } from './import';
import { disableMfa, enrollMfa } from './mfa';
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
  const given = arg(context, 'NAME');
  // Refused before the stack is looked for: a usage error whatever the target.
  validateNewUsername(given);
  const scopes = parseScopesOption(context.strings.scopes);
  const target = await context.target();
  const { username, userId } = await registerUser(accountPorts(target, context), {
    username: given,
    scopes,
    password: stdinPassword(context),
    scrypt: target.scrypt,
  });
  return {
    json: { username, user_id: userId, created: true },
    human: `Created user "${printable(username)}"${asGiven(username, given)} (user id ${userId}).`,
  };
}

/** ` (from "Alice")` when the name is stored in another form than the operator typed; nothing otherwise. */
function asGiven(stored: string, given: string): string {
  return stored === given ? '' : ` (from "${printable(given)}")`;
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
    // Whether the user has a second factor; never its secret or the codes' hashes.
    mfa:
      user.mfa === undefined
        ? null
        : { enrolled_at: user.mfa.enrolledAt, recovery_codes_left: user.mfa.recoveryCodeHashes.length },
  };
}

/** The MFA column and field: since when, and the recovery codes left. */
function mfaCell(user: UserProfile): string {
  if (user.mfa === undefined) return 'no';
  return `yes (${plural(user.mfa.recoveryCodeHashes.length, 'recovery code')} left)`;
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
    user.mfa === undefined ? 'no' : `yes (${user.mfa.recoveryCodeHashes.length} codes)`,
  ]);
  return {
    json,
    human: formatTable(['USERNAME', 'USER ID', 'SCOPES', 'DISABLED', 'CREATED', 'PASSWORD CHANGED', 'MFA'], rows),
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
    ['MFA', user.mfa === undefined ? 'no' : `${mfaCell(user)}, enrolled ${user.mfa.enrolledAt}`],
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
      `Updated user "${printable(user.username)}":`,
      userFields(user),
      `Refresh tokens issued before keep the scope they were issued with: \`ropc-admin tokens revoke --username NAME\` ends them.`,
    ].join('\n'),
  };
}

async function changePassword(context: CommandContext): Promise<CommandResult> {
  const username = validateExistingKey('user NAME', arg(context, 'NAME'));
  const target = await context.target();
  const { username: stored, revokedRefreshTokens: revoked } = await setPassword(accountPorts(target, context), {
    username,
    password: stdinPassword(context),
    scrypt: target.scrypt,
  });
  return {
    json: { username: stored, password_changed: true, revoked_refresh_tokens: revoked },
    human: `Changed the password of user "${printable(stored)}"; revoked ${plural(revoked, 'refresh token')}.`,
  };
}

async function disableOneUser(context: CommandContext): Promise<CommandResult> {
  const username = validateExistingKey('user NAME', arg(context, 'NAME'));
  const { username: stored, revokedRefreshTokens: revoked } = await disableUser(
    accountPorts(await context.target(), context),
    username,
  );
  return {
    json: { username: stored, disabled: true, revoked_refresh_tokens: revoked },
    human: `Disabled user "${printable(stored)}"; revoked ${plural(revoked, 'refresh token')}.`,
  };
}

async function enableOneUser(context: CommandContext): Promise<CommandResult> {
  const username = validateExistingKey('user NAME', arg(context, 'NAME'));
  const { username: stored } = await enableUser(accountPorts(await context.target(), context), username);
  return { json: { username: stored, disabled: false }, human: `Enabled user "${printable(stored)}".` };
}

async function deleteOneUser(context: CommandContext): Promise<CommandResult> {
  const username = validateExistingKey('user NAME', arg(context, 'NAME'));
  const {
    username: stored,
    userId,
    revokedRefreshTokens: revoked,
  } = await deleteUser(accountPorts(await context.target(), context), username);
  return {
    json: { username: stored, user_id: userId, deleted: true, revoked_refresh_tokens: revoked },
    human: `Deleted user "${printable(stored)}" (user id ${userId}); revoked ${plural(revoked, 'refresh token')}.`,
  };
}

async function unlockOneUser(context: CommandContext): Promise<CommandResult> {
  const username = validateExistingKey('user NAME', arg(context, 'NAME'));
  const { username: stored, clearedCounters: cleared } = await unlockUser(
    accountPorts(await context.target(), context),
    username,
  );
  return {
    json: { username: stored, unlocked: true, cleared_counters: cleared },
    human: `Unlocked user "${printable(stored)}" (cleared ${plural(cleared, 'failure counter')}).`,
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
  'users import': importUsersCommand,
  'users mfa enroll': enrollMfa,
  'users mfa disable': disableMfa,
};
