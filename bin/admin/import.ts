/**
 * users import FILE|-: the CLI's side of the import service (lambda/accounts/import.ts): reading the file
 * (or stdin, spooled to a private temp file, since it cannot be read twice) as lines, the progress line,
 * and the output. Password hashes never leave the file and the table: no message, progress or result
 * carries one.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { type FileHandle, mkdtemp, open, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  checkImport,
  ImportClaimLostError,
  type ImportLine,
  type ImportProgress,
  type ImportSource,
  ImportSourceChangedError,
  type LineError,
  writeImport,
} from '../../lambda/accounts';
import { accountPorts } from './accounts';
import { arg, type CommandContext, type CommandResult } from './command';
import { OperationalError, RejectedInputError, UsageError } from './errors';
import type { StdinSource } from './stdin';
import { printable } from './validate';

/**
 * Far above any real user line (a few hundred bytes); stops a file without newlines from being held whole,
 * and keeps each user's item far below DynamoDB's 400 KB.
 */
export const MAX_LINE_BYTES = 16 * 1024;

/** How often the progress line is redrawn. */
const REDRAW_MS = 200;

export async function importUsersCommand(context: CommandContext): Promise<CommandResult> {
  const file = arg(context, 'FILE');
  if (file === '') throw new UsageError('FILE is empty: give the path of a JSON Lines file, or - for stdin');
  const input = file === '-' ? await spooled(stdinStream(context.stdin), 'stdin') : await namedFile(file);
  try {
    const checked = await checkImport(input.source);
    if (checked.kind === 'invalid') {
      const { errors, errorCount } = checked;
      const more = errorCount - errors.length;
      throw new RejectedInputError(
        `nothing was imported: ${plural(errorCount, 'line')} of ${input.name} ${errorCount === 1 ? 'is' : 'are'} invalid`,
        [...errors.map(lineMessage), ...(more > 0 ? [`… and ${more} more`] : [])],
        { imported: 0, skipped: 0, failed: errors.map(({ line, error }) => ({ line, error })) },
      );
    }
    const target = await context.target();
    allowSlowWrites(target.db);
    const progress = progressLine(context, checked.total);
    const interrupt = stopOnSignal();
    let outcome: Awaited<ReturnType<typeof writeImport>>;
    try {
      outcome = await writeImport(accountPorts(target, context), input.source, checked, {
        onProgress: progress.update,
        // One user_migrated line per user written, with its user id, beside the command's line with the counts.
        onWritten: (users) =>
          context.audit(
            users.map(({ username, userId }) => ({ subject: username, fields: { method: 'import', userId } })),
          ),
        signal: interrupt.signal,
        claimHolder: `${THIS_MACHINE}/${process.pid}/${randomUUID()}`,
        isAbandoned: isGoneFromThisMachine,
      });
    } catch (error) {
      if (error instanceof ImportSourceChangedError) {
        throw stoppedEarly(
          `${input.name} changed while it was imported (line ${error.line} is not what was checked)`,
          error,
          'check the file and run the import again',
        );
      }
      if (error instanceof ImportClaimLostError) {
        throw stoppedEarly(
          "the import's claim on the users table lapsed (was this process suspended, or DynamoDB unreachable for minutes?)",
          error,
          'run the import again',
        );
      }
      throw error;
    } finally {
      interrupt.dispose();
      progress.stop();
    }
    const { imported, skipped } = outcome;
    if (outcome.claimLapsesAt !== undefined) {
      context.stderr(
        `warning: the import's claim on the users table could not be released: no user can be created (by users create or a first login through the legacy verifier) until it lapses at ${new Date(outcome.claimLapsesAt).toISOString()}\n`,
      );
    }
    if (outcome.interrupted === true) {
      throw stoppedEarly('interrupted', outcome, 'run the same import again to import the rest');
    }
    return {
      json: { imported, skipped, failed: [] },
      human: `Imported ${plural(imported, 'user')}, skipped ${skipped} that already exist${skipped === 1 ? 's' : ''}.`,
      subject: file,
      audit: { method: 'import', imported, skipped },
    };
  } finally {
    await input.close();
  }
}

