/** ECDSA on NIST P-256 over a precomputed digest (node:crypto always hashes, so this is BigInt math). */
import { randomBytes } from 'node:crypto';
import type { SigningKey } from './key-store';

export interface JacobianPoint {
  readonly x: bigint;
  readonly y: bigint;
  readonly z: bigint;
}

const P256 = {
  p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
  n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  g: {
    x: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
    y: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
    z: 1n,
  },
} as const;
const INFINITY: JacobianPoint = { x: 0n, y: 1n, z: 0n };

const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;
const modP = (a: bigint) => mod(a, P256.p);

function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [mod(a, m), m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) throw new Error('value is not invertible');
  return mod(oldS, m);
}

/** Point doubling for a = -3 ("dbl-2001-b"). */
function pointDouble(p: JacobianPoint): JacobianPoint {
  if (p.z === 0n || p.y === 0n) return INFINITY;
  const delta = modP(p.z * p.z);
  const gamma = modP(p.y * p.y);
  const beta = modP(p.x * gamma);
  const alpha = modP(3n * (p.x - delta) * (p.x + delta));
  const x = modP(alpha * alpha - 8n * beta);
  const z = modP((p.y + p.z) ** 2n - gamma - delta);
  const y = modP(alpha * (4n * beta - x) - 8n * gamma * gamma);
  return { x, y, z };
}

/** General point addition ("add-2007-bl"). */
function pointAdd(p: JacobianPoint, q: JacobianPoint): JacobianPoint {
  if (p.z === 0n) return q;
  if (q.z === 0n) return p;
  const z1z1 = modP(p.z * p.z);
  const z2z2 = modP(q.z * q.z);
  const u1 = modP(p.x * z2z2);
  const u2 = modP(q.x * z1z1);
  const s1 = modP(p.y * q.z * z2z2);
  const s2 = modP(q.y * p.z * z1z1);
  if (u1 === u2) return s1 === s2 ? pointDouble(p) : INFINITY;
  const h = modP(u2 - u1);
  const i = modP(4n * h * h);
  const j = modP(h * i);
  const r = modP(2n * (s2 - s1));
  const v = modP(u1 * i);
  const x = modP(r * r - j - 2n * v);
  const y = modP(r * (v - x) - 2n * s1 * j);
  const z = modP(((p.z + q.z) ** 2n - z1z1 - z2z2) * h);
  return { x, y, z };
}

function pointMultiply(point: JacobianPoint, scalar: bigint): JacobianPoint {
  let result = INFINITY;
  for (const bit of scalar.toString(2)) {
    result = pointDouble(result);
    if (bit === '1') result = pointAdd(result, point);
  }
  return result;
}

function affineX(point: JacobianPoint): bigint {
  const zInverse = modInverse(point.z, P256.p);
  return modP(point.x * zInverse * zInverse);
}

const toBigInt = (bytes: Uint8Array) => (bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`));
const fromBase64Url = (value: string | undefined) => toBigInt(Buffer.from(value ?? '', 'base64url'));

export function ecPrivateScalar(key: SigningKey): bigint {
  return fromBase64Url(key.privateKey.export({ format: 'jwk' }).d);
}

export function ecPublicPoint(key: SigningKey): JacobianPoint {
  const jwk = key.publicKey.export({ format: 'jwk' });
  return { x: fromBase64Url(jwk.x), y: fromBase64Url(jwk.y), z: 1n };
}

export function ecdsaSign(privateScalar: bigint, digest: Buffer): Buffer {
  const { n } = P256;
  const z = toBigInt(digest);
  for (;;) {
    const k = toBigInt(randomBytes(32));
    if (k === 0n || k >= n) continue;
    const r = mod(affineX(pointMultiply(P256.g, k)), n);
    const s = mod(modInverse(k, n) * (z + r * privateScalar), n);
    if (r !== 0n && s !== 0n) return encodeEcdsaSignature(r, s);
  }
}

export function ecdsaVerify(publicPoint: JacobianPoint, digest: Buffer, signature: Buffer): boolean {
  const { n } = P256;
  const decoded = decodeEcdsaSignature(signature);
  if (!decoded) return false;
  const { r, s } = decoded;
  if (r <= 0n || r >= n || s <= 0n || s >= n) return false;
  const w = modInverse(s, n);
  const u1 = mod(toBigInt(digest) * w, n);
  const u2 = mod(r * w, n);
  const point = pointAdd(pointMultiply(P256.g, u1), pointMultiply(publicPoint, u2));
  return point.z !== 0n && mod(affineX(point), n) === r;
}

/** ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } in DER, as KMS returns it. */
function encodeEcdsaSignature(r: bigint, s: bigint): Buffer {
  const integer = (value: bigint) => {
    const hex = value.toString(16);
    let bytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
    if ((bytes[0] ?? 0) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
    return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
  };
  const body = Buffer.concat([integer(r), integer(s)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

/** Strict DER decoding (short-form lengths suffice for P-256); undefined when malformed. */
function decodeEcdsaSignature(signature: Buffer): { r: bigint; s: bigint } | undefined {
  if (signature[0] !== 0x30 || signature[1] !== signature.length - 2) return undefined;
  const values: bigint[] = [];
  let offset = 2;
  for (let i = 0; i < 2; i++) {
    const length = signature[offset + 1];
    if (signature[offset] !== 0x02 || length === undefined || length === 0 || length > 33) return undefined;
    const bytes = signature.subarray(offset + 2, offset + 2 + length);
    const [first = 0, second = 0] = bytes;
    if (bytes.length !== length || first & 0x80 || (length > 1 && first === 0 && !(second & 0x80))) return undefined;
    values.push(toBigInt(bytes));
    offset += 2 + length;
  }
  const [r, s] = values;
  return offset === signature.length && r !== undefined && s !== undefined ? { r, s } : undefined;
}
