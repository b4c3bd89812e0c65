/**
 * The outputs of the deployed CloudFormation stack: the CDK stack defines its CfnOutputs with exactly these
 * keys and the operator CLI reads them (`ropc-admin --stack NAME`), so the two cannot drift apart.
 */
export const CLIENTS_TABLE_NAME_OUTPUT = 'ClientsTableName';
export const USERS_TABLE_NAME_OUTPUT = 'UsersTableName';
export const REFRESH_TOKENS_TABLE_NAME_OUTPUT = 'RefreshTokensTableName';
export const LOGIN_ATTEMPTS_TABLE_NAME_OUTPUT = 'LoginAttemptsTableName';
export const SIGNING_KEYS_TABLE_NAME_OUTPUT = 'SigningKeysTableName';
/** Pending second factors; the CLI never touches them. Optional: stacks from before MFA lack it. */
export const MFA_CHALLENGES_TABLE_NAME_OUTPUT = 'MfaChallengesTableName';
/** The KMS key that encrypts TOTP secrets (`users mfa enroll`). Optional: stacks from before MFA lack it. */
export const MFA_KEY_ID_OUTPUT = 'MfaKeyId';
/** Access-token lifetime in seconds; decides how long a retired key stays published. Optional: 900. */
export const ACCESS_TOKEN_TTL_OUTPUT = 'AccessTokenTtlSeconds';
export const SIGNING_KEY_ALIAS_OUTPUT = 'SigningKeyAlias';
export const ISSUER_OUTPUT = 'Issuer';
export const TOKEN_ENDPOINT_OUTPUT = 'TokenEndpoint';
/** The scrypt policy, e.g. "N=131072,r=8,p=1" (parseScryptParams syntax). Optional: DEFAULT_SCRYPT_PARAMS without it. */
export const SCRYPT_PARAMS_OUTPUT = 'ScryptParams';
export const JWKS_URI_OUTPUT = 'JwksUri';
export const METADATA_URL_OUTPUT = 'MetadataUrl';
export const REVOCATION_ENDPOINT_OUTPUT = 'RevocationEndpoint';
/** The regional domain a custom domain's DNS alias (or CNAME) points at. */
export const CUSTOM_DOMAIN_TARGET_OUTPUT = 'CustomDomainTarget';
/** The key-rotation function, for an out-of-schedule rotation (`aws lambda invoke`). */
export const KEY_ROTATION_FUNCTION_OUTPUT = 'KeyRotationFunctionName';
/** The CloudWatch dashboard of the service (grants, reuse, lockouts, the token function, the API). */
export const DASHBOARD_NAME_OUTPUT = 'DashboardName';

/** Outputs every stack of this service has and the CLI needs; ScryptParams and AccessTokenTtlSeconds are optional. */
export const REQUIRED_STACK_OUTPUTS: readonly string[] = [
  CLIENTS_TABLE_NAME_OUTPUT,
  USERS_TABLE_NAME_OUTPUT,
  REFRESH_TOKENS_TABLE_NAME_OUTPUT,
  LOGIN_ATTEMPTS_TABLE_NAME_OUTPUT,
  SIGNING_KEYS_TABLE_NAME_OUTPUT,
  SIGNING_KEY_ALIAS_OUTPUT,
  ISSUER_OUTPUT,
  TOKEN_ENDPOINT_OUTPUT,
];
