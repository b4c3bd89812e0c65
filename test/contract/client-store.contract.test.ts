import { randomUUID } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { ClientExistsError } from '../../lambda/accounts/errors';
import type { ClientRegistry, RegisteredClient } from '../../lambda/accounts/ports';
import { DynamoClientStore } from '../../lambda/adapters/client-store';
import { CorruptItemError } from '../../lambda/adapters/items';
import { hashClientSecret } from '../../lambda/oauth/client-secret';
import type { Client } from '../../lambda/oauth/ports';
import { MemoryClientStore } from '../support/memory';
import { dynamoDbLocal } from './dynamodb';

/**
 * A store behind the ports: the protocol core's (getClient) and the account services' (registration and
 * the operator's changes), and a way to register clients in it as `ropc-admin clients create` (and
 * test/support/seed.ts, through lambda/accounts) does.
 */
interface Harness {
  readonly store: ClientRegistry;
  register(client: Client): Promise<void>;
}

const CREATED_AT = '2026-11-28T12:00:00.000Z';

function harness(store: ClientRegistry): Harness {
  return { store, register: (client) => store.createClient({ ...client, createdAt: CREATED_AT }) };
}

async function makeMemory(): Promise<Harness> {
  return harness(new MemoryClientStore());
}

const dynamo = dynamoDbLocal();
afterAll(() => dynamo.close());

