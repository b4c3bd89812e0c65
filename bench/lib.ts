import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One benchmark's result: rows for the table on stdout, plus whatever it wants kept as JSON. */
export interface BenchResult {
  readonly name: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | number)[])[];
  readonly notes?: readonly string[];
  readonly data?: unknown;
}

export interface Bench {
  readonly name: string;
  run(): Promise<BenchResult>;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export function stats(samples: readonly number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
  return {
    n: sorted.length,
    mean,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    min: sorted[0]!,
    max: sorted.at(-1)!,
  };
}

export const round = (value: number, digits = 2) => Number(value.toFixed(digits));

export function renderTable(result: BenchResult): string {
  const cells = [result.columns.map(String), ...result.rows.map((row) => row.map(String))];
  const widths = result.columns.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  const line = (row: readonly string[]) => `| ${row.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    `## ${result.name}`,
    line(cells[0]!),
    `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`,
    ...cells.slice(1).map(line),
    ...(result.notes ?? []).map((note) => `  ${note}`),
  ].join('\n');
}

export async function saveResults(results: readonly BenchResult[], machine: Record<string, unknown>): Promise<string> {
  const dir = join(import.meta.dirname, 'results');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify({ machine, results }, null, 2)}\n`);
  await writeFile(join(dir, 'latest.json'), `${JSON.stringify({ machine, results }, null, 2)}\n`);
  return file;
}
