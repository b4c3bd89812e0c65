import * as OTPAuth from 'otpauth';
import { beforeEach, describe, expect, it } from 'vitest';
import { base32Encode } from '../../lambda/mfa/base32';
import { hashMfaToken } from '../../lambda/mfa/mfa-token';
import { generateRecoveryCodes } from '../../lambda/mfa/recovery-codes';
import { DependencyUnavailableError } from '../../lambda/oauth/errors';
import { SUPPORTED_GRANT_TYPES } from '../../lambda/oauth/grants';
import type { TokenEndpointDeps } from '../../lambda/oauth/grants/grant';
import type { HttpResponse } from '../../lambda/oauth/http';
import { attemptSubject, DEFAULT_LOCKOUT_POLICY, normalizeIp } from '../../lambda/oauth/lockout';
import { handleTokenRequest } from '../../lambda/oauth/token-endpoint';
import {
  basic,
  CONFIDENTIAL_SECRET,
  type MemoryDeps,
  MemoryMfaChallengeStore,
  MemoryTotpSecretKey,
  memoryDeps,
  seed,
  tokenRequest,
} from '../support/memory';

const OTP = 'http://auth0.com/oauth/grant-type/mfa-otp';
const RECOVERY = 'http://auth0.com/oauth/grant-type/mfa-recovery-code';
const IP = '198.51.100.1';
const SECRET = Uint8Array.from({ length: 20 }, (_, index) => index * 7 + 3);
const WRONG_PASSWORD_BODY = '{"error":"invalid_grant","error_description":"invalid username or password"}';

let memory: MemoryDeps;
let deps: TokenEndpointDeps;
let challenges: MemoryMfaChallengeStore;
let recoveryCodes: readonly string[];

beforeEach(async () => {
  memory = memoryDeps();
  await seed(memory);
  challenges = new MemoryMfaChallengeStore(memory.users);
  const secrets = new MemoryTotpSecretKey();
  // The pair backoff would refuse the later codes of the attempt-limit tests before they reach the token.
  deps = {
    ...memory,
    lockoutPolicy: { ...DEFAULT_LOCKOUT_POLICY, pairThreshold: 100 },
    secondFactor: { challenges, secrets },
  };
  // Enrolled as `users mfa enroll` stores it: the ciphertext bound to the user id, codes as hashes.
  const alice = memory.users.users.get('alice')!;
  const codes = generateRecoveryCodes(memory.random, alice.userId);
  recoveryCodes = codes.codes;
  memory.users.users.set('alice', {
    ...alice,
    sessionEpoch: (alice.sessionEpoch ?? 0) + 1,
    mfa: {
      secretCiphertext: secrets.encrypt(alice.userId, SECRET),
      enrolledAt: '2026-11-28T11:00:00.000Z',
      recoveryCodeHashes: [...codes.hashes],
    },
  });
});

/** The code the user's authenticator shows `offsetSteps` steps from the injected clock (otpauth, not ours). */
function code(offsetSteps = 0): string {
  const totp = new OTPAuth.TOTP({
    secret: OTPAuth.Secret.fromBase32(base32Encode(SECRET)),
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
  });
  return totp.generate({ timestamp: memory.clock() + offsetSteps * 30_000 });
}

function post(params: Record<string, string>, clientId = 'mobile', ip = IP): Promise<HttpResponse> {
  const auth = clientId === 'app' ? { authorization: basic('app', CONFIDENTIAL_SECRET) } : {};
  return handleTokenRequest(
    tokenRequest(clientId === 'app' ? params : { ...params, client_id: clientId }, { ...auth, sourceIp: ip }),
    deps,
  );
}

const json = (response: HttpResponse) => JSON.parse(response.body as string) as Record<string, string>;

async function passwordStep(clientId = 'mobile', password = 'correct horse'): Promise<HttpResponse> {
  return post({ grant_type: 'password', username: 'alice', password, scope: 'read' }, clientId);
}

async function mfaToken(clientId = 'mobile'): Promise<string> {
  const response = await passwordStep(clientId);
  expect(response.status).toBe(403);
  return json(response).mfa_token!;
}

const otp = (token: string, value: string, clientId = 'mobile', ip = IP) =>
  post({ grant_type: OTP, mfa_token: token, otp: value }, clientId, ip);
