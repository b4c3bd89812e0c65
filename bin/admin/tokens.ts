/** tokens revoke --username NAME */
import { DynamoUserStore } from '../../lambda/adapters/user-store';
import type { CommandContext, CommandHandler, CommandResult } from './command';
import { UsageError } from './errors';
import type { CommandId } from './spec';
import { UserRefreshTokens } from './user-tokens';
import { noSuchUser, plural } from './users';
import { printable, validateExistingKey } from './validate';

async function revokeUserTokens(context: CommandContext): Promise<CommandResult> {
  const given = context.strings.username;
  if (given === undefined) throw new UsageError('"tokens revoke" needs --username NAME');
  const username = validateExistingKey('user NAME', given);
  const target = await context.target();
  const user = await new DynamoUserStore(target.db, target.tables.users).getUser(username);
  if (user === undefined) throw noSuchUser(username, target);
  const revoked = await new UserRefreshTokens(target.db, target.tables.refreshTokens).revokeAllForUser(user.userId);
  return {
    json: { username, revoked_refresh_tokens: revoked },
    human: `Revoked ${plural(revoked, 'refresh token')} of user "${printable(username)}".`,
  };
}

export const TOKEN_COMMANDS: Record<Extract<CommandId, `tokens ${string}`>, CommandHandler> = {
  'tokens revoke': revokeUserTokens,
};
