/**
 * DynamoDB Local for development and tests: fetched once into a user cache, started as a JVM on a free port.
 *
 * AWS publishes DynamoDB Local as a zip on S3; we take the same jar from the npm package
 * `amplify-dynamodb-simulator`, which bundles it (DynamoDBLocal.jar 1.25.1 in `package/emulator/`), so the
 * only network access needed is the npm registry. The package is fetched with `npm pack`, never installed,
 * and the tarball is checked against a pinned sha512 before anything in it is used.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './net';

export interface DynamoDbLocalOptions {
  /** Fixed port; omitted = a free port (retried if another process takes it first). */
  port?: number;
  /** Directory for the database file (created if missing); omitted = `-inMemory`. */
  dbPath?: string;
  /** Where the emulator is cached; default `$DYNAMODB_LOCAL_CACHE_DIR` or `${XDG_CACHE_HOME:-~/.cache}/ropc-token-service/dynamodb-local-2.9.30`. */
  cacheDir?: string;
  /** How long to wait for the first answer; default 60 s. */
  startTimeoutMs?: number;
  /** Progress messages such as "fetching DynamoDB Local…". */
  log?: (line: string) => void;
}

export interface DynamoDbLocal {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  /** SIGTERM, then SIGKILL if it has not exited after a few seconds. Idempotent. */
  stop(): Promise<void>;
}

