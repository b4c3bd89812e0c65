/**
 * The table definitions, once: the CDK stack and the local bootstrap both build tables from these, and
 * the stores read key and attribute names from here.
 */
export interface TableDefinition {
  /** Logical name; the physical name comes from configuration. */
  readonly name: 'clients' | 'users' | 'refreshTokens' | 'loginAttempts' | 'signingKeys' | 'mfaChallenges';
  readonly partitionKey: string;
  readonly sortKey?: string;
  /** Epoch-seconds attribute DynamoDB TTL deletes by (late: readers check it themselves). */
  readonly ttlAttribute?: string;
  readonly globalSecondaryIndexes?: readonly {
    readonly indexName: string;
    readonly partitionKey: string;
    /** The attributes the index holds besides the keys (an INCLUDE projection); every attribute when absent. */
    readonly nonKeyAttributes?: readonly string[];
  }[];
  /** Clients and users are the operator's data: never deleted with the stack. */
  readonly retain: boolean;
}

export const CLIENTS_TABLE: TableDefinition = { name: 'clients', partitionKey: 'clientId', retain: true };

export const USERS_TABLE: TableDefinition = { name: 'users', partitionKey: 'username', retain: true };

/**
 * The items of the users table that are not users: the claim of a running `users import`
 * (lambda/adapters/user-store.ts), in IMPORT_CLAIM.shards items, each guarding the usernames that hash to
 * it, so that concurrent first logins that create users (lazy migration) seldom meet in one transaction.
 * Their keys start with a control character, which no username has ever been allowed to contain
 * (lambda/oauth/username.ts, and the CLI's check before names were prepared).
 */
export const IMPORT_CLAIM = {
  /** Every claim item's key starts with it; the shard's number follows. */
  keyPrefix: '\u0001import#',
  shards: 16,
  /** Number: epoch milliseconds; the claim has lapsed from then on, unless renewed. */
  until: 'claimedUntil',
  /** String: a random id of the import that holds it. */
  holder: 'claimHolder',
} as const;

/**
 * The second factor's attributes of a user item (top-level, so that IAM's dynamodb:Attributes can keep the
 * token function to the last two and the enrollment date its commit conditions on).
 */
export const USER_MFA_ATTRIBUTES = {
  /** Binary: KMS ciphertext of the TOTP secret, encryption context {userId}. */
  secret: 'mfaSecret',
  /** ISO 8601. */
  enrolledAt: 'mfaEnrolledAt',
  /** Number: the TOTP step of the last accepted code. */
  lastStep: 'mfaLastStep',
  /** String Set: the unused recovery codes' hashes (a set: two codes spent at once both go, by value). */
  recoveryCodeHashes: 'recoveryCodeHashes',
} as const;

/**
 * The user id of a refresh-token family's item (lambda/adapters/refresh-token-store.ts). Not `userId`, so
 * that family items stay out of `byUser`, which holds every attribute of the legacy one-item-per-token
 * records: each rotation would write there too.
 */
export const FAMILY_USER_ATTRIBUTE = 'familyUserId';

export const REFRESH_TOKENS_TABLE: TableDefinition = {
  name: 'refreshTokens',
  partitionKey: 'tokenHash',
  ttlAttribute: 'expiresAt',
  globalSecondaryIndexes: [
    // Legacy tokens, one item per token; empty once the last of them has expired.
    { indexName: 'byUser', partitionKey: 'userId' },
    // Family items; only what revoking a user's families needs, none of which a rotation changes.
    {
      indexName: 'familiesByUser',
      partitionKey: FAMILY_USER_ATTRIBUTE,
      nonKeyAttributes: ['familyExpiresAt', 'revokedAt'],
    },
  ],
  retain: false,
};

/** Brute-force counters (lambda/oauth/lockout.ts): `user#<hash>` or `ip#<ip>`, then the counter's kind and window. */
export const LOGIN_ATTEMPTS_TABLE: TableDefinition = {
  name: 'loginAttempts',
  partitionKey: 'pk',
  sortKey: 'sk',
  ttlAttribute: 'expiresAt',
  retain: false,
};

/** The signing-key registry (lambda/tokens/key-registry.ts): losing it would unpublish every key. */
export const SIGNING_KEYS_TABLE: TableDefinition = { name: 'signingKeys', partitionKey: 'kid', retain: true };

/**
 * Pending second factors (lambda/mfa/mfa-token.ts MfaChallenge), by the SHA-256 of their mfa_token: five
 * minutes each. A table of their own: refreshTokens' byUser index would take an item with a userId for a
 * legacy token, and loginAttempts' items mean something else.
 */
export const MFA_CHALLENGES_TABLE: TableDefinition = {
  name: 'mfaChallenges',
  partitionKey: 'tokenHash',
  ttlAttribute: 'expiresAt',
  retain: false,
};

export const TABLE_DEFINITIONS: readonly TableDefinition[] = [
  CLIENTS_TABLE,
  USERS_TABLE,
  REFRESH_TOKENS_TABLE,
  LOGIN_ATTEMPTS_TABLE,
  SIGNING_KEYS_TABLE,
  MFA_CHALLENGES_TABLE,
];

/** Physical table names, by logical name. */
export type TableNames = Readonly<Record<TableDefinition['name'], string>>;
