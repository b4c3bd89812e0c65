import { describe, expect, it } from 'vitest';
import { signAccessToken } from '../../lambda/tokens/access-token';
import { type SigningKey, SigningKeyWithdrawnError } from '../../lambda/tokens/ports';

const CLAIMS = {
  iss: 'https://auth.example.test',
  sub: 'user-1',
  aud: 'api',
  exp: 1_800_000_900,
  iat: 1_800_000_000,
  jti: 'jti-1',
  client_id: 'app',
  scope: 'read',
};

/** A key that "signs" by prefixing its kid, and records what it was asked to sign. */
function fakeKey(kid: string, signed: string[], refusal?: () => Error): SigningKey {
  return {
    kid,
    alg: 'RS256',
    sign: async (data) => {
      signed.push(Buffer.from(data).toString('ascii'));
      if (refusal !== undefined) throw refusal();
      return Buffer.from(`signature by ${kid}`);
    },
  };
}

const headerOf = (input: string) => JSON.parse(Buffer.from(input.split('.')[0]!, 'base64url').toString('utf8'));

describe('signAccessToken', () => {
  it('signs again with the replacement of a withdrawn key, the header naming the replacement', async () => {
    const signed: string[] = [];
    const replacement = fakeKey('B', signed);
    const withdrawn = fakeKey('A', signed, () => new SigningKeyWithdrawnError(replacement));

    const token = await signAccessToken(CLAIMS, withdrawn);
    const [header, payload, signature] = token.split('.');
    expect(headerOf(token)).toEqual({ alg: 'RS256', typ: 'at+jwt', kid: 'B' });
    expect(JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8'))).toEqual(CLAIMS);
    expect(Buffer.from(signature!, 'base64url').toString()).toBe('signature by B');
    expect(signed.map((input) => headerOf(input).kid)).toEqual(['A', 'B']);
    expect(signed[1]).toBe(`${header}.${payload}`);
  });

  it('tries the replacement once: a second refusal is passed on', async () => {
    const signed: string[] = [];
    const third = fakeKey('C', signed);
    const replacement = fakeKey('B', signed, () => new SigningKeyWithdrawnError(third));
    const withdrawn = fakeKey('A', signed, () => new SigningKeyWithdrawnError(replacement));

    await expect(signAccessToken(CLAIMS, withdrawn)).rejects.toBeInstanceOf(SigningKeyWithdrawnError);
    expect(signed.map((input) => headerOf(input).kid)).toEqual(['A', 'B']);
  });

  it('passes any other signing failure on without a retry', async () => {
    const signed: string[] = [];
    const failing = fakeKey('A', signed, () => new Error('KMS unavailable'));
    await expect(signAccessToken(CLAIMS, failing)).rejects.toThrow('KMS unavailable');
    expect(signed).toHaveLength(1);
  });
});
