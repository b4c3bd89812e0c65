/**
 * Signatures over a digest (RAW messages are hashed first, DIGEST messages are used as is):
 * RSASSA-PKCS1-v1_5 and RSASSA-PSS here, ECDSA on P-256 in ./p256.
 */
import {
  createHash,
  constants as cryptoConstants,
  privateEncrypt,
  publicDecrypt,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import type { SigningKey } from './key-store';
import { ecdsaSign, ecdsaVerify, ecPrivateScalar, ecPublicPoint } from './p256';
import type { HashName, SigningAlgorithm } from './vocabulary';

/** DER prefix of the PKCS#1 v1.5 DigestInfo for each hash (RFC 8017, section 9.2, note 1). */
const DIGEST_INFO_PREFIX: Record<HashName, Buffer> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

export function signDigest(key: SigningKey, algorithm: SigningAlgorithm, digest: Buffer): Buffer {
  switch (algorithm.scheme) {
    case 'pkcs1':
      return privateEncrypt(
        { key: key.privateKey, padding: cryptoConstants.RSA_PKCS1_PADDING },
        Buffer.concat([DIGEST_INFO_PREFIX[algorithm.hash], digest]),
      );
    case 'pss': {
      const modulusBits = rsaModulusBits(key);
      const encoded = leftPad(pssEncode(digest, algorithm, modulusBits - 1), Math.ceil(modulusBits / 8));
      return privateEncrypt({ key: key.privateKey, padding: cryptoConstants.RSA_NO_PADDING }, encoded);
    }
    case 'ecdsa':
      return ecdsaSign(ecPrivateScalar(key), digest);
  }
}

export function verifyDigest(key: SigningKey, algorithm: SigningAlgorithm, digest: Buffer, signature: Buffer): boolean {
  switch (algorithm.scheme) {
    case 'pkcs1': {
      const recovered = rsaPublicOperation(key, signature, cryptoConstants.RSA_PKCS1_PADDING);
      const expected = Buffer.concat([DIGEST_INFO_PREFIX[algorithm.hash], digest]);
      return recovered !== undefined && recovered.length === expected.length && timingSafeEqual(recovered, expected);
    }
    case 'pss': {
      const encoded = rsaPublicOperation(key, signature, cryptoConstants.RSA_NO_PADDING);
      return encoded !== undefined && pssVerify(digest, encoded, algorithm, rsaModulusBits(key) - 1);
    }
    case 'ecdsa':
      return ecdsaVerify(ecPublicPoint(key), digest, signature);
  }
}

function rsaModulusBits(key: SigningKey): number {
  return key.privateKey.asymmetricKeyDetails?.modulusLength ?? 2048;
}

/** RSA public-key operation on a signature, or undefined when it is not even well formed. */
function rsaPublicOperation(key: SigningKey, signature: Buffer, padding: number): Buffer | undefined {
  if (signature.length !== Math.ceil(rsaModulusBits(key) / 8)) return undefined;
  try {
    return publicDecrypt({ key: key.publicKey, padding }, signature);
  } catch {
    return undefined;
  }
}

function leftPad(bytes: Buffer, length: number): Buffer {
  return bytes.length >= length ? bytes : Buffer.concat([Buffer.alloc(length - bytes.length), bytes]);
}

function xor(a: Buffer, b: Buffer): Buffer {
  return Buffer.from(a.map((byte, i) => byte ^ (b[i] ?? 0)));
}

function mgf1(seed: Buffer, length: number, hash: HashName): Buffer {
  const blocks: Buffer[] = [];
  for (let counter = 0, produced = 0; produced < length; counter++) {
    const counterBytes = Buffer.alloc(4);
    counterBytes.writeUInt32BE(counter);
    const block = createHash(hash).update(seed).update(counterBytes).digest();
    blocks.push(block);
    produced += block.length;
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** EMSA-PSS-ENCODE (RFC 8017, section 9.1.1), MGF1 with the same hash, salt length = hash length. */
function pssEncode(digest: Buffer, algorithm: SigningAlgorithm, emBits: number): Buffer {
  const hashLength = algorithm.digestLength;
  const emLength = Math.ceil(emBits / 8);
  const salt = randomBytes(hashLength);
  const h = createHash(algorithm.hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
  const db = Buffer.alloc(emLength - hashLength - 1);
  db[db.length - salt.length - 1] = 0x01;
  salt.copy(db, db.length - salt.length);
  const maskedDb = xor(db, mgf1(h, db.length, algorithm.hash));
  maskedDb[0] = (maskedDb[0] ?? 0) & (0xff >> (8 * emLength - emBits));
  return Buffer.concat([maskedDb, h, Buffer.from([0xbc])]);
}

/** EMSA-PSS-VERIFY (RFC 8017, section 9.1.2) with salt length = hash length. */
function pssVerify(digest: Buffer, encoded: Buffer, algorithm: SigningAlgorithm, emBits: number): boolean {
  const hashLength = algorithm.digestLength;
  const emLength = Math.ceil(emBits / 8);
  const leading = encoded.subarray(0, encoded.length - emLength);
  const em = encoded.subarray(encoded.length - emLength);
  const topBitsMask = 0xff >> (8 * emLength - emBits);
  if (leading.some((byte) => byte !== 0) || em.length !== emLength || emLength < 2 * hashLength + 2) return false;
  if (em[emLength - 1] !== 0xbc || ((em[0] ?? 0) & ~topBitsMask) !== 0) return false;
  const maskedDb = em.subarray(0, emLength - hashLength - 1);
  const h = em.subarray(emLength - hashLength - 1, emLength - 1);
  const db = xor(maskedDb, mgf1(h, maskedDb.length, algorithm.hash));
  db[0] = (db[0] ?? 0) & topBitsMask;
  const separator = db.length - hashLength - 1;
  if (db.subarray(0, separator).some((byte) => byte !== 0) || db[separator] !== 0x01) return false;
  const salt = db.subarray(separator + 1);
  const expected = createHash(algorithm.hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
  return timingSafeEqual(h, expected);
}
