import { describe, expect, it } from 'vitest';
import { formatProgress, startProgress } from '../../local/dynamodb/progress';

/** The line counts decimal megabytes, as npm does: the ~57 MB tarball is not shown as 54.3. */
const MB = 1_000_000;

describe('the download progress line', () => {
  it('shows MB done of the total and the percentage when both are known', () => {
    expect(
      formatProgress({ label: 'fetching', doneBytes: 12.3 * MB, totalBytes: 57 * MB, elapsedMs: 0, frame: 0 }),
    ).toBe('fetching 12.3/57.0 MB (21%)');
    expect(formatProgress({ label: 'fetching', doneBytes: 0, totalBytes: 57 * MB, elapsedMs: 0, frame: 0 })).toBe(
      'fetching 0.0/57.0 MB (0%)',
    );
  });

  it('shows 100% only once the last byte is done, and rounds the MB to one decimal', () => {
    const total = 56_951_244; // a tarball of about the size of DynamoDB Local's
    const line = (doneBytes: number) =>
      formatProgress({ label: 'f', doneBytes, totalBytes: total, elapsedMs: 0, frame: 0 });
    expect(line(total - 1)).toBe('f 57.0/57.0 MB (99%)');
    expect(line(total)).toBe('f 57.0/57.0 MB (100%)');
    expect(line(total / 2)).toBe('f 28.5/57.0 MB (50%)');
    expect(formatProgress({ label: 'f', doneBytes: 1536 * MB, totalBytes: 2048 * MB, elapsedMs: 0, frame: 0 })).toBe(
      'f 1536.0/2048.0 MB (75%)',
    );
  });

  it('never shows more done than the total', () => {
    expect(formatProgress({ label: 'f', doneBytes: 60 * MB, totalBytes: 57 * MB, elapsedMs: 0, frame: 0 })).toBe(
      'f 57.0/57.0 MB (100%)',
    );
  });

  it('shows the MB done alone when the total is unknown', () => {
    expect(formatProgress({ label: 'f', doneBytes: 3 * MB, elapsedMs: 0, frame: 0 })).toBe('f 3.0 MB');
    expect(formatProgress({ label: 'f', doneBytes: 3 * MB, totalBytes: 0, elapsedMs: 0, frame: 0 })).toBe('f 3.0 MB');
  });

  it('shows a turning spinner and the whole seconds taken when nothing is known', () => {
    const frames = [0, 1, 2].map((frame) => formatProgress({ label: 'f', elapsedMs: 4_900, frame }));
    for (const line of frames) expect(line).toMatch(/^\S f 4 s$/);
    expect(new Set(frames.map((line) => line[0])).size).toBe(3);
    expect(formatProgress({ label: 'f', elapsedMs: 0, frame: 10 })).toBe(
      formatProgress({ label: 'f', elapsedMs: 0, frame: 0 }),
    );
  });

  it('writes nothing when the stream is not a terminal', () => {
    const written: string[] = [];
    const progress = startProgress('f', { isTTY: false, write: (text: string) => written.push(text) });
    progress.update(1, 2);
    progress.stop();
    expect(written).toEqual([]);
  });

  it('redraws one line on a terminal and clears it when stopped', () => {
    const written: string[] = [];
    const progress = startProgress('f', { isTTY: true, write: (text: string) => written.push(text) });
    progress.update(MB, 2 * MB);
    progress.stop();
    progress.stop();
    const clear = '\r\x1b[2K';
    expect(written[0]!.startsWith(clear)).toBe(true);
    expect(written[0]!.slice(clear.length)).toMatch(/^\S f 0 s$/);
    expect(written.at(-1)).toBe('\r\x1b[2K');
    expect(written.join('')).not.toContain('\n');
  });
});
