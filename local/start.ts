/**
 * `npm start`: the whole service on http://127.0.0.1:${PORT:-3000}, in the foreground, with DynamoDB
 * Local and the KMS emulator, state in ${LOCAL_STATE_DIR:-.local} (of the project root). Ctrl-C stops
 * everything it started, and so do SIGINT or SIGTERM to the npm process alone (a supervisor's, an IDE's,
 * `timeout`'s): the script `exec`s tsx so npm's forwarded signal reaches it, tsx relays it here, and this
 * process also stops when the processes that launched it go away. REFRESH_TOKEN_GRACE_SECONDS sets the
 * refresh-token grace of clients without their own, LOCKOUT_PAIR_THRESHOLD, LOCKOUT_USER_FAILURES_PER_HOUR
 * and LOCKOUT_IP_FAILURES_PER_DAY the password grant's brute-force limits (local/env-settings.ts), and
 * LEGACY_VERIFIER_MODULE the legacy verifier of lazy migration (local/legacy-verifier.ts). The service's
 * log goes to stdout: a line per request and a readable line per event, or with LOG_FORMAT=json the JSON
 * lines the functions write (local/log-format.ts). A taken PORT stops it before anything starts.
 */
import { readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDemoAccount } from './demo';
import { localSettingsFromEnv } from './env-settings';
import { legacyVerifierFromEnv } from './legacy-verifier';
import { localAccessLog, localLogSink, logFormatFromEnv } from './log-format';
import { portTaken } from './net';
import { type LocalStack, localStackState, startLocalStack } from './stack';
import { localStateDir, writeStackState } from './state';

const stateDir = localStateDir();
const port = Number(process.env.PORT ?? 3000);
const say = (line: string) => process.stderr.write(`${line}\n`);
/** The service's log: JSON lines, or their readable form, on stdout as the functions write them. */
const print = (line: string) => process.stdout.write(`${line}\n`);
/** A stop that hangs (a stuck socket, a JVM ignoring SIGTERM) must not keep the process: exit anyway. */
const STOP_DEADLINE_MS = 8_000;
const WATCH_INTERVAL_MS = 500;

/** The parent pid of `pid` from /proc (Linux), or undefined when it is gone or unknowable. */
function parentOf(pid: number): number | undefined {
  if (pid === process.pid) return process.ppid;
  try {
    // /proc/PID/stat: "pid (comm) state ppid …", where comm may hold spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Calls `onGone` once a launcher goes away: the parent (tsx), and under npm the grandparent (npm) too. A
 * process whose parent dies is re-parented, so each link is checked as "this pid still has the parent it had".
 * A launcher killed outright (SIGKILL) cannot forward anything; this still stops the stack and its JVM.
 */
function watchLaunchers(onGone: (why: string) => void): void {
  const levels = process.env.npm_lifecycle_event === undefined ? 1 : 2;
  const links: { pid: number; parent: number }[] = [];
  for (let pid = process.pid; links.length < levels; ) {
    const parent = parentOf(pid);
    if (parent === undefined || parent <= 1) break;
    links.push({ pid, parent });
    pid = parent;
  }
  if (links.length === 0) return;
  const timer = setInterval(() => {
    const broken = links.find(({ pid, parent }) => parentOf(pid) !== parent);
    if (broken === undefined) return;
    clearInterval(timer);
    onGone(`process ${broken.parent}, which started this one, has exited`);
  }, WATCH_INTERVAL_MS);
  timer.unref();
}

function portInUseMessage(taken: number): string {
  const another = taken < 65535 ? taken + 1 : 3000;
  return `port ${taken} is already in use: stop what uses it, or choose another port, e.g. PORT=${another} npm start`;
}

async function main(): Promise<void> {
  if (!Number.isInteger(port) || port <= 0 || port > 65535)
    throw new Error(`PORT must be a port number, not "${process.env.PORT}"`);
  // Checked before anything starts: a bad value names its variable and starts nothing.
  const settings = localSettingsFromEnv(process.env);
  const legacy = await legacyVerifierFromEnv(process.env);
  const logFormat = logFormatFromEnv(process.env);
  // Before DynamoDB Local's JVM starts, so a taken port costs no wait. (Another process may still take it
  // in the meantime: startLocalStack's EADDRINUSE gets the same message.)
  if (await portTaken(port)) throw new Error(portInUseMessage(port));
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  say(`Starting ropc-token-service locally (state in ${stateDir}) …`);
  let stack: LocalStack | undefined;
  let stopping = false;
  const stop = async (code: number, why?: string) => {
    if (stopping) return;
    stopping = true;
    say(`\nStopping …${why === undefined ? '' : ` (${why})`}`);
    setTimeout(() => {
      say(`stopping took over ${STOP_DEADLINE_MS} ms: exiting anyway`);
      process.exit(code);
    }, STOP_DEADLINE_MS).unref();
    try {
      await rm(join(stateDir, 'stack.json'), { force: true });
      await stack?.stop();
    } finally {
      process.exit(code); // the DynamoDB reaper kills a JVM still alive at exit
    }
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGHUP', () => void stop(0));
  watchLaunchers((why) => void stop(0, why));

  try {
    stack = await startLocalStack({
      port,
      stateDir,
      log: say,
      logSink: localLogSink(logFormat, print),
      accessLog: localAccessLog(logFormat, print),
      config: { scopesSupported: ['read', 'write'], ...settings },
      legacyVerifier: legacy?.verifier,
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(portInUseMessage(port));
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
      `  Refresh grace:   ${stack.config.refreshTokenGraceSeconds} s (REFRESH_TOKEN_GRACE_SECONDS; clients may have their own)`,
      ...(legacy === undefined
        ? []
        : [`  Legacy verifier: ${legacy.path} (LEGACY_VERIFIER_MODULE; unknown usernames are migrated on login)`]),
      `  Lockout:         after ${stack.config.lockoutPairThreshold} failures per username and IP (LOCKOUT_PAIR_THRESHOLD), ${stack.config.lockoutUserFailuresPerHour} per username an hour (LOCKOUT_USER_FAILURES_PER_HOUR), ${stack.config.lockoutIpFailuresPerDay} per IP a day (LOCKOUT_IP_FAILURES_PER_DAY)`,
      '',
      `  Demo client:     ${demo.clientId}  secret ${demo.clientSecret}`,
      `  Demo user:       ${demo.username}  password ${demo.password}`,
      '',
      'Get a token:',
      `  curl -s -u ${quote(`${demo.clientId}:${demo.clientSecret}`)} -d grant_type=password -d username=${quote(demo.username)} -d password=${quote(demo.password)} ${stack.tokenEndpoint}`,
      '',
      'Manage clients and users with: npx ropc-admin --help',
      ...(process.env.LOCAL_STATE_DIR
        ? [
            'The state is not in the default place: in the shell you run ropc-admin in, first run',
            `  export LOCAL_STATE_DIR=${quote(stateDir)}`,
          ]
        : []),
      'Ctrl-C stops everything.',
      '',
    ].join('\n')}\n`,
  );
}

main().catch((error: unknown) => {
  say(`npm start failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
