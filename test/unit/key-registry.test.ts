import { describe, expect, it } from 'vitest';
import {
  AlreadyRevokedError,
  CLOCK_SKEW_SECONDS,
  keysToDelete,
  phaseAt,
  planRevocation,
  planRotation,
  publishedAt,
  type SigningKeyRecord,
  signingKeyAt,
  UnknownKeyError,
} from '../../lambda/tokens/key-registry';

const T0 = 1_800_000_000;
const TTL = 900;

function key(kid: string, createdAt: number, extra: Partial<SigningKeyRecord> = {}): SigningKeyRecord {
  return {
    kid,
    keyArn: `arn:aws:kms:us-east-1:000000000000:key/${kid}`,
    alg: 'RS256',
    n: 'n',
    e: 'AQAB',
    createdAt,
    signsFrom: createdAt,
    state: 'active',
    ...extra,
  };
}

/** Applies a plan the way the registry store does: records replaced by kid. */
function apply(keys: SigningKeyRecord[], updates: readonly SigningKeyRecord[]): SigningKeyRecord[] {
  const byKid = new Map(keys.map((k) => [k.kid, k]));
  for (const update of updates) byKid.set(update.kid, update);
  return [...byKid.values()];
}

function rotate(keys: SigningKeyRecord[], kid: string, now: number, propagationSeconds: number): SigningKeyRecord[] {
  const plan = planRotation(keys, now, { propagationSeconds, accessTokenTtl: TTL });
  return apply(keys, [...plan.retire, key(kid, now, { signsFrom: plan.signsFrom })]);
}

describe('key registry: rotation', () => {
  it('publishes the new key at once, signs with it after the propagation period, unpublishes the old one after its tokens expire', () => {
    let keys = [key('k1', T0)];
    keys = rotate(keys, 'k2', T0 + 100, 3600);
    const at = (t: number) => ({
      signing: signingKeyAt(keys, t)?.kid,
      published: publishedAt(keys, t)
        .map((k) => k.kid)
        .sort(),
    });
    expect(at(T0 + 100)).toEqual({ signing: 'k1', published: ['k1', 'k2'] });
    expect(at(T0 + 3699)).toEqual({ signing: 'k1', published: ['k1', 'k2'] });
    expect(at(T0 + 3700)).toEqual({ signing: 'k2', published: ['k1', 'k2'] });
    const unpublish = T0 + 3700 + TTL + CLOCK_SKEW_SECONDS;
    expect(at(unpublish - 1)).toEqual({ signing: 'k2', published: ['k1', 'k2'] });
    expect(at(unpublish)).toEqual({ signing: 'k2', published: ['k2'] });
    expect(phaseAt(keys[0]!, keys, unpublish)).toBe('unpublished');
    expect(keysToDelete(keys, unpublish).map((k) => k.kid)).toEqual(['k1']);
    expect(keysToDelete(keys, unpublish - 1)).toEqual([]);
  });

  it('with propagation 0 the new key signs at once', () => {
    const keys = rotate([key('k1', T0)], 'k2', T0 + 10, 0);
    expect(signingKeyAt(keys, T0 + 10)?.kid).toBe('k2');
    expect(publishedAt(keys, T0 + 10).map((k) => k.kid)).toEqual(['k2', 'k1']);
  });

  it('reports each phase', () => {
    const keys = rotate([key('k1', T0)], 'k2', T0 + 10, 100);
    expect(keys.map((k) => phaseAt(k, keys, T0 + 50))).toEqual(['signing', 'pending']);
    expect(keys.map((k) => phaseAt(k, keys, T0 + 200))).toEqual(['retired', 'signing']);
  });

  it('rejects a negative or fractional propagation period', () => {
    expect(() => planRotation([], T0, { propagationSeconds: -1, accessTokenTtl: TTL })).toThrow(RangeError);
    expect(() => planRotation([], T0, { propagationSeconds: 1.5, accessTokenTtl: TTL })).toThrow(RangeError);
  });
});

describe('key registry: settling', () => {
  it('hands over a cache period later, with no instant without a signing key', () => {
    const keys = rotate([key('k1', T0 - 10_000)], 'k2', T0 + 10, 0);
    expect(signingKeyAt(keys, T0 + 10, 60)?.kid).toBe('k1');
    expect(signingKeyAt(keys, T0 + 69, 60)?.kid).toBe('k1');
    expect(signingKeyAt(keys, T0 + 70, 60)?.kid).toBe('k2');
  });

  it('lets a promoted key sign at once when it has been published for a while', () => {
    let keys = rotate([key('k1', T0)], 'k2', T0 + 1000, 0);
    keys = apply(keys, planRevocation(keys, 'k2', T0 + 2000).updates);
    expect(signingKeyAt(keys, T0 + 2000, 60)?.kid).toBe('k1');
  });
});

describe('key registry: revocation', () => {
  it('revoking the signing key unpublishes it at once and lets the newest other key sign from now', () => {
    let keys = rotate([key('k1', T0)], 'k2', T0 + 10, 0); // k2 signs, k1 retired but published
    const plan = planRevocation(keys, 'k2', T0 + 20);
    expect(plan.needsNewKey).toBe(false);
    keys = apply(keys, plan.updates);
    expect(signingKeyAt(keys, T0 + 20)?.kid).toBe('k1');
    expect(publishedAt(keys, T0 + 20).map((k) => k.kid)).toEqual(['k1']);
    // k1 no longer retires: it is the signing key again.
    expect(publishedAt(keys, T0 + 100_000).map((k) => k.kid)).toEqual(['k1']);
    expect(keysToDelete(keys, T0 + 20).map((k) => k.kid)).toEqual(['k2']);
  });

  it('revoking the only key asks for a new one', () => {
    const plan = planRevocation([key('k1', T0)], 'k1', T0 + 5);
    expect(plan).toMatchObject({
      needsNewKey: true,
      updates: [{ kid: 'k1', state: 'revoked', revokedAt: T0 + 5, unpublishAfter: T0 + 5 }],
    });
  });

  it('revoking a pending key calls its rotation off', () => {
    let keys = rotate([key('k1', T0)], 'k2', T0 + 10, 3600);
    keys = apply(keys, planRevocation(keys, 'k2', T0 + 20).updates);
    expect(signingKeyAt(keys, T0 + 100_000)?.kid).toBe('k1');
    expect(publishedAt(keys, T0 + 100_000).map((k) => k.kid)).toEqual(['k1']);
  });

  it('revoking a retired key changes nothing else', () => {
    let keys = rotate([key('k1', T0)], 'k2', T0 + 10, 0);
    const plan = planRevocation(keys, 'k1', T0 + 20);
    expect(plan.updates).toHaveLength(1);
    keys = apply(keys, plan.updates);
    expect(signingKeyAt(keys, T0 + 20)?.kid).toBe('k2');
  });

  it('refuses unknown and already revoked keys', () => {
    expect(() => planRevocation([key('k1', T0)], 'nope', T0)).toThrow(UnknownKeyError);
    const keys = apply(
      [key('k1', T0), key('k2', T0 + 1)],
      planRevocation([key('k1', T0), key('k2', T0 + 1)], 'k1', T0 + 2).updates,
    );
    expect(() => planRevocation(keys, 'k1', T0 + 3)).toThrow(AlreadyRevokedError);
  });
});
