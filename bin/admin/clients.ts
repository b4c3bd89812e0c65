/** clients create | list | disable | delete */
import { deleteClient, disableClient, listClients, registerClient } from '../../lambda/accounts';
import { accountPorts } from './accounts';
import { arg, type CommandContext, type CommandHandler, type CommandResult, formatTable } from './command';
import { UsageError } from './errors';
import type { CommandId } from './spec';
import {
  clientIdCell,
  parseAudienceOption,
  parseGrantTypesOption,
  parseRefreshGraceOption,
  parseScopesOption,
  printable,
  quotedClientId,
  validateClientId,
} from './validate';

async function createClient(context: CommandContext): Promise<CommandResult> {
  const clientId = validateClientId(arg(context, 'ID'));
  const isPublic = context.flags.public === true;
  // Only a confidential back end may report its end users' IPs for the lockout counters.
  const trustEndUserIp = context.flags['trust-end-user-ip'] === true;
  if (trustEndUserIp && isPublic)
    throw new UsageError('--trust-end-user-ip is for confidential clients only, not with --public');
  const scopes = parseScopesOption(context.strings.scopes);
  const audience = parseAudienceOption(context.strings.audience);
  const grantTypes = parseGrantTypesOption(context.strings['grant-types']);
  const refreshGraceSeconds = parseRefreshGraceOption(context.strings['refresh-grace']);
  const target = await context.target();

  const { clientSecret: secret } = await registerClient(accountPorts(target, context), {
    clientId,
    isPublic,
    scopes,
    audience,
    grantTypes,
    ...(trustEndUserIp ? { trustEndUserIp } : {}),
    ...(refreshGraceSeconds === undefined ? {} : { refreshGraceSeconds }),
  });
  if (secret === undefined) {
    return {
      json: { client_id: clientId, public: true },
      human: `Created public client ${quotedClientId(clientId)}: it has no client secret (token_endpoint_auth_method "none").`,
    };
  }
  return {
    json: { client_id: clientId, client_secret: secret },
    human: [
      `Created confidential client ${quotedClientId(clientId)}.`,
      `client_secret: ${secret}`,
      'Store the secret now: it is shown only this once and cannot be recovered (only its hash is stored).',
    ].join('\n'),
  };
}

async function listAllClients(context: CommandContext): Promise<CommandResult> {
  const clients = await listClients(accountPorts(await context.target(), context));
  const json = {
    clients: clients.map((client) => ({
      client_id: client.clientId,
      public: client.isPublic,
      grant_types: [...client.grantTypes],
      scopes: [...client.scopes],
      audience: client.audience ?? null,
      // null: the stack's refreshTokenGraceSeconds applies.
      refresh_grace_seconds: client.refreshGraceSeconds ?? null,
      disabled: client.disabled,
      created_at: client.createdAt,
    })),
  };
  if (clients.length === 0) return { json, human: 'No clients.' };
  const rows = clients.map((client) => [
    clientIdCell(client.clientId),
    client.isPublic ? 'public' : 'confidential',
    client.grantTypes.join(','),
    client.scopes.length === 0 ? '-' : printable(client.scopes.join(' ')),
    client.audience === undefined ? '-' : printable(client.audience),
    client.refreshGraceSeconds === undefined ? 'default' : `${client.refreshGraceSeconds}s`,
    client.disabled ? 'yes' : 'no',
    client.createdAt,
  ]);
  return {
    json,
    human: formatTable(
      ['CLIENT ID', 'TYPE', 'GRANT TYPES', 'SCOPES', 'AUDIENCE', 'REFRESH GRACE', 'DISABLED', 'CREATED'],
      rows,
    ),
  };
}

async function disableOneClient(context: CommandContext): Promise<CommandResult> {
  const clientId = validateClientId(arg(context, 'ID'));
  await disableClient(accountPorts(await context.target(), context), clientId);
  return { json: { client_id: clientId, disabled: true }, human: `Disabled client ${quotedClientId(clientId)}.` };
}

async function deleteOneClient(context: CommandContext): Promise<CommandResult> {
  const clientId = validateClientId(arg(context, 'ID'));
  await deleteClient(accountPorts(await context.target(), context), clientId);
  return { json: { client_id: clientId, deleted: true }, human: `Deleted client ${quotedClientId(clientId)}.` };
}

export const CLIENT_COMMANDS: Record<Extract<CommandId, `clients ${string}`>, CommandHandler> = {
  'clients create': createClient,
  'clients list': listAllClients,
  'clients disable': disableOneClient,
  'clients delete': deleteOneClient,
};
