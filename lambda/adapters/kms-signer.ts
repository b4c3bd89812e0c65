import { createHash } from 'node:crypto';
import { GetPublicKeyCommand, type GetPublicKeyCommandOutput, type KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { DependencyUnavailableError } from '../oauth/errors';
import type { JwtSigner, Logger, SigningKey } from '../oauth/ports';
import { type PublicJwk, rsaPublicJwk } from '../tokens/jwk';
import { planRevocation, publishedAt, type SigningKeyRecord, signingKeyAt } from '../tokens/key-registry';
import { SigningKeyWithdrawnError } from '../tokens/ports';
import { callDependency, isUnavailable } from './aws-errors';

export interface KeyRegistryReader {
  list(): Promise<SigningKeyRecord[]>;
}

export interface KmsJwtSignerOptions {
  /** The key registry; while it is empty (a new deployment) the bootstrap key signs and is published. */
  readonly registry?: KeyRegistryReader;
  /** How long what was read is reused (the registry and the bootstrap key's public key). */
  readonly cacheSeconds?: number;
  readonly now?: () => number;
  /** Where registry records that KMS does not vouch for are reported (signing_key_rejected). */
  readonly logger?: Pick<Logger, 'warn'>;
}

/** Why a registry record is neither published nor used to sign (the `reason` of signing_key_rejected). */
export type SigningKeyRejection =
  /** GetPublicKey on the record's key ARN was refused: no such key, access denied, disabled, pending deletion. */
  | 'kms_refused'
  /** KMS answered for another key than the record's ARN (an alias ARN, say). */
  | 'key_arn_mismatch'
  /** The key is not an RSA_2048 SIGN_VERIFY key. */
  | 'not_a_signing_key'
  /** The public key KMS holds is not the record's: its thumbprint is not the kid, or n or e differ. */
  | 'public_key_mismatch';

/** What GetPublicKey answered for a key id: the answer, or the name of KMS's refusal. */
type PublicKeyRead = { readonly answer: GetPublicKeyCommandOutput } | { readonly refusal: string };

interface KeyView {
  /** The registry's records, or one record built from the bootstrap key when the registry is empty. */
  readonly keys: readonly SigningKeyRecord[];
  /** Keys (ARNs) KMS refused to sign with before this view was read: they sign no more, whatever it says. */
  readonly withdrawn: ReadonlySet<string>;
}

/**
 * What Sign answers for a key that can no longer sign: disabled (`ropc-admin keys revoke` disables the key
 * before it writes the registry) or pending deletion.
 */
const WITHDRAWN_KEY_ERRORS = new Set(['DisabledException', 'KMSInvalidStateException']);

const NONE: ReadonlySet<string> = new Set();

/** What GetPublicKey answers for a key ARN that names no key this function may read as a signing key. */
const REFUSALS = new Set([
  'NotFoundException',
  'AccessDeniedException',
  'DisabledException',
  'KMSInvalidStateException',
  'InvalidArnException',
  'InvalidKeyUsageException',
  'UnsupportedOperationException',
  'ValidationException',
]);

/**
 * Signs RS256 JWTs with RSA_2048 KMS keys: the private keys never leave KMS. Which key signs, and which
 * keys are published, comes from the key registry, read at most once per cache period (so rotation adds
 * no per-request call). Each signature is one Sign call over the SHA-256 digest, pinned to the key's ARN
 * so kid and signature always match.
 *
 * The registry alone is not trusted: a record is published and signs only once KMS vouches for it, its
 * public key (GetPublicKey on the record's ARN) being the record's (same kid, n and e; an RSA_2048
 * SIGN_VERIFY key answered for that very ARN). A key's public key never changes, so each ARN's answer is
 * kept for the instance's life; a refusal is asked again at the next registry read, and KMS being
 * unavailable fails the read (a 503) rather than dropping a key. The check is part of the registry read,
 * off the critical path like it. Records that fail are left out of the view and logged once per read.
 *
 * The read stays off the critical path: `prepare()` starts it alongside a request's first lookups, and
 * once the view is half a cache period old the next request refreshes it in the background while it
 * keeps signing with the view it has. Only a view a whole period old (an idle instance) is waited for.
 *
 * A revocation takes effect at once, cache or not: KMS refuses to sign with a disabled key, and a request
 * that meets the refusal drops the view, reads the registry again and signs with the key that signs now
 * (one retry, never more). The refused key counts as revoked even while the registry still lists it (the
 * registry write follows the disabling), so the key the revocation will name signs: the newest other
 * published key. When the revocation needs a new key, that key may not be registered yet: then the
 * request gets a 503 (the client retries) and that read is not kept, so the next request reads again.
 * A key disabled by hand stays refused only as long as the view that learnt it (a cache period at most).
 */
export class KmsJwtSigner implements JwtSigner {
  private cached?: { at: number; view: Promise<KeyView>; withdrawn: ReadonlySet<string> };
  private refreshing = false;
  private bootstrap?: Promise<SigningKeyRecord>;
  private registryInUse = false;
  /** GetPublicKey per key id: a success is kept for good (a key's public key never changes). */
  private readonly publicKeys = new Map<string, Promise<PublicKeyRead>>();
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
    return this.keyToSign(await this.view(), true);
  }

  /** The key that signs in `view`; `replaceable`: a refusal from KMS gets a replacement, else it is a 503. */
  private keyToSign(view: KeyView, replaceable: boolean): SigningKey {
    const now = Math.floor(this.now() / 1000);
    const keys = withWithdrawnRevoked(view, now);
    // Hand over only once every JWKS view can hold the new key; an emergency key (revocation left no
    // settled key) signs at once.
    const key = signingKeyAt(keys, now, this.cacheMs / 1000) ?? signingKeyAt(keys, now);
    if (key === undefined && view.withdrawn.size > 0) {
      // The revocation's new key is not in the registry yet: the client retries.
      throw new DependencyUnavailableError('kms', {
        cause: new Error(
          `KMS refused to sign with ${[...view.withdrawn].join(', ')} and the key registry names no other key that signs yet`,
        ),
      });
    }
    // Every key revoked and none created: an operator must act (logged as unexpected_error, a 500).
    if (key === undefined)
      throw new Error('no signing key is active in the key registry: run ropc-admin keys rotate --propagation 0');
    return { kid: key.kid, alg: 'RS256', sign: (data) => this.sign(key.keyArn, data, replaceable) };
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
      this.load(NONE)
        .then((view) => this.install(now, Promise.resolve(view), NONE))
        // A failed refresh leaves the current view; the next request past half its period tries again.
        .catch(() => undefined)
        .finally(() => {
          this.refreshing = false;
        });
    }
    return cached.view;
  }

  private reload(now: number, withdrawn: ReadonlySet<string> = NONE): Promise<KeyView> {
    const view = this.load(withdrawn);
    this.install(now, view, withdrawn);
    // A failed read is not cached: the next request tries again.
    view.catch(() => {
      if (this.cached?.view === view) this.cached = undefined;
    });
    return view;
  }

  /**
   * Keeps the newest read: a background refresh that ends after a newer read (such as the one a refused
   * Sign made) does not replace it.
   */
  private install(at: number, view: Promise<KeyView>, withdrawn: ReadonlySet<string>): void {
    if (this.cached === undefined || this.cached.at <= at) this.cached = { at, view, withdrawn };
  }

  private async load(withdrawn: ReadonlySet<string>): Promise<KeyView> {
    // Until the registry is seen in use, the bootstrap key is read alongside it, not after it.
    const bootstrap = this.registryInUse ? undefined : this.bootstrapKey();
    const listed = (await this.options.registry?.list()) ?? [];
    // The bootstrap key's answer vouches for the first key's record: no second GetPublicKey for it.
    if (bootstrap !== undefined && listed.length > 0) await bootstrap.catch(() => undefined);
    const registered = await this.vouchedFor(listed);
    // A registry whose every record KMS refused is as good as empty: the bootstrap key signs.
    this.registryInUse = registered.length > 0;
    if (this.registryInUse) return { keys: registered, withdrawn };
    return { keys: [await (bootstrap ?? this.bootstrapKey())], withdrawn };
  }

  /**
   * The records KMS vouches for, and those that can neither be published nor sign while this read is in
   * use (revoked, or unpublished and retired), which need no check. Each record left out is logged.
   */
  private async vouchedFor(records: readonly SigningKeyRecord[]): Promise<SigningKeyRecord[]> {
    const now = Math.floor(this.now() / 1000);
    const settle = this.cacheMs / 1000;
    const verdicts = await Promise.all(
      records.map(async (record) =>
        inUseDuring(record, now, settle) ? this.rejection(record, await this.publicKey(record.keyArn)) : undefined,
      ),
    );
    return records.filter((record, index) => {
      const verdict = verdicts[index];
      if (verdict === undefined) return true;
      this.options.logger?.warn('signing_key_rejected', {
        kid: record.kid.slice(0, 128),
        key_arn: record.keyArn.slice(0, 256),
        reason: verdict.reason,
        ...(verdict.error === undefined ? {} : { error: verdict.error }),
      });
      return false;
    });
  }

  /** Why `record` is not the key KMS answered with for its ARN; undefined when it is. */
  private rejection(
    record: SigningKeyRecord,
    read: PublicKeyRead,
  ): { reason: SigningKeyRejection; error?: string } | undefined {
    if ('refusal' in read) return { reason: 'kms_refused', error: read.refusal };
    const { answer } = read;
    if (answer.KeyId !== record.keyArn) return { reason: 'key_arn_mismatch' };
    if (!isSigningKeyAnswer(answer) || answer.PublicKey === undefined) return { reason: 'not_a_signing_key' };
    let jwk: PublicJwk;
    try {
      jwk = rsaPublicJwk(answer.PublicKey);
    } catch {
      return { reason: 'not_a_signing_key' };
    }
    if (jwk.kid !== record.kid || jwk.n !== record.n || jwk.e !== record.e) return { reason: 'public_key_mismatch' };
    return undefined;
  }

  /** GetPublicKey on a key id, once per instance when it succeeds; concurrent reads share one call. */
  private publicKey(keyId: string): Promise<PublicKeyRead> {
    let read = this.publicKeys.get(keyId);
    if (read === undefined) {
      read = this.readPublicKey(keyId);
      this.publicKeys.set(keyId, read);
      const forget = () => {
        if (this.publicKeys.get(keyId) === read) this.publicKeys.delete(keyId);
      };
      read.then((result) => 'refusal' in result && forget(), forget);
    }
    return read;
  }

  /**
   * A refusal is an answer about the key (it does not exist, is not this function's to read, cannot be
   * used); KMS being unavailable is not, and fails the registry read.
   */
  private async readPublicKey(keyId: string): Promise<PublicKeyRead> {
    try {
      return { answer: await this.kms.send(new GetPublicKeyCommand({ KeyId: keyId })) };
    } catch (error) {
      if (!(error instanceof Error)) throw error;
      if (REFUSALS.has(error.name)) return { refusal: error.name };
      if (isUnavailable(error)) throw new DependencyUnavailableError('kms', { cause: error });
      // Any other error KMS answers for the request itself (a 4xx) is about this key id too.
      if ((error as { $fault?: unknown }).$fault === 'client') return { refusal: error.name };
      throw error;
    }
  }

  /**
   * The key to sign with instead of `arn`, which KMS refused: from a registry read made now (the cached view
   * is dropped), with `arn` withdrawn. Requests that meet the same refusal meanwhile share that read.
   */
  private async replacementFor(arn: string): Promise<SigningKey> {
    const cached = this.cached;
    const read =
      cached?.withdrawn.has(arn) === true
        ? cached.view
        : this.reload(this.now(), new Set([...(cached?.withdrawn ?? NONE), arn]));
    const view = await read;
    try {
      return this.keyToSign(view, false);
    } catch (error) {
      // No key signs yet (the revocation's new key is not registered): the next request reads again.
      if (this.cached?.view === read) this.cached = undefined;
      throw error;
    }
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
    // The same answer vouches for the first key's registry record, once the registry is in use.
    if (!this.publicKeys.has(record.keyArn)) this.publicKeys.set(record.keyArn, Promise.resolve({ answer: response }));
    if (!isSigningKeyAnswer(response)) {
      throw new Error(
        `the signing key must be an RSA_2048 SIGN_VERIFY key, not ${response.KeySpec} ${response.KeyUsage}`,
      );
    }
    return record;
  }

  /**
   * One Sign call. When KMS refuses the key as withdrawn, a `replaceable` key rejects with its replacement
   * (SigningKeyWithdrawnError: the token is assembled again for another kid); a replacement's own refusal
   * is a 503, like any unavailable key.
   */
  private async sign(arn: string, data: Uint8Array, replaceable: boolean): Promise<Uint8Array> {
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
    ).catch(async (error: unknown) => {
      const refusal = error instanceof DependencyUnavailableError ? error.cause : undefined;
      if (!replaceable || !(refusal instanceof Error && WITHDRAWN_KEY_ERRORS.has(refusal.name))) throw error;
      throw new SigningKeyWithdrawnError(await this.replacementFor(arn), { cause: refusal });
    });
    if (response.Signature === undefined || response.KeyId !== arn) {
      throw new Error('KMS Sign returned no signature or signed with another key');
    }
    return response.Signature;
  }
}

