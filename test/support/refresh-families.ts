import { randomBytes, randomUUID } from 'node:crypto';
import type { RefreshFamily } from '../../lambda/oauth/ports';
import { hashRefreshToken } from '../../lambda/tokens/refresh-token';

/**
 * A refresh-token family of alice's at the app client whose first token was issued at `issuedAt` (epoch
 * seconds), not yet rotated: the same owner and lifetimes as refreshTokenRecord (./memory.ts) gives a
 * legacy token, idle expiry an hour on and family expiry two.
 */
export function refreshFamilyRecord(issuedAt: number, overrides: Partial<RefreshFamily> = {}): RefreshFamily {
  return {
    familyId: randomBytes(16).toString('base64url'),
    clientId: 'app',
    userId: 'u-alice',
    username: 'alice',
    scope: ['read'],
    generation: 0,
    currentHash: hashRefreshToken(randomUUID()),
    issuedAt,
    familyIssuedAt: issuedAt,
    idleExpiresAt: issuedAt + 3600,
    familyExpiresAt: issuedAt + 7200,
    ...overrides,
  };
}

/** `family` as a rotation at `now` leaves it: a new current token, the one it replaced kept as its predecessor. */
export function rotatedFamilyRecord(family: RefreshFamily, now: number): RefreshFamily {
  const { revokedAt: _revoked, ...rest } = family;
  return {
    ...rest,
    generation: family.generation + 1,
    currentHash: hashRefreshToken(randomUUID()),
    issuedAt: now,
    previous: { hash: family.currentHash, rotatedAt: now, sealedSuccessor: randomBytes(94).toString('base64url') },
    idleExpiresAt: Math.min(now + 3600, family.familyExpiresAt),
  };
}
