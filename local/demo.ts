import { randomBytes, randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createDocumentClient } from '../lambda/adapters/aws-clients';
import { DynamoClientStore } from '../lambda/adapters/client-store';
import { DynamoUserStore } from '../lambda/adapters/user-store';
import { generateClientSecret, hashClientSecret } from '../lambda/oauth/client-secret';
import { hashPassword } from '../lambda/passwords';
import type { LocalStack } from './stack';
import { LOCAL_CREDENTIALS } from './state';

export interface DemoAccount {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly username: string;
  readonly password: string;
}

const DEMO_FILE = 'demo.json';

/**
 * A demo client and user for the local stack, created once and kept in the state dir (local
 * development only: the one place a secret is kept in clear, so it can be printed at every start).
 */
export async function ensureDemoAccount(stack: LocalStack, stateDir: string): Promise<DemoAccount> {
  const db = createDocumentClient({ region: stack.region, dynamodbEndpoint: stack.dynamodbEndpoint, credentials: LOCAL_CREDENTIALS });
  const clients = new DynamoClientStore(db, stack.tables.clients);
  const users = new DynamoUserStore(db, stack.tables.users);
  try {
    const saved = await readDemo(stateDir);
    const account: DemoAccount = saved ?? {
      clientId: 'demo-client',
      clientSecret: generateClientSecret(),
      username: 'demo',
      password: randomBytes(12).toString('base64url'),
    };
    const now = new Date().toISOString();
    if (saved === undefined || (await clients.getClient(account.clientId)) === undefined) {
      await clients.deleteClient(account.clientId);
      await clients.createClient({
        clientId: account.clientId,
        secretHash: hashClientSecret(account.clientSecret),
        isPublic: false,
        scopes: ['read', 'write'],
        grantTypes: ['password', 'refresh_token'],
        disabled: false,
        createdAt: now,
      });
    }
    if (saved === undefined || (await users.getUser(account.username)) === undefined) {
      await users.deleteUser(account.username);
      await users.createUser({
        username: account.username,
        userId: randomUUID(),
        passwordHash: await hashPassword(account.password, stack.config.scrypt),
        scopes: ['read', 'write'],
        disabled: false,
        createdAt: now,
        passwordChangedAt: now,
      });
    }
    if (saved === undefined) await writeFile(join(stateDir, DEMO_FILE), JSON.stringify(account, null, 2) + '\n', { mode: 0o600 });
    return account;
  } finally {
    db.destroy();
  }
}

async function readDemo(stateDir: string): Promise<DemoAccount | undefined> {
  try {
    return JSON.parse(await readFile(join(stateDir, DEMO_FILE), 'utf8')) as DemoAccount;
  } catch {
    return undefined;
  }
}
