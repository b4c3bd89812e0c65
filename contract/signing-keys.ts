/**
 * Every signing key carries this tag, its value naming the deployment (the stack name; `local` for the
 * local stack): IAM conditions match on it, so one stack's functions cannot sign with, and its rotation
 * cannot delete, another stack's keys in the same account.
 */
export const SIGNING_KEY_TAG_KEY = 'ropc-token-service:signing-key';

export function signingKeyTag(deployment: string): { readonly TagKey: string; readonly TagValue: string } {
  return { TagKey: SIGNING_KEY_TAG_KEY, TagValue: deployment };
}

/** Clock skew allowed between the token function, resource servers and KMS (a retired key stays published this much longer). */
export const CLOCK_SKEW_SECONDS = 300;

/**
 * How long a rotation publishes a new key before it signs, unless told otherwise: long enough for common
 * JWKS caches (API Gateway JWT authorizers keep keys for up to 2 hours, our own JWKS answers say
 * max-age=300, and the functions re-read the registry every minute).
 */
export const DEFAULT_PROPAGATION_SECONDS = 3 * 3600;

/** The deployment name of the local stack (`npm start`, the tests): what its keys are tagged with. */
export const LOCAL_DEPLOYMENT = 'local';
