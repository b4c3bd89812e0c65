import {
  generateMfaToken,
  MFA_TOKEN_MAX_FAILURES,
  type MfaChallenge,
  mfaChallengeRefusal,
  newMfaChallenge,
  parseMfaToken,
} from '../../mfa/mfa-token';
import { InvalidGrantError } from '../errors';
import {
  attemptSubject,
  DEFAULT_LOCKOUT_POLICY,
  type LoginAttemptCounters,
  lockoutDecision,
  NO_FAILURES,
} from '../lockout';
import type { ChallengeReservation, Client, SecondFactorUse, User, UserMfa } from '../ports';
import { formatScope } from '../scope';
import { type Grant, type IssuedTokens, type RequestContext, started, type TokenEndpointDeps } from './grant';
import { epochSeconds, issueAccessToken, mintFamily } from './issue';
import { attemptIp, candidateIps, lockoutStarted } from './password';

/**
 * The second step of Auth0's MFA flow, shared by grants/mfa-otp.ts and grants/mfa-recovery-code.ts: the
 * client presents the mfa_token that its password grant answered with (403 mfa_required) and a code.
 *
 * Order of effects, so that concurrent requests with one token, one code or one user give one login:
 * 1. the lockout counters of (username, IP) decide and reserve the attempt, as for a password;
 * 2. with it, one conditional write counts the code against the mfa_token before it is checked (at most
 *    five codes are ever tested per token, whatever the concurrency);
 * 3. the code is checked (KMS decrypts the TOTP secret; recovery codes are compared by hash);
 * 4. the access token is signed and the refresh family stored, neither usable yet;
 * 5. one transaction commits: the challenge is deleted (one login per token) and the use recorded on the
 *    user (a TOTP step later than the last accepted one, or the recovery code still there), only while
 *    the enrollment read stands. A lost race is invalid_grant, and nothing of the loser was issued.
 * Every refusal is the same invalid_grant; the log says why (mfa_failed, with `reason`).
 */
const INVALID_MFA = 'invalid or expired mfa_token, or wrong code';

export interface SecondFactorPrefetched {
  readonly challenge: MfaChallenge | undefined;
  readonly user: User | undefined;
  /** Lockout counters of the challenge's username, by candidate source IP. */
  readonly counters: ReadonlyMap<string, LoginAttemptCounters>;
}

const NOTHING: SecondFactorPrefetched = { challenge: undefined, user: undefined, counters: new Map() };

/** How one second-factor grant checks its code against the user's enrollment. */
export interface CodeCheck {
  /** The request parameter that carries the code. */
  readonly parameter: string;
  /** What the right code spends, or why the code is refused (for the log). */
  check(
    code: string,
    user: User & { readonly mfa: UserMfa },
    deps: TokenEndpointDeps,
    now: number,
  ): Promise<{ readonly use: SecondFactorUse } | { readonly failure: string }>;
}

/**
 * A grant of the second step (Auth0's mfa-otp and mfa-recovery-code): mfa_token and the code `check`
 * reads, by the client that got the token.
 */
export function secondFactorGrant<Type extends string>(
  type: Type,
  check: CodeCheck,
): Grant<Type, SecondFactorPrefetched> {
  return {
    type,
    parameters: ['mfa_token', check.parameter],
    allowedWith: 'password',
    prefetch: prefetchSecondFactor,
    issue: (client, params, prefetched, deps, context) =>
      issueWithSecondFactor(check, client, params, prefetched, deps, context),
  };
}

/** The challenge, then its user and the user's lockout counters: all before the client is authenticated. */
function prefetchSecondFactor(
  params: ReadonlyMap<string, string>,
  deps: TokenEndpointDeps,
  context: RequestContext,
): Promise<SecondFactorPrefetched> {
  const presented = params.get('mfa_token');
  const tokenHash = presented === undefined ? undefined : parseMfaToken(presented);
  const store = deps.secondFactor?.challenges;
  if (tokenHash === undefined || store === undefined) return Promise.resolve(NOTHING);
  const now = epochSeconds(deps);
  const ips = [...new Set(candidateIps(context))];
  return started(
    store.get(tokenHash).then(async (challenge) => {
      if (challenge === undefined) return NOTHING;
      const [user, ...counters] = await Promise.all([
        deps.users.getUser(challenge.username),
        ...ips.map((ip) => deps.loginAttempts.read(attemptSubject(challenge.username, ip), now)),
      ]);
      return {
        challenge,
        user: user as User | undefined,
        counters: new Map(ips.map((ip, index) => [ip, counters[index] as LoginAttemptCounters])),
      };
    }),
  );
}

