import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  generateFamilyId,
  generateRefreshToken,
  hashRefreshToken,
  openSuccessor,
  parseRefreshToken,
  sealSuccessor,
} from '../../lambda/tokens/refresh-token';

const random = { bytes: (length: number) => new Uint8Array(randomBytes(length)), uuid: randomUUID };

describe('refresh-token format', () => {
  it('names its family before a 256-bit secret, and parses back to the family and the hash', () => {
    const familyId = generateFamilyId(random);
    expect(familyId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const token = generateRefreshToken(random, familyId);
    expect(token).toMatch(new RegExp(`^${familyId}\\.[A-Za-z0-9_-]{43}$`));
    expect(parseRefreshToken(token)).toEqual({ format: 'family', token, familyId, hash: hashRefreshToken(token) });
  });

  it('keeps the family ids of legacy families (UUIDs) when they move', () => {
    const familyId = randomUUID();
    const token = generateRefreshToken(random, familyId);
    expect(parseRefreshToken(token)).toMatchObject({ format: 'family', familyId });
  });

  it('recognises a legacy token (a bare 256-bit secret) and nothing else', () => {
    const legacy = randomBytes(32).toString('base64url');
    expect(parseRefreshToken(legacy)).toEqual({ format: 'legacy', token: legacy, hash: hashRefreshToken(legacy) });
    for (const bad of [
      '',
      'x',
      `${legacy}=`,
      `${legacy}.${legacy}.x`,
      `short.${legacy}`,
      `${'A'.repeat(22)}.${'A'.repeat(42)}`,
    ])
      expect(parseRefreshToken(bad)).toBeUndefined();
  });
});

describe('the sealed successor', () => {
  const familyId = generateFamilyId(random);
  const previous = generateRefreshToken(random, familyId);
  const successor = generateRefreshToken(random, familyId);
  const binding = { familyId, generation: 7 };
  const sealed = sealSuccessor(previous, successor, binding, random);

  it('opens with the previous token', () => {
    expect(openSuccessor(previous, sealed, binding)).toBe(successor);
  });

  it('holds nothing of the successor in the clear', () => {
    expect(sealed).not.toContain(successor.split('.')[1]);
    expect(Buffer.from(sealed, 'base64url').toString('latin1')).not.toContain(successor.split('.')[1]);
  });

  it('does not open without the previous token: not with its hash, the successor, or another token', () => {
    for (const key of [hashRefreshToken(previous), successor, generateRefreshToken(random, familyId), ''])
      expect(openSuccessor(key, sealed, binding)).toBeUndefined();
  });

  it('does not open for another family or generation, or once altered', () => {
    expect(openSuccessor(previous, sealed, { familyId, generation: 8 })).toBeUndefined();
    expect(openSuccessor(previous, sealed, { familyId: generateFamilyId(random), generation: 7 })).toBeUndefined();
    const bytes = Buffer.from(sealed, 'base64url');
    bytes[20] = (bytes[20] ?? 0) ^ 1;
    expect(openSuccessor(previous, bytes.toString('base64url'), binding)).toBeUndefined();
    expect(openSuccessor(previous, 'AAAA', binding)).toBeUndefined();
  });

  it('differs each time it is sealed (a fresh IV)', () => {
    expect(sealSuccessor(previous, successor, binding, random)).not.toBe(sealed);
  });
});
