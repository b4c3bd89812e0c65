import { randomBytes, randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  deleteClient,
  deleteUser,
  registerClient,
  registerUser,
  UnknownClientError,
  UnknownUserError,
} from '../lambda/accounts';
import { createDocumentClient } from '../lambda/adapters/aws-clients';
import { DynamoClientStore } from '../lambda/adapters/client-store';
import { DynamoUserRefreshTokens } from '../lambda/adapters/user-refresh-tokens';
import { DynamoUserStore } from '../lambda/adapters/user-store';
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
 * Registered through the account services (lambda/accounts), as an operator would.
 */
export async function ensureDemoAccount(stack: LocalStack, stateDir: string): Promise<DemoAccount> {
  const db = createDocumentClient({
    region: stack.region,
    dynamodbEndpoint: stack.dynamodbEndpoint,
    credentials: LOCAL_CREDENTIALS,
  });
  const ports = {
    clients: new DynamoClientStore(db, stack.tables.clients),
    users: new DynamoUserStore(db, stack.tables.users),
    refreshTokens: new DynamoUserRefreshTokens(db, stack.tables.refreshTokens),
    clock: Date.now,
    random: { bytes: (length: number) => randomBytes(length), uuid: randomUUID },
  };
  try {
    const saved = await readDemo(stateDir);
    const clientId = saved?.clientId ?? 'demo-client';
    const username = saved?.username ?? 'demo';
    const password = saved?.password ?? randomBytes(12).toString('base64url');
    // Without a saved account, a demo client or user already there has credentials nobody knows: replace it.
    let clientSecret = saved?.clientSecret;
    if (saved === undefined || (await ports.clients.getClient(clientId)) === undefined) {
      await deleteClient(ports, clientId).catch(ignoring(UnknownClientError));
      // The saved secret again, or a new one.
      ({ clientSecret } = await registerClient(ports, {
        clientId,
        secret: clientSecret,
        isPublic: false,
        scopes: ['read', 'write'],
        grantTypes: ['password', 'refresh_token'],
      }));
    }
    if (saved === undefined || (await ports.users.getUser(username)) === undefined) {
      await deleteUser(ports, username).catch(ignoring(UnknownUserError));
      await registerUser(ports, { username, password, scrypt: stack.config.scrypt, scopes: ['read', 'write'] });
    }
    const account: DemoAccount = { clientId, clientSecret: clientSecret!, username, password };
    if (saved === undefined)
      await writeFile(join(stateDir, DEMO_FILE), `${JSON.stringify(account, null, 2)}\n`, { mode: 0o600 });
    return account;
  } finally {
    db.destroy();
  }
}

/** A rejection handler that lets errors of `type` pass (nothing to delete) and rethrows the rest. */
function ignoring(type: new (...args: never[]) => Error): (error: unknown) => void {
  return (error) => {
    if (!(error instanceof type)) throw error;
  };
}

async function readDemo(stateDir: string): Promise<DemoAccount | undefined> {
  try {
    return JSON.parse(await readFile(join(stateDir, DEMO_FILE), 'utf8')) as DemoAccount;
  } catch {
    return undefined;
  }
}
