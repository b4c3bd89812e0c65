import { InvalidGrantError, MfaRequiredError, TemporarilyUnavailableError } from '../errors';
import {
  attemptSubject,
  DEFAULT_LOCKOUT_POLICY,
  type LoginAttemptCounters,
  lockoutDecision,
  NO_FAILURES,
  normalizeIp,
  pairDelaySeconds,
} from '../lockout';
import type { Client, LegacyVerifierRequest, User } from '../ports';
import { formatScope, grantableScope, isScopeToken, parseScope, requestableScope } from '../scope';
import { lookUpUsername, prepareUsername } from '../username';
import { type Grant, type RequestContext, started, type TokenEndpointDeps } from './grant';
import { epochSeconds, issueAccessToken, mintFamily } from './issue';
import { startSecondFactor } from './second-factor';

/** Every way the credentials can be wrong, and a refused attempt, give this one body (no enumeration). */
const INVALID_CREDENTIALS = 'invalid username or password';

interface Prefetched {
  readonly user: User | undefined;
  /** Lockout counters by candidate source IP (the caller's, and the reported end user's if any). */
  readonly counters: ReadonlyMap<string, LoginAttemptCounters>;
}

const NOTHING_PREFETCHED: Prefetched = { user: undefined, counters: new Map() };

/** RFC 6749 §4.3: Resource Owner Password Credentials, behind brute-force protection. */
export const passwordGrant: Grant<'password', Prefetched> = {
  type: 'password',
  parameters: ['username', 'password'],

  prefetch(params, deps, context) {
    const username = params.get('username');
    if (username === undefined) return Promise.resolve(NOTHING_PREFETCHED);
    const now = epochSeconds(deps);
    const ips = [...new Set(candidateIps(context))];
    return started(
      Promise.all([
        // The prepared name (RFC 8265), or a name stored as typed before names were prepared.
        lookUpUsername(username, (name) => deps.users.getUser(name)),
        ...ips.map((ip) => deps.loginAttempts.read(attemptSubject(username, ip), now)),
      ]).then(([user, ...counters]) => ({
        user: user as User | undefined,
        counters: new Map(ips.map((ip, index) => [ip, counters[index] as LoginAttemptCounters])),
      })),
    );
  },

  async issue(client, params, prefetched, deps, context) {
    // The endpoint checked the parameters the descriptor names.
    const username = params.get('username') ?? '';
    const password = params.get('password') ?? '';
    // Scope is judged in two halves so that it is never a password oracle (RFC 6749 §3.3 lets the server
    // grant less than asked, by its policy; §5.2 leaves the choice of error code to it):
    // 1. Against the client, here, before the user or the password is read: a scope the client is not
    //    registered for, or a client that may have nothing, is invalid_scope, the same for a right, a
    //    wrong or no password and any username. The answer depends on the client and the request alone
    //    (both the caller's own), so it costs no scrypt and counts no failure: it tests no password, and
    //    the lockout counters it leaves alone cannot tell one password from another.
    // 2. Against the user, after the password (below).
    const candidateScope = requestableScope(parseScope(params.get('scope')), client.scopes, {
      event: 'password_grant_failed',
      fields: { requestId: context.requestId, clientId: client.clientId },
    });
    const { user: found, counters } = (await prefetched) ?? NOTHING_PREFETCHED;
    const now = epochSeconds(deps);
    const ip = attemptIp(client, context);
    const subject = attemptSubject(username, ip);
    const policy = deps.lockoutPolicy ?? DEFAULT_LOCKOUT_POLICY;
    const before = counters.get(ip) ?? NO_FAILURES;
    const requestLog = { requestId: context.requestId, clientId: client.clientId };

    // A refused attempt costs the same scrypt run and the same counter writes as a wrong password, and
    // gets the same answer: lockout is invisible, so it reveals neither the account nor its state.
    const decision = lockoutDecision(before, now, policy);
    // The attempt is counted before its password is checked, with conditional writes: of concurrent guesses
    // from one place one goes ahead, and no limit is outrun by parallel requests. A limit that refuses it
    // (read above, or met by the reservation) is the only counter it adds to.
    const reservation = decision.refused ? undefined : await deps.loginAttempts.reserve(subject, before, now, policy);
    const refusal = decision.refused
      ? decision.reason
      : reservation?.granted === false
        ? reservation.reason
        : undefined;
    // A username unknown here may be one the legacy verifier knows (lazy migration): it is asked only about
    // an attempt the lockout let through (and counted), never about a user who exists here, and only for a
    // name that can be one here (RFC 8265: the new user is stored under the prepared name).
    const newName =
      found === undefined && refusal === undefined && deps.legacyVerifier !== undefined
        ? prepareUsername(username)
        : undefined;
    const migration =
      newName?.ok === true
        ? await migrateUser(
            deps,
            { username, password, clientId: client.clientId },
            newName.username,
            requestLog,
          ).catch(async (error: unknown) => {
            // A fault is no failed attempt, and no success either: every counter gets the reservation back
            // before the 503, the streak as it was, and the address is not marked as one the user logged in
            // from (a fault an attacker can cause must not lift the ceiling). A give-back that fails leaves
            // the attempt counted; the answer is the same 503.
            await deps.loginAttempts.release(subject, before, now, 'fault').catch(() => undefined);
            throw error;
          })
        : undefined;
    const user = migration === undefined ? found : migration.user;
    const log = { ...requestLog, userId: user?.userId };
    const passwordMatches =
      migration !== undefined
        ? migration.passwordMatches
        : user === undefined || refusal !== undefined
          ? await deps.passwords.verifyDummy(password)
          : await deps.passwords.verify(password, user.passwordHash);
    // 2. The user's scopes are known only now. A right password of which nothing can be granted is not
    //    invalid_scope: §5.2 would allow that code, but giving it only to a right password tells a guesser
    //    the password was right without a token or a success event. It is invalid_grant instead (§5.2:
    //    the resource owner credentials are not a grant for this request) and the wrong-password failure
    //    in every observable way: the same body, the same scrypt, the same counter writes, no rehash.
    //    Counting it matters: a failure counted for a wrong password but not for a right one would show
    //    in the address's daily budget, which an attacker can probe by logging in to an account of their
    //    own from it. Only the log says `scope_not_granted`. Never a token with "scope": "".
    const scope = user === undefined ? [] : grantableScope(candidateScope, user.scopes);
    const failure =
      refusal !== undefined
        ? 'locked'
        : user === undefined
          ? (migration?.failure ?? 'unknown_user')
          : user.disabled
            ? 'disabled_user'
            : !passwordMatches
              ? 'wrong_password'
              : scope.length === 0
                ? 'scope_not_granted'
                : undefined;

    if (failure !== undefined || user === undefined) {
      if (decision.reason !== undefined) await deps.loginAttempts.recordRefusal(subject, decision.reason, now);
      // A reserved attempt is counted already; the failure that reaches a limit starts a lockout.
      const started = reservation?.granted === true ? lockoutStarted(before, reservation.after, policy) : undefined;
      if (started !== undefined) deps.logger.warn('lockout_started', { ...log, lockout: started });
      throw new InvalidGrantError(INVALID_CREDENTIALS).audited('password_grant_failed', {
        ...log,
        reason: failure,
        lockout: refusal,
      });
    }

    if (user.mfa !== undefined) {
      // An enrolled user's right password is half a login: no token, a challenge for the second step. The
      // reservation goes back to the hour and day counters only: the streak and the known-address mark
      // wait for the second factor (grants/second-factor.ts).
      const [pending, ...effects] = await Promise.allSettled([
        startSecondFactor(deps, client, user, scope, now),
        upgradePasswordHash(deps, user, password, context.requestId),
        deps.loginAttempts.release(subject, before, now, 'second_factor_pending'),
      ]);
      const failed = [pending, ...effects].find((result) => result.status === 'rejected');
      if (failed?.status === 'rejected') throw failed.reason;
      throw new MfaRequiredError((pending as PromiseFulfilledResult<string>).value).audited('mfa_required', log);
    }

    const refresh = client.grantTypes.includes('refresh_token')
      ? mintFamily(
          deps,
          // The count of ended sessions read with the hash just verified: a password change that commits
          // before this family is stored raises it, and the refresh grant then refuses the family.
          { clientId: client.clientId, userId: user.userId, username: user.username, sessionEpoch: user.sessionEpoch },
          scope,
          now,
        )
      : undefined;

    // Nothing is committed before the password check; the refresh-token write and the signature are
    // independent, so they run together (a signature failure leaves only an unusable, never-issued record).
    // Settled together: the reservation is given back even when signing fails, before the answer.
    const [signed, ...effects] = await Promise.allSettled([
      issueAccessToken(deps, client, user.userId, scope, now),
      refresh === undefined ? undefined : deps.refreshTokens.createFamily(refresh.family),
      upgradePasswordHash(deps, user, password, context.requestId),
      // The reservation is given back: a success is no failure, and it ends the streak.
      deps.loginAttempts.release(subject, before, now),
    ]);
    const failed = [signed, ...effects].find((result) => result.status === 'rejected');
    if (failed?.status === 'rejected') throw failed.reason;
    const accessToken = (signed as PromiseFulfilledResult<string>).value;

    deps.logger.info('password_grant_succeeded', log);
    return {
      accessToken,
      expiresIn: deps.settings.accessTokenTtl,
      refreshToken: refresh?.token,
      scope: formatScope(scope),
    };
  },
};

