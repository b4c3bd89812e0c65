/** What token assembly needs from outside: a key that signs (KMS) and randomness. The core passes both in. */

export interface SigningKey {
  readonly kid: string;
  readonly alg: 'RS256';
  sign(data: Uint8Array): Promise<Uint8Array>;
}

export interface Random {
  bytes(length: number): Uint8Array;
  uuid(): string;
}
