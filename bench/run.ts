/**
 * `npm run bench [-- NAME…]`: runs the benchmarks (all, or those named), prints a table per benchmark
 * on stdout and writes the results as JSON to bench/results/. Never part of `npm test`.
 */
import { cpus, totalmem } from 'node:os';
import { coldStartBench } from './cold-start.bench';
import { importBench } from './import.bench';
import { type Bench, type BenchResult, renderTable, saveResults } from './lib';
import { loadBench } from './load.bench';
import { refreshModelBench } from './refresh-storage.bench';
import { requestCostBench } from './request-cost.bench';
import { roundTripsBench } from './round-trips.bench';
import { scryptBench } from './scrypt.bench';
import { soakBench } from './soak.bench';
import { timingBench } from './timing.bench';

const BENCHES: readonly Bench[] = [
  scryptBench,
  coldStartBench,
  timingBench,
  requestCostBench,
  roundTripsBench,
  refreshModelBench,
  loadBench,
  soakBench,
  importBench,
];

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((name) => !BENCHES.some((bench) => bench.name === name));
  if (unknown.length > 0) {
    throw new Error(`unknown benchmark ${unknown.join(', ')}; choose from ${BENCHES.map((b) => b.name).join(', ')}`);
  }
  const machine = {
    node: process.version,
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    date: new Date().toISOString(),
  };
  process.stdout.write(
    `# ropc-token-service benchmarks\nnode ${machine.node}, ${machine.cpus}, ${machine.memoryGiB} GiB\n\n`,
  );
  const results: BenchResult[] = [];
  for (const bench of BENCHES.filter((b) => wanted.length === 0 || wanted.includes(b.name))) {
    process.stderr.write(`running ${bench.name}…\n`);
    const result = await bench.run();
    results.push(result);
    process.stdout.write(`${renderTable(result)}\n\n`);
  }
  const file = await saveResults(results, machine);
  process.stdout.write(`results written to ${file}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
