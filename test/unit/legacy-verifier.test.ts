import { describe, expect, it } from 'vitest';
import { LEGACY_VERIFIER_TIMEOUT_SECONDS } from '../../contract/settings';
import { LEGACY_VERIFIER_TIMEOUT_MS, LegacyVerifierFault, verdictOf } from '../../lambda/adapters/legacy-verifier';
import { ConfigError, configFromEnv, ENV } from '../../lambda/config';
import { InProcessLegacyVerifier } from '../../local/legacy-verifier';

/** The legacy verifier's contract as the adapters read it, and the local in-process verifier. */
const REQUEST = { username: 'carol', password: 'pw carol', clientId: 'app' };

describe('a legacy verifier answer', () => {
  it.each<[string, unknown, unknown]>([
    ['not verified', { verified: false }, { verified: false }],
    ['not verified, with other fields ignored', { verified: false, sub: 'x' }, { verified: false }],
    ['verified, nothing else', { verified: true }, { verified: true }],
    ['verified with a sub', { verified: true, sub: 'u-1' }, { verified: true, sub: 'u-1' }],
    [
      'verified with scopes (their validity is the grant’s to judge)',
      { verified: true, scopes: ['read', 'not a token'] },
      { verified: true, scopes: ['read', 'not a token'] },
    ],
  ])('reads %s', (_, answer, verdict) => {
    expect(verdictOf(answer)).toEqual(verdict);
  });

  it.each<[string, unknown]>([
    ['null', null],
    ['a string', 'verified'],
    ['an array', [{ verified: true }]],
    ['no verified field', { sub: 'u-1' }],
    ['verified as a string', { verified: 'true' }],
    ['verified as 1', { verified: 1 }],
    ['an empty sub', { verified: true, sub: '' }],
    ['a numeric sub', { verified: true, sub: 42 }],
    ['a sub with a control character', { verified: true, sub: 'u\n1' }],
    ['a sub of 256 characters', { verified: true, sub: 'x'.repeat(256) }],
    ['scopes as a string', { verified: true, scopes: 'read write' }],
    ['scopes with a number', { verified: true, scopes: ['read', 7] }],
  ])('refuses %s as a malformed answer', (_, answer) => {
    expect(() => verdictOf(answer)).toThrow(LegacyVerifierFault);
    expect(() => verdictOf(answer)).toThrow(expect.objectContaining({ name: 'LegacyVerifierMalformedAnswer' }));
  });

  it('waits 5 s for a verdict, whichever adapter asks', () => {
    expect(LEGACY_VERIFIER_TIMEOUT_SECONDS).toBe(5);
    expect(LEGACY_VERIFIER_TIMEOUT_MS).toBe(5_000);
  });
});

describe('the in-process verifier of npm start', () => {
  it('calls the handler with exactly the event, and returns its verdict', async () => {
    const events: unknown[] = [];
    const verifier = new InProcessLegacyVerifier(async (event) => {
      events.push(event);
      return { verified: true, sub: 'legacy-1' };
    });
    await expect(verifier.verify({ ...REQUEST, extra: 'x' } as typeof REQUEST)).resolves.toEqual({
      verified: true,
      sub: 'legacy-1',
    });
    expect(events).toEqual([REQUEST]);
  });

  it('takes a synchronous handler too', async () => {
    await expect(new InProcessLegacyVerifier(() => ({ verified: false })).verify(REQUEST)).resolves.toEqual({
      verified: false,
    });
  });

  it('reads the answer as JSON carries it: what JSON drops is not there', async () => {
    const verifier = new InProcessLegacyVerifier(() => ({ verified: true, sub: undefined, scopes: undefined }));
    await expect(verifier.verify(REQUEST)).resolves.toEqual({ verified: true });
    await expect(new InProcessLegacyVerifier(() => undefined).verify(REQUEST)).rejects.toMatchObject({
      name: 'LegacyVerifierMalformedAnswer',
    });
  });

  it('passes on what the handler throws, synchronously or not', async () => {
    const failure = new Error('directory down');
    await expect(
      new InProcessLegacyVerifier(() => {
        throw failure;
      }).verify(REQUEST),
    ).rejects.toBe(failure);
    await expect(new InProcessLegacyVerifier(async () => Promise.reject(failure)).verify(REQUEST)).rejects.toBe(
      failure,
    );
  });

  it('gives up on a handler that has not answered within its timeout', async () => {
    const verifier = new InProcessLegacyVerifier(() => new Promise(() => undefined), 50);
    await expect(verifier.verify(REQUEST)).rejects.toMatchObject({ name: 'LegacyVerifierTimeout' });
  });
});

describe('LEGACY_VERIFIER_FUNCTION_ARN in the functions’ environment', () => {
  // Every table the configuration names, whichever they are.
  const tables = Object.entries(ENV).filter(([field]) => field.endsWith('Table'));
  const BASE = {
    ISSUER: 'https://auth.example.test',
    SIGNING_KEY_ID: 'alias/k',
    ...Object.fromEntries(tables.map(([field, variable]) => [variable, field])),
  };
  const ARN = 'arn:aws:lambda:eu-west-1:123456789012:function:ldap-verifier';

  it('is read when set, and absent otherwise', () => {
    expect(configFromEnv({ ...BASE, LEGACY_VERIFIER_FUNCTION_ARN: ARN }).legacyVerifierFunctionArn).toBe(ARN);
    expect(configFromEnv(BASE)).not.toHaveProperty('legacyVerifierFunctionArn');
    expect(configFromEnv({ ...BASE, LEGACY_VERIFIER_FUNCTION_ARN: ' ' })).not.toHaveProperty(
      'legacyVerifierFunctionArn',
    );
  });

  it('must be a Lambda function ARN', () => {
    const attempt = () => configFromEnv({ ...BASE, LEGACY_VERIFIER_FUNCTION_ARN: 'ldap-verifier' });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/LEGACY_VERIFIER_FUNCTION_ARN must be a Lambda function ARN .*got "ldap-verifier"/);
  });
});