/**
 * Whether a record can be published or sign at some instant of a view read at `now` and used for at most
 * `settle` seconds (a signer hands over `settle` seconds late): only such records need KMS's word.
 */
function inUseDuring(record: SigningKeyRecord, now: number, settle: number): boolean {
  if (record.state !== 'active') return false;
  const published = record.unpublishAfter === undefined || now < record.unpublishAfter;
  const maySign = record.retiredAt === undefined || record.retiredAt > now - settle;
  return published || maySign;
}

/**
 * The view's records as they read once the revocation of its withdrawn keys is written (planRevocation):
 * `keys revoke` disables a key before it writes the registry, so a read right after the refusal may not
 * show the revocation yet. The key that signs is then the one the revocation names; none when it needs a
 * new key.
 */
function withWithdrawnRevoked(view: KeyView, now: number): readonly SigningKeyRecord[] {
  let keys = view.keys;
  for (const arn of view.withdrawn) {
    const key = keys.find((candidate) => candidate.keyArn === arn && candidate.state === 'active');
    if (key === undefined) continue;
    const { updates } = planRevocation(keys, key.kid, now);
    keys = keys.map((record) => updates.find((update) => update.kid === record.kid) ?? record);
  }
  return keys;
}

/** Whether a GetPublicKey answer is of the kind of key the service signs with. */
function isSigningKeyAnswer(answer: GetPublicKeyCommandOutput): boolean {
  return answer.KeySpec === 'RSA_2048' && answer.KeyUsage === 'SIGN_VERIFY';
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
