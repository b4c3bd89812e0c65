/**
 * The legacy verifier the authorization proof deploys with (context legacyVerifierFunctionArn), and that the
 * suites invoke through the token function's Lambda client (test/integration/legacy-verifier.test.ts,
 * against a stand-in for the Invoke API): the same ARN, in the proof's account and region, so that the
 * recorded lambda:InvokeFunction is judged against the grant the stack writes for it.
 */
export const LEGACY_VERIFIER_ARN = 'arn:aws:lambda:eu-west-1:111122223333:function:legacy-verifier';
