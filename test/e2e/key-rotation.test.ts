import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../../bin/admin/cli';
import { createSigner } from '../../lambda/handlers/runtime';
import { type LocalStack, localStackState, startLocalStack } from '../../local/stack';
import { LOCAL_CREDENTIALS, writeStackState } from '../../local/state';
import { LogAudit } from '../support/log-audit';
import { FAST_SCRYPT } from '../support/memory';
import { seedStack } from '../support/seed';

/**
 * Key rotation end to end: resource servers verify every access token with jose's remote JWKS while
 * operators rotate (with and without a propagation period) and revoke keys through ropc-admin.
 * The functions re-read the key registry every second here (60 s in production).
 */
let stack: LocalStack;
let stateDir: string;
const audit = new LogAudit();
/** The functions' key cache here, in ms: they re-read the registry every second (60 s in production). */
const KEY_CACHE_MS = 1000;
const SECRET = 'rotation-secret';
const PASSWORD = `rotation password ${randomUUID()}`;

beforeAll(async () => {
  stack = await startLocalStack({
    dynamodbEndpoint: inject('dynamodbEndpoint'),
    tablePrefix: `rot-${randomUUID().slice(0, 8)}`,
    config: { scrypt: FAST_SCRYPT, keyCacheSeconds: KEY_CACHE_MS / 1000 },
    logSink: audit.sink,
  });
  stateDir = await mkdtemp(join(tmpdir(), 'ropc-rotation-'));
  await writeStackState(stateDir, localStackState(stack));
  await seedStack(stack, {
    clients: [{ clientId: 'rs-app', secret: SECRET, grantTypes: ['password'] }],
    users: [{ username: 'rita', password: PASSWORD }],
  });
});

