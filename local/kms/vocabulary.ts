/** KMS vocabulary: the enum values real KMS accepts, the key specs implemented here, and limits. */
import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';

/** Every KeySpec real KMS knows: a valid but unimplemented one is "unsupported", not "invalid". */
export const ALL_KEY_SPECS = [
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
  'ECC_NIST_P256',
  'ECC_NIST_P384',
  'ECC_NIST_P521',
  'ECC_SECG_P256K1',
  'ECC_NIST_EDWARDS25519',
  'SYMMETRIC_DEFAULT',
  'HMAC_224',
  'HMAC_256',
  'HMAC_384',
  'HMAC_512',
  'SM2',
  'ML_DSA_44',
  'ML_DSA_65',
  'ML_DSA_87',
] as const;
export const ALL_KEY_USAGES = ['SIGN_VERIFY', 'ENCRYPT_DECRYPT', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT'] as const;
export const ALL_ORIGINS = ['AWS_KMS', 'EXTERNAL', 'AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE'] as const;
export const ALL_SIGNING_ALGORITHMS = [
  'RSASSA_PSS_SHA_256',
  'RSASSA_PSS_SHA_384',
  'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512',
  'ECDSA_SHA_256',
  'ECDSA_SHA_384',
  'ECDSA_SHA_512',
  'SM2DSA',
  'ML_DSA_SHAKE_256',
  'ED25519_SHA_512',
  'ED25519_PH_SHA_512',
] as const;
export const MESSAGE_TYPES = ['RAW', 'DIGEST', 'EXTERNAL_MU'] as const;

export type HashName = 'sha256' | 'sha384' | 'sha512';

export interface SigningAlgorithm {
  readonly name: string;
  readonly scheme: 'pkcs1' | 'pss' | 'ecdsa';
  readonly hash: HashName;
  /** Digest length in bytes, also the PSS salt length (KMS uses salt length = digest length). */
  readonly digestLength: number;
}

function signingAlgorithm(name: string, scheme: SigningAlgorithm['scheme'], bits: 256 | 384 | 512): SigningAlgorithm {
  return { name, scheme, hash: `sha${bits}`, digestLength: bits / 8 };
}

const RSA_SIGNING_ALGORITHMS = [
  signingAlgorithm('RSASSA_PSS_SHA_256', 'pss', 256),
  signingAlgorithm('RSASSA_PSS_SHA_384', 'pss', 384),
  signingAlgorithm('RSASSA_PSS_SHA_512', 'pss', 512),
  signingAlgorithm('RSASSA_PKCS1_V1_5_SHA_256', 'pkcs1', 256),
  signingAlgorithm('RSASSA_PKCS1_V1_5_SHA_384', 'pkcs1', 384),
  signingAlgorithm('RSASSA_PKCS1_V1_5_SHA_512', 'pkcs1', 512),
];

const generateKeyPairAsync = promisify(generateKeyPair);

/** The key specs this emulator implements, and what real KMS allows for each. */
export const KEY_SPECS = {
  RSA_2048: {
    validUsages: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'],
    signingAlgorithms: RSA_SIGNING_ALGORITHMS,
    generate: async () =>
      (await generateKeyPairAsync('rsa', { modulusLength: 2048, publicExponent: 0x10001 })).privateKey,
  },
  ECC_NIST_P256: {
    validUsages: ['SIGN_VERIFY', 'KEY_AGREEMENT'],
    signingAlgorithms: [signingAlgorithm('ECDSA_SHA_256', 'ecdsa', 256)],
    generate: async () => (await generateKeyPairAsync('ec', { namedCurve: 'prime256v1' })).privateKey,
  },
} as const;

export type KeySpec = keyof typeof KEY_SPECS;
export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion';

export const isImplementedKeySpec = (spec: string): spec is KeySpec => Object.hasOwn(KEY_SPECS, spec);

export const KEY_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const ARN_PATTERN = /^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):(key|alias)\/(.+)$/;
const ALIAS_NAME_PATTERN = /^[a-zA-Z0-9:/_-]+$/;
export const KEY_ID_LENGTH = { min: 1, max: 2048 };
export const ALIAS_NAME_LENGTH = { min: 1, max: 256, pattern: ALIAS_NAME_PATTERN };
export const MAX_MESSAGE_BYTES = 4096;
export const MAX_TAGS_PER_KEY = 50;

export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

export const nowInSeconds = () => Date.now() / 1000;
