/**
 * `npm start` under a supervisor, an IDE or `timeout`: they signal the npm pid, not the terminal's process
 * group. SIGINT and SIGTERM to npm alone must stop everything it started (tsx, the node running
 * local/start.ts, DynamoDB Local's JVM) within 10 s, and free the ports.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/net';

const REPO = join(import.meta.dirname, '..', '..');
const STOP_WITHIN_MS = 10_000;

interface Proc {
  readonly pid: number;
  readonly cmdline: string;
}

const started: Proc[] = [];
const stateDirs: string[] = [];

afterAll(async () => {
  // Whatever a failed run left behind: only the processes this file started, by pid (and still the same program).
  for (const proc of started.reverse()) {
    if (await isAlive(proc)) {
      try {
        process.kill(proc.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
  for (const dir of stateDirs) await rm(dir, { recursive: true, force: true });
});

/** `npm start` through npm itself: the npm that runs these tests when there is one, else `npm` on PATH. */
function npmStart(): { command: string; args: string[] } {
  const execPath = process.env.npm_execpath;
  if (execPath !== undefined && /^npm-cli\.[cm]?js$/.test(basename(execPath)))
    return { command: process.execPath, args: [execPath, 'start'] };
  return { command: 'npm', args: ['start'] };
}

async function cmdline(pid: number): Promise<string> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/** Alive and still the same program (a zombie has an empty cmdline; a reused pid another one). */
async function isAlive(proc: Proc): Promise<boolean> {
  return proc.cmdline !== '' && (await cmdline(proc.pid)) === proc.cmdline;
}

/** Every descendant of `pid`, from `ps --ppid`, depth first. */
async function descendants(pid: number): Promise<Proc[]> {
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)('ps', ['-o', 'pid=', '--ppid', String(pid)]));
  } catch {
    return []; // ps exits 1 when there is none
  }
  const found: Proc[] = [];
  for (const child of stdout
    .split('\n')
    .map(Number)
    .filter(Number.isInteger)
    .filter((n) => n > 0)) {
    found.push({ pid: child, cmdline: await cmdline(child) }, ...(await descendants(child)));
  }
  return found;
}

function answers(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.setTimeout(1_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

async function startThroughNpm(): Promise<{ npm: ChildProcess; banner: Record<string, string>; output: () => string }> {
  const stateDir = await mkdtemp(join(tmpdir(), 'ropc-npm-signals-'));
  stateDirs.push(stateDir);
  const port = await freePort();
  const { command, args } = npmStart();
  const npm = spawn(command, args, {
    cwd: REPO,
    env: { ...process.env, PORT: String(port), LOCAL_STATE_DIR: stateDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (npm.pid !== undefined) started.push({ pid: npm.pid, cmdline: await cmdline(npm.pid) });
  let output = '';
  npm.stdout!.on('data', (chunk) => (output += chunk));
  npm.stderr!.on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + 90_000;
  while (!output.includes('Ctrl-C stops everything.')) {
    if (npm.exitCode !== null || npm.signalCode !== null) throw new Error(`npm start exited early:\n${output}`);
    if (Date.now() > deadline) throw new Error(`npm start did not come up:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const banner = Object.fromEntries([...output.matchAll(/^ {2}([A-Za-z ]+?):\s+(\S+)/gm)].map((m) => [m[1]!, m[2]!]));
  return { npm, banner, output: () => output };
}

describe('npm start, signalled by pid', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)(
    'stops tsx, node, DynamoDB Local and the server within 10 s of %s to the npm process',
    async (signal) => {
      const { npm, banner, output } = await startThroughNpm();
      const urls = [banner.Issuer!, banner['DynamoDB Local']!, banner['KMS emulator']!];
      for (const url of urls) expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      for (const url of urls) expect(await answers(url)).toBe(true);

      const tree = await descendants(npm.pid!);
      started.push(...tree);
      // The tree is what it should be, so that "nothing left" below means something.
      expect(tree.some((proc) => /local\/start\.ts/.test(proc.cmdline))).toBe(true);
      expect(tree.some((proc) => /^\S*java .*DynamoDBLocal\.jar/.test(proc.cmdline))).toBe(true);

      const exited = new Promise<void>((resolve) => {
        if (npm.exitCode !== null || npm.signalCode !== null) resolve();
        else npm.once('exit', () => resolve());
      });
      const signalledAt = Date.now();
      process.kill(npm.pid!, signal);

      const deadline = signalledAt + STOP_WITHIN_MS;
      const left = async () => {
        const procs: string[] = [];
        if (npm.exitCode === null && npm.signalCode === null) procs.push(`npm (pid ${npm.pid})`);
        for (const proc of tree) if (await isAlive(proc)) procs.push(`${proc.cmdline.slice(0, 120)} (pid ${proc.pid})`);
        const ports: string[] = [];
        for (const url of urls) if (await answers(url)) ports.push(url);
        return { procs, ports };
      };
      let remaining = await left();
      while ((remaining.procs.length > 0 || remaining.ports.length > 0) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        remaining = await left();
      }
      expect(remaining, `still there ${Date.now() - signalledAt} ms after ${signal}; output:\n${output()}`).toEqual({
        procs: [],
        ports: [],
      });
      await exited;
      expect(output()).toContain('Stopping …');
    },
    150_000,
  );
});
