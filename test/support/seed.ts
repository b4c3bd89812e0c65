import { randomUUID } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../../lambda/adapters/aws-clients';
import { DynamoClientStore } from '../../lambda/adapters/client-store';
import { DynamoUserStore } from '../../lambda/adapters/user-store';
import { hashClientSecret } from '../../lambda/oauth/client-secret';
import type { GrantType } from '../../lambda/oauth/ports';
import { hashPassword, type ScryptParams } from '../../lambda/passwords';
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
 * Registers clients and users straight through the stores, as `ropc-admin` would (tests of the CLI itself
 * go through the CLI). Defaults: scope "read", both grants, scrypt at the fast test parameters.
 */
export async function seed(
  db: DynamoDBDocumentClient,
  tables: SeedTables,
  { clients = [], users = [] }: { clients?: readonly ClientSeed[]; users?: readonly UserSeed[] },
): Promise<void> {
  const createdAt = new Date().toISOString();
  const clientStore = new DynamoClientStore(db, tables.clients);
  for (const client of clients) {
    await clientStore.createClient({
      clientId: client.clientId,
      ...(client.secret === undefined ? {} : { secretHash: hashClientSecret(client.secret) }),
      isPublic: client.secret === undefined,
      scopes: client.scopes ?? ['read'],
      ...(client.audience === undefined ? {} : { audience: client.audience }),
      grantTypes: client.grantTypes ?? ['password', 'refresh_token'],
      disabled: false,
      ...(client.trustEndUserIp === undefined ? {} : { trustEndUserIp: client.trustEndUserIp }),
      createdAt,
    });
  }
  const userStore = new DynamoUserStore(db, tables.users);
  for (const user of users) {
    await userStore.createUser({
      username: user.username,
      userId: user.userId ?? randomUUID(),
      passwordHash: await hashPassword(user.password, user.scrypt ?? FAST_SCRYPT),
      scopes: user.scopes ?? ['read'],
      disabled: false,
      createdAt,
      passwordChangedAt: createdAt,
    });
  }
}

/** `seed` into a local stack's tables, with a client of its own. */
export async function seedStack(
  stack: Pick<LocalStack, 'region' | 'dynamodbEndpoint' | 'tables'>,
  seeds: { clients?: readonly ClientSeed[]; users?: readonly UserSeed[] },
): Promise<void> {
  const db = createDocumentClient({ region: stack.region, dynamodbEndpoint: stack.dynamodbEndpoint, credentials: LOCAL_CREDENTIALS });
  try {
    await seed(db, stack.tables, seeds);
  } finally {
    db.destroy();
  }
}
