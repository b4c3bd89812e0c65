import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { LEGACY_VERIFIER_TIMEOUT_SECONDS } from '../../contract/settings';
import type { LegacyVerdict, LegacyVerifier, LegacyVerifierRequest } from '../oauth/ports';

/** How long a verification may take, whichever way the verifier runs (a Lambda function, a local module). */
export const LEGACY_VERIFIER_TIMEOUT_MS = LEGACY_VERIFIER_TIMEOUT_SECONDS * 1000;

/** A subject identifier the verifier may choose: what a JWT `sub` and a DynamoDB attribute hold comfortably. */
const MAX_SUB_LENGTH = 255;

const FAULT_NAMES = {
  function_error: 'LegacyVerifierFunctionError',
  malformed_answer: 'LegacyVerifierMalformedAnswer',
  timeout: 'LegacyVerifierTimeout',
} as const;

/**
 * The verifier did not give a verdict: it failed (threw, or its function reported FunctionError), answered
 * something that is not a verdict, or not within the timeout. Its name says which (the grant logs names only).
 */
export class LegacyVerifierFault extends Error {
  constructor(readonly reason: keyof typeof FAULT_NAMES) {
    super(`the legacy verifier gave no verdict (${reason.replace('_', ' ')})`);
    this.name = FAULT_NAMES[reason];
  }
}

/**
 * The verdict in an answer, as JSON would carry it: `{"verified": false}`, or `{"verified": true}` with
 * an optional `sub` (1 to 255 characters, no control characters) and optional `scopes` (strings; those that
 * are not scope tokens are dropped later). Anything else is a malformed answer: LegacyVerifierFault.
 */
export function verdictOf(answer: unknown): LegacyVerdict {
  if (typeof answer !== 'object' || answer === null || Array.isArray(answer)) throw malformed();
  const { verified, sub, scopes } = answer as Record<string, unknown>;
  if (verified === false) return { verified: false };
  if (verified !== true) throw malformed();
  if (
    sub !== undefined &&
    (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_SUB_LENGTH || /\p{Cc}/u.test(sub))
  )
    throw malformed();
  if (scopes !== undefined && !(Array.isArray(scopes) && scopes.every((scope) => typeof scope === 'string')))
    throw malformed();
  return {
    verified: true,
    ...(sub === undefined ? {} : { sub }),
    ...(scopes === undefined ? {} : { scopes: scopes as string[] }),
  };
}

function malformed(): LegacyVerifierFault {
  return new LegacyVerifierFault('malformed_answer');
}

/**
 * The legacy verifier as a Lambda function, invoked synchronously (RequestResponse) with the request as its
 * event. The client (aws-clients.ts createLambdaClient) makes one attempt with the timeout; the call is also
 * aborted when the timeout has passed, whatever stage it is in.
 */
export class LambdaLegacyVerifier implements LegacyVerifier {
  constructor(
    private readonly lambda: LambdaClient,
    private readonly functionName: string,
    private readonly timeoutMs: number = LEGACY_VERIFIER_TIMEOUT_MS,
  ) {}

  async verify(request: LegacyVerifierRequest): Promise<LegacyVerdict> {
    const event = { username: request.username, password: request.password, clientId: request.clientId };
    const answer = await this.lambda.send(
      new InvokeCommand({
        FunctionName: this.functionName,
        InvocationType: 'RequestResponse',
        Payload: new TextEncoder().encode(JSON.stringify(event)),
      }),
      { abortSignal: AbortSignal.timeout(this.timeoutMs) },
    );
    // The function threw (or timed out, or ran out of memory): its payload describes the error, not a verdict.
    if (answer.FunctionError !== undefined) throw new LegacyVerifierFault('function_error');
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(answer.Payload ?? new Uint8Array()));
    } catch {
      throw malformed();
    }
    return verdictOf(parsed);
  }
}