export function candidateIps(context: RequestContext): string[] {
  const reported = context.endUserIp === undefined ? undefined : normalizeIp(context.endUserIp);
  return [normalizeIp(context.sourceIp), ...(reported === undefined || reported === 'unknown' ? [] : [reported])];
}

/** The IP the counters use: the reported end user's only for a client trusted with it. */
export function attemptIp(client: Client, context: RequestContext): string {
  const [source, reported] = candidateIps(context);
  return client.trustEndUserIp === true && !client.isPublic && reported !== undefined ? reported : source!;
}

/** Which limit this failure has just reached, if any (for the audit log and its alarm). */
export function lockoutStarted(
  before: LoginAttemptCounters,
  after: LoginAttemptCounters,
  policy: typeof DEFAULT_LOCKOUT_POLICY,
): string | undefined {
  if (before.ipFailuresToday < policy.ipFailuresPerDay && after.ipFailuresToday >= policy.ipFailuresPerDay)
    return 'ip_budget';
  if (
    before.userFailuresThisHour < policy.userFailuresPerHour &&
    after.userFailuresThisHour >= policy.userFailuresPerHour
  ) {
    return 'user_ceiling';
  }
  if (pairDelaySeconds(before.pairFailures, policy) === 0 && pairDelaySeconds(after.pairFailures, policy) > 0)
    return 'pair_backoff';
  return undefined;
}

