import type { OAuthSettings } from '../config';
import type { LockoutPolicy } from '../lockout';
import type {
  Client,
  ClientStore,
  Clock,
  JwtSigner,
  LegacyVerifier,
  Logger,
  LoginAttemptStore,
  MfaChallengeStore,
  PasswordHasher,
  PasswordPolicy,
  Random,
  RefreshTokenStore,
  TotpSecretKey,
  UserStore,
} from '../ports';

/** Everything the token endpoint needs, injected. */
export interface TokenEndpointDeps {
  readonly settings: OAuthSettings;
  readonly clients: ClientStore;
  readonly users: UserStore;
  readonly refreshTokens: RefreshTokenStore;
  readonly loginAttempts: LoginAttemptStore;
  /** DEFAULT_LOCKOUT_POLICY when absent. */
  readonly lockoutPolicy?: LockoutPolicy;
  readonly signer: JwtSigner;
  readonly passwords: PasswordHasher;
  /** Asked about usernames unknown here (lazy migration); absent: an unknown username is a failed login. */
  readonly legacyVerifier?: LegacyVerifier;
  /** What a migrated password is judged by (it is accepted anyway; a weak one is logged); absent: not judged. */
  readonly passwordPolicy?: PasswordPolicy;
  /** The second factor (grants/second-factor.ts); absent: an enrolled user's password step fails (500). */
  readonly secondFactor?: { readonly challenges: MfaChallengeStore; readonly secrets: TotpSecretKey };
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
}

export interface RequestContext {
  readonly requestId: string;
  /** The caller's IP as API Gateway saw it. */
  readonly sourceIp: string;
  /**
   * The end user's IP as a back-end client reports it (X-End-User-IP); used only for clients registered
   * to be trusted with it, so nobody else can dodge per-IP limits by sending the header.
   */
  readonly endUserIp?: string;
}

/** What a grant issues; rendered as the §5.1 token response. */
export interface IssuedTokens {
  readonly accessToken: string;
  readonly expiresIn: number;
  readonly refreshToken?: string;
  readonly scope: string;
}

/**
 * One grant type, described once (node-oidc-provider's grant modules): the token endpoint, the metadata's
 * grant_types_supported, the clients' allowed grants and the unsupported-grant message all come from the
 * registry of these (grants/index.ts). Adding a grant is one descriptor file and its tests.
 */
export interface Grant<Type extends string = string, Prefetched = unknown> {
  /** The grant_type value (RFC 6749 §4.3, §6, or an extension URI). */
  readonly type: Type;
  /** The request parameters the grant reads (besides grant_type, scope and client authentication). */
  readonly parameters: readonly string[];
  /**
   * A grant no client is registered for by itself: any client registered for this other grant may use it
   * (the second factor completes a password grant). Absent: the client's registration must name the grant.
   */
  readonly allowedWith?: string;
  /** Only for confidential clients (RFC 6749 §4.4 client_credentials would be): public clients get unauthorized_client. */
  readonly confidentialOnly?: boolean;
  /**
   * Starts the grant's reads that do not depend on the client, so they run in parallel with the client
   * lookup. Optional: a grant that reads nothing before it knows the client has none.
   */
  prefetch?(params: ReadonlyMap<string, string>, deps: TokenEndpointDeps, context: RequestContext): Promise<Prefetched>;
  /** Runs once the client is authenticated and allowed the grant; `prefetched` is what prefetch started. */
  issue(
    client: Client,
    params: ReadonlyMap<string, string>,
    prefetched: Promise<Prefetched | undefined>,
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
