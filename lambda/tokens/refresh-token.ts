import { createHash } from 'node:crypto';
import type { Random } from './ports';

/** 256 random bits, base64url: unguessable, so a plain SHA-256 is a safe storage key. */
export function generateRefreshToken(random: Random): string {
  return Buffer.from(random.bytes(32)).toString('base64url');
}

export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url');
}
