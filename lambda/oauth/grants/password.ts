import { InvalidGrantError, InvalidRequestError } from '../errors';
import { formatScope, grantScope, parseScope } from '../scope';
import type { User } from '../ports';
import { started, type Grant, type TokenEndpointDeps } from './grant';
import { epochSeconds, issueAccessToken, mintRefreshToken } from './issue';

/** Every way the credentials can be wrong gives this one body (no user enumeration). */
const INVALID_CREDENTIALS = 'invalid username or password';

/** RFC 6749 §4.3: Resource Owner Password Credentials. */
export const passwordGrant: Grant<User | undefined> = {
  prefetch(params, deps) {
    const username = params.get('username');
    return started(username === undefined ? Promise.resolve(undefined) : deps.users.getUser(username));
  },

  async issue(client, params, prefetched, deps, context) {
    const username = params.get('username');
    const password = params.get('password');
    if (username === undefined || password === undefined) {
      throw new InvalidRequestError('username and password are required');
    }
    const requestedScope = parseScope(params.get('scope'));
    const user = await prefetched;

    // Unknown and disabled users cost one scrypt verification too, so timing tells nothing.
    const passwordMatches =
      user === undefined ? await deps.passwords.verifyDummy(password) : await deps.passwords.verify(password, user.passwordHash);
    const failure = user === undefined ? 'unknown_user' : user.disabled ? 'disabled_user' : passwordMatches ? undefined : 'wrong_password';
    if (failure !== undefined || user === undefined) {
      deps.logger.info('password_grant_failed', {
        requestId: context.requestId,
        clientId: client.clientId,
        userId: user?.userId,
        reason: failure,
      });
      throw new InvalidGrantError(INVALID_CREDENTIALS);
    }

    const scope = grantScope(requestedScope, client.scopes, user.scopes);
    const now = epochSeconds(deps);
    const refresh = client.grantTypes.includes('refresh_token')
      ? mintRefreshToken(deps, { clientId: client.clientId, userId: user.userId, username: user.username }, scope, now)
      : undefined;

    // Nothing is committed before the password check; the refresh-token write and the signature are
    // independent, so they run together (a signature failure leaves only an unusable, never-issued record).
    const [accessToken] = await Promise.all([
      issueAccessToken(deps, client, user.userId, scope, now),
      refresh === undefined ? undefined : deps.refreshTokens.create(refresh.record),
      upgradePasswordHash(deps, user, password, context.requestId),
    ]);

    deps.logger.info('password_grant_succeeded', {
      requestId: context.requestId,
      clientId: client.clientId,
      userId: user.userId,
    });
    return {
      accessToken,
      expiresIn: deps.settings.accessTokenTtl,
      refreshToken: refresh?.token,
      scope: formatScope(scope),
    };
  },
};

/** A hash made with outdated scrypt parameters is replaced while the password is at hand. Best effort. */
async function upgradePasswordHash(deps: TokenEndpointDeps, user: User, password: string, requestId: string): Promise<void> {
  if (!deps.passwords.needsRehash(user.passwordHash)) return;
  try {
    const nextHash = await deps.passwords.hash(password);
    await deps.users.replacePasswordHash(user.username, user.passwordHash, nextHash);
    deps.logger.info('password_rehashed', { requestId, userId: user.userId });
  } catch (error) {
    deps.logger.warn('password_rehash_failed', { requestId, userId: user.userId, error: errorName(error) });
  }
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'unknown';
}
