import { statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LEGACY_VERIFIER_TIMEOUT_MS, LegacyVerifierFault, verdictOf } from '../lambda/adapters/legacy-verifier';
import { ConfigError } from '../lambda/config';
import type { LegacyVerdict, LegacyVerifier, LegacyVerifierRequest } from '../lambda/oauth/ports';

/** `npm start`'s stand-in for the deployment's legacyVerifierFunctionArn: a module run in this process. */
export const LEGACY_VERIFIER_MODULE_ENV = 'LEGACY_VERIFIER_MODULE';

/** What the module exports: the handler a Lambda function would have, called with the same event. */
export type LegacyVerifierHandler = (event: LegacyVerifierRequest) => unknown;

/**
 * The legacy verifier as a handler called in process, under the same contract as the Lambda function: the
 * event it gets, its answer read as JSON would carry it, a throw or no answer within the timeout a fault.
 */
export class InProcessLegacyVerifier implements LegacyVerifier {
  constructor(
    private readonly handler: LegacyVerifierHandler,
    private readonly timeoutMs: number = LEGACY_VERIFIER_TIMEOUT_MS,
  ) {}

  async verify(request: LegacyVerifierRequest): Promise<LegacyVerdict> {
    const event = { username: request.username, password: request.password, clientId: request.clientId };
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new LegacyVerifierFault('timeout')), this.timeoutMs);
    });
    try {
      const answer = await Promise.race([Promise.resolve().then(() => this.handler(event)), deadline]);
      return verdictOf(asJson(answer));
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The answer as the Lambda Invoke API would return it: through JSON (undefined, functions, … do not survive). */
function asJson(answer: unknown): unknown {
  const text = JSON.stringify(answer);
  if (text === undefined) throw new LegacyVerifierFault('malformed_answer');
  return JSON.parse(text);
}

/**
 * The verifier LEGACY_VERIFIER_MODULE names (an absolute path to an ES module exporting `handler(event)`),
 * or undefined when it is unset or blank. Throws ConfigError naming the variable when the path is not
 * absolute, is no file, cannot be loaded or exports no handler: `npm start` stops before anything starts.
 */
export async function legacyVerifierFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): Promise<{ readonly path: string; readonly verifier: InProcessLegacyVerifier } | undefined> {
  const path = env[LEGACY_VERIFIER_MODULE_ENV]?.trim();
  if (path === undefined || path === '') return undefined;
  const problem = (text: string) =>
    new ConfigError(`invalid configuration: ${LEGACY_VERIFIER_MODULE_ENV}=${JSON.stringify(path)}: ${text}`);
  if (!isAbsolute(path)) throw problem('use an absolute path to an ES module that exports handler(event)');
  if (!isFile(path)) throw problem('no such file');
  let module: { handler?: unknown };
  try {
    module = (await import(pathToFileURL(path).href)) as { handler?: unknown };
  } catch (error) {
    throw problem(`the module could not be loaded (${error instanceof Error ? error.message : String(error)})`);
  }
  if (typeof module.handler !== 'function') throw problem('the module exports no handler function');
  return { path, verifier: new InProcessLegacyVerifier(module.handler as LegacyVerifierHandler) };
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