const recovery = (token: string, value: string, clientId = 'mobile', ip = IP) =>
  post({ grant_type: RECOVERY, mfa_token: token, recovery_code: value }, clientId, ip);

/** mfa_tokens one after the other (concurrent password steps of one pair would refuse each other). */
async function mfaTokens(count: number): Promise<string[]> {
  const tokens: string[] = [];
  for (let index = 0; index < count; index++) tokens.push(await mfaToken());
  return tokens;
}

/** Distinct source addresses: the lockout's pair reservation would otherwise let only one through anyway. */
const ipOf = (index: number) => `198.51.100.${10 + index}`;

function lastFailure(): Record<string, unknown> | undefined {
  return memory.logger.entries.filter((entry) => entry.event === 'mfa_failed').at(-1)?.fields;
}

describe('the password step of an enrolled user', () => {
  it('answers the right password with 403 mfa_required and an mfa_token, no-store, and issues nothing', async () => {
    const response = await passwordStep();
    expect(response.status).toBe(403);
    const body = json(response);
    expect(Object.keys(body)).toEqual(['error', 'error_description', 'mfa_token']);
    expect(body.error).toBe('mfa_required');
    expect(body.mfa_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(response.headers['Cache-Control']).toBe('no-store');
    expect(response.headers.Pragma).toBe('no-cache');
    expect(memory.refreshTokens.families.size).toBe(0);
    // Stored under the token's hash, never the token; bound to the client, the user and the scope granted.
    expect(challenges.challenges.get(body.mfa_token!)).toBeUndefined();
    expect(challenges.challenges.get(hashMfaToken(body.mfa_token!))).toMatchObject({
      clientId: 'mobile',
      userId: 'u-alice',
      scope: ['read'],
      failures: 0,
    });
    expect(memory.logger.entries.map((entry) => entry.event)).toContain('mfa_required');
    expect(JSON.stringify(memory.logger.entries)).not.toContain(body.mfa_token);
  });

  it('answers a wrong password exactly as for a user without MFA', async () => {
    const enrolled = await passwordStep('mobile', 'wrong');
    memory.users.users.set('carol', { ...memory.users.users.get('bob')!, username: 'carol', disabled: false });
    const plain = await post({ grant_type: 'password', username: 'carol', password: 'wrong', scope: 'read' });
    expect(enrolled.status).toBe(400);
    expect(enrolled.body).toBe(WRONG_PASSWORD_BODY);
    expect(enrolled).toEqual(plain);
    expect(challenges.challenges.size).toBe(0);
  });

  it('gives the hour and day counters back but keeps the streak and does not mark the address known', async () => {
    await mfaToken();
    const counters = await memory.loginAttempts.read(attemptSubject('alice', normalizeIp(IP)), memory.clock() / 1000);
    expect(counters).toMatchObject({ pairFailures: 1, userFailuresThisHour: 0, ipFailuresToday: 0 });
    expect(counters.knownAddressUntil).toBeUndefined();
  });

  it('lets a browser app at an origin the client lists read the 403, as any other answer', async () => {
    const mobile = memory.clients.clients.get('mobile')!;
    memory.clients.clients.set('mobile', { ...mobile, allowedOrigins: ['https://app.example.test'] });
    const params = { grant_type: 'password', username: 'alice', password: 'correct horse', client_id: 'mobile' };
    const listed = await handleTokenRequest(
      tokenRequest(params, { sourceIp: IP, headers: { origin: 'https://app.example.test' } }),
      deps,
    );
    expect(listed.status).toBe(403);
    expect(listed.headers['Access-Control-Allow-Origin']).toBe('https://app.example.test');
    const other = await handleTokenRequest(
      tokenRequest(params, { sourceIp: '198.51.100.99', headers: { origin: 'https://evil.example.test' } }),
      deps,
    );
    expect(other.status).toBe(403);
    expect(other.headers['Access-Control-Allow-Origin']).toBeUndefined();
  });

  it('lists both second-factor grants in grant_types_supported', () => {
    expect(SUPPORTED_GRANT_TYPES).toEqual(expect.arrayContaining([OTP, RECOVERY, 'password', 'refresh_token']));
  });
});

describe('grant_type mfa-otp', () => {
  it('issues the token response for the current code, with the scope of the password step', async () => {
    const token = await mfaToken();
    const response = await otp(token, code());
    expect(response.status).toBe(200);
    const body = json(response);
    expect(body).toMatchObject({ token_type: 'Bearer', scope: 'read' });
    expect(body.access_token).toBeTypeOf('string');
    expect(body.refresh_token).toBeTypeOf('string');
    expect(challenges.challenges.size).toBe(0);
    expect(memory.logger.entries.map((entry) => entry.event)).toContain('mfa_succeeded');
    // The success ends the streak and marks the address as the user's.
    const counters = await memory.loginAttempts.read(attemptSubject('alice', normalizeIp(IP)), memory.clock() / 1000);
    expect(counters.pairFailures).toBe(0);
    expect(counters.knownAddressUntil).toBeDefined();
  });

  it('answers 503 when KMS cannot decrypt the secret, and gives the attempt back on every counter', async () => {
    const token = await mfaToken();
    const subject = attemptSubject('alice', normalizeIp(IP));
    const before = await memory.loginAttempts.read(subject, memory.clock() / 1000);
    const secrets = deps.secondFactor!.secrets;
    deps = {
      ...deps,
      secondFactor: {
        challenges,
        secrets: { decrypt: () => Promise.reject(new DependencyUnavailableError('kms')) },
      },
    };
    const response = await otp(token, code());
    expect(response.status).toBe(503);
    expect(response.headers['Retry-After']).toBeDefined();
    // No code was judged: not a failure, and no success either (the streak as it was, no address marked).
    expect(await memory.loginAttempts.read(subject, memory.clock() / 1000)).toEqual(before);
    deps = { ...deps, secondFactor: { challenges, secrets } };
    expect((await otp(token, code())).status).toBe(200);
  });

  it('issues no refresh token to a client without the refresh_token grant', async () => {
    const token = await mfaToken('no-refresh');
    const body = json(await otp(token, code(), 'no-refresh'));
    expect(body.access_token).toBeTypeOf('string');
    expect(body.refresh_token).toBeUndefined();
  });

  it('accepts one step of drift either way, not two', async () => {
    expect((await otp(await mfaToken(), code(-2))).status).toBe(400);
    expect(lastFailure()).toMatchObject({ reason: 'mismatch' });
    expect((await otp(await mfaToken(), code(-1))).status).toBe(200);
    memory.advance(90);
    expect((await otp(await mfaToken(), code(1))).status).toBe(200);
    expect((await otp(await mfaToken(), code(2))).status).toBe(400);
  });

  it('refuses a code accepted once, with a new mfa_token too, and an older one (replay)', async () => {
    const value = code();
    expect((await otp(await mfaToken(), value)).status).toBe(200);
    const replayed = await otp(await mfaToken(), value);
    expect(replayed.status).toBe(400);
    expect(json(replayed).error).toBe('invalid_grant');
    expect(lastFailure()).toMatchObject({ reason: 'replayed' });
    expect((await otp(await mfaToken(), code(-1))).status).toBe(400);
    memory.advance(30);
    expect((await otp(await mfaToken(), code())).status).toBe(200);
  });

  it('kills the mfa_token at the fifth wrong code: the right code is refused after it', async () => {
    const token = await mfaToken();
    const wrong = code() === '000000' ? '111111' : '000000';
    for (let attempt = 0; attempt < 5; attempt++) expect((await otp(token, wrong)).status).toBe(400);
    expect(lastFailure()).toMatchObject({ reason: 'mismatch', mfaTokenSpent: true });
    const after = await otp(token, code());
    expect(after.status).toBe(400);
    expect(lastFailure()).toMatchObject({ reason: 'exhausted' });
    // A new password step gives a new token that works.
    expect((await otp(await mfaToken(), code())).status).toBe(200);
  });

  it('counts wrong codes on the lockout counters, as wrong passwords', async () => {
    const token = await mfaToken();
    for (let attempt = 0; attempt < 3; attempt++) await otp(token, 'abcdef');
    const counters = await memory.loginAttempts.read(attemptSubject('alice', normalizeIp(IP)), memory.clock() / 1000);
    expect(counters).toMatchObject({ pairFailures: 4, userFailuresThisHour: 3, ipFailuresToday: 3 });
  });

  it('refuses an expired mfa_token (five minutes), whatever TTL has not deleted yet', async () => {
    const token = await mfaToken();
    memory.advance(300);
    expect((await otp(token, code())).status).toBe(400);
    expect(lastFailure()).toMatchObject({ reason: 'expired' });
  });

  it('refuses the mfa_token to another client, and counts nothing against it', async () => {
    const token = await mfaToken('mobile');
    const foreign = await otp(token, code(), 'app');
    expect(foreign.status).toBe(400);
    expect(json(foreign).error).toBe('invalid_grant');
    expect(lastFailure()).toMatchObject({ reason: 'other_client' });
    expect(challenges.challenges.get(hashMfaToken(token))?.failures).toBe(0);
    expect((await otp(token, code(), 'mobile')).status).toBe(200);
  });

  it('refuses unknown and malformed mfa_tokens with invalid_grant, and requires both parameters', async () => {
    expect(json(await otp('x'.repeat(43), code())).error).toBe('invalid_grant');
    expect(json(await otp('not a token', code())).error).toBe('invalid_grant');
    const missing = await post({ grant_type: OTP, mfa_token: await mfaToken() });
    expect(missing.status).toBe(400);
    expect(json(missing)).toEqual({ error: 'invalid_request', error_description: 'mfa_token and otp are required' });
  });

  it('is refused to a client not registered for the password grant', async () => {
    const response = await otp(await mfaToken(), code(), 'refresh-only');
    expect(json(response).error).toBe('unauthorized_client');
  });

  it('refuses a second step once the user’s sessions ended after the password step', async () => {
    const token = await mfaToken();
    const alice = memory.users.users.get('alice')!;
    memory.users.users.set('alice', { ...alice, sessionEpoch: (alice.sessionEpoch ?? 0) + 1 });
    expect((await otp(token, code())).status).toBe(400);
    expect(lastFailure()).toMatchObject({ reason: 'session_ended' });
  });

  it('gives one token response for parallel uses of one right code', async () => {
    const tokens = await mfaTokens(5);
    const value = code();
    const responses = await Promise.all(tokens.map((token, index) => otp(token, value, 'mobile', ipOf(index))));
    expect(responses.map((response) => response.status).sort()).toEqual([200, 400, 400, 400, 400]);
  });
});

describe('grant_type mfa-recovery-code', () => {
  it('issues tokens for an unused code once, typed loosely, and refuses it the second time', async () => {
    const typed = recoveryCodes[0]!.toLowerCase().replaceAll('-', ' ');
    const first = await recovery(await mfaToken(), typed);
    expect(first.status).toBe(200);
    expect(json(first).access_token).toBeTypeOf('string');
    expect(memory.users.users.get('alice')?.mfa?.recoveryCodeHashes).toHaveLength(9);
    expect(memory.logger.entries.find((entry) => entry.event === 'recovery_code_used')?.fields).toMatchObject({
      recoveryCodesLeft: 9,
    });
    const second = await recovery(await mfaToken(), recoveryCodes[0]!);
    expect(second.status).toBe(400);
    expect(json(second).error).toBe('invalid_grant');
    expect(lastFailure()).toMatchObject({ reason: 'wrong_recovery_code' });
    expect((await recovery(await mfaToken(), recoveryCodes[1]!)).status).toBe(200);
    const logged = JSON.stringify(memory.logger.entries);
    for (const value of recoveryCodes) expect(logged).not.toContain(value);
  });

  it('gives one token response for parallel uses of one recovery code', async () => {
    const tokens = await mfaTokens(4);
    const responses = await Promise.all(
      tokens.map((token, index) => recovery(token, recoveryCodes[2]!, 'mobile', ipOf(index))),
    );
    expect(responses.map((response) => response.status).sort()).toEqual([200, 400, 400, 400]);
    expect(memory.users.users.get('alice')?.mfa?.recoveryCodeHashes).toHaveLength(9);
  });

  it('gives one token response for parallel uses of one mfa_token with different codes', async () => {
    const token = await mfaToken();
    const responses = await Promise.all([
      recovery(token, recoveryCodes[3]!, 'mobile', ipOf(0)),
      recovery(token, recoveryCodes[4]!, 'mobile', ipOf(1)),
      otp(token, code(), 'mobile', ipOf(2)),
    ]);
    expect(responses.filter((response) => response.status === 200)).toHaveLength(1);
  });
});
