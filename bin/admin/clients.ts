/** clients create | list | show | update | disable | enable | delete */
import {
  deleteClient,
  disableClient,
  enableClient,
  listClients,
  type RegisteredClient,
  registerClient,
  showClient,
  updateClient,
} from '../../lambda/accounts';
import { MAX_ALLOWED_ORIGINS, ORIGIN_RULE, parseOrigin } from '../../lambda/oauth/origin';
import { accountPorts } from './accounts';
import { usageLine } from './args';
import {
  arg,
  type CommandContext,
  type CommandHandler,
  type CommandResult,
  formatFields,
  formatTable,
} from './command';
import { UsageError } from './errors';
import type { CommandId } from './spec';
import {
  clientIdCell,
  parseAudienceOption,
  parseGrantTypesOption,
  parseRefreshGraceChange,
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
  const allowedOrigins = parseAllowedOrigins(context.lists['allowed-origin'] ?? []);
  const target = await context.target();

  const { clientSecret: secret } = await registerClient(accountPorts(target, context), {
    clientId,
    isPublic,
    scopes,
    audience,
    grantTypes,
    ...(trustEndUserIp ? { trustEndUserIp } : {}),
    ...(refreshGraceSeconds === undefined ? {} : { refreshGraceSeconds }),
    ...(allowedOrigins.length === 0 ? {} : { allowedOrigins }),
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
  const json = { clients: clients.map(clientJson) };
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
    originsCell(client),
  ]);
  return {
    json,
    human: formatTable(
      [
        'CLIENT ID',
        'TYPE',
        'GRANT TYPES',
        'SCOPES',
        'AUDIENCE',
        'REFRESH GRACE',
        'DISABLED',
        'CREATED',
        'ALLOWED ORIGINS',
      ],
      rows,
    ),
  };
}

/** A client in JSON, as clients list prints each one and clients show and update print theirs. */
function clientJson(client: RegisteredClient): Record<string, unknown> {
  return {
    client_id: client.clientId,
    public: client.isPublic,
    grant_types: [...client.grantTypes],
    scopes: [...client.scopes],
    audience: client.audience ?? null,
    // null: the stack's refreshTokenGraceSeconds applies.
    refresh_grace_seconds: client.refreshGraceSeconds ?? null,
    trust_end_user_ip: client.trustEndUserIp === true,
    allowed_origins: [...(client.allowedOrigins ?? [])],
    disabled: client.disabled,
    created_at: client.createdAt,
  };
}

/** A client as clients show prints it: one labelled line per field, never the secret's hash. */
function clientFields(client: RegisteredClient): string {
  return formatFields([
    ['Client ID', clientIdCell(client.clientId)],
    ['Type', client.isPublic ? 'public' : 'confidential'],
    ['Grant types', client.grantTypes.join(',')],
    ['Scopes', client.scopes.length === 0 ? '-' : printable(client.scopes.join(' '))],
    ['Audience', client.audience === undefined ? "- (the stack's)" : printable(client.audience)],
    [
      'Refresh grace',
      client.refreshGraceSeconds === undefined ? "default (the stack's)" : `${client.refreshGraceSeconds}s`,
    ],
    ['Trusts end-user IP', client.trustEndUserIp === true ? 'yes' : 'no'],
    ['Allowed origins', originsCell(client)],
    ['Disabled', client.disabled ? 'yes' : 'no'],
    ['Created', client.createdAt],
  ]);
}

async function showOneClient(context: CommandContext): Promise<CommandResult> {
  const clientId = validateClientId(arg(context, 'ID'));
  const client = await showClient(accountPorts(await context.target(), context), clientId);
  return { json: clientJson(client), human: clientFields(client) };
}

async function updateOneClient(context: CommandContext): Promise<CommandResult> {
  const clientId = validateClientId(arg(context, 'ID'));
  const changes = {
    ...(context.strings.scopes === undefined ? {} : { scopes: parseScopesOption(context.strings.scopes) }),
    ...(context.strings['refresh-grace'] === undefined
      ? {}
      : { refreshGraceSeconds: parseRefreshGraceChange(context.strings['refresh-grace']) }),
    ...(context.lists['allowed-origin'] === undefined
      ? {}
      : { allowedOrigins: parseAllowedOriginsChange(context.lists['allowed-origin']) }),
  };
  if (Object.keys(changes).length === 0) {
    const options = context.command.options.map((option) => `--${option}`).join(', ');
    throw new UsageError(
      `"clients update" needs at least one of ${options}: there is nothing to change (usage: ropc-admin ${usageLine(context.command)})`,
    );
  }
  const client = await updateClient(accountPorts(await context.target(), context), clientId, changes);
  return { json: clientJson(client), human: `Updated client ${quotedClientId(clientId)}:\n${clientFields(client)}` };
}

async function enableOneClient(context: CommandContext): Promise<CommandResult> {
  const clientId = validateClientId(arg(context, 'ID'));
  await enableClient(accountPorts(await context.target(), context), clientId);
  return { json: { client_id: clientId, disabled: false }, human: `Enabled client ${quotedClientId(clientId)}.` };
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

/**
 * `--allowed-origin URL`, repeatable: the browser origins whose pages may read the client's token and
 * revocation responses (CORS), each scheme://host[:port] (lambda/oauth/origin.ts), kept in their
 * serialization, duplicates dropped; at most MAX_ALLOWED_ORIGINS.
 */
function parseAllowedOrigins(values: readonly string[]): string[] {
  const origins = new Set<string>();
  for (const value of values) {
    const parsed = parseOrigin(value);
    if ('problem' in parsed) {
      throw new UsageError(
        `invalid --allowed-origin "${printable(value)}": ${parsed.problem}; an origin is ${ORIGIN_RULE}`,
      );
    }
    origins.add(parsed.origin);
  }
  if (origins.size > MAX_ALLOWED_ORIGINS) {
    throw new UsageError(
      `too many --allowed-origin: a client lists at most ${MAX_ALLOWED_ORIGINS} origins, got ${origins.size}`,
    );
  }
  return [...origins];
}

/** `clients update --allowed-origin URL|none`: the origins that replace the client's, or none (`none`, alone). */
function parseAllowedOriginsChange(values: readonly string[]): string[] {
  if (!values.includes('none')) return parseAllowedOrigins(values);
  if (values.length > 1) throw new UsageError('--allowed-origin none removes every origin: give it alone');
  return [];
}

/**
 * A client's allowed origins in a table cell or field: comma-separated, or - for none. The store reads only
 * serialized origins (printable ASCII, no comma), so they are shown as they are, never cut short.
 */
function originsCell(client: RegisteredClient): string {
  const origins = client.allowedOrigins ?? [];
  return origins.length === 0 ? '-' : origins.join(',');
}

export const CLIENT_COMMANDS: Record<Extract<CommandId, `clients ${string}`>, CommandHandler> = {
  'clients create': createClient,
  'clients list': listAllClients,
  'clients show': showOneClient,
  'clients update': updateOneClient,
  'clients disable': disableOneClient,
  'clients enable': enableOneClient,
  'clients delete': deleteOneClient,
};
