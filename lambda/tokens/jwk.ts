import { createHash, createPublicKey } from 'node:crypto';

export interface PublicJwk {
  readonly kty: 'RSA';
  readonly n: string;
  readonly e: string;
  readonly kid: string;
  readonly alg: 'RS256';
  readonly use: 'sig';
}

/** Turns a DER SubjectPublicKeyInfo (what KMS GetPublicKey returns) into a JWK with its RFC 7638 kid. */
export function rsaPublicJwk(spkiDer: Uint8Array): PublicJwk {
  const jwk = createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' }).export({ format: 'jwk' });
  if (jwk.kty !== 'RSA' || typeof jwk.n !== 'string' || typeof jwk.e !== 'string') {
    throw new Error('the signing key is not an RSA key');
  }
  return { kty: 'RSA', n: jwk.n, e: jwk.e, kid: rsaThumbprint(jwk.n, jwk.e), alg: 'RS256', use: 'sig' };
}

/** RFC 7638 §3: SHA-256 over the required members in lexicographic order, no whitespace. */
export function rsaThumbprint(n: string, e: string): string {
  return createHash('sha256')
    .update(JSON.stringify({ e, kty: 'RSA', n }))
    .digest('base64url');
}
