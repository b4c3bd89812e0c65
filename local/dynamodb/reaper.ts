/**
 * Stopping DynamoDB Local JVMs, and making sure no JVM outlives its parent: kill live children synchronously
 * when this process exits or is signalled.
 */
import type { ChildProcess } from 'node:child_process';

const STOP_GRACE_MS = 5_000;

/** SIGTERM, SIGKILL after a grace period; resolves once the process has exited. */
export function terminate(child: ChildProcess): Promise<void> {
  return new Promise((resolveExit) => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
      untrack(child);
      resolveExit();
      return;
    }
    const killer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(killer);
      untrack(child);
      resolveExit();
    });
    child.kill('SIGTERM');
  });
}

const live = new Set<ChildProcess>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function killAllNow(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  killAllNow();
  uninstallHooks();
  // If nobody else handles the signal, restore its default effect (terminate) by raising it again.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installHooks(): void {
  process.on('exit', killAllNow);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function uninstallHooks(): void {
  process.off('exit', killAllNow);
  for (const signal of SIGNALS) process.off(signal, onSignal);
}

export function track(child: ChildProcess): void {
  if (live.size === 0) installHooks();
  live.add(child);
  child.once('exit', () => untrack(child));
}

function untrack(child: ChildProcess): void {
  if (live.delete(child) && live.size === 0) uninstallHooks();
}
