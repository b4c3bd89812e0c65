/**
 * A single updating progress line on a terminal (DynamoDB Local's first fetch): MB done of the total when
 * both are known, a spinner with the time taken while they are not. Nothing at all when the stream is
 * not a terminal (CI, a pipe, a test), so logs never fill with carriage returns.
 */

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'] as const;
// Decimal megabytes, as npm counts them and as the "~57 MB" of the fetch messages does.
const MB = 1_000_000;
const REDRAW_MS = 100;

export interface ProgressState {
  readonly label: string;
  /** Bytes done so far, when known. */
  readonly doneBytes?: number;
  /** Bytes in all, when known. */
  readonly totalBytes?: number;
  readonly elapsedMs: number;
  /** Redraws so far: picks the spinner's frame. */
  readonly frame: number;
}

/**
 * The text of the progress line: `label 12.3/57.0 MB (22%)` with a known total, `label 12.3 MB` with bytes
 * but no total, and `⠋ label 4 s` with neither.
 */
export function formatProgress(state: ProgressState): string {
  const { label, doneBytes, totalBytes } = state;
  if (doneBytes !== undefined && totalBytes !== undefined && totalBytes > 0) {
    const done = Math.min(doneBytes, totalBytes);
    const percent = Math.floor((done / totalBytes) * 100);
    return `${label} ${mb(done)}/${mb(totalBytes)} MB (${percent}%)`;
  }
  if (doneBytes !== undefined) return `${label} ${mb(doneBytes)} MB`;
  const spinner = SPINNER[((state.frame % SPINNER.length) + SPINNER.length) % SPINNER.length];
  return `${spinner} ${label} ${Math.floor(state.elapsedMs / 1000)} s`;
}

function mb(bytes: number): string {
  return (bytes / MB).toFixed(1);
}

export interface Progress {
  /** Bytes done (and the total, when known) so far. */
  update(doneBytes: number, totalBytes?: number): void;
  /** Clears the line; the caller's next message takes its place. */
  stop(): void;
}

interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

const NO_PROGRESS: Progress = { update: () => undefined, stop: () => undefined };

/** A progress line for `label` on `stream` (stderr by default), redrawn every 100 ms; a no-op off a terminal. */
export function startProgress(label: string, stream: ProgressStream = process.stderr): Progress {
  if (stream.isTTY !== true) return NO_PROGRESS;
  const started = Date.now();
  let frame = 0;
  let doneBytes: number | undefined;
  let totalBytes: number | undefined;
  const draw = () => {
    const line = formatProgress({ label, doneBytes, totalBytes, elapsedMs: Date.now() - started, frame: frame++ });
    stream.write(`\r\x1b[2K${line}`);
  };
  draw();
  const timer = setInterval(draw, REDRAW_MS);
  timer.unref();
  let stopped = false;
  return {
    update(done, total) {
      doneBytes = done;
      totalBytes = total ?? totalBytes;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      stream.write('\r\x1b[2K');
    },
  };
}
