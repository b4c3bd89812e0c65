import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoUserStore } from '../../lambda/adapters/user-store';
import type { ServiceConfig } from '../../lambda/config';
import { createTokenEndpointDeps } from '../../lambda/handlers/runtime';
import { handleTokenRequest } from '../../lambda/oauth/token-endpoint';
import type { KmsEmulator } from '../../local/kms-emulator';
import { LOCAL_CREDENTIALS } from '../../local/state';
import { documentClient, emulatedServices } from '../support/aws';
import { basic, FAST_SCRYPT, tokenRequest } from '../support/memory';
import { seed } from '../support/seed';

/**
 * The login's rehash through the token function's own DynamoDB client (the one its role authorizes): a
 * hash stored with other scrypt parameters is replaced, in one conditional update of the hash alone, which
 * the authorization proof (test/iam/) evaluates against the role's attribute-limited grant.
 */
let kms: KmsEmulator;
let config: ServiceConfig;

beforeAll(async () => {
  ({ kms, config } = await emulatedServices('alias/ropc-token-service/rehash-test'));
  const db = documentClient(config.dynamodbEndpoint!);
  await seed(db, config.tables, {
    clients: [{ clientId: 'app', secret: 'app-secret' }],
    users: [{ username: 'old-hash', password: 'pw-old-hash', scrypt: { ...FAST_SCRYPT, N: FAST_SCRYPT.N * 2 } }],
  });
  db.destroy();
});

afterAll(async () => {
  await kms?.stop();
});

describe('the password grant rehashes an outdated hash', () => {
  it('replaces the hash alone, with the parameters of the configuration, and the login succeeds', async () => {
    const lines: string[] = [];
    const deps = createTokenEndpointDeps(config, {
      logSink: (line) => lines.push(line),
      credentials: LOCAL_CREDENTIALS,
    });
    const db = documentClient(config.dynamodbEndpoint!);
    const users = new DynamoUserStore(db, config.tables.users);
    try {
      const before = await users.getUser('old-hash');
      const response = await handleTokenRequest(
        tokenRequest(
          { grant_type: 'password', username: 'old-hash', password: 'pw-old-hash' },
          { authorization: basic('app', 'app-secret') },
        ),
        deps,
      );
      expect(response.status).toBe(200);
      await expect.poll(async () => (await users.getUser('old-hash'))?.passwordHash).not.toBe(before!.passwordHash);
      const after = (await users.getUser('old-hash'))!;
      expect(after.passwordHash).toContain(`ln=${Math.log2(FAST_SCRYPT.N)}`);
      // Nothing else of the user changed.
      const { passwordHash: _before, ...rest } = before!;
      const { passwordHash: _after, ...restAfter } = after;
      expect(restAfter).toEqual(rest);
      expect(lines.map((line) => JSON.parse(line).event)).toContain('password_rehashed');
    } finally {
      db.destroy();
    }
  });
});
