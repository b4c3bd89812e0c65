/**
 * What the second-factor core needs from outside: randomness. The clock is the caller's `now` (epoch
 * seconds, as the stores take it), passed to every function that decides by time. The protocol core's
 * Random (lambda/tokens/ports.ts) satisfies this; the operator CLI passes node:crypto's.
 */
export interface Random {
  bytes(length: number): Uint8Array;
}
