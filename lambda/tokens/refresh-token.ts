import { createCipheriv, createDecipheriv, createHash, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { Random } from './ports';

/*
 * A refresh token is `<family id>.<secret>`: the family id names the one item that holds the family, so
 * looking a token up is one read, and the secret (256 random bits) is what proves possession. Only the
 * SHA-256 of the whole token is stored. Tokens issued before families were one item are a bare secret
 * (43 base64url characters) stored under their own hash; they still work, and move into the family
 * model on their first use.
 */

const FAMILY_TOKEN = /^([A-Za-z0-9_-]{16,64})\.([A-Za-z0-9_-]{43})$/;
const LEGACY_TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** What a presented refresh_token names: a family and the token's hash, or (older tokens) only its hash. */
export type PresentedRefreshToken =
  | { readonly format: 'family'; readonly token: string; readonly familyId: string; readonly hash: string }
  | { readonly format: 'legacy'; readonly token: string; readonly hash: string };

/** A new family id: 128 random bits, base64url. */
export function generateFamilyId(random: Random): string {
  return Buffer.from(random.bytes(16)).toString('base64url');
}

/** A new token of `familyId`: the family id, a dot, and 256 random bits, base64url. */
export function generateRefreshToken(random: Random, familyId: string): string {
  if (!/^[A-Za-z0-9_-]{16,64}$/.test(familyId)) throw new Error('a family id is 16 to 64 base64url characters');
  return `${familyId}.${Buffer.from(random.bytes(32)).toString('base64url')}`;
}

/** What the token names, or undefined when it has neither shape (no lookup is needed to refuse it). */
export function parseRefreshToken(token: string): PresentedRefreshToken | undefined {
  const family = FAMILY_TOKEN.exec(token);
  if (family !== null) return { format: 'family', token, familyId: family[1]!, hash: hashRefreshToken(token) };
  if (LEGACY_TOKEN.test(token)) return { format: 'legacy', token, hash: hashRefreshToken(token) };
  return undefined;
}

/** The 256-bit secret makes the token unguessable, so a plain SHA-256 is a safe storage key. */
export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url');
}

/** Compares two token hashes in constant time. */
export function sameTokenHash(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

const SEAL_INFO = Buffer.from('ropc-token-service refresh-token successor v1');
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * The successor of `previous`, sealed so that only a holder of `previous` can open it: AES-256-GCM under a
 * key derived with HKDF-SHA256 from the previous token (whose 256 random bits make stretching pointless),
 * bound to the family and the successor's generation. The store keeps only the previous token's hash, so
 * nothing read from the table alone yields a live token. base64url of IV ‖ ciphertext ‖ tag.
 */
export function sealSuccessor(
  previous: string,
  successor: string,
  binding: { familyId: string; generation: number },
  random: Random,
): string {
  const iv = Buffer.from(random.bytes(IV_BYTES));
  const cipher = createCipheriv('aes-256-gcm', sealKey(previous, binding.familyId), iv);
  cipher.setAAD(additionalData(binding));
  const sealed = Buffer.concat([cipher.update(successor, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, sealed, cipher.getAuthTag()]).toString('base64url');
}

/** The successor sealSuccessor sealed, or undefined when `previous` (or the binding) is not the one it was sealed with. */
export function openSuccessor(
  previous: string,
  sealed: string,
  binding: { familyId: string; generation: number },
): string | undefined {
  const bytes = Buffer.from(sealed, 'base64url');
  if (bytes.length <= IV_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', sealKey(previous, binding.familyId), bytes.subarray(0, IV_BYTES));
    decipher.setAAD(additionalData(binding));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    return Buffer.concat([
      decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8');
  } catch {
    return undefined;
  }
}

function sealKey(previous: string, familyId: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(previous, 'utf8'), Buffer.from(familyId, 'utf8'), SEAL_INFO, 32));
}

function additionalData(binding: { familyId: string; generation: number }): Buffer {
  return Buffer.from(`${binding.familyId}:${binding.generation}`, 'utf8');
}
