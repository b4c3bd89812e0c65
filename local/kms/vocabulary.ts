/** KMS vocabulary: the enum values real KMS accepts, the key specs implemented here, and limits. */
import { createSecretKey, generateKeyPair, type KeyObject, randomBytes } from 'node:crypto';
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
export const ALL_ENCRYPTION_ALGORITHMS = [
  'SYMMETRIC_DEFAULT',
  'RSAES_OAEP_SHA_1',
  'RSAES_OAEP_SHA_256',
  'SM2PKE',
] as const;
export const DATA_KEY_SPECS = { AES_256: 32, AES_128: 16 } as const;
export type DataKeySpec = keyof typeof DATA_KEY_SPECS;

/** The key usages implemented here: asymmetric keys sign, symmetric keys encrypt. */
export type KeyUsage = 'SIGN_VERIFY' | 'ENCRYPT_DECRYPT';

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

/** What one implemented key spec is: what real KMS allows it, what the emulator does with it, and its key material. */
export interface KeySpecDefinition {
  /** Every KeyUsage real KMS accepts for the spec. */
  readonly validUsages: readonly (typeof ALL_KEY_USAGES)[number][];
  /** The one usage the emulator implements for it. */
  readonly usage: KeyUsage;
  readonly signingAlgorithms: readonly SigningAlgorithm[];
  readonly encryptionAlgorithms: readonly (typeof ALL_ENCRYPTION_ALGORITHMS)[number][];
  /** A private key (asymmetric specs) or a secret key (SYMMETRIC_DEFAULT). */
  readonly generate: () => Promise<KeyObject>;
}

export type KeySpec = 'RSA_2048' | 'ECC_NIST_P256' | 'SYMMETRIC_DEFAULT';

export const SYMMETRIC_KEY_BYTES = 32;

/** The key specs this emulator implements, and what real KMS allows for each. */
export const KEY_SPECS: Readonly<Record<KeySpec, KeySpecDefinition>> = {
  RSA_2048: {
    validUsages: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'],
    usage: 'SIGN_VERIFY',
    signingAlgorithms: RSA_SIGNING_ALGORITHMS,
    encryptionAlgorithms: [],
    generate: async () =>
      (await generateKeyPairAsync('rsa', { modulusLength: 2048, publicExponent: 0x10001 })).privateKey,
  },
  ECC_NIST_P256: {
    validUsages: ['SIGN_VERIFY', 'KEY_AGREEMENT'],
    usage: 'SIGN_VERIFY',
    signingAlgorithms: [signingAlgorithm('ECDSA_SHA_256', 'ecdsa', 256)],
    encryptionAlgorithms: [],
    generate: async () => (await generateKeyPairAsync('ec', { namedCurve: 'prime256v1' })).privateKey,
  },
  // KMS's symmetric keys are 256-bit AES-GCM keys; here too (the ciphertext format is the emulator's own).
  SYMMETRIC_DEFAULT: {
    validUsages: ['ENCRYPT_DECRYPT'],
    usage: 'ENCRYPT_DECRYPT',
    signingAlgorithms: [],
    encryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    generate: async () => createSecretKey(randomBytes(SYMMETRIC_KEY_BYTES)),
  },
};

export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion';

export const isImplementedKeySpec = (spec: string): spec is KeySpec => Object.hasOwn(KEY_SPECS, spec);

export const KEY_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const ARN_PATTERN = /^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):(key|alias)\/(.+)$/;
const ALIAS_NAME_PATTERN = /^[a-zA-Z0-9:/_-]+$/;
export const KEY_ID_LENGTH = { min: 1, max: 2048 };
export const ALIAS_NAME_LENGTH = { min: 1, max: 256, pattern: ALIAS_NAME_PATTERN };
export const MAX_MESSAGE_BYTES = 4096;
/** Encrypt's Plaintext, like Sign's Message: 1 to 4096 bytes (PlaintextType). */
export const MAX_PLAINTEXT_BYTES = 4096;
/** CiphertextType: 1 to 6144 bytes. */
export const MAX_CIPHERTEXT_BYTES = 6144;
/** GenerateDataKey's NumberOfBytes (NumberOfBytesType). */
export const DATA_KEY_BYTES = { min: 1, max: 1024 };
export const MAX_TAGS_PER_KEY = 50;

export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

export const nowInSeconds = () => Date.now() / 1000;
