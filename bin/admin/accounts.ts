/** The CLI's side of the account services (lambda/accounts): their ports on the target, and their refusals in words. */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  type AccountError,
  ClientExistsError,
  ImportInProgressError,
  UnknownClientError,
  UnknownUserError,
  UserExistsError,
} from '../../lambda/accounts';
import { DynamoClientStore } from '../../lambda/adapters/client-store';
import { DynamoLoginAttemptStore } from '../../lambda/adapters/login-attempt-store';
import { DynamoUserRefreshTokens } from '../../lambda/adapters/user-refresh-tokens';
import { DynamoUserStore } from '../../lambda/adapters/user-store';
import type { CommandContext } from './command';
import { OperationalError } from './errors';
import type { Target } from './target';
import { printable, quotedClientId } from './validate';

/** The ports on the target's tables, with the command's clock. */
export function accountPorts(target: Target, context: Pick<CommandContext, 'now'>) {
  return {
    clients: new DynamoClientStore(target.db, target.tables.clients),
    users: new DynamoUserStore(target.db, target.tables.users),
    refreshTokens: new DynamoUserRefreshTokens(target.db, target.tables.refreshTokens),
    loginAttempts: new DynamoLoginAttemptStore(target.db, target.tables.loginAttempts),
    clock: () => context.now().getTime(),
    random: { bytes: (length: number) => randomBytes(length), uuid: randomUUID },
  };
}

/** An account service's refusal as the CLI words it: which stack, names shown safely (exit status 1). */
export function accountFailure(error: AccountError, target: Target | undefined): OperationalError {
  const where = target?.description ?? 'the target';
  if (error instanceof ClientExistsError)
    return new OperationalError(`client ${quotedClientId(error.clientId)} already exists in ${where}`);
  if (error instanceof UnknownClientError)
    return new OperationalError(`there is no client ${quotedClientId(error.clientId)} in ${where}`);
  if (error instanceof UserExistsError)
    return new OperationalError(`user "${printable(error.username)}" already exists in ${where}`);
  if (error instanceof UnknownUserError)
    return new OperationalError(`there is no user "${printable(error.username)}" in ${where}`);
  if (error instanceof ImportInProgressError) {
    return new OperationalError(
      `a users import into ${where} is running: no user can be created until it ends${Number.isFinite(error.until) ? ` (if it was killed, its claim lapses at ${new Date(error.until).toISOString()})` : ''}; try again then`,
    );
  }
  return new OperationalError(error.message);
}
