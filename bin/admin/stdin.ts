/** Reading a password from stdin (`--password-stdin`): never from arguments, never echoed. */
import type { ReadStream } from 'node:tty';
import { MAX_PASSWORD_LENGTH } from '../../lambda/passwords';
import { OperationalError, UsageError } from './errors';

/** Far above any password MAX_PASSWORD_LENGTH allows; stops reading an accidental file or endless pipe. */
const MAX_STDIN_BYTES = 64 * 1024;

export type StdinSource = NodeJS.ReadableStream | string;

/**
 * Reads the password: all of stdin (a pipe or file) minus ONE trailing "\n" or "\r\n"; on a terminal, one
 * line typed without echo. Throws UsageError when it is empty, too long or not UTF-8.
 */
export async function readPasswordFromStdin(stdin: StdinSource, stderr: (text: string) => void): Promise<string> {
  const raw =
    typeof stdin === 'string' ? stdin : isTerminal(stdin) ? await readHiddenLine(stdin, stderr) : await readAll(stdin);
  const password = raw.endsWith('\r\n') ? raw.slice(0, -2) : raw.endsWith('\n') ? raw.slice(0, -1) : raw;
  if (password === '') {
    throw new UsageError(
      'the password read from stdin is empty (--password-stdin expects it on stdin, e.g. printf %s "$PW" | ropc-admin ...)',
      false,
    );
  }
  // Counted as the hasher counts: code points after NFC normalization.
  if ([...password.normalize('NFC')].length > MAX_PASSWORD_LENGTH) {
    throw new UsageError(`the password read from stdin is longer than ${MAX_PASSWORD_LENGTH} characters`, false);
  }
  return password;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk);
    size += buffer.length;
    if (size > MAX_STDIN_BYTES) {
      stream.pause();
      throw new UsageError(`stdin holds more than ${MAX_STDIN_BYTES} bytes: expected a single password`, false);
    }
    chunks.push(buffer);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new UsageError('the password read from stdin is not valid UTF-8', false);
  }
}

function isTerminal(stream: NodeJS.ReadableStream): stream is ReadStream {
  const candidate = stream as Partial<ReadStream>;
  return candidate.isTTY === true && typeof candidate.setRawMode === 'function';
}

/** An interactive prompt: one line, nothing echoed; Ctrl-C cancels. */
function readHiddenLine(tty: ReadStream, stderr: (text: string) => void): Promise<string> {
  stderr('Password (not echoed): ');
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = () => {
      tty.off('data', onData);
      tty.setRawMode(false);
      tty.pause();
      stderr('\n');
    };
    const onData = (chunk: Buffer | string) => {
      for (const char of typeof chunk === 'string' ? chunk : chunk.toString('utf8')) {
        if (char === '\r' || char === '\n' || char === '\u0004') {
          finish();
          resolve(value);
          return;
        }
        if (char === '\u0003') {
          finish();
          reject(new OperationalError('cancelled'));
          return;
        }
        if (char === '\u007f' || char === '\b') {
          value = [...value].slice(0, -1).join('');
        } else if (value.length <= MAX_STDIN_BYTES) {
          value += char;
        }
      }
    };
    tty.setRawMode(true);
    tty.on('data', onData);
    tty.resume();
  });
}
