/** The operator's actions on clients: register, list, disable, delete. */
import { isRefreshGraceSeconds, REFRESH_GRACE_SECONDS_RANGE } from '../../contract/settings';
import { CLIENT_ID_RULE, isClientId } from '../oauth/client-id';
import { generateClientSecret, hashClientSecret } from '../oauth/client-secret';
import type { GrantType } from '../oauth/ports';
import { InvalidClientRegistrationError, UnknownClientError } from './errors';
import type { ClientRegistry, Clock, Random, RegisteredClient } from './ports';

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
    createdAt: new Date(deps.clock()).toISOString(),
  };
  await deps.clients.createClient(registered);
  return secret === undefined ? { clientId: client.clientId } : { clientId: client.clientId, clientSecret: secret };
}

/** Every registered client, by client_id. */
export function listClients(deps: { readonly clients: ClientRegistry }): Promise<RegisteredClient[]> {
  return deps.clients.listClients();
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
