/**
 * Every signing key carries this tag, its value naming the deployment (the stack name; `local` for the
 * local stack): IAM conditions match on it, so one stack's functions cannot sign with, and its rotation
 * cannot delete, another stack's keys in the same account.
 */
export const SIGNING_KEY_TAG_KEY = 'ropc-token-service:signing-key';

export function signingKeyTag(deployment: string): { readonly TagKey: string; readonly TagValue: string } {
  return { TagKey: SIGNING_KEY_TAG_KEY, TagValue: deployment };
}

/** The deployment name of the local stack (`npm start`, the tests): what its keys are tagged with. */
export const LOCAL_DEPLOYMENT = 'local';
