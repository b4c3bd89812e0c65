/** What token assembly needs from outside: a key that signs (KMS) and randomness. The core passes both in. */

export interface SigningKey {
  readonly kid: string;
  readonly alg: 'RS256';
  /**
   * Signs `data` (the JWS signing input, whose header names this kid). Rejects with SigningKeyWithdrawnError
   * when the key was withdrawn since it was chosen (an emergency revocation): the token is then signed again
   * by the replacement the error carries.
   */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/**
 * The key refused to sign because it was withdrawn (KMS disabled it, or its deletion is pending): the
 * signing input names its kid, so the token must be assembled again for `replacement`, the key that signs
 * now. The replacement never rejects with this error itself: one retry, never a loop.
 */
export class SigningKeyWithdrawnError extends Error {
  constructor(
    readonly replacement: SigningKey,
    options?: { cause?: unknown },
  ) {
    super('the signing key was withdrawn; sign with its replacement', options);
    this.name = 'SigningKeyWithdrawnError';
  }
}

export interface Random {
  bytes(length: number): Uint8Array;
  uuid(): string;
}
