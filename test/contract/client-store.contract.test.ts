import { randomUUID } from 'node:crypto';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoClientStore } from '../../lambda/adapters/client-store';
import { hashClientSecret } from '../../lambda/oauth/client-secret';
import type { Client, ClientStore } from '../../lambda/oauth/ports';
import { MemoryClientStore } from '../support/memory';
import { dynamoDbLocal } from './dynamodb';

/** A store behind the port, and a way to register clients in it (the port itself only reads). */
interface Harness {
  readonly store: ClientStore;
  register(client: Client): Promise<void>;
}

async function makeMemory(): Promise<Harness> {
  const store = new MemoryClientStore();
  return { store, register: async (client) => void store.clients.set(client.clientId, client) };
}

const dynamo = dynamoDbLocal();
afterAll(() => dynamo.close());

async function makeDynamo(): Promise<Harness> {
  const { db, tables } = await dynamo.get();
  const store = new DynamoClientStore(db, tables.clients);
  // As `ropc-admin clients create` (and test/support/seed.ts) registers one.
  return { store, register: (client) => store.createClient({ ...client, createdAt: new Date().toISOString() }) };
}

const id = (name: string) => `${name}-${randomUUID()}`;

const REGISTERED: [string, (clientId: string) => Client][] = [
  [
    'a confidential client',
    (clientId) => ({
      clientId,
      secretHash: hashClientSecret('secret'),
      isPublic: false,
      scopes: ['read', 'write'],
      grantTypes: ['password', 'refresh_token'],
      disabled: false,
    }),
  ],
  [
    'a public client with its own audience',
    (clientId) => ({ clientId, isPublic: true, scopes: ['read'], audience: 'https://mobile.example.test', grantTypes: ['password'], disabled: false }),
  ],
  ['a disabled client', (clientId) => ({ clientId, isPublic: true, scopes: [], grantTypes: ['refresh_token'], disabled: true })],
  [
    'a back end trusted with the end user IP',
    (clientId) => ({
      clientId,
      secretHash: hashClientSecret('secret'),
      isPublic: false,
      scopes: ['read'],
      grantTypes: ['password', 'refresh_token'],
      disabled: false,
      trustEndUserIp: true,
    }),
  ],
];

describe.each([
  ['memory', makeMemory],
  ['dynamodb', makeDynamo],
])('ClientStore contract: %s', (_name, make) => {
  let harness: Harness;
  beforeEach(async () => {
    harness = await make();
  });

  it.each(REGISTERED)('reads back %s as registered', async (_case, build) => {
    const client = build(id('client'));
    await harness.register(client);
    expect(await harness.store.getClient(client.clientId)).toMatchObject(client);
  });

  it('reads a client registered without trustEndUserIp as not trusted with it', async () => {
    const clientId = id('plain');
    await harness.register({ clientId, isPublic: true, scopes: ['read'], grantTypes: ['password'], disabled: false });
    expect((await harness.store.getClient(clientId))?.trustEndUserIp).not.toBe(true);
  });

  // client_id comes from the request: whatever a client sends is a miss, never a failure of the store.
  it.each([
    ['an unknown id', () => id('unknown')],
    ['the id in another case', (registered: string) => registered.toUpperCase()],
    ['an empty id', () => ''],
    ['an id longer than any key', () => 'x'.repeat(3000)],
  ])('reads %s as missing', async (_case, lookup) => {
    const clientId = id('app');
    await harness.register({ clientId, isPublic: true, scopes: ['read'], grantTypes: ['password'], disabled: false });
    expect(await harness.store.getClient(lookup(clientId))).toBeUndefined();
  });
});
