import type { OAuthSettings } from '../config';
import type {
  Client,
  ClientStore,
  Clock,
  JwtSigner,
  Logger,
  PasswordHasher,
  Random,
  RefreshTokenStore,
  UserStore,
} from '../ports';

/** Everything the token endpoint needs, injected. */
export interface TokenEndpointDeps {
  readonly settings: OAuthSettings;
  readonly clients: ClientStore;
  readonly users: UserStore;
  readonly refreshTokens: RefreshTokenStore;
  readonly signer: JwtSigner;
  readonly passwords: PasswordHasher;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
}

export interface RequestContext {
  readonly requestId: string;
  readonly sourceIp: string;
}

/** What a grant issues; rendered as the §5.1 token response. */
export interface IssuedTokens {
  readonly accessToken: string;
  readonly expiresIn: number;
  readonly refreshToken?: string;
  readonly scope: string;
}

/**
 * One grant type. `prefetch` starts the grant's reads that do not depend on the client, so they run in
 * parallel with the client lookup; `issue` runs once the client is authenticated and allowed the grant.
 */
export interface Grant<Prefetched> {
  prefetch(params: ReadonlyMap<string, string>, deps: TokenEndpointDeps): Promise<Prefetched>;
  issue(
    client: Client,
    params: ReadonlyMap<string, string>,
    prefetched: Promise<Prefetched>,
    deps: TokenEndpointDeps,
    context: RequestContext,
  ): Promise<IssuedTokens>;
}

/**
 * A promise started early may be abandoned (the client failed authentication): mark its rejection as
 * handled so it cannot crash the process, while awaiting it later still throws.
 */
export function started<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}
