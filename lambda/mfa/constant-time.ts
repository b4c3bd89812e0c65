import { timingSafeEqual } from 'node:crypto';

/**
 * Compares two strings in time that depends on their length only (a code's or a hash's length is public:
 * the format fixes it). Different lengths are unequal at once.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}