export interface CheckJavaOptions {
  /** The java executable; default `java` (looked up on the PATH of `env`). */
  javaBin?: string;
  /** Environment for `java -version`; default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

const PACKAGE_NAME = 'amplify-dynamodb-simulator';
const PACKAGE_VERSION = '2.9.30';
/** `npm view amplify-dynamodb-simulator@2.9.30 dist.integrity`, checked against a local sha512 of the tarball. */
const PACKAGE_INTEGRITY =
  'sha512-xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ==';
const CACHE_ENV = 'DYNAMODB_LOCAL_CACHE_DIR';
/** Written last, inside the temporary directory, before the atomic rename: its presence means "complete". */
const MARKER = '.complete.json';
const EMULATOR_DIR = 'emulator';
const JAR = 'DynamoDBLocal.jar';
const MIN_JAVA = 17;
const DEFAULT_START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 5_000;
const PORT_ATTEMPTS = 3;
const OUTPUT_LINES = 40;
/** Temporary extraction directories older than this were left by a crashed process. */
const STALE_TMP_MS = 60 * 60_000;

// ---------------------------------------------------------------------------------------------------------
// Fetch and cache
// ---------------------------------------------------------------------------------------------------------

function defaultCacheDir(): string {
  const fromEnv = process.env[CACHE_ENV];
  if (fromEnv) return fromEnv;
  const cacheHome = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cacheHome, 'ropc-token-service', `dynamodb-local-${PACKAGE_VERSION}`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function isComplete(cacheDir: string): Promise<boolean> {
  return (await exists(join(cacheDir, MARKER))) && (await exists(join(cacheDir, EMULATOR_DIR, JAR)));
}

/**
 * Makes sure DynamoDB Local is in the cache and returns the directory holding `DynamoDBLocal.jar`.
 * Safe to call from several processes at once: each extracts into its own temporary directory next to the
 * cache directory and renames it into place; a process that loses the rename uses the winner's copy.
 */
export async function ensureDynamoDbLocal(cacheDir?: string, log?: (line: string) => void): Promise<string> {
  const dir = resolve(cacheDir ?? defaultCacheDir());
  const emulatorDir = join(dir, EMULATOR_DIR);
  if (await isComplete(dir)) return emulatorDir;

  const parent = dirname(dir);
  await mkdir(parent, { recursive: true });
  const tmpPrefix = `.${basename(dir)}.tmp-`;
  await removeStaleTemporaries(parent, tmpPrefix);

  log?.(`fetching DynamoDB Local… (${PACKAGE_NAME}@${PACKAGE_VERSION}, ~57 MB, into ${dir})`);
  const started = Date.now();
  const tmp = await mkdtemp(join(parent, tmpPrefix));
  try {
    const tarball = await npmPack(tmp);
    await verifyIntegrity(tarball);
    log?.('extracting DynamoDB Local…');
    const tar = await run('tar', ['-xzf', tarball, '-C', tmp, '--strip-components=1', 'package/emulator']);
    if (tar.code !== 0) {
      throw new Error(`extracting ${tarball} failed (tar exited with ${tar.code}): ${tar.stderr.trim()}`);
    }
    if (!(await exists(join(tmp, EMULATOR_DIR, JAR)))) {
      throw new Error(`${PACKAGE_NAME}@${PACKAGE_VERSION} has no package/${EMULATOR_DIR}/${JAR}`);
    }
    await rm(tarball, { force: true });
    const marker = { package: PACKAGE_NAME, version: PACKAGE_VERSION, integrity: PACKAGE_INTEGRITY, completedAt: new Date().toISOString() };
    await writeFile(join(tmp, MARKER), `${JSON.stringify(marker, null, 2)}\n`);
    await chmod(tmp, 0o755); // mkdtemp makes it 0700
    await moveIntoPlace(tmp, dir);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  log?.(`DynamoDB Local cached in ${dir} (${Date.now() - started} ms)`);
  return emulatorDir;
}

async function moveIntoPlace(tmp: string, dir: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await rename(tmp, dir);
      return;
    } catch (err) {
      const code = errorCode(err);
      if (code !== 'EEXIST' && code !== 'ENOTEMPTY' && code !== 'EPERM' && code !== 'EACCES') throw err;
    }
    // Another process won the race: use its copy (our temporary directory is removed by the caller).
    if (await isComplete(dir)) return;
    // An incomplete directory that was not renamed into place by this code (or lost its marker):
    // move it aside atomically, then try again.
    const aside = `${dir}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await rename(dir, aside);
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err;
    }
    await rm(aside, { recursive: true, force: true });
  }
  throw new Error(`could not move DynamoDB Local into ${dir}`);
}

async function removeStaleTemporaries(parent: string, prefix: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(parent);
  } catch {
    return;
  }
  const now = Date.now();
  await Promise.all(
    entries
      .filter((name) => name.startsWith(prefix))
      .map(async (name) => {
        const path = join(parent, name);
        try {
          if (now - (await stat(path)).mtimeMs > STALE_TMP_MS) await rm(path, { recursive: true, force: true });
        } catch {
          // Someone else removed it.
        }
      }),
  );
}

async function npmPack(destination: string): Promise<string> {
  const spec = `${PACKAGE_NAME}@${PACKAGE_VERSION}`;
  let result: RunResult;
  try {
    result = await run(
      'npm',
      ['pack', spec, '--pack-destination', destination, '--json', '--silent', '--ignore-scripts'],
      { cwd: destination, shell: process.platform === 'win32' },
    );
  } catch (err) {
    throw new Error(`could not run npm to fetch ${spec}: ${(err as Error).message}`, { cause: err });
  }
  if (result.code !== 0) {
    throw new Error(`npm pack ${spec} failed (exit code ${result.code}): ${tail(result.stderr || result.stdout)}`);
  }
  let filename: string | undefined;
  try {
    const parsed: unknown = JSON.parse(result.stdout);
    if (Array.isArray(parsed)) {
      const first: unknown = parsed[0];
      if (first && typeof first === 'object' && 'filename' in first && typeof first.filename === 'string') {
        filename = first.filename;
      }
    }
  } catch {
    // Fall back to looking for the tarball.
  }
  filename ??= (await readdir(destination)).find((name) => name.endsWith('.tgz'));
  if (!filename) throw new Error(`npm pack ${spec} produced no tarball in ${destination}: ${tail(result.stdout)}`);
  return join(destination, basename(filename));
}

async function verifyIntegrity(tarball: string): Promise<void> {
  const hash = createHash('sha512');
  for await (const chunk of createReadStream(tarball)) hash.update(chunk as Buffer);
  const actual = `sha512-${hash.digest('base64')}`;
  if (actual !== PACKAGE_INTEGRITY) {
    throw new Error(
      `checksum mismatch for ${PACKAGE_NAME}@${PACKAGE_VERSION} (downloaded by npm pack to ${tarball}, now removed): expected ${PACKAGE_INTEGRITY}, ` +
        `got ${actual}. Refusing to use it; check the npm registry / proxy configuration (npm config get registry).`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------------
// Java
// ---------------------------------------------------------------------------------------------------------

function javaError(found: string): Error {
  return new Error(
    [
      `DynamoDB Local needs a Java ${MIN_JAVA}+ runtime, but ${found}.`,
      'Install one and make sure `java` is on the PATH:',
      '  Debian/Ubuntu: sudo apt-get install -y default-jre-headless' +
        ` (if that is older than ${MIN_JAVA}, e.g. Debian 11 or Ubuntu 22.04: sudo apt-get install -y openjdk-${MIN_JAVA}-jre-headless)`,
      `  macOS: brew install openjdk@${MIN_JAVA} (then link it as brew explains), or install Temurin ${MIN_JAVA}+ from https://adoptium.net`,
    ].join('\n'),
  );
}