/** An import that stopped before the end: what it did, in words and on its audit line, and what to do. */
function stoppedEarly(
  why: string,
  done: { readonly imported: number; readonly skipped: number },
  next: string,
): OperationalError {
  return new OperationalError(
    `${why}: stopped after importing ${plural(done.imported, 'user')} and skipping ${done.skipped}; ${next} (the users imported now will be skipped)`,
    { audit: { method: 'import', imported: done.imported, skipped: done.skipped } },
  );
}

/**
 * How long one import request may take: a BatchGetItem of 100 keys or a BatchWriteItem of 25 users on a
 * busy table takes seconds (on DynamoDB Local most of all), and with the token function's budget of 2 s per attempt
 * (lambda/adapters/aws-clients.ts) writes still running would time out and be sent again, piling on.
 */
const IMPORT_REQUEST_TIMEOUT_MS = 30_000;

/** Raises the target client's request and socket timeouts: this process runs the import and nothing else. */
function allowSlowWrites(db: DynamoDBDocumentClient): void {
  const handler = db.config.requestHandler as { updateHttpClientConfig?: (key: string, value: number) => void };
  handler.updateHttpClientConfig?.('requestTimeout', IMPORT_REQUEST_TIMEOUT_MS);
  handler.updateHttpClientConfig?.('socketTimeout', IMPORT_REQUEST_TIMEOUT_MS);
}

/**
 * This machine, as an import's claim names it: the host name and, where Linux tells it, the boot's id (a
 * process id means nothing after a reboot, nor on another machine of the same name).
 */
const THIS_MACHINE = (() => {
  let boot = '';
  try {
    boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    // Not Linux: the host name alone.
  }
  return `${hostname()}${boot === '' ? '' : `@${boot}`}`.replaceAll('/', '_');
})();

/**
 * Whether a claim's holder is an import of this machine whose process no longer runs (killed, or crashed):
 * its claim can be taken over at once, for nothing of it can write any more. Anything else (another
 * machine, a process that runs, a holder of another form) is waited out.
 */
