/**
 * The emulator's ciphertext blob for symmetric keys: AES-256-GCM under the key's own material,
 * with the key ID inside so that Decrypt needs no KeyId, as with real KMS (whose format is its own
 * and not documented; this one is not meant to match it).
 *
 *     version (1 byte, 0x01) ‖ key ID (16 bytes, the UUID's bytes) ‖ IV (12) ‖ ciphertext ‖ tag (16)
 *
 * The additional authenticated data is the version and key ID bytes followed by the encryption
 * context in canonical form, so a changed header, a changed context and a changed ciphertext all
 * fail the same tag check: Decrypt cannot tell, and does not say, which one it was.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { EncryptionKey } from './key-store';

const VERSION = 0x01;
const KEY_ID_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + KEY_ID_BYTES;
/** Version, key ID, IV and tag: what the blob adds to the plaintext. */
export const CIPHERTEXT_OVERHEAD = HEADER_BYTES + IV_BYTES + TAG_BYTES;

export type EncryptionContext = Readonly<Record<string, string>>;

/**
 * The encryption context as bytes that do not depend on the order the caller gave it in (KMS matches
 * contexts as sets of pairs): pairs sorted by the UTF-8 bytes of their keys, then a count and each
 * key and value with a length prefix, so that no two contexts encode alike.
 */
export function canonicalContext(context: EncryptionContext): Buffer {
  const pairs = Object.entries(context)
    .map(([key, value]) => [Buffer.from(key, 'utf8'), Buffer.from(value, 'utf8')] as const)
    .sort(([a], [b]) => Buffer.compare(a, b));
  const parts: Buffer[] = [uint32(pairs.length)];
  for (const [key, value] of pairs) parts.push(uint32(key.length), key, uint32(value.length), value);
  return Buffer.concat(parts);
}

function uint32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
}

const keyIdBytes = (keyId: string) => Buffer.from(keyId.replaceAll('-', ''), 'hex');

function keyIdFromBytes(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function sealBlob(key: EncryptionKey, plaintext: Buffer, context: EncryptionContext): Buffer {
  const header = Buffer.concat([Buffer.of(VERSION), keyIdBytes(key.keyId)]);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.secretKey, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.concat([header, canonicalContext(context)]));
  const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([header, iv, sealed, cipher.getAuthTag()]);
}

/** The key ID a blob names, or undefined when it is not one of this emulator's blobs. */
export function blobKeyId(blob: Buffer): string | undefined {
  if (blob.length <= CIPHERTEXT_OVERHEAD || blob[0] !== VERSION) return undefined;
  return keyIdFromBytes(blob.subarray(1, HEADER_BYTES));
}

/** The plaintext, or undefined when the blob, its key or its encryption context is not the one it was sealed with. */
export function openBlob(key: EncryptionKey, blob: Buffer, context: EncryptionContext): Buffer | undefined {
  if (blobKeyId(blob) !== key.keyId) return undefined;
  const header = blob.subarray(0, HEADER_BYTES);
  const iv = blob.subarray(HEADER_BYTES, HEADER_BYTES + IV_BYTES);
  const sealed = blob.subarray(HEADER_BYTES + IV_BYTES, blob.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key.secretKey, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.concat([header, canonicalContext(context)]));
  decipher.setAuthTag(blob.subarray(blob.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(sealed), decipher.final()]);
  } catch {
    return undefined;
  }
}
