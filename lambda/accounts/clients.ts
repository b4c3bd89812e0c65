/** The operator's actions on clients: register, list, show, update, disable, enable, delete. */
import { isRefreshGraceSeconds, REFRESH_GRACE_SECONDS_RANGE } from '../../contract/settings';
import { CLIENT_ID_RULE, isClientId } from '../oauth/client-id';
import { generateClientSecret, hashClientSecret } from '../oauth/client-secret';
import { MAX_ALLOWED_ORIGINS, ORIGIN_RULE, parseOrigin } from '../oauth/origin';
import type { GrantType } from '../oauth/ports';
import { InvalidClientRegistrationError, UnknownClientError } from './errors';
import type { ClientChanges, ClientRegistry, Clock, Random, RegisteredClient } from './ports';

export interface NewClient {
  readonly clientId: string;
  /** A public client (token_endpoint_auth_method "none") has no secret. */
  readonly isPublic: boolean;
  readonly scopes: readonly string[];
  /** `aud` of the client's access tokens; the stack's default when absent. */
  readonly audience?: string;
  readonly grantTypes: readonly GrantType[];
  /** Confidential clients only: a back end whose X-End-User-IP header the lockout counters trust. */
  readonly trustEndUserIp?: boolean;
  /**
   * How long after a rotation the refresh token it replaced, presented again by this client, gets the same
   * successor: whole seconds, 0 to 60 (0 is strict one-time use). Absent: not stored, the stack's
   * refreshTokenGraceSeconds applies.
   */
  readonly refreshGraceSeconds?: number;
  /**
   * The browser origins whose pages may read the client's token and revocation responses (CORS): each
   * scheme://host[:port] (../oauth/origin.ts), stored in its serialization, duplicates dropped, at most
   * MAX_ALLOWED_ORIGINS. Absent or empty: none, and nothing is stored.
   */
  readonly allowedOrigins?: readonly string[];
  /**
   * Confidential clients only: the secret to register instead of a generated one (the local demo keeps its
   * own across restarts; test seeds and benchmarks use known ones).
   */
  readonly secret?: string;
}

export interface ClientRegistration {
  readonly clientId: string;
  /** A confidential client's secret in clear: shown this once, since only its hash is stored. */
  readonly clientSecret?: string;
}

/**
 * Registers a client. A confidential one gets a generated secret (256 random bits) unless it brings one;
 * only the secret's hash is stored. Fails with InvalidClientRegistrationError if the id breaks the client-id
 * rule (../oauth/client-id.ts), with ClientExistsError if it is taken.
 */
export async function registerClient(
  deps: { readonly clients: ClientRegistry; readonly clock: Clock; readonly random: Pick<Random, 'bytes'> },
  client: NewClient,
): Promise<ClientRegistration> {
  if (!isClientId(client.clientId)) {
    throw new InvalidClientRegistrationError(client.clientId, `a client id is ${CLIENT_ID_RULE}`);
  }
  if (client.isPublic && client.secret !== undefined) {
    throw new InvalidClientRegistrationError(client.clientId, 'a public client has no secret');
  }
  // Only a confidential back end may report its end users' IPs for the lockout counters.
  if (client.isPublic && client.trustEndUserIp === true) {
    throw new InvalidClientRegistrationError(
      client.clientId,
      'only a confidential client may be trusted with X-End-User-IP',
    );
  }
  if (client.refreshGraceSeconds !== undefined && !isRefreshGraceSeconds(client.refreshGraceSeconds)) {
    const { min, max } = REFRESH_GRACE_SECONDS_RANGE;
    throw new InvalidClientRegistrationError(
      client.clientId,
      `the refresh-token grace must be a whole number of seconds from ${min} to ${max}, got ${client.refreshGraceSeconds}`,
    );
  }
  const allowedOrigins = allowedOriginsOf(client.clientId, client.allowedOrigins ?? []);
  const secret = client.isPublic
    ? undefined
    : (client.secret ?? generateClientSecret((length) => deps.random.bytes(length)));
  const registered: RegisteredClient = {
    clientId: client.clientId,
    ...(secret === undefined ? {} : { secretHash: hashClientSecret(secret) }),
    isPublic: client.isPublic,
    scopes: [...client.scopes],
    ...(client.audience === undefined ? {} : { audience: client.audience }),
    grantTypes: [...client.grantTypes],
    disabled: false,
    ...(client.trustEndUserIp === true ? { trustEndUserIp: true } : {}),
    ...(client.refreshGraceSeconds === undefined ? {} : { refreshGraceSeconds: client.refreshGraceSeconds }),
    ...(allowedOrigins.length === 0 ? {} : { allowedOrigins }),
    createdAt: new Date(deps.clock()).toISOString(),
  };
  await deps.clients.createClient(registered);
  return secret === undefined ? { clientId: client.clientId } : { clientId: client.clientId, clientSecret: secret };
}