function isGoneFromThisMachine(holder: string): boolean {
  const [machine, pid] = holder.split('/');
  if (machine !== THIS_MACHINE || pid === undefined || !/^[1-9][0-9]*$/.test(pid)) return false;
  if (Number(pid) === process.pid) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Ctrl-C (SIGINT) or SIGTERM while the users are written: the import stops between batches, lets those in
 * flight finish and releases its claim, rather than leaving user creation paused until the claim lapses.
 * A second signal has the default effect.
 */
function stopOnSignal(): { readonly signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const stop = () => {
    for (const name of signals) process.off(name, stop);
    controller.abort();
  };
  for (const name of signals) process.once(name, stop);
  return {
    signal: controller.signal,
    dispose: () => {
      for (const name of signals) process.off(name, stop);
    },
  };
}

/** A line error as printed: `line N: reason`, with nothing a terminal would act on. */
function lineMessage({ line, error }: LineError): string {
  return `line ${line}: ${error}`;
}

interface Input {
  /** For messages: the path, or "stdin". */
  readonly name: string;
  readonly source: ImportSource;
  close(): Promise<void>;
}

/**
 * A file named on the command line, opened once now so that a missing or unreadable one fails at once.
 * A regular file is read twice; anything else that reads as a stream (a named pipe, `<(…)` in the shell)
 * is spooled as stdin is.
 */
async function namedFile(path: string): Promise<Input> {
  const name = printable(path);
  let handle: FileHandle | undefined;
  let regular: boolean;
  try {
    handle = await open(path, 'r');
    const stats = await handle.stat();
    if (stats.isDirectory()) throw new OperationalError(`cannot read ${name}: it is a directory`);
    regular = stats.isFile();
  } catch (error) {
    await handle?.close();
    if (error instanceof OperationalError) throw error;
    throw new OperationalError(`cannot read ${name} (${errorCode(error)})`);
  }
  if (!regular) return spooled(handle.createReadStream(), name);
  await handle.close();
  return { name, source: () => readLines(createReadStream(path)), close: async () => {} };
}

/**
 * A stream that cannot be read twice (stdin, a pipe), copied as the first pass reads it into a file only
 * this user can read (0600, in a 0700 directory of its own), which the second pass reads; removed
 * afterwards, whatever happened.
 */
async function spooled(stream: NodeJS.ReadableStream, name: string): Promise<Input> {
  const dir = await mkdtemp(join(tmpdir(), 'ropc-admin-import-'));
  const path = join(dir, 'input.jsonl');
  let spool: FileHandle;
  try {
    spool = await open(path, 'wx', 0o600);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw new OperationalError(`cannot create a temporary file for ${name} in ${tmpdir()} (${errorCode(error)})`);
  }
  let passes = 0;
  return {
    name,
    source: () => (++passes === 1 ? readLines(teed(stream, spool)) : readLines(createReadStream(path))),
    close: async () => {
      await spool.close().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function stdinStream(stdin: StdinSource): NodeJS.ReadableStream {
  return typeof stdin === 'string' ? Readable.from([Buffer.from(stdin, 'utf8')]) : stdin;
}

/** The stream's chunks, each written to `copy` before it is passed on; `copy` is closed at the end. */
async function* teed(stream: NodeJS.ReadableStream, copy: FileHandle): AsyncGenerator<Buffer> {
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk);
    await copy.write(buffer);
    yield buffer;
  }
  await copy.close();
}

/**
 * The lines of a byte stream, split at "\n" (a "\r" before it and a UTF-8 BOM at the start are dropped),
 * each decoded as UTF-8. A line longer than MAX_LINE_BYTES is not kept: it is reported as a problem and
 * skipped to its end, so a file of any shape is read in bounded memory.
 */
export async function* readLines(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<ImportLine> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let parts: Buffer[] = [];
  let length = 0;
  let tooLong = false;
  let first = true;
  const finish = (): ImportLine => {
    let bytes = Buffer.concat(parts, length);
    parts = [];
    length = 0;
    if (tooLong) {
      tooLong = false;
      return { problem: `longer than ${MAX_LINE_BYTES} bytes` };
    }
    if (first && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    first = false;
    if (bytes.at(-1) === 0x0d) bytes = bytes.subarray(0, -1);
    try {
      return { text: decoder.decode(bytes) };
    } catch {
      return { problem: 'not valid UTF-8' };
    }
  };
  const append = (piece: Buffer) => {
    if (tooLong) return;
    if (length + piece.length > MAX_LINE_BYTES + 1) {
      tooLong = true;
      parts = [];
      length = 0;
      return;
    }
    parts.push(piece);
    length += piece.length;
  };
  for await (const chunk of chunks) {
    let buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    for (let newline = buffer.indexOf(0x0a); newline !== -1; newline = buffer.indexOf(0x0a)) {
      append(buffer.subarray(0, newline));
      yield finish();
      buffer = buffer.subarray(newline + 1);
    }
    // Copied: the stream may reuse its chunk's memory.
    if (buffer.length > 0) append(Buffer.from(buffer));
  }
  if (length > 0 || tooLong) yield finish();
}

/**
 * The progress line on stderr, on a terminal only (a pipe or a log gets none): users done of the total,
 * the rate and the time left, redrawn in place.
 */
function progressLine(
  context: CommandContext,
  total: number,
): { update: (progress: ImportProgress) => void; stop: () => void } {
  if (process.stderr.isTTY !== true || total === 0) return { update: () => {}, stop: () => {} };
  const started = Date.now();
  let drawn = 0;
  let shown = false;
  return {
    update: ({ done }) => {
      const now = Date.now();
      if (now - drawn < REDRAW_MS && done < total) return;
      drawn = now;
      shown = true;
      context.stderr(`\r\x1b[2K${formatProgress(done, total, now - started)}`);
    },
    stop: () => {
      if (shown) context.stderr('\r\x1b[2K');
    },
  };
}

/** `Importing users: 12,300 of 100,000 (12%), 4,100/s, about 21 s left`. */
export function formatProgress(done: number, total: number, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? (done / elapsedMs) * 1000 : 0;
  const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
  const left = rate > 0 ? Math.ceil((total - done) / rate) : undefined;
  const count = (value: number) => Math.round(value).toLocaleString('en-US');
  return `Importing users: ${count(done)} of ${count(total)} (${percent}%), ${count(rate)}/s${left === undefined ? '' : `, about ${duration(left)} left`}`;
}

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60 ? `${minutes} min ${seconds % 60} s` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** The usual reasons in words, with the errno code. */
const ERRNO_WORDS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'it is a directory',
  ENOSPC: 'no space left on the device',
};

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return ERRNO_WORDS[code] === undefined ? code : `${ERRNO_WORDS[code]}, ${code}`;
  return error instanceof Error ? error.message : String(error);
}
