/**
 * `npm start`: the whole service on http://127.0.0.1:${PORT:-3000}, in the foreground, with DynamoDB
 * Local and the KMS emulator, state in ${LOCAL_STATE_DIR:-.local}. Ctrl-C stops everything it started.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDemoAccount } from './demo';
import { type LocalStack, localStackState, startLocalStack } from './stack';
import { localStateDir, writeStackState } from './state';

// The SDK's notice about future Node.js versions is noise for a local run; the lockfile pins the SDK.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const stateDir = localStateDir();
const port = Number(process.env.PORT ?? 3000);
const say = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<void> {
  if (!Number.isInteger(port) || port <= 0 || port > 65535)
    throw new Error(`PORT must be a port number, not "${process.env.PORT}"`);
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  say(`Starting ropc-token-service locally (state in ${stateDir}) …`);
  let stack: LocalStack | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('\nStopping …');
    await rm(join(stateDir, 'stack.json'), { force: true });
    await stack?.stop();
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  try {
    stack = await startLocalStack({ port, stateDir, log: say, config: { scopesSupported: ['read', 'write'] } });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(`port ${port} is already in use: stop what uses it, or run with PORT=<another port> npm start`);
    }
    throw error;
  }
  const demo = await ensureDemoAccount(stack, stateDir);
  await writeStackState(stateDir, localStackState(stack));

  const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;
  process.stdout.write(
    `${[
      '',
      'ropc-token-service is running',
      `  Issuer:          ${stack.issuer}`,
      `  Token endpoint:  ${stack.tokenEndpoint}`,
      `  JWKS:            ${stack.url}/.well-known/jwks.json`,
      `  Metadata:        ${stack.url}/.well-known/oauth-authorization-server`,
      `  DynamoDB Local:  ${stack.dynamodbEndpoint}`,
      `  KMS emulator:    ${stack.kmsEndpoint}`,
      `  State:           ${stateDir}`,
      '',
      `  Demo client:     ${demo.clientId}  secret ${demo.clientSecret}`,
      `  Demo user:       ${demo.username}  password ${demo.password}`,
      '',
      'Get a token:',
      `  curl -s -u ${quote(`${demo.clientId}:${demo.clientSecret}`)} -d grant_type=password -d username=${quote(demo.username)} -d password=${quote(demo.password)} ${stack.tokenEndpoint}`,
      '',
      'Manage clients and users with: npx ropc-admin --help',
      'Ctrl-C stops everything.',
      '',
    ].join('\n')}\n`,
  );
}

main().catch((error: unknown) => {
  say(`npm start failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