/** A hash made with outdated scrypt parameters is replaced while the password is at hand. Best effort. */
async function upgradePasswordHash(
  deps: TokenEndpointDeps,
  user: User,
  password: string,
  requestId: string,
): Promise<void> {
  if (!deps.passwords.needsRehash(user.passwordHash)) return;
  try {
    const nextHash = await deps.passwords.hash(password);
    await deps.users.replacePasswordHash(user.username, user.passwordHash, nextHash);
    deps.logger.info('password_rehashed', { requestId, userId: user.userId });
  } catch (error) {
    deps.logger.warn('password_rehash_failed', {
      requestId,
      userId: user.userId,
      error: error instanceof Error ? error.name : 'unknown',
    });
  }
}

/** Retry-After while an import runs: imports write thousands of users a second, most are over in minutes. */
const MIGRATION_PAUSED_RETRY_SECONDS = 5;

/** What asking the legacy verifier gave: the user as now stored here, or none (and why). */
interface Migration {
  readonly user: User | undefined;
  readonly passwordMatches: boolean;
  /** The verifier did not vouch for the password: the failure is counted as a wrong password's. */
  readonly failure?: 'legacy_not_verified';
}

/**
 * Lazy migration of one user: the legacy verifier checks the password; a verified user is created here
 * with a hash of it, with the verifier's `sub` (else a fresh opaque id) and its scopes that are scope
 * tokens, and from then on is a user like any other (the verifier is not asked again). A fault of the
 * verifier is a 503 (TemporarilyUnavailableError) and creates nothing; so is a `users import` running,
 * during which no user is created.
 */
async function migrateUser(
  deps: TokenEndpointDeps,
  /** The name as typed: the legacy system's own form of it. */
  request: LegacyVerifierRequest,
  /** The name as it is stored here (RFC 8265). */
  username: string,
  log: { readonly requestId: string; readonly clientId: string },
): Promise<Migration> {
  const verifier = deps.legacyVerifier!;
  // The new user's scrypt hash runs while the verifier works: an unknown username costs no less than the
  // dummy verification it costs without migration, and a verified one needs no second scrypt run.
  const [verdict, hash] = await Promise.allSettled([verifier.verify(request), deps.passwords.hash(request.password)]);
  if (verdict.status === 'rejected') {
    // Its name only: a verifier's message could quote what it was given.
    const cause = verdict.reason instanceof Error ? verdict.reason.name : typeof verdict.reason;
    throw new TemporarilyUnavailableError().audited(
      'dependency_unavailable',
      { ...log, dependency: 'legacy_verifier', cause },
      'warn',
    );
  }
  if (!verdict.value.verified) return { user: undefined, passwordMatches: false, failure: 'legacy_not_verified' };
  if (hash.status === 'rejected') throw hash.reason;
  const { sub, scopes = [] } = verdict.value;
  const user: User = {
    username,
    userId: sub ?? deps.random.uuid(),
    passwordHash: hash.value,
    scopes: [...new Set(scopes.filter(isScopeToken))],
    disabled: false,
  };
  const created = await deps.users.createMigratedUser(user, new Date(deps.clock()).toISOString());
  if (created === 'paused') {
    // A `users import` is writing users: none is created meanwhile, the client retries in a moment.
    deps.logger.warn('user_migration_paused', log);
    throw new TemporarilyUnavailableError(MIGRATION_PAUSED_RETRY_SECONDS);
  }
  if (created === 'taken') {
    // A concurrent first login of the same user created it first (or an operator did): the password is
    // judged against the user as stored, like any login's.
    const stored = await deps.users.getUser(username);
    return {
      user: stored,
      passwordMatches: stored !== undefined && (await deps.passwords.verify(request.password, stored.passwordHash)),
    };
  }
  deps.logger.info('user_migrated', { ...log, userId: user.userId, method: 'lazy' });
  // The user's password as it was: accepted, but the operator should know it would not be allowed as a new one.
  const problem = await deps.passwordPolicy?.problem(request.password).catch(() => undefined);
  if (problem !== undefined) deps.logger.warn('weak_password_migrated', { ...log, userId: user.userId });
  return { user, passwordMatches: true };
}
