import { createHash } from 'node:crypto';
import { GetPublicKeyCommand, type GetPublicKeyCommandOutput, type KMSClient, SignCommand } from '@aws-sdk/client-kms';
import type { JwtSigner, SigningKey } from '../oauth/ports';
import { type PublicJwk, rsaPublicJwk } from '../tokens/jwk';
import { publishedAt, type SigningKeyRecord, signingKeyAt } from '../tokens/key-registry';
import { callDependency } from './aws-errors';

export interface KeyRegistryReader {
  list(): Promise<SigningKeyRecord[]>;
}

export interface KmsJwtSignerOptions {
  /** The key registry; while it is empty (a new deployment) the bootstrap key signs and is published. */
  readonly registry?: KeyRegistryReader;
  /** How long what was read is reused (the registry and the bootstrap key's public key). */
  readonly cacheSeconds?: number;
  readonly now?: () => number;
}

interface KeyView {
  /** The registry's records, or one record built from the bootstrap key when the registry is empty. */
  readonly keys: readonly SigningKeyRecord[];
}

/**
 * Signs RS256 JWTs with RSA_2048 KMS keys: the private keys never leave KMS. Which key signs, and which
 * keys are published, comes from the key registry, read at most once per cache period (so rotation adds
 * no per-request call). Each signature is one Sign call over the SHA-256 digest, pinned to the key's ARN
 * so kid and signature always match.
 *
 * The read stays off the critical path: `prepare()` starts it alongside a request's first lookups, and
 * once the view is half a cache period old the next request refreshes it in the background while it
 * keeps signing with the view it has. Only a view a whole period old (an idle instance) is waited for.
 */
export class KmsJwtSigner implements JwtSigner {
  private cached?: { at: number; view: Promise<KeyView> };
  private refreshing = false;
  private bootstrap?: Promise<SigningKeyRecord>;
  private registryInUse = false;
  private readonly cacheMs: number;
  private readonly now: () => number;

  constructor(
    private readonly kms: KMSClient,
    private readonly bootstrapKeyId: string,
    private readonly options: KmsJwtSignerOptions = {},
  ) {
    this.cacheMs = (options.cacheSeconds ?? 60) * 1000;
    this.now = options.now ?? Date.now;
  }

  prepare(): void {
    // A failure here is not the request's: signingKey() reads again and reports it.
    this.view().catch(() => undefined);
  }

  async signingKey(): Promise<SigningKey> {
    const { keys } = await this.view();
    const now = Math.floor(this.now() / 1000);
    // Hand over only once every JWKS view can hold the new key; an emergency key (revocation left no
    // settled key) signs at once.
    const key = signingKeyAt(keys, now, this.cacheMs / 1000) ?? signingKeyAt(keys, now);
    // Every key revoked and none created: an operator must act (logged as unexpected_error, a 500).
    if (key === undefined)
      throw new Error('no signing key is active in the key registry: run ropc-admin keys rotate --propagation 0');
    return { kid: key.kid, alg: 'RS256', sign: (data) => this.sign(key.keyArn, data) };
  }

  /** The keys resource servers need (RFC 7517), without private material. */
  async publicJwks(): Promise<PublicJwk[]> {
    const { keys } = await this.view();
    return publishedAt(keys, Math.floor(this.now() / 1000)).map((key) => ({
      kty: 'RSA',
      n: key.n,
      e: key.e,
      kid: key.kid,
      alg: 'RS256',
      use: 'sig',
    }));
  }

  /**
   * The view to use now: never one read more than a cache period ago (key handover and revocation rely
   * on that bound), refreshed ahead of time so that a busy instance never waits for it.
   */
  private view(): Promise<KeyView> {
    const now = this.now();
    const cached = this.cached;
    if (cached === undefined || now - cached.at >= this.cacheMs) return this.reload(now);
    if (now - cached.at >= this.cacheMs / 2 && !this.refreshing) {
      this.refreshing = true;
      this.load()
        .then((view) => this.install(now, Promise.resolve(view)))
        // A failed refresh leaves the current view; the next request past half its period tries again.
        .catch(() => undefined)
        .finally(() => {
          this.refreshing = false;
        });
    }
    return cached.view;
  }

  private reload(now: number): Promise<KeyView> {
    const view = this.load();
    this.install(now, view);
    // A failed read is not cached: the next request tries again.
    view.catch(() => {
      if (this.cached?.view === view) this.cached = undefined;
    });
    return view;
  }

  /** Keeps the newest read: a background refresh that ends after a newer read does not replace it. */
  private install(at: number, view: Promise<KeyView>): void {
    if (this.cached === undefined || this.cached.at <= at) this.cached = { at, view };
  }

  private async load(): Promise<KeyView> {
    // Until the registry is seen in use, the bootstrap key is read alongside it, not after it.
    const bootstrap = this.registryInUse ? undefined : this.bootstrapKey();
    const registered = (await this.options.registry?.list()) ?? [];
    this.registryInUse = registered.length > 0;
    if (this.registryInUse) return { keys: registered };
    return { keys: [await (bootstrap ?? this.bootstrapKey())] };
  }

  /**
   * The bootstrap key signs while the registry is empty (a new deployment). Its public key never changes,
   * so it is read once per instance; a failed read is retried by the next load.
   */
  private bootstrapKey(): Promise<SigningKeyRecord> {
    if (this.bootstrap === undefined) {
      const read = this.readBootstrapKey();
      this.bootstrap = read;
      read.catch(() => {
        if (this.bootstrap === read) this.bootstrap = undefined;
      });
    }
    return this.bootstrap;
  }

  private async readBootstrapKey(): Promise<SigningKeyRecord> {
    const response = await callDependency('kms', () =>
      this.kms.send(new GetPublicKeyCommand({ KeyId: this.bootstrapKeyId })),
    );
    const record = signingKeyRecord(response, 0, 0);
    if (response.KeySpec !== 'RSA_2048' || response.KeyUsage !== 'SIGN_VERIFY') {
      throw new Error(
        `the signing key must be an RSA_2048 SIGN_VERIFY key, not ${response.KeySpec} ${response.KeyUsage}`,
      );
    }
    return record;
  }

  private async sign(arn: string, data: Uint8Array): Promise<Uint8Array> {
    const digest = createHash('sha256').update(data).digest();
    const response = await callDependency('kms', () =>
      this.kms.send(
        new SignCommand({
          KeyId: arn,
          Message: digest,
          MessageType: 'DIGEST',
          SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256',
        }),
      ),
    );
    if (response.Signature === undefined || response.KeyId !== arn) {
      throw new Error('KMS Sign returned no signature or signed with another key');
    }
    return response.Signature;
  }
}

/** A key registry record for the key a GetPublicKey answer describes (its kid is the RFC 7638 thumbprint). */
export function signingKeyRecord(
  response: GetPublicKeyCommandOutput,
  createdAt: number,
  signsFrom: number,
): SigningKeyRecord {
  if (response.KeyId === undefined || response.PublicKey === undefined) {
    throw new Error('KMS GetPublicKey returned no key');
  }
  const jwk = rsaPublicJwk(response.PublicKey);
  return {
    kid: jwk.kid,
    keyArn: response.KeyId,
    alg: 'RS256',
    n: jwk.n,
    e: jwk.e,
    createdAt,
    signsFrom,
    state: 'active',
  };
}