async function makeDynamo(): Promise<Harness> {
  const { db, tables } = await dynamo.get();
  return harness(new DynamoClientStore(db, tables.clients));
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
    (clientId) => ({
      clientId,
      isPublic: true,
      scopes: ['read'],
      audience: 'https://mobile.example.test',
      grantTypes: ['password'],
      disabled: false,
    }),
  ],
  [
    'a disabled client',
    (clientId) => ({ clientId, isPublic: true, scopes: [], grantTypes: ['refresh_token'], disabled: true }),
  ],
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
  [
    'a client with strict one-time refresh tokens (a grace of 0 s)',
    (clientId) => ({
      clientId,
      isPublic: true,
      scopes: ['read'],
      grantTypes: ['password', 'refresh_token'],
      disabled: false,
      refreshGraceSeconds: 0,
    }),
  ],
  [
    'a client with the longest refresh-token grace (60 s)',
    (clientId) => ({
      clientId,
      secretHash: hashClientSecret('secret'),
      isPublic: false,
      scopes: ['read'],
      grantTypes: ['password', 'refresh_token'],
      disabled: false,
      refreshGraceSeconds: 60,
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

  it('reads a client registered without a refresh-token grace as having none of its own', async () => {
    const clientId = id('stack-grace');
    await harness.register({ clientId, isPublic: true, scopes: ['read'], grantTypes: ['password'], disabled: false });
    const client = await harness.store.getClient(clientId);
    expect(client).toBeDefined();
    expect(client).not.toHaveProperty('refreshGraceSeconds');
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
    ['an id of 129 characters', () => 'x'.repeat(129)],
    ['an id with a control character', (registered: string) => `${registered}\t`],
    ['an id with a non-ASCII character', (registered: string) => `${registered}é`],
  ])('reads %s as missing', async (_case, lookup) => {
    const clientId = id('app');
    await harness.register({ clientId, isPublic: true, scopes: ['read'], grantTypes: ['password'], disabled: false });
    expect(await harness.store.getClient(lookup(clientId))).toBeUndefined();
  });
  describe("the operator's changes", () => {
    const registered = (clientId: string): RegisteredClient => ({
      clientId,
      secretHash: hashClientSecret('secret'),
      isPublic: false,
      scopes: ['read'],
      grantTypes: ['password', 'refresh_token'],
      disabled: false,
      createdAt: CREATED_AT,
    });

    it('reads back when a client was registered', async () => {
      const client = registered(id('dated'));
      await harness.store.createClient(client);
      expect(await harness.store.getClient(client.clientId)).toMatchObject(client);
      expect((await harness.store.getClient(client.clientId))?.createdAt).toBe(CREATED_AT);
    });

    it('refuses to register a taken id, with ClientExistsError, and keeps the registered client', async () => {
      const client = registered(id('taken'));
      await harness.store.createClient(client);
      const error = await harness.store
        .createClient({ ...client, isPublic: true, secretHash: undefined })
        .catch((reason: unknown) => reason);
      expect(error).toBeInstanceOf(ClientExistsError);
      expect(await harness.store.getClient(client.clientId)).toMatchObject(client);
    });

    it('lists every registered client, by client_id', async () => {
      const prefix = id('list');
      for (const suffix of ['b', 'c', 'a']) await harness.store.createClient(registered(`${prefix}-${suffix}`));
      const listed = (await harness.store.listClients()).filter((client) => client.clientId.startsWith(prefix));
      expect(listed.map((client) => client.clientId)).toEqual([`${prefix}-a`, `${prefix}-b`, `${prefix}-c`]);
      expect(listed[0]).toMatchObject(registered(`${prefix}-a`));
    });

    it('disables and enables a client, and changes nothing else', async () => {
      const client = registered(id('toggled'));
      await harness.store.createClient(client);
      expect(await harness.store.setDisabled(client.clientId, true)).toBe(true);
      expect(await harness.store.getClient(client.clientId)).toMatchObject({ ...client, disabled: true });
      expect(await harness.store.setDisabled(client.clientId, false)).toBe(true);
      expect(await harness.store.getClient(client.clientId)).toMatchObject(client);
    });

    it('deletes a client once', async () => {
      const client = registered(id('deleted'));
      await harness.store.createClient(client);
      expect(await harness.store.deleteClient(client.clientId)).toBe(true);
      expect(await harness.store.getClient(client.clientId)).toBeUndefined();
      expect(await harness.store.deleteClient(client.clientId)).toBe(false);
    });

    it.each([
      ['setDisabled', (store: ClientRegistry, clientId: string) => store.setDisabled(clientId, true)],
      ['deleteClient', (store: ClientRegistry, clientId: string) => store.deleteClient(clientId)],
    ])('%s of an unknown client returns false and registers nothing', async (_method, change) => {
      const clientId = id('unknown');
      expect(await change(harness.store, clientId)).toBe(false);
      expect(await harness.store.getClient(clientId)).toBeUndefined();
    });

    it('updateClient replaces the scopes, returns the client as it is now, and changes nothing else', async () => {
      const client = registered(id('rescoped'));
      await harness.store.createClient(client);
      const expected = { ...client, scopes: ['read', 'write', 'admin'] };
      expect(await harness.store.updateClient(client.clientId, { scopes: ['read', 'write', 'admin'] })).toMatchObject(
        expected,
      );
      expect(await harness.store.getClient(client.clientId)).toMatchObject(expected);
      expect(await harness.store.updateClient(client.clientId, { scopes: [] })).toMatchObject({ scopes: [] });
    });

    it("updateClient sets the client's own refresh-token grace, and null removes it", async () => {
      const client = registered(id('regraced'));
      await harness.store.createClient(client);
      expect(await harness.store.updateClient(client.clientId, { refreshGraceSeconds: 0 })).toMatchObject({
        ...client,
        refreshGraceSeconds: 0,
      });
      const both = await harness.store.updateClient(client.clientId, { scopes: ['write'], refreshGraceSeconds: 45 });
      expect(both).toMatchObject({ ...client, scopes: ['write'], refreshGraceSeconds: 45 });
      const cleared = await harness.store.updateClient(client.clientId, { refreshGraceSeconds: null });
      expect(cleared).toMatchObject({ ...client, scopes: ['write'] });
      expect(cleared).not.toHaveProperty('refreshGraceSeconds');
      expect(await harness.store.getClient(client.clientId)).not.toHaveProperty('refreshGraceSeconds');
    });

    it('updateClient of an unknown client returns undefined and registers nothing', async () => {
      const clientId = id('unknown');
      expect(await harness.store.updateClient(clientId, { scopes: ['read'] })).toBeUndefined();
      expect(await harness.store.updateClient(clientId, { refreshGraceSeconds: null })).toBeUndefined();
      expect(await harness.store.getClient(clientId)).toBeUndefined();
    });
  });
});

describe('DynamoClientStore: stored items it cannot trust', () => {
  it.each([
    ['above 60', 61],
    ['negative', -1],
    ['fractional', 1.5],
    ['a string', '30'],
    ['a boolean', true],
  ])('reads a refreshGraceSeconds that is %s as a corrupt item', async (_case, refreshGraceSeconds) => {
    const { db, tables } = await dynamo.get();
    const store = new DynamoClientStore(db, tables.clients);
    const clientId = id('corrupt-grace');
    await db.send(
      new PutCommand({
        TableName: tables.clients,
        Item: {
          clientId,
          isPublic: true,
          scopes: ['read'],
          grantTypes: ['password', 'refresh_token'],
          disabled: false,
          createdAt: CREATED_AT,
          refreshGraceSeconds,
        },
      }),
    );
    const error = await store.getClient(clientId).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(CorruptItemError);
    expect((error as Error).message).toBe('item in clients has an invalid refreshGraceSeconds');
  });
});
