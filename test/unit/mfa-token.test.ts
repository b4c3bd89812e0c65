import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  afterWrongCode,
  generateMfaToken,
  issuedTo,
  MFA_TOKEN_MAX_FAILURES,
  MFA_TOKEN_TTL_SECONDS,
  type MfaChallenge,
  mfaChallengeRefusal,
  newMfaChallenge,
  parseMfaToken,
  unexpiredAt,
} from '../../lambda/mfa/mfa-token';
import type { Random } from '../../lambda/mfa/ports';

const random: Random = { bytes: (length) => new Uint8Array(randomBytes(length)) };
const LOGIN = { clientId: 'web-app', userId: 'u-1', username: 'alice', scope: ['read', 'write'], sessionEpoch: 2 };

/** A clock the test moves by hand: epoch milliseconds, as the token endpoint's Clock gives them. */
function testClock(startMs: number) {
  let nowMs = startMs;
  return {
    clock: () => nowMs,
    seconds: () => Math.floor(nowMs / 1000),
    advance: (ms: number) => {
      nowMs += ms;
    },
  };
}

describe('the mfa_token', () => {
  it('is 256 random bits in base64url, and its hash is what a presented token is looked up by', () => {
    const requested: number[] = [];
    const { token, hash } = generateMfaToken({
      bytes: (length) => {
        requested.push(length);
        return new Uint8Array(randomBytes(length));
      },
    });
    expect(requested).toEqual([32]);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    expect(hash).toBe(createHash('sha256').update(token).digest('base64url'));
    expect(hash).not.toBe(token);
    expect(parseMfaToken(token)).toBe(hash);
    expect(generateMfaToken(random).token).not.toBe(token);
  });

  it.each([
    ['empty', ''],
    ['one character short', 'a'.repeat(42)],
    ['one character long', 'a'.repeat(44)],
    ['padded base64', `${'a'.repeat(42)}=`],
    ['standard base64', `${'a'.repeat(42)}+`],
    ['a refresh token', `${'a'.repeat(22)}.${'b'.repeat(43)}`],
  ])('is not looked up when %s', (_, presented) => {
    expect(parseMfaToken(presented)).toBeUndefined();
  });

  it('refuses a random source that gives the wrong length', () => {
    expect(() => generateMfaToken({ bytes: () => new Uint8Array(16) })).toThrow();
  });
});

describe('the stored challenge', () => {
  it('records who, which client and what the password step granted, with no failures, for five minutes', () => {
    const time = testClock(Date.UTC(2026, 11, 2, 1, 0, 0, 250));
    const challenge = newMfaChallenge('hash', LOGIN, time.seconds());
    expect(challenge).toEqual({
      tokenHash: 'hash',
      clientId: 'web-app',
      userId: 'u-1',
      username: 'alice',
      scope: ['read', 'write'],
      sessionEpoch: 2,
      issuedAt: time.seconds(),
      expiresAt: time.seconds() + 300,
      failures: 0,
    });
    expect(MFA_TOKEN_TTL_SECONDS).toBe(300);
    const { sessionEpoch: _, ...withoutEpoch } = LOGIN;
    expect(newMfaChallenge('hash', withoutEpoch, 0)).not.toHaveProperty('sessionEpoch');
  });

  it('is usable until the fifth minute ends and not at that instant', () => {
    const time = testClock(Date.UTC(2026, 11, 2, 1, 0, 0));
    const challenge = newMfaChallenge('hash', LOGIN, time.seconds());
    expect(mfaChallengeRefusal(challenge, 'web-app', time.seconds())).toBeUndefined();
    time.advance(299_999);
    expect(unexpiredAt(challenge, time.seconds())).toBe(true);
    expect(mfaChallengeRefusal(challenge, 'web-app', time.seconds())).toBeUndefined();
    time.advance(1);
    expect(unexpiredAt(challenge, time.seconds())).toBe(false);
    expect(mfaChallengeRefusal(challenge, 'web-app', time.seconds())).toBe('expired');
    // Still stored days later (TTL deletes late): still refused.
    time.advance(3 * 86_400_000);
    expect(mfaChallengeRefusal(challenge, 'web-app', time.seconds())).toBe('expired');
  });

  it('is bound to the client it was issued to', () => {
    const challenge = newMfaChallenge('hash', LOGIN, 1000);
    expect(issuedTo(challenge, 'web-app')).toBe(true);
    expect(issuedTo(challenge, 'other-app')).toBe(false);
    expect(issuedTo(challenge, 'WEB-APP')).toBe(false);
    expect(mfaChallengeRefusal(challenge, 'other-app', 1000)).toBe('other_client');
  });

  it('is refused when there is none', () => {
    expect(mfaChallengeRefusal(undefined, 'web-app', 1000)).toBe('unknown');
  });

  it('survives four wrong codes and dies at the fifth', () => {
    let challenge: MfaChallenge = newMfaChallenge('hash', LOGIN, 1000);
    expect(MFA_TOKEN_MAX_FAILURES).toBe(5);
    for (let failure = 1; failure <= 4; failure += 1) {
      const { next, dead } = afterWrongCode(challenge);
      expect(next.failures).toBe(failure);
      expect(dead).toBe(false);
      expect(mfaChallengeRefusal(next, 'web-app', 1001)).toBeUndefined();
      challenge = next;
    }
    const fifth = afterWrongCode(challenge);
    expect(fifth).toEqual({ next: { ...challenge, failures: 5 }, dead: true });
    expect(mfaChallengeRefusal(fifth.next, 'web-app', 1001)).toBe('exhausted');
    // The record read is left as it was: the caller's conditional write names the count it read.
    expect(challenge.failures).toBe(4);
  });

  it('says why in a fixed order: unknown, another client, expired, exhausted', () => {
    const dead: MfaChallenge = { ...newMfaChallenge('hash', LOGIN, 1000), failures: 5 };
    expect(mfaChallengeRefusal(dead, 'other-app', 2000)).toBe('other_client');
    expect(mfaChallengeRefusal(dead, 'web-app', 2000)).toBe('expired');
    expect(mfaChallengeRefusal(dead, 'web-app', 1001)).toBe('exhausted');
  });
});
