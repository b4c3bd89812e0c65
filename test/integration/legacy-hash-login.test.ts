import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUser } from '../../lambda/accounts';
import { DynamoUserStore } from '../../lambda/adapters/user-store';
import type { ServiceConfig } from '../../lambda/config';
import { createTokenEndpointDeps } from '../../lambda/handlers/runtime';
import { handleTokenRequest } from '../../lambda/oauth/token-endpoint';
import { hashProblem, needsRehash, verifyPassword } from '../../lambda/passwords';
import type { KmsEmulator } from '../../local/kms-emulator';
import { LOCAL_CREDENTIALS } from '../../local/state';
import { documentClient, emulatedServices } from '../support/aws';
import { basic, FAST_SCRYPT, tokenRequest } from '../support/memory';
import { seed } from '../support/seed';

/**
 * Users imported with a legacy hash (made by the reference implementations: test/fixtures/legacy-hashes/)
 * log in through the token endpoint, with the token function's own DynamoDB client on DynamoDB Local: the
 * right password gets a token and moves the stored hash to scrypt at the configured parameters; a wrong
 * one is the usual invalid_grant and leaves the stored hash alone.
 */
interface Fixture {
  readonly kind: string;
  readonly password: string;
  readonly hash: string;
  readonly wrong: string;
}

const FIXTURES: Fixture[] = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', 'fixtures', 'legacy-hashes', 'hashes.json'), 'utf8'),
).verifiable;

/** One user per kind, with a non-ASCII password where the fixtures have one. */
const USERS = [...new Set(FIXTURES.map((fixture) => fixture.kind))].map((kind, index) => {
  const ofKind = FIXTURES.filter((fixture) => fixture.kind === kind && !fixture.hash.includes('$10$'));
  const fixture = ofKind.find((candidate) => /[^\x20-\x7e]/.test(candidate.password)) ?? ofKind[0]!;
  return { username: `legacy-${kind}`, ip: `198.51.100.${index + 1}`, ...fixture };
});

let kms: KmsEmulator;
let config: ServiceConfig;

beforeAll(async () => {
  ({ kms, config } = await emulatedServices('alias/ropc-token-service/legacy-hash-test'));
  const db = documentClient(config.dynamodbEndpoint!);
  try {
    await seed(db, config.tables, { clients: [{ clientId: 'app', secret: 'app-secret' }] });
    const users = new DynamoUserStore(db, config.tables.users);
    for (const user of USERS) {
      // As an import stores them: checked by hashProblem, then written as given.
      expect(hashProblem(user.hash)).toBeUndefined();
      await registerUser(
        { users, clock: Date.now, random: { uuid: randomUUID } },
        { username: user.username, passwordHash: user.hash, scopes: ['read'] },
      );
    }
  } finally {
    db.destroy();
  }
});

afterAll(async () => {
  await kms?.stop();
});

describe('a user imported with a legacy hash', () => {
  it('covers every legacy kind', () => {
    expect(USERS.map((user) => user.kind).sort()).toEqual(
      [
        'argon2d',
        'argon2i',
        'argon2id',
        'bcrypt',
        'django-pbkdf2-sha1',
        'django-pbkdf2-sha256',
        'ldap-ssha',
        'ldap-ssha256',
        'ldap-ssha512',
        'pbkdf2-sha1',
        'pbkdf2-sha256',
        'pbkdf2-sha512',
      ].sort(),
    );
  });

  it.each(USERS.map((user) => [user.kind, user] as const))(
    '%s: a wrong password is invalid_grant and keeps the hash; the right one gets a token and rehashes to scrypt',
    async (_kind, user) => {
      const lines: string[] = [];
      const deps = createTokenEndpointDeps(config, {
        logSink: (line) => lines.push(line),
        credentials: LOCAL_CREDENTIALS,
      });
      const db = documentClient(config.dynamodbEndpoint!);
      const users = new DynamoUserStore(db, config.tables.users);
      const login = (password: string) =>
        handleTokenRequest(
          tokenRequest(
            { grant_type: 'password', username: user.username, password },
            { authorization: basic('app', 'app-secret'), sourceIp: user.ip },
          ),
          deps,
        );
      try {
        const wrong = await login(user.wrong);
        expect(wrong.status).toBe(400);
        expect(JSON.parse(wrong.body)).toEqual({ error: 'invalid_grant', error_description: expect.any(String) });
        expect((await users.getUser(user.username))?.passwordHash).toBe(user.hash);

        const right = await login(user.password);
        expect(right.status).toBe(200);
        const token = JSON.parse(right.body);
        expect(token).toMatchObject({ token_type: 'Bearer', scope: 'read' });
        expect(token.access_token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);

        await expect.poll(async () => (await users.getUser(user.username))?.passwordHash).toMatch(/^\$scrypt\$/);
        const after = (await users.getUser(user.username))!;
        expect(needsRehash(after.passwordHash, FAST_SCRYPT)).toBe(false);
        expect(await verifyPassword(user.password, after.passwordHash)).toBe(true);
        expect(lines.map((line) => JSON.parse(line).event)).toContain('password_rehashed');
        // Nothing logged carries the password or either hash.
        for (const line of lines) {
          for (const secret of [user.password, user.hash, after.passwordHash]) expect(line).not.toContain(secret);
        }

        // The scrypt hash now answers the same password.
        expect((await login(user.password)).status).toBe(200);
      } finally {
        db.destroy();
      }
    },
  );
});
