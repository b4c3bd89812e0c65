/**
 * A QR code for the terminal: how `users mfa enroll` hands the otpauth URI to a phone. Two module rows per
 * line with half-block characters ('▀' upper dark, '▄' lower dark, '█' both, ' ' neither), so a typical
 * otpauth URI (version 6 or 7, 41 to 45 modules) fits an 80-column terminal. Error correction L: a screen
 * has no dirt or creases to recover from, and the lowest level keeps the symbol smallest. The quiet zone is
 * the 4 modules ISO/IEC 18004 asks for: phone cameras lose the finder patterns against a dark background
 * without it.
 */
import QRCode from 'qrcode';

export const QR_QUIET_ZONE = 4;

/** Black on white whatever the terminal's theme: a dark theme would otherwise show the symbol inverted. */
const ANSI_BLACK_ON_WHITE = '\x1b[47m\x1b[30m';
const ANSI_RESET = '\x1b[0m';

/** What to print instead of the symbol when stdout is not a terminal (a file or a pipe shows no QR code). */
export const QR_FALLBACK_NOTE =
  'No QR code: stdout is not a terminal. Enter the otpauth URI or the secret in the authenticator app by hand.';

export interface QrRenderOptions {
  /**
   * Wrap each line in ANSI colours (black on white). Default true: on a terminal. Without them the dark
   * modules are the drawn characters, which is right on a light background only.
   */
  readonly ansi?: boolean;
}

/**
 * `text` as a QR code, one string of lines joined by "\n" (no trailing newline). Throws when the text is
 * more than a QR code holds (about 2 950 bytes at level L), which an otpauth URI never is.
 */
export function renderQr(text: string, options: QrRenderOptions = {}): string {
  const { modules } = QRCode.create(text, { errorCorrectionLevel: 'L' });
  const size = modules.size;
  const extent = size + 2 * QR_QUIET_ZONE;
  const dark = (row: number, column: number): boolean => {
    const [r, c] = [row - QR_QUIET_ZONE, column - QR_QUIET_ZONE];
    return r >= 0 && c >= 0 && r < size && c < size && modules.get(r, c) === 1;
  };
  const lines: string[] = [];
  for (let row = 0; row < extent; row += 2) {
    let line = '';
    for (let column = 0; column < extent; column += 1) {
      const top = dark(row, column);
      const bottom = row + 1 < extent && dark(row + 1, column);
      line += top ? (bottom ? '█' : '▀') : bottom ? '▄' : ' ';
    }
    lines.push(options.ansi === false ? line : `${ANSI_BLACK_ON_WHITE}${line}${ANSI_RESET}`);
  }
  return lines.join('\n');
}

/** The symbol for a terminal, or the note saying why there is none; the caller knows which stdout is. */
export function terminalQr(text: string, isTerminal: boolean): string {
  return isTerminal ? renderQr(text) : QR_FALLBACK_NOTE;
}