/** Checks that `java -version` runs and reports Java 17 or newer; throws an explanatory Error otherwise. */
export async function checkJava(options: CheckJavaOptions = {}): Promise<{ version: number }> {
  const javaBin = options.javaBin ?? 'java';
  let result: RunResult;
  try {
    result = await run(javaBin, ['-version'], { env: options.env ?? process.env });
  } catch (err) {
    if (errorCode(err) === 'ENOENT') throw javaError(`no \`${javaBin}\` executable was found on the PATH`);
    throw javaError(`running \`${javaBin} -version\` failed (${(err as Error).message})`);
  }
  // Java prints its version to stderr; some wrappers use stdout.
  const output = `${result.stderr}\n${result.stdout}`;
  const match = /version "(\d+)(?:\.(\d+))?[^"]*"/.exec(output);
  const versionLine = output.split('\n').find((line) => /version "/.test(line))?.trim();
  if (result.code !== 0 || !match) {
    const what = result.code !== 0 ? `exited with code ${result.code}` : 'printed no version';
    throw javaError(`\`${javaBin} -version\` ${what}: ${tail(output, 3) || '(no output)'}`);
  }
  let version = Number(match[1]);
  if (version === 1 && match[2] !== undefined) version = Number(match[2]); // "1.8.0_392" is Java 8
  if (version < MIN_JAVA) throw javaError(`found Java ${version} (${versionLine ?? match[0]})`);
  return { version };
}

// ---------------------------------------------------------------------------------------------------------
// Start and stop
// ---------------------------------------------------------------------------------------------------------

class PortInUseError extends Error {}

/** Starts DynamoDB Local (fetching it first if needed) and resolves once it answers ListTables. */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const log = options.log;
  await checkJava(); // before a 57 MB download
  const emulatorDir = await ensureDynamoDbLocal(options.cacheDir, log);
  let dbPath: string | undefined;
  if (options.dbPath !== undefined) {
    dbPath = resolve(options.dbPath);
    await mkdir(dbPath, { recursive: true });
  }
  const timeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const attempts = options.port === undefined ? PORT_ATTEMPTS : 1;
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    try {
      return await launch({ emulatorDir, port, dbPath, timeoutMs, log });
    } catch (err) {
      if (!(err instanceof PortInUseError) || attempt >= attempts) throw err;
      log?.(`port ${port} was taken before DynamoDB Local could bind it, retrying on another port…`);
    }
  }
}

interface LaunchOptions {
  emulatorDir: string;
  port: number;
  dbPath: string | undefined;
  timeoutMs: number;
  log: ((line: string) => void) | undefined;
}

async function launch({ emulatorDir, port, dbPath, timeoutMs, log }: LaunchOptions): Promise<DynamoDbLocal> {
  const endpoint = `http://127.0.0.1:${port}`;
  const args = [
    `-Djava.library.path=${join(emulatorDir, 'DynamoDBLocal_lib')}`,
    '-jar',
    join(emulatorDir, JAR),
    '-port',
    String(port),
    ...(dbPath === undefined ? ['-inMemory'] : ['-dbPath', dbPath]),
    '-sharedDb', // one database whatever the credentials and region
    '-disableTelemetry',
  ];
  log?.(`starting DynamoDB Local on port ${port} (${dbPath === undefined ? 'in memory' : dbPath})…`);
  const started = Date.now();
  const child = spawn('java', args, { cwd: dbPath ?? emulatorDir, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);

  const output = new OutputTail(OUTPUT_LINES);
  let bindFailed = false;
  let bannerAt: number | undefined;
  const onLine = (line: string): void => {
    output.push(line);
    if (/Failed to bind|BindException|Address already in use/i.test(line)) bindFailed = true;
    if (bannerAt === undefined && /^CorsParams:/.test(line)) bannerAt = Date.now();
  };
  forEachLine(child.stdout, onLine);
  forEachLine(child.stderr, onLine);
  let spawnError: Error | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });
  const describeFailure = (what: string): string =>
    `DynamoDB Local ${what} (java ${args.join(' ')}).\nLast output:\n${output.text() || '(none)'}`;

  const deadline = started + timeoutMs;
  for (;;) {
    if (spawnError) throw new Error(describeFailure(`could not be started: ${spawnError.message}`), { cause: spawnError });
    if (bindFailed) {
      await terminate(child);
      throw new PortInUseError(describeFailure(`could not bind port ${port}`));
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(describeFailure(`exited during startup (${exitDescription(child)})`));
    }
    if (Date.now() > deadline) {
      await terminate(child);
      throw new Error(describeFailure(`did not answer on ${endpoint} within ${timeoutMs} ms`));
    }
    if ((await answersListTables(port)) && !bindFailed && (await ownsPort(child, port, bannerAt))) break;
    await sleep(100);
  }

  const pid = child.pid as number;
  log?.(`DynamoDB Local ready at ${endpoint} (pid ${pid}, ${Date.now() - started} ms)`);
  let stopping: Promise<void> | undefined;
  child.once('exit', () => {
    if (stopping === undefined) log?.(describeFailure(`(pid ${pid}) exited unexpectedly (${exitDescription(child)})`));
  });
  return {
    endpoint,
    port,
    pid,
    stop: () => (stopping ??= terminate(child)),
  };
}