async function issueWithSecondFactor(
  kind: CodeCheck,
  client: Client,
  params: ReadonlyMap<string, string>,
  prefetched: Promise<SecondFactorPrefetched | undefined>,
  deps: TokenEndpointDeps,
  context: RequestContext,
): Promise<IssuedTokens> {
  const { challenge, user, counters } = (await prefetched) ?? NOTHING;
  const now = epochSeconds(deps);
  const log = { requestId: context.requestId, clientId: client.clientId, method: kind.parameter };
  const refused = (reason: string, fields: Record<string, unknown> = {}) =>
    new InvalidGrantError(INVALID_MFA).audited('mfa_failed', { ...log, ...fields, reason });

  // A token that is none of this client's live ones tests no code and counts nothing: nobody but the
  // client it was issued to can wear it out.
  const refusal = mfaChallengeRefusal(challenge, client.clientId, now);
  if (refusal !== undefined || challenge === undefined) throw refused(refusal ?? 'unknown');
  const userLog = { userId: challenge.userId };

  // 1. The lockout counters, as the password grant uses them: a wrong code is a failed login attempt.
  const ip = attemptIp(client, context);
  const subject = attemptSubject(challenge.username, ip);
  const policy = deps.lockoutPolicy ?? DEFAULT_LOCKOUT_POLICY;
  const before = counters.get(ip) ?? NO_FAILURES;
  const decision = lockoutDecision(before, now, policy);
  if (decision.refused) {
    if (decision.reason !== undefined) await deps.loginAttempts.recordRefusal(subject, decision.reason, now);
    throw refused('locked', { ...userLog, lockout: decision.reason });
  }
  const { challenges } = deps.secondFactor!;
  // 2. The code is counted against the token before it is tested, in the same stage as the lockout's
  //    reservation (independent writes; either refusing refuses the attempt, and what the other counted
  //    stays counted: an attempt that tested no code is still one attempt).
  const [reserved, counting] = await Promise.allSettled([
    deps.loginAttempts.reserve(subject, before, now, policy),
    challenges.reserveAttempt(challenge, now),
  ]);
  if (reserved.status === 'rejected') throw reserved.reason;
  const reservation = reserved.value;
  if (!reservation.granted) throw refused('locked', { ...userLog, lockout: reservation.reason });
  const wrong = (reason: string, fields: Record<string, unknown> = {}) => {
    const lockout = lockoutStarted(before, reservation.after, policy);
    if (lockout !== undefined) deps.logger.warn('lockout_started', { ...log, ...userLog, lockout });
    return refused(reason, { ...userLog, ...fields });
  };
  // A fault judged no code: no failure and no success, so every counter gets the attempt back before the
  // 503, the streak as it was read, and the address is not marked (the token's own count keeps it).
  const giveBack = async (error: unknown): Promise<never> => {
    await deps.loginAttempts.release(subject, before, now, 'fault').catch(() => undefined);
    throw error;
  };
  if (counting.status === 'rejected') await giveBack(counting.reason);
  const counted = (counting as PromiseFulfilledResult<ChallengeReservation>).value;
  if (!counted.granted) {
    const why = counted.stored === undefined ? undefined : mfaChallengeRefusal(counted.stored, client.clientId, now);
    throw wrong(why ?? 'concurrent_use');
  }
  // This attempt was the token's last: a wrong code now kills it.
  const dead = counted.challenge.failures >= MFA_TOKEN_MAX_FAILURES;

  // The user as the password step saw it: same id, not disabled, no session ended since (a new password,
  // disabling, an enrollment all raise sessionEpoch), still enrolled.
  const mfa = user?.mfa;
  if (user === undefined || mfa === undefined) throw wrong('not_enrolled');
  if (user.userId !== challenge.userId || user.disabled || (user.sessionEpoch ?? 0) !== (challenge.sessionEpoch ?? 0))
    throw wrong('session_ended');

  // 3. The code.
  const code = params.get(kind.parameter) ?? '';
  const verdict = await kind.check(code, { ...user, mfa }, deps, now).catch(giveBack);
  if ('failure' in verdict) throw wrong(verdict.failure, dead ? { mfaTokenSpent: true } : {});

  // 4. Nothing is usable before the commit: the signature and the family's record run together.
  const refresh = client.grantTypes.includes('refresh_token')
    ? mintFamily(
        deps,
        {
          clientId: client.clientId,
          userId: user.userId,
          username: user.username,
          sessionEpoch: challenge.sessionEpoch,
        },
        challenge.scope,
        now,
      )
    : undefined;
  const [signed, stored] = await Promise.allSettled([
    issueAccessToken(deps, client, user.userId, challenge.scope, now),
    refresh === undefined ? undefined : deps.refreshTokens.createFamily(refresh.family),
  ]);
  if (signed.status === 'rejected') await giveBack(signed.reason);
  if (stored.status === 'rejected') await giveBack(stored.reason);
  const accessToken = (signed as PromiseFulfilledResult<string>).value;

  // 5. The commit.
  const outcome = await challenges.complete(challenge, mfa.enrolledAt, verdict.use).catch(giveBack);
  if (outcome === 'conflict') throw wrong(verdict.use.kind === 'totp' ? 'replayed' : 'code_used');

  // A success ends the streak and marks the address as the user's; best effort once the login is committed.
  await deps.loginAttempts.release(subject, before, now).catch(() => undefined);
  if (verdict.use.kind === 'recovery_code') {
    deps.logger.warn('recovery_code_used', {
      ...log,
      ...userLog,
      recoveryCodesLeft: Math.max(0, mfa.recoveryCodeHashes.length - 1),
    });
  }
  deps.logger.info('mfa_succeeded', { ...log, ...userLog });
  return {
    accessToken,
    expiresIn: deps.settings.accessTokenTtl,
    refreshToken: refresh?.token,
    scope: formatScope(challenge.scope),
  };
}

/**
 * The password step of an enrolled user: a new challenge for this client and user, with the scope the
 * password step granted and the sessionEpoch read with the verified password. Returns the mfa_token.
 */
export async function startSecondFactor(
  deps: TokenEndpointDeps,
  client: Client,
  user: User,
  scope: readonly string[],
  now: number,
): Promise<string> {
  if (deps.secondFactor === undefined)
    throw new Error('an enrolled user logged in, but the second factor is not wired');
  const { token, hash } = generateMfaToken(deps.random);
  await deps.secondFactor.challenges.create(
    newMfaChallenge(
      hash,
      {
        clientId: client.clientId,
        userId: user.userId,
        username: user.username,
        scope,
        sessionEpoch: user.sessionEpoch,
      },
      now,
    ),
  );
  return token;
}
