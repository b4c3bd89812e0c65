/**
 * Output keys of the stack besides the ones the operator CLI reads (those live in
 * bin/admin/stack-outputs.ts and are imported from there).
 */
export const JWKS_URI_OUTPUT = 'JwksUri';
export const METADATA_URL_OUTPUT = 'MetadataUrl';
export const REVOCATION_ENDPOINT_OUTPUT = 'RevocationEndpoint';
/** The regional domain a custom domain's DNS alias (or CNAME) points at. */
export const CUSTOM_DOMAIN_TARGET_OUTPUT = 'CustomDomainTarget';
/** The key-rotation function, for an out-of-schedule rotation (`aws lambda invoke`). */
export const KEY_ROTATION_FUNCTION_OUTPUT = 'KeyRotationFunctionName';