/** One DynamoDB `ListTables` call over the JSON 1.0 protocol; DynamoDB Local accepts any signature. */
function answersListTables(port: number): Promise<boolean> {
  return new Promise((resolvePing) => {
    const body = '{}';
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/',
        agent: false,
        timeout: 2_000,
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': 'DynamoDB_20120810.ListTables',
          authorization:
            'AWS4-HMAC-SHA256 Credential=local/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00',
          'content-length': Buffer.byteLength(body),
          connection: 'close',
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          if (res.statusCode !== 200) return resolvePing(false);
          try {
            const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { TableNames?: unknown };
            resolvePing(Array.isArray(parsed.TableNames));
          } catch {
            resolvePing(false);
          }
        });
        res.on('error', () => resolvePing(false));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolvePing(false));
    req.end(body);
  });
}

/**
 * Whether the server that answered on `port` is our child and not another DynamoDB Local that took the port
 * between `freePort()` and our bind (DynamoDB Local does not exit when it cannot bind; it prints a
 * BindException and lingers). On Linux this is answered exactly from /proc; elsewhere we accept an answer once
 * our JVM has printed its start-up banner, which comes just before the bind, and has shown no bind error
 * for half a second.
 */
async function ownsPort(child: ChildProcess, port: number, bannerAt: number | undefined): Promise<boolean> {
  const exact = process.platform === 'linux' ? await listenerIsProcess(child.pid, port) : undefined;
  if (exact !== undefined) return exact;
  return bannerAt !== undefined && Date.now() - bannerAt > 500;
}

async function listenerIsProcess(pid: number | undefined, port: number): Promise<boolean | undefined> {
  if (pid === undefined) return false;
  try {
    const inodes = new Set<string>();
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      let text: string;
      try {
        text = await readFile(table, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n').slice(1)) {
        const fields = line.trim().split(/\s+/);
        const local = fields[1];
        const state = fields[3];
        const inode = fields[9];
        if (!local || state !== '0A' || !inode) continue; // 0A = LISTEN
        const localPort = Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
        if (localPort === port) inodes.add(inode);
      }
    }
    if (inodes.size === 0) return undefined;
    const fdDir = `/proc/${pid}/fd`;
    for (const fd of await readdir(fdDir)) {
      try {
        const target = await readlink(join(fdDir, fd));
        const match = /^socket:\[(\d+)\]$/.exec(target);
        if (match?.[1] !== undefined && inodes.has(match[1])) return true;
      } catch {
        // fd closed meanwhile
      }
    }
    return false;
  } catch {
    return undefined;
  }
}

/** SIGTERM, SIGKILL after a grace period; resolves once the process has exited. */
function terminate(child: ChildProcess): Promise<void> {
  return new Promise((resolveExit) => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
      untrack(child);
      resolveExit();
      return;
    }
    const killer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(killer);
      untrack(child);
      resolveExit();
    });
    child.kill('SIGTERM');
  });
}

function exitDescription(child: ChildProcess): string {
  return child.signalCode !== null ? `signal ${child.signalCode}` : `exit code ${child.exitCode}`;
}

// ---------------------------------------------------------------------------------------------------------
// No JVM outlives its parent: kill live children synchronously when this process exits or is signalled.
// ---------------------------------------------------------------------------------------------------------

const live = new Set<ChildProcess>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function killAllNow(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  killAllNow();
  uninstallHooks();
  // If nobody else handles the signal, restore its default effect (terminate) by raising it again.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installHooks(): void {
  process.on('exit', killAllNow);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function uninstallHooks(): void {
  process.off('exit', killAllNow);
  for (const signal of SIGNALS) process.off(signal, onSignal);
}

function track(child: ChildProcess): void {
  if (live.size === 0) installHooks();
  live.add(child);
  child.once('exit', () => untrack(child));
}

function untrack(child: ChildProcess): void {
  if (live.delete(child) && live.size === 0) uninstallHooks();
}

// ---------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; rejects only if it cannot be spawned. */
function run(command: string, args: string[], options: SpawnOptions = {}): Promise<RunResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.once('error', reject);
    child.once('close', (code) =>
      resolveRun({
        code,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      }),
    );
  });
}

class OutputTail {
  private readonly lines: string[] = [];
  constructor(private readonly max: number) {}
  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.shift();
  }
  text(): string {
    return this.lines.join('\n');
  }
}

function forEachLine(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return;
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split(/\r?\n/);
    pending = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
  stream.on('end', () => {
    if (pending) onLine(pending);
    pending = '';
  });
}

function tail(text: string, lines = 10): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

function errorCode(err: unknown): string | undefined {
  return err && typeof err === 'object' && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}