/**
 * A client's allowed origins in their serialization, duplicates dropped, in the order given; fails with
 * InvalidClientRegistrationError on a value that is not an origin, or on more than MAX_ALLOWED_ORIGINS.
 */
function allowedOriginsOf(
  clientId: string,
  values: readonly string[],
  action: 'registered' | 'updated' = 'registered',
): string[] {
  const origins = new Set<string>();
  for (const value of values) {
    const parsed = parseOrigin(value);
    if ('problem' in parsed) {
      throw new InvalidClientRegistrationError(
        clientId,
        `${JSON.stringify(value)} is not an allowed origin (${parsed.problem}); an origin is ${ORIGIN_RULE}`,
        action,
      );
    }
    origins.add(parsed.origin);
  }
  if (origins.size > MAX_ALLOWED_ORIGINS) {
    throw new InvalidClientRegistrationError(
      clientId,
      `a client lists at most ${MAX_ALLOWED_ORIGINS} allowed origins, got ${origins.size}`,
      action,
    );
  }
  return [...origins];
}

/** Every registered client, by client_id. */
export function listClients(deps: { readonly clients: ClientRegistry }): Promise<RegisteredClient[]> {
  return deps.clients.listClients();
}

/** One registered client. Fails with UnknownClientError. */
export async function showClient(
  deps: { readonly clients: ClientRegistry },
  clientId: string,
): Promise<RegisteredClient> {
  const client = await deps.clients.getClient(clientId);
  if (client === undefined) throw new UnknownClientError(clientId);
  return client;
}

/**
 * Replaces the client's scopes and/or its own refresh-token grace (null: the stack's from then on), in one
 * write; returns the client as it is now. The scopes apply at once, to refresh tokens issued before too (the
 * refresh grant narrows to the client's scopes); the grace applies to the next retry; allowed origins (a
 * list that replaces the stored one, checked as at registration) apply to the next request. Fails with
 * InvalidClientRegistrationError when there is nothing to change, the grace is out of range or an origin is
 * not one, with UnknownClientError.
 */
export async function updateClient(
  deps: { readonly clients: ClientRegistry },
  clientId: string,
  changes: ClientChanges,
): Promise<RegisteredClient> {
  if (
    changes.scopes === undefined &&
    changes.refreshGraceSeconds === undefined &&
    changes.allowedOrigins === undefined
  ) {
    throw new InvalidClientRegistrationError(clientId, 'there is nothing to change', 'updated');
  }
  const allowedOrigins =
    changes.allowedOrigins === undefined ? undefined : allowedOriginsOf(clientId, changes.allowedOrigins, 'updated');
  const grace = changes.refreshGraceSeconds;
  if (grace !== undefined && grace !== null && !isRefreshGraceSeconds(grace)) {
    const { min, max } = REFRESH_GRACE_SECONDS_RANGE;
    throw new InvalidClientRegistrationError(
      clientId,
      `the refresh-token grace must be a whole number of seconds from ${min} to ${max}, got ${grace}`,
      'updated',
    );
  }
  const updated = await deps.clients.updateClient(clientId, {
    ...(changes.scopes === undefined ? {} : { scopes: [...new Set(changes.scopes)] }),
    ...(grace === undefined ? {} : { refreshGraceSeconds: grace }),
    ...(allowedOrigins === undefined ? {} : { allowedOrigins }),
  });
  if (updated === undefined) throw new UnknownClientError(clientId);
  return updated;
}

/** Undoes disableClient: the client authenticates again, and so do its refresh tokens. Fails with UnknownClientError. */
export async function enableClient(deps: { readonly clients: ClientRegistry }, clientId: string): Promise<void> {
  if (!(await deps.clients.setDisabled(clientId, false))) throw new UnknownClientError(clientId);
}

/**
 * From then on the client authenticates no more (invalid_client), so its refresh tokens are refused too;
 * they work again if it is enabled. Fails with UnknownClientError.
 */
export async function disableClient(deps: { readonly clients: ClientRegistry }, clientId: string): Promise<void> {
  if (!(await deps.clients.setDisabled(clientId, true))) throw new UnknownClientError(clientId);
}

/**
 * Fails with UnknownClientError. The client's refresh tokens die with it: a client registered later with the
 * same id has a later createdAt than their families, and the refresh grant refuses such families.
 */
export async function deleteClient(deps: { readonly clients: ClientRegistry }, clientId: string): Promise<void> {
  if (!(await deps.clients.deleteClient(clientId))) throw new UnknownClientError(clientId);
}
