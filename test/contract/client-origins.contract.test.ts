import { randomUUID } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import type { ClientRegistry, RegisteredClient } from '../../lambda/accounts/ports';
import { DynamoClientStore } from '../../lambda/adapters/client-store';
import { CorruptItemError } from '../../lambda/adapters/items';
import { MAX_ALLOWED_ORIGINS } from '../../lambda/oauth/origin';
import { MemoryClientStore } from '../support/memory';
import { dynamoDbLocal } from './dynamodb';

/** A client's allowed origins (CORS) through both client stores: stored, read back, refused when corrupt. */
const CREATED_AT = '2026-11-28T12:00:00.000Z';
const id = (name: string) => `${name}-${randomUUID()}`;

const dynamo = dynamoDbLocal();
// Tables of their own for the corrupt items, which would make listClients above fail.
const corrupt = dynamoDbLocal();
afterAll(() => Promise.all([dynamo.close(), corrupt.close()]));

const spa = (clientId: string, allowedOrigins?: string[]): RegisteredClient => ({
  clientId,
  isPublic: true,
  scopes: ['read'],
  grantTypes: ['password', 'refresh_token'],
  disabled: false,
  createdAt: CREATED_AT,
  ...(allowedOrigins === undefined ? {} : { allowedOrigins }),
});

describe.each([
  ['memory', async (): Promise<ClientRegistry> => new MemoryClientStore()],
  [
    'dynamodb',
    async (): Promise<ClientRegistry> => {
      const { db, tables } = await dynamo.get();
      return new DynamoClientStore(db, tables.clients);
    },
  ],
])('ClientStore contract, allowed origins: %s', (_name, make) => {
  it('reads back the origins a client lists, in their order, by getClient and listClients', async () => {
    const store = await make();
    const client = spa(id('spa'), [
      'https://app.example.test',
      'http://localhost:5173',
      'https://xn--bcher-kva.example',
    ]);
    await store.createClient(client);
    expect(await store.getClient(client.clientId)).toMatchObject({ allowedOrigins: client.allowedOrigins });
    const listed = (await store.listClients()).find((entry) => entry.clientId === client.clientId);
    expect(listed?.allowedOrigins).toEqual(client.allowedOrigins);
  });

  it('reads a client that lists none as having none', async () => {
    const store = await make();
    const client = spa(id('plain'));
    await store.createClient(client);
    expect(await store.getClient(client.clientId)).not.toHaveProperty('allowedOrigins');
  });

  it('keeps its own copy: changing the list given to createClient changes nothing stored', async () => {
    const store = await make();
    const origins = ['https://app.example.test'];
    const client = spa(id('copied'), origins);
    await store.createClient(client);
    origins.push('https://evil.example.test');
    expect((await store.getClient(client.clientId))?.allowedOrigins).toEqual(['https://app.example.test']);
  });
});

describe('DynamoClientStore: stored allowed origins it cannot trust', () => {
  it.each([
    ['a string, not a list', 'https://app.example.test'],
    ['a list with a number', ['https://app.example.test', 7]],
    ['an origin with a trailing slash', ['https://app.example.test/']],
    ['an origin with an upper-case host', ['https://App.example.test']],
    ['plain http on a public host', ['http://app.example.test']],
    ['a wildcard', ['*']],
    ['the opaque origin', ['null']],
    [
      `more than ${MAX_ALLOWED_ORIGINS} origins`,
      Array.from({ length: MAX_ALLOWED_ORIGINS + 1 }, (_, i) => `https://app${i}.example.test`),
    ],
  ])('reads allowedOrigins that is %s as a corrupt item', async (_case, allowedOrigins) => {
    const { db, tables } = await corrupt.get();
    const store = new DynamoClientStore(db, tables.clients);
    const clientId = id('corrupt-origins');
    await db.send(new PutCommand({ TableName: tables.clients, Item: { ...spa(clientId), allowedOrigins } }));
    const error = await store.getClient(clientId).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(CorruptItemError);
    expect((error as Error).message).toBe('item in clients has an invalid allowedOrigins');
  });
});
