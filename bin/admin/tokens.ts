/** tokens revoke --username NAME */
import { revokeUserTokens } from '../../lambda/accounts';
import { accountPorts } from './accounts';
import type { CommandContext, CommandHandler, CommandResult } from './command';
import { UsageError } from './errors';
import type { CommandId } from './spec';
import { plural } from './users';
import { printable, validateExistingKey } from './validate';

async function revokeTokensOfUser(context: CommandContext): Promise<CommandResult> {
  const given = context.strings.username;
  if (given === undefined) throw new UsageError('"tokens revoke" needs --username NAME');
  const username = validateExistingKey('user NAME', given);
  // Found as the token endpoint finds users: the prepared name first, then the name as stored.
  const { username: stored, revokedRefreshTokens: revoked } = await revokeUserTokens(
    accountPorts(await context.target(), context),
    username,
  );
  return {
    json: { username: stored, revoked_refresh_tokens: revoked },
    human: `Revoked ${plural(revoked, 'refresh token')} of user "${printable(stored)}".`,
  };
}

export const TOKEN_COMMANDS: Record<Extract<CommandId, `tokens ${string}`>, CommandHandler> = {
  'tokens revoke': revokeTokensOfUser,
};
