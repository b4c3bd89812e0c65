import QRCode from 'qrcode';
import { describe, expect, it } from 'vitest';
import { QR_FALLBACK_NOTE, QR_QUIET_ZONE, renderQr, terminalQr } from '../../bin/admin/qr';

/*
 * No pure-JavaScript QR decoder is installed (jsQR, @zxing/library are not dependencies), so these tests
 * read the rendering back into its module matrix and check it two ways: it is the matrix the encoder made,
 * and it is a well-formed QR symbol by ISO/IEC 18004's own rules (finder and timing patterns, the dark
 * module, and a format word that is a valid BCH codeword for error correction L, repeated in both places).
 */
const URI =
  'otpauth://totp/ropc-token-service:alice%40example.com?secret=22ZRALKQZB5GYTIY3HKAFFQAANYJ5S7K&issuer=ropc-token-service&algorithm=SHA1&digits=6&period=30';
const BLOCKS: Record<string, [boolean, boolean]> = {
  ' ': [false, false],
  '▀': [true, false],
  '▄': [false, true],
  '█': [true, true],
};
// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences are what is stripped.
const ANSI = /\x1b\[[0-9;]*m/g;

/** The rendering's lines back into rows of modules (true is dark), quiet zone included. */
function readModules(rendering: string): boolean[][] {
  const rows: boolean[][] = [];
  for (const line of rendering.split('\n')) {
    const pairs = [...line].map((char) => BLOCKS[char]!);
    rows.push(
      pairs.map(([top]) => top),
      pairs.map(([, bottom]) => bottom),
    );
  }
  return rows;
}

/** The symbol inside the quiet zone, after checking that the zone is light all round. */
function symbolOf(rendering: string): boolean[][] {
  const rows = readModules(rendering);
  const width = rows[0]!.length;
  const size = width - 2 * QR_QUIET_ZONE;
  // An odd extent leaves the last line's lower half beyond the symbol; it reads as light.
  const height = size + 2 * QR_QUIET_ZONE;
  expect(rows.length - height).toBeLessThanOrEqual(1);
  rows.forEach((row, r) => {
    row.forEach((dark, c) => {
      const inside = r >= QR_QUIET_ZONE && c >= QR_QUIET_ZONE && r < size + QR_QUIET_ZONE && c < size + QR_QUIET_ZONE;
      if (!inside) expect(dark, `quiet zone at ${r},${c}`).toBe(false);
    });
  });
  return rows.slice(QR_QUIET_ZONE, QR_QUIET_ZONE + size).map((row) => row.slice(QR_QUIET_ZONE, QR_QUIET_ZONE + size));
}

function expectFinderAt(symbol: boolean[][], top: number, left: number): void {
  for (let r = 0; r < 7; r += 1) {
    for (let c = 0; c < 7; c += 1) {
      const ring = Math.max(Math.abs(r - 3), Math.abs(c - 3));
      expect(symbol[top + r]![left + c], `finder at ${top},${left}`).toBe(ring !== 2);
    }
  }
}

/** ISO/IEC 18004 §7.9.1: the 15-bit format word, unmasked, is 5 data bits and a BCH(15,5) remainder by 0x537. */
function validFormatWord(masked: number): { valid: boolean; ecBits: number } {
  const word = masked ^ 0x5412;
  const data = word >> 10;
  let remainder = data << 10;
  for (let bit = 14; bit >= 10; bit -= 1) if (remainder & (1 << bit)) remainder ^= 0x537 << (bit - 10);
  return { valid: remainder === (word & 0x3ff), ecBits: data >> 3 };
}

/** The two copies of the format word, read as a decoder reads them (most significant bit first). */
function formatWords(symbol: boolean[][]): [number, number] {
  const size = symbol.length;
  const at = (row: number, column: number) => (symbol[row]![column] ? 1 : 0);
  const bits = (cells: [number, number][]) => cells.reduce((word, [row, column]) => (word << 1) | at(row, column), 0);
  const first: [number, number][] = [
    ...[0, 1, 2, 3, 4, 5].map((column): [number, number] => [8, column]),
    [8, 7],
    [8, 8],
    [7, 8],
    ...[5, 4, 3, 2, 1, 0].map((row): [number, number] => [row, 8]),
  ];
  const second: [number, number][] = [
    ...[1, 2, 3, 4, 5, 6, 7].map((k): [number, number] => [size - k, 8]),
    ...[8, 7, 6, 5, 4, 3, 2, 1].map((k): [number, number] => [8, size - k]),
  ];
  return [bits(first), bits(second)];
}

describe('the terminal QR code', () => {
  const plain = renderQr(URI, { ansi: false });

  it('is lines of block characters and spaces only, all of one width', () => {
    expect(plain.length).toBeGreaterThan(0);
    expect(plain).toMatch(/^[ ▀▄█\n]+$/);
    const lines = plain.split('\n');
    const width = [...lines[0]!].length;
    for (const line of lines) expect([...line]).toHaveLength(width);
    // Two module rows per line: a square symbol plus its quiet zone is about half as many lines as columns.
    expect(lines).toHaveLength(Math.ceil(width / 2));
  });

  it('has stable dimensions and content for a given input, and fits an 80-column terminal', () => {
    expect(renderQr(URI, { ansi: false })).toBe(plain);
    const size = QRCode.create(URI, { errorCorrectionLevel: 'L' }).modules.size;
    expect([...plain.split('\n')[0]!]).toHaveLength(size + 2 * QR_QUIET_ZONE);
    expect(size + 2 * QR_QUIET_ZONE).toBeLessThanOrEqual(80);
    expect(renderQr(`${URI}x`, { ansi: false })).not.toBe(plain);
  });

  it('draws exactly the matrix the encoder made, inside a light quiet zone of four modules', () => {
    const symbol = symbolOf(plain);
    const { modules } = QRCode.create(URI, { errorCorrectionLevel: 'L' });
    expect(symbol).toHaveLength(modules.size);
    symbol.forEach((row, r) => {
      row.forEach((dark, c) => {
        expect(dark, `module ${r},${c}`).toBe(modules.get(r, c) === 1);
      });
    });
  });

  it.each([
    ['an otpauth URI', URI],
    ['a short text', 'a'],
    ['a long URI', `otpauth://totp/${'x'.repeat(200)}:${'y'.repeat(100)}?secret=${'A'.repeat(32)}`],
  ])('is a well-formed QR symbol for %s (ISO/IEC 18004 structure)', (_, text) => {
    const symbol = symbolOf(renderQr(text, { ansi: false }));
    const size = symbol.length;
    expect((size - 17) % 4).toBe(0);
    expectFinderAt(symbol, 0, 0);
    expectFinderAt(symbol, 0, size - 7);
    expectFinderAt(symbol, size - 7, 0);
    for (let k = 8; k < size - 8; k += 1) {
      expect(symbol[6]![k], `timing row at ${k}`).toBe(k % 2 === 0);
      expect(symbol[k]![6], `timing column at ${k}`).toBe(k % 2 === 0);
    }
    expect(symbol[size - 8]![8]).toBe(true);
    const [first, second] = formatWords(symbol);
    expect(first).toBe(second);
    // Level L is 01 in the format word.
    expect(validFormatWord(first)).toEqual({ valid: true, ecBits: 0b01 });
  });

  it('is black on white for a terminal of any theme, the same symbol once the colours are stripped', () => {
    const coloured = renderQr(URI);
    expect(coloured).not.toBe(plain);
    for (const line of coloured.split('\n')) {
      expect(line.startsWith('\x1b[47m\x1b[30m')).toBe(true);
      expect(line.endsWith('\x1b[0m')).toBe(true);
    }
    expect(coloured.replace(ANSI, '')).toBe(plain);
  });

  it('gives the note instead when stdout is not a terminal, the symbol when it is', () => {
    expect(terminalQr(URI, false)).toBe(QR_FALLBACK_NOTE);
    expect(QR_FALLBACK_NOTE).toMatch(/otpauth URI/);
    expect(terminalQr(URI, true)).toBe(renderQr(URI));
  });

  it('throws for more text than a QR code holds', () => {
    expect(() => renderQr('x'.repeat(3000))).toThrow();
  });
});
