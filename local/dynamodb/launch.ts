/** Launches DynamoDB Local as a JVM on a free port and waits until it answers (and is ours). */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readdir, readFile, readlink } from 'node:fs/promises';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../net';
import { ensureDynamoDbLocal, JAR } from './fetch';
import { checkJava } from './java';
import { terminate, track } from './reaper';

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

const DEFAULT_START_TIMEOUT_MS = 60_000;
const PORT_ATTEMPTS = 3;
const OUTPUT_LINES = 40;

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
    if (spawnError)
      throw new Error(describeFailure(`could not be started: ${spawnError.message}`), { cause: spawnError });
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

function exitDescription(child: ChildProcess): string {
  return child.signalCode !== null ? `signal ${child.signalCode}` : `exit code ${child.exitCode}`;
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