afterAll(async () => {
  audit.secret(SECRET, PASSWORD);
  audit.expectClean();
  await stack?.stop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

async function admin(...argv: string[]): Promise<Record<string, unknown>> {
  return adminAt(stateDir, argv);
}

/** ropc-admin --json against the local stack whose state is in `dir`. */
async function adminAt(dir: string, argv: string[]): Promise<Record<string, unknown>> {
  let out = '';
  let err = '';
  const code = await runCli([...argv, '--json'], {
    stdin: '',
    stdout: (text) => void (out += text),
    stderr: (text) => void (err += text),
    env: { LOCAL_STATE_DIR: dir },
  });
  expect(err).toBe('');
  expect(code).toBe(0);
  return JSON.parse(out) as Record<string, unknown>;
}

async function issue(): Promise<string> {
  return issueAt(stack);
}

async function issueAt(target: LocalStack): Promise<string> {
  const response = await fetch(target.tokenEndpoint, {
    method: 'POST',
    headers: {
      Authorization: `Basic ${Buffer.from(`rs-app:${SECRET}`).toString('base64')}`,
      'Content-Type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'password', username: 'rita', password: PASSWORD }),
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { access_token: string };
  audit.tokens(body);
  return body.access_token;
}

const jwksUrl = () => new URL(`${stack.url}/.well-known/jwks.json`);
const kidOf = (token: string) => decodeProtectedHeader(token).kid as string;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A resource server: verifies each new token at once and every earlier one again, counting failures.
 * `refetchOnUnknownKid: false` models a cache that only refreshes on its own schedule (what the
 * propagation period protects); `true` models one that refetches when it meets an unknown kid.
 */
function resourceServer(options: { refetchOnUnknownKid: boolean }) {
  const jwks = createRemoteJWKSet(jwksUrl(), {
    cacheMaxAge: 1500,
    cooldownDuration: options.refetchOnUnknownKid ? 0 : 600_000,
  });
  const tokens: string[] = [];
  const failures: string[] = [];
  return {
    tokens,
    failures,
    async accept(token: string) {
      tokens.push(token);
      for (const t of tokens) {
        await jwtVerify(t, jwks, { issuer: stack.issuer, typ: 'at+jwt', algorithms: ['RS256'] }).catch((error: Error) =>
          failures.push(`${kidOf(t)}: ${error.message}`),
        );
      }
    },
  };
}

/**
 * How long traffic must run for the functions to sign with a key that signs from `signsFrom`: they hand
 * over a cache period after it, and their view of the registry may be a cache period old; plus a margin
 * for this busy machine. At least `floor` ms.
 */
function untilHandover(signsFrom: string, floor: number): number {
  return Math.max(floor, Date.parse(signsFrom) + 2 * KEY_CACHE_MS + 1500 - Date.now());
}

/** Issues and verifies tokens every 200 ms for `ms`, returning the kids seen in order. */
async function traffic(server: ReturnType<typeof resourceServer>, ms: number): Promise<string[]> {
  const kids: string[] = [];
  for (const end = Date.now() + ms; Date.now() < end; ) {
    const token = await issue();
    kids.push(kidOf(token));
    await server.accept(token);
    await sleep(200);
  }
  return kids;
}

describe('signing-key rotation', () => {
  it('rotates with a propagation period: zero verification failures for a cache that never refetches early', async () => {
    const server = resourceServer({ refetchOnUnknownKid: false });
    const before = await traffic(server, 1000);
    const oldKid = before[0]!;
    expect(new Set(before)).toEqual(new Set([oldKid]));

    const rotated = (await admin('keys', 'rotate', '--propagation', '4s')) as {
      created: { kid: string; phase: string; signs_from: string };
    };
    const newKid = rotated.created.kid;
    expect(rotated.created.phase).toBe('pending');
    const listed = (await admin('keys', 'list')) as { keys: { kid: string; phase: string }[] };
    expect(listed.keys.map((k) => [k.kid, k.phase])).toEqual([
      [newKid, 'pending'],
      [oldKid, 'signing'],
    ]);

    const during = await traffic(server, untilHandover(rotated.created.signs_from, 7000));
    expect(during[0]).toBe(oldKid);
    expect(during.at(-1)).toBe(newKid);
    expect(server.failures).toEqual([]);
    expect(server.tokens.length).toBeGreaterThan(15);

    const after = (await admin('keys', 'list')) as {
      keys: { kid: string; phase: string; unpublish_after: string | null }[];
    };
    expect(after.keys.map((k) => [k.kid, k.phase])).toEqual([
      [newKid, 'signing'],
      [oldKid, 'retired'],
    ]);
    // The retired key stays published until its last token has expired (15 min + 5 min skew).
    const { keys } = (await (await fetch(jwksUrl())).json()) as { keys: { kid: string }[] };
    expect(keys.map((k) => k.kid).sort()).toEqual([newKid, oldKid].sort());
    expect(Date.parse(after.keys[1]!.unpublish_after!) - Date.now()).toBeGreaterThan(19 * 60_000);
  });

  it('rotates at once (propagation 0): zero failures for a verifier that refetches on an unknown kid', async () => {
    const server = resourceServer({ refetchOnUnknownKid: true });
    const before = await traffic(server, 600);
    const rotated = (await admin('keys', 'rotate', '--propagation', '0')) as {
      created: { kid: string; signs_from: string };
    };
    const kids = await traffic(server, untilHandover(rotated.created.signs_from, 3500));
    expect(before.at(-1)).not.toBe(rotated.created.kid);
    expect(kids.at(-1)).toBe(rotated.created.kid);
    expect(server.failures).toEqual([]);
  });

  it('revokes the signing key: its tokens stop verifying, new tokens verify', async () => {
    const server = resourceServer({ refetchOnUnknownKid: true });
    const doomed = await issue();
    const doomedKid = kidOf(doomed);
    await server.accept(doomed);
    expect(server.failures).toEqual([]);

    const revoked = (await admin('keys', 'revoke', doomedKid)) as { revoked: string; created: unknown };
    expect(revoked).toMatchObject({ revoked: doomedKid, created: null });
    await sleep(1500);

    const fresh = createRemoteJWKSet(jwksUrl());
    await expect(jwtVerify(doomed, fresh, { issuer: stack.issuer })).rejects.toThrow();
    const replacement = await issue();
    expect(kidOf(replacement)).not.toBe(doomedKid);
    await jwtVerify(replacement, fresh, { issuer: stack.issuer });
    const { keys } = (await (await fetch(jwksUrl())).json()) as { keys: { kid: string }[] };
    expect(keys.map((k) => k.kid)).not.toContain(doomedKid);
    const listed = (await admin('keys', 'list')) as {
      keys: { kid: string; phase: string; deletion_scheduled_at: string | null }[];
    };
    expect(listed.keys.find((k) => k.kid === doomedKid)).toMatchObject({
      phase: 'revoked',
      deletion_scheduled_at: expect.any(String),
    });
  });

  it('creates a new key when the last one is revoked', async () => {
    const listed = (await admin('keys', 'list')) as { keys: { kid: string; phase: string }[] };
    for (const key of listed.keys.filter((k) => k.phase !== 'revoked')) await admin('keys', 'revoke', key.kid);
    const after = (await admin('keys', 'list')) as {
      keys: { kid: string; phase: string; key_arn: string; deletion_scheduled_at: string | null }[];
    };
    const live = after.keys.filter((k) => k.phase !== 'revoked');
    expect(live.map((k) => k.phase)).toEqual(['signing']);
    // Revoked keys are scheduled for deletion, except the first: it belongs to the deployment.
    const revoked = after.keys.filter((k) => k.phase === 'revoked');
    const first = revoked.at(-1)!;
    expect(first.deletion_scheduled_at).toBeNull();
    expect(revoked.slice(0, -1).every((k) => k.deletion_scheduled_at !== null)).toBe(true);
    await sleep(1200);
    const token = await issue();
    expect(kidOf(token)).toBe(live[0]!.kid);
    await jwtVerify(token, createRemoteJWKSet(jwksUrl()), { issuer: stack.issuer });
  });
});

/**
 * An emergency revocation while the functions' key views are warm: here they keep what they read for 60 s,
 * as in production, so only KMS's refusal of the disabled key can tell them before the next token.
 */
describe('emergency revocation with warm key caches', () => {
  let warm: LocalStack;
  let warmStateDir: string;

  beforeAll(async () => {
    warm = await startLocalStack({
      dynamodbEndpoint: inject('dynamodbEndpoint'),
      tablePrefix: `rev-${randomUUID().slice(0, 8)}`,
      config: { scrypt: FAST_SCRYPT, keyCacheSeconds: 60 },
      logSink: audit.sink,
    });
    warmStateDir = await mkdtemp(join(tmpdir(), 'ropc-revocation-'));
    await writeStackState(warmStateDir, localStackState(warm));
    await seedStack(warm, {
      clients: [{ clientId: 'rs-app', secret: SECRET, grantTypes: ['password'] }],
      users: [{ username: 'rita', password: PASSWORD }],
    });
  });

  afterAll(async () => {
    await warm?.stop();
    if (warmStateDir) await rm(warmStateDir, { recursive: true, force: true });
  });

  it('signs the very next token with the other published key and it verifies against the JWKS', async () => {
    // Two published keys before the functions first read the registry: the first signs, the new one is pending.
    const rotated = (await adminAt(warmStateDir, ['keys', 'rotate'])) as { created: { kid: string; phase: string } };
    expect(rotated.created.phase).toBe('pending');
    const jwks = createRemoteJWKSet(new URL(`${warm.url}/.well-known/jwks.json`));
    const before = await issueAt(warm);
    await jwtVerify(before, jwks, { issuer: warm.issuer, typ: 'at+jwt' });
    const doomed = kidOf(before);
    expect(doomed).not.toBe(rotated.created.kid);

    const revoked = (await adminAt(warmStateDir, ['keys', 'revoke', doomed])) as { revoked: string; created: unknown };
    expect(revoked).toMatchObject({ revoked: doomed, created: null });
    const next = await issueAt(warm);
    expect(kidOf(next)).toBe(rotated.created.kid);
    await jwtVerify(next, jwks, { issuer: warm.issuer, typ: 'at+jwt' });
  });

  it('signs the very next token with the key the revocation creates when it revokes the only key', async () => {
    const listed = (await adminAt(warmStateDir, ['keys', 'list'])) as { keys: { kid: string; phase: string }[] };
    const live = listed.keys.filter((key) => key.phase !== 'revoked');
    expect(live.map((key) => key.phase)).toEqual(['signing']);
    expect(kidOf(await issueAt(warm))).toBe(live[0]!.kid);

    const revoked = (await adminAt(warmStateDir, ['keys', 'revoke', live[0]!.kid])) as { created: { kid: string } };
    expect(revoked.created.kid).not.toBe(live[0]!.kid);
    const next = await issueAt(warm);
    expect(kidOf(next)).toBe(revoked.created.kid);
    // The JWKS function's view is warm too: it publishes the new key within its cache period, a new instance at once.
    const jwksInstance = createSigner(warm.config, { credentials: LOCAL_CREDENTIALS });
    const keys = await jwksInstance.publicJwks();
    expect(keys.map((key) => key.kid)).toEqual([revoked.created.kid]);
    await jwtVerify(next, createLocalJWKSet({ keys }), { issuer: warm.issuer, typ: 'at+jwt' });
  });
});
