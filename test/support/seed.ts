import { randomBytes, randomUUID } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { registerClient, registerUser } from '../../lambda/accounts';
import { createDocumentClient } from '../../lambda/adapters/aws-clients';
import { DynamoClientStore } from '../../lambda/adapters/client-store';
import { DynamoUserStore } from '../../lambda/adapters/user-store';
import type { GrantType } from '../../lambda/oauth/ports';
import type { ScryptParams } from '../../lambda/passwords';
import type { LocalStack } from '../../local/stack';
import { LOCAL_CREDENTIALS } from '../../local/state';
import { FAST_SCRYPT } from './memory';

/** The tables a seed goes into (a local stack's, or a test file's fresh ones). */
export interface SeedTables {
  readonly clients: string;
  readonly users: string;
}

export interface ClientSeed {
  readonly clientId: string;
  /** Absent for a public client. */
  readonly secret?: string;
  readonly scopes?: readonly string[];
  readonly grantTypes?: readonly GrantType[];
  readonly audience?: string;
  readonly trustEndUserIp?: boolean;
  /** The client's own refresh-token grace; the stack's when absent. */
  readonly refreshGraceSeconds?: number;
  /** Browser origins whose pages may read the client's responses (CORS). */
  readonly allowedOrigins?: readonly string[];
}

export interface UserSeed {
  readonly username: string;
  readonly password: string;
  /** A fresh UUID when absent. */
  readonly userId?: string;
  readonly scopes?: readonly string[];
  readonly scrypt?: ScryptParams;
}

/**
 * Registers clients and users through the account services (lambda/accounts), as `ropc-admin` does (tests
 * of the CLI itself go through the CLI). Defaults: scope "read", both grants, scrypt at the fast test
 * parameters.
 */
export async function seed(
  db: DynamoDBDocumentClient,
  tables: SeedTables,
  { clients = [], users = [] }: { clients?: readonly ClientSeed[]; users?: readonly UserSeed[] },
): Promise<void> {
  const clock = Date.now;
  const clientStore = new DynamoClientStore(db, tables.clients);
  for (const client of clients) {
    await registerClient(
      { clients: clientStore, clock, random: { bytes: (length) => randomBytes(length) } },
      {
        clientId: client.clientId,
        isPublic: client.secret === undefined,
        ...(client.secret === undefined ? {} : { secret: client.secret }),
        scopes: client.scopes ?? ['read'],
        ...(client.audience === undefined ? {} : { audience: client.audience }),
        grantTypes: client.grantTypes ?? ['password', 'refresh_token'],
        ...(client.trustEndUserIp === undefined ? {} : { trustEndUserIp: client.trustEndUserIp }),
        ...(client.refreshGraceSeconds === undefined ? {} : { refreshGraceSeconds: client.refreshGraceSeconds }),
        ...(client.allowedOrigins === undefined ? {} : { allowedOrigins: client.allowedOrigins }),
      },
    );
  }
  const userStore = new DynamoUserStore(db, tables.users);
  for (const user of users) {
    await registerUser(
      { users: userStore, clock, random: { uuid: () => user.userId ?? randomUUID() } },
      {
        username: user.username,
        password: user.password,
        scrypt: user.scrypt ?? FAST_SCRYPT,
        scopes: user.scopes ?? ['read'],
      },
    );
  }
}

/** `seed` into a local stack's tables, with a client of its own. */
export async function seedStack(
  stack: Pick<LocalStack, 'region' | 'dynamodbEndpoint' | 'tables'>,
  seeds: { clients?: readonly ClientSeed[]; users?: readonly UserSeed[] },
): Promise<void> {
  const db = createDocumentClient({
    region: stack.region,
    dynamodbEndpoint: stack.dynamodbEndpoint,
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    await seed(db, stack.tables, seeds);
  } finally {
    db.destroy();
  }
}
