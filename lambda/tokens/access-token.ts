import { type SigningKey, SigningKeyWithdrawnError } from './ports';

/** RFC 9068 §2.2 claims of a JWT access token. Times are epoch seconds. */
export interface AccessTokenClaims {
  readonly iss: string;
  readonly sub: string;
  readonly aud: string;
  readonly exp: number;
  readonly iat: number;
  readonly jti: string;
  readonly client_id: string;
  readonly scope: string;
}

/**
 * Builds the compact JWS: header `{alg, typ: at+jwt, kid}` (RFC 9068 §2.1), signed by `key`. When the key
 * was withdrawn meanwhile, the token is built once more for its replacement (the header names the kid that
 * signs); a second refusal is the caller's.
 */
export async function signAccessToken(claims: AccessTokenClaims, key: SigningKey): Promise<string> {
  try {
    return await signWith(claims, key);
  } catch (error) {
    if (!(error instanceof SigningKeyWithdrawnError)) throw error;
    return signWith(claims, error.replacement);
  }
}

async function signWith(claims: AccessTokenClaims, key: SigningKey): Promise<string> {
  const header = { alg: key.alg, typ: 'at+jwt', kid: key.kid };
  const signingInput = `${base64url(header)}.${base64url(claims)}`;
  const signature = await key.sign(Buffer.from(signingInput, 'ascii'));
  return `${signingInput}.${Buffer.from(signature).toString('base64url')}`;
}

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}
