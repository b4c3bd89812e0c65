/**
 * The signing-key lifecycle, pure (times in epoch seconds, the clock passed in). KMS cannot rotate
 * asymmetric keys, so the service does: a new key is published in the JWKS before it signs (for the
 * propagation period, so every resource-server cache has it), and a retired key stays published until
 * every token it signed has expired (the longest access-token lifetime plus clock skew).
 */
import { CLOCK_SKEW_SECONDS, DEFAULT_PROPAGATION_SECONDS } from '../../contract/signing-keys';

export interface SigningKeyRecord {
  /** RFC 7638 thumbprint of the public key. */
  readonly kid: string;
  readonly keyArn: string;
  readonly alg: 'RS256';
  /** The public key (RSA modulus and exponent, base64url), so the JWKS needs no KMS call. */
  readonly n: string;
  readonly e: string;
  readonly createdAt: number;
  /** Published from creation; signs from this instant. */
  readonly signsFrom: number;
  /** When a newer key took over signing. */
  readonly retiredAt?: number;
  /** Leaves the JWKS at this instant (set when retired, or at once when revoked). */
  readonly unpublishAfter?: number;
  readonly state: 'active' | 'revoked';
  readonly revokedAt?: number;
  /** Set once its KMS key was scheduled for deletion. */
  readonly deletionScheduledAt?: number;
}

export type KeyPhase = 'pending' | 'signing' | 'retired' | 'unpublished' | 'revoked';

// Shared with the stack's settings rules (contract/signing-keys.ts).
export { CLOCK_SKEW_SECONDS, DEFAULT_PROPAGATION_SECONDS };

/**
 * The key that signs at `now`: among active keys whose signs-from has passed, the newest.
 * `settleSeconds` shifts the handover later by the functions' registry cache period: the JWKS function
 * re-reads the registry within that period, so no token carries a kid that a JWKS answer could lack,
 * even when the propagation period is 0. Revocation is never delayed (revoked keys are not active).
 */
export function signingKeyAt(
  keys: readonly SigningKeyRecord[],
  now: number,
  settleSeconds = 0,
): SigningKeyRecord | undefined {
  const at = now - settleSeconds;
  return keys
    .filter(
      (key) => key.state === 'active' && key.signsFrom <= at && (key.retiredAt === undefined || key.retiredAt > at),
    )
    .sort(newestFirst)[0];
}

/** The keys resource servers must be able to find: active and not yet past unpublish-after. */
export function publishedAt(keys: readonly SigningKeyRecord[], now: number): SigningKeyRecord[] {
  return keys
    .filter((key) => key.state === 'active' && (key.unpublishAfter === undefined || now < key.unpublishAfter))
    .sort(newestFirst);
}

export function phaseAt(key: SigningKeyRecord, keys: readonly SigningKeyRecord[], now: number): KeyPhase {
  if (key.state === 'revoked') return 'revoked';
  if (key.unpublishAfter !== undefined && now >= key.unpublishAfter) return 'unpublished';
  if (signingKeyAt(keys, now)?.kid === key.kid) return 'signing';
  if (key.signsFrom > now) return 'pending';
  return 'retired';
}

export interface RotationPlan {
  /** Fields of the new key apart from its identity (kid, ARN, public key). */
  readonly signsFrom: number;
  /** The keys to retire, with their new fields. */
  readonly retire: readonly SigningKeyRecord[];
}

/**
 * A rotation: the new key signs from `now + propagation`; every active key not yet retired retires at
 * that instant and leaves the JWKS once its last token can have expired.
 */
export function planRotation(
  keys: readonly SigningKeyRecord[],
  now: number,
  options: { propagationSeconds: number; accessTokenTtl: number },
): RotationPlan {
  if (!Number.isInteger(options.propagationSeconds) || options.propagationSeconds < 0) {
    throw new RangeError('the propagation period must be a whole number of seconds, 0 or more');
  }
  const signsFrom = now + options.propagationSeconds;
  const retire = keys
    .filter((key) => key.state === 'active' && key.retiredAt === undefined)
    .map((key) => ({
      ...key,
      retiredAt: signsFrom,
      unpublishAfter: signsFrom + options.accessTokenTtl + CLOCK_SKEW_SECONDS,
    }));
  return { signsFrom, retire };
}

export interface RevocationPlan {
  /** Every record to write: the revoked key first, then any key whose schedule changed. */
  readonly updates: readonly SigningKeyRecord[];
  /** No active key is left to sign: the caller creates one that signs at once. */
  readonly needsNewKey: boolean;
}

/**
 * An emergency revocation: the key leaves the JWKS and stops signing at once (its tokens fail from the
 * next JWKS refresh). If it was the signing key, the newest other published key signs from now on; if
 * it was a pending key, the rotation it began is called off (the keys it would have retired stay on).
 * When no key is left, the caller must create one that signs at once.
 */
export function planRevocation(keys: readonly SigningKeyRecord[], kid: string, now: number): RevocationPlan {
  const key = keys.find((candidate) => candidate.kid === kid);
  if (key === undefined) throw new UnknownKeyError(kid);
  if (key.state === 'revoked') throw new AlreadyRevokedError(kid);
  const revoked: SigningKeyRecord = { ...key, state: 'revoked', revokedAt: now, unpublishAfter: now };
  const live = keys.filter(
    (candidate) =>
      candidate.kid !== kid &&
      candidate.state === 'active' &&
      (candidate.unpublishAfter === undefined || now < candidate.unpublishAfter),
  );
  const updates: SigningKeyRecord[] = [revoked];

  if (key.signsFrom > now) {
    // A pending key: undo the retirement its rotation scheduled.
    for (const other of live) {
      if (other.retiredAt === key.signsFrom)
        updates.push({ ...other, retiredAt: undefined, unpublishAfter: undefined });
    }
    return { updates, needsNewKey: live.length === 0 };
  }
  if (signingKeyAt(keys, now)?.kid !== kid) return { updates, needsNewKey: live.length === 0 };

  const successor = [...live].sort(newestFirst)[0];
  if (successor === undefined) return { updates, needsNewKey: true };
  // It has been published since it was created, so it may sign as of then.
  updates.push({
    ...successor,
    signsFrom: Math.min(successor.signsFrom, successor.createdAt),
    retiredAt: undefined,
    unpublishAfter: undefined,
  });
  // Keys the successor's rotation would have retired later were already superseded; nothing else changes.
  return { updates, needsNewKey: false };
}

/** Keys whose KMS key can now be scheduled for deletion: revoked, or past unpublish-after. */
export function keysToDelete(keys: readonly SigningKeyRecord[], now: number): SigningKeyRecord[] {
  return keys.filter(
    (key) =>
      key.deletionScheduledAt === undefined &&
      (key.state === 'revoked' || (key.unpublishAfter !== undefined && now >= key.unpublishAfter)),
  );
}

function newestFirst(a: SigningKeyRecord, b: SigningKeyRecord): number {
  return b.createdAt - a.createdAt || b.signsFrom - a.signsFrom || a.kid.localeCompare(b.kid);
}

export class UnknownKeyError extends Error {
  constructor(kid: string) {
    super(`there is no signing key with kid "${kid}"`);
    this.name = 'UnknownKeyError';
  }
}

export class AlreadyRevokedError extends Error {
  constructor(kid: string) {
    super(`signing key "${kid}" is already revoked`);
    this.name = 'AlreadyRevokedError';
  }
}
