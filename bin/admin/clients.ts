/** clients create | list | disable | delete */
import { ClientExistsError, DynamoClientStore, type StoredClient } from '../../lambda/adapters/client-store';
import { generateClientSecret, hashClientSecret } from '../../lambda/oauth/client-secret';
import { arg, formatTable, type CommandContext, type CommandHandler, type CommandResult } from './command';
import { OperationalError, UsageError } from './errors';
import type { CommandId } from './spec';
import type { Target } from './target';
import {
  parseAudienceOption,
  parseGrantTypesOption,
  parseScopesOption,
  printable,
  validateExistingKey,
  validateNewClientId,
} from './validate';

function store(target: Target): DynamoClientStore {
  return new DynamoClientStore(target.db, target.tables.clients);
}

async function createClient(context: CommandContext): Promise<CommandResult> {
  const clientId = validateNewClientId(arg(context, 'ID'));
  const isPublic = context.flags.public === true;
  // Only a confidential back end may report its end users' IPs for the lockout counters.
  const trustEndUserIp = context.flags['trust-end-user-ip'] === true;
  if (trustEndUserIp && isPublic) throw new UsageError('--trust-end-user-ip is for confidential clients only, not with --public');
  const scopes = parseScopesOption(context.strings.scopes);
  const audience = parseAudienceOption(context.strings.audience);
  const grantTypes = parseGrantTypesOption(context.strings['grant-types']);
  const target = await context.target();

  const secret = isPublic ? undefined : generateClientSecret();
  const client: StoredClient = {
    clientId,
    secretHash: secret === undefined ? undefined : hashClientSecret(secret),
    isPublic,
    scopes,
    audience,
    grantTypes,
    disabled: false,
    ...(trustEndUserIp ? { trustEndUserIp } : {}),
    createdAt: context.now().toISOString(),
  };
  try {
    await store(target).createClient(client);
  } catch (error) {
    if (error instanceof ClientExistsError) throw new OperationalError(`client "${clientId}" already exists in ${target.description}`);
    throw error;
  }
  if (secret === undefined) {
    return {
      json: { client_id: clientId, public: true },
      human: `Created public client "${clientId}": it has no client secret (token_endpoint_auth_method "none").`,
    };
  }
  return {
    json: { client_id: clientId, client_secret: secret },
    human: [
      `Created confidential client "${clientId}".`,
      `client_secret: ${secret}`,
      'Store the secret now: it is shown only this once and cannot be recovered (only its hash is stored).',
    ].join('\n'),
  };
}

async function listClients(context: CommandContext): Promise<CommandResult> {
  const clients = await store(await context.target()).listClients();
  const json = {
    clients: clients.map((client) => ({
      client_id: client.clientId,
      public: client.isPublic,
      grant_types: [...client.grantTypes],
      scopes: [...client.scopes],
      audience: client.audience ?? null,
      disabled: client.disabled,
      created_at: client.createdAt,
    })),
  };
  if (clients.length === 0) return { json, human: 'No clients.' };
  const rows = clients.map((client) => [
    printable(client.clientId),
    client.isPublic ? 'public' : 'confidential',
    client.grantTypes.join(','),
    client.scopes.length === 0 ? '-' : printable(client.scopes.join(' ')),
    client.audience === undefined ? '-' : printable(client.audience),
    client.disabled ? 'yes' : 'no',
    client.createdAt,
  ]);
  return { json, human: formatTable(['CLIENT ID', 'TYPE', 'GRANT TYPES', 'SCOPES', 'AUDIENCE', 'DISABLED', 'CREATED'], rows) };
}

async function disableClient(context: CommandContext): Promise<CommandResult> {
  const clientId = validateExistingKey('client ID', arg(context, 'ID'));
  const target = await context.target();
  if (!(await store(target).setDisabled(clientId, true))) throw noSuchClient(clientId, target);
  return { json: { client_id: clientId, disabled: true }, human: `Disabled client "${printable(clientId)}".` };
}

async function deleteClient(context: CommandContext): Promise<CommandResult> {
  const clientId = validateExistingKey('client ID', arg(context, 'ID'));
  const target = await context.target();
  if (!(await store(target).deleteClient(clientId))) throw noSuchClient(clientId, target);
  return { json: { client_id: clientId, deleted: true }, human: `Deleted client "${printable(clientId)}".` };
}

function noSuchClient(clientId: string, target: Target): OperationalError {
  return new OperationalError(`there is no client "${printable(clientId)}" in ${target.description}`);
}

export const CLIENT_COMMANDS: Record<Extract<CommandId, `clients ${string}`>, CommandHandler> = {
  'clients create': createClient,
  'clients list': listClients,
  'clients disable': disableClient,
  'clients delete': deleteClient,
};
