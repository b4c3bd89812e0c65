import { DecryptCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import type { TotpSecretKey } from '../oauth/ports';
import { callDependency } from './aws-errors';

/**
 * TOTP secrets under the stack's KMS symmetric key. Every ciphertext is bound to its user by the encryption
 * context {userId} (authenticated, never secret): a secret copied to another user's item does not decrypt,
 * and the key policy's conditions require exactly that context. The key is always named (KeyId), so a
 * ciphertext made under any other key is refused rather than decrypted with it.
 */
export const MFA_ENCRYPTION_CONTEXT_KEY = 'userId';

const ALGORITHM = 'SYMMETRIC_DEFAULT';

export function mfaEncryptionContext(userId: string): Record<string, string> {
  return { [MFA_ENCRYPTION_CONTEXT_KEY]: userId };
}

/** The token function's side: decryption only. */
export class KmsTotpSecretKey implements TotpSecretKey {
  constructor(
    private readonly kms: KMSClient,
    private readonly keyId: string,
  ) {}

  async decrypt(userId: string, ciphertext: Uint8Array): Promise<Uint8Array> {
    const { Plaintext } = await callDependency('kms', () =>
      this.kms.send(
        new DecryptCommand({
          KeyId: this.keyId,
          CiphertextBlob: ciphertext,
          EncryptionContext: mfaEncryptionContext(userId),
          EncryptionAlgorithm: ALGORITHM,
        }),
      ),
    );
    if (Plaintext === undefined) throw new Error('KMS Decrypt returned no plaintext');
    return Plaintext;
  }
}

/** The operator's side (`users mfa enroll`): the new secret, encrypted for its user. */
export async function encryptTotpSecret(
  kms: KMSClient,
  keyId: string,
  userId: string,
  secret: Uint8Array,
): Promise<Uint8Array> {
  const { CiphertextBlob } = await kms.send(
    new EncryptCommand({
      KeyId: keyId,
      Plaintext: secret,
      EncryptionContext: mfaEncryptionContext(userId),
      EncryptionAlgorithm: ALGORITHM,
    }),
  );
  if (CiphertextBlob === undefined) throw new Error('KMS Encrypt returned no ciphertext');
  return CiphertextBlob;
}
