import { createHash } from 'node:crypto';
import { GetPublicKeyCommand, SignCommand, type KMSClient } from '@aws-sdk/client-kms';
import type { JwtSigner, SigningKey } from '../oauth/ports';
import { rsaPublicJwk, type PublicJwk } from '../tokens/jwk';
import { callDependency } from './aws-errors';

/** How long a resolved key (alias → ARN, public key, kid) is reused before KMS is asked again. */
const KEY_CACHE_MS = 60_000;

interface ResolvedKey {
  readonly arn: string;
  readonly jwk: PublicJwk;
}

/**
 * Signs RS256 JWTs with an RSA_2048 KMS key: the private key never leaves KMS. The key is resolved once
 * a minute (GetPublicKey gives its ARN and public key, hence the RFC 7638 kid); each signature is one
 * Sign call over the SHA-256 digest, pinned to the resolved ARN so kid and signature always match.
 */
export class KmsJwtSigner implements JwtSigner {
  private cached?: { at: number; key: Promise<ResolvedKey> };

  constructor(
    private readonly kms: KMSClient,
    private readonly keyId: string,
    private readonly now: () => number = Date.now,
  ) {}

  async signingKey(): Promise<SigningKey> {
    const { arn, jwk } = await this.resolve();
    return {
      kid: jwk.kid,
      alg: 'RS256',
      sign: (data) => this.sign(arn, data),
    };
  }

  /** The keys resource servers need (RFC 7517), without private material. */
  async publicJwks(): Promise<PublicJwk[]> {
    return [(await this.resolve()).jwk];
  }

  private resolve(): Promise<ResolvedKey> {
    const now = this.now();
    if (this.cached === undefined || now - this.cached.at >= KEY_CACHE_MS) {
      const key = this.fetchKey();
      this.cached = { at: now, key };
      // A failed lookup is not cached: the next request asks KMS again.
      key.catch(() => {
        if (this.cached?.key === key) this.cached = undefined;
      });
    }
    return this.cached.key;
  }

  private async fetchKey(): Promise<ResolvedKey> {
    const response = await callDependency('kms', () => this.kms.send(new GetPublicKeyCommand({ KeyId: this.keyId })));
    if (response.KeyId === undefined || response.PublicKey === undefined) {
      throw new Error('KMS GetPublicKey returned no key');
    }
    if (response.KeySpec !== 'RSA_2048' || response.KeyUsage !== 'SIGN_VERIFY') {
      throw new Error(`the signing key must be an RSA_2048 SIGN_VERIFY key, not ${response.KeySpec} ${response.KeyUsage}`);
    }
    return { arn: response.KeyId, jwk: rsaPublicJwk(response.PublicKey) };
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
