/**
 * Fault injection for tests: throttling, internal errors, unavailability and latency, per
 * operation or for all, for a number of requests or until cleared.
 */
import { isPlainObject } from './params';

export interface KmsFault {
  /** KMS operation name such as 'Sign'; omitted = every operation. */
  operation?: string;
  kind: 'throttle' | 'internal' | 'unavailable' | 'latency';
  /** Required for 'latency'. */
  latencyMs?: number;
  /** How many requests the fault applies to; omitted = until cleared. */
  times?: number;
}

const FAULT_KINDS: readonly KmsFault['kind'][] = ['throttle', 'internal', 'unavailable', 'latency'];

/** Checks a fault given in process or over HTTP; throws TypeError when malformed. */
export function normalizeFault(input: unknown): KmsFault {
  if (!isPlainObject(input)) throw new TypeError('A fault must be an object.');
  const { operation, kind, latencyMs, times } = input;
  if (typeof kind !== 'string' || !(FAULT_KINDS as readonly string[]).includes(kind)) {
    throw new TypeError(`Fault kind must be one of ${FAULT_KINDS.join(', ')}.`);
  }
  if (operation !== undefined && (typeof operation !== 'string' || operation === '')) {
    throw new TypeError('Fault operation must be a non-empty string such as "Sign".');
  }
  if (latencyMs !== undefined && (typeof latencyMs !== 'number' || !Number.isFinite(latencyMs) || latencyMs < 0)) {
    throw new TypeError('Fault latencyMs must be a non-negative number.');
  }
  if (kind === 'latency' && latencyMs === undefined) throw new TypeError('A latency fault needs latencyMs.');
  if (times !== undefined && (typeof times !== 'number' || !Number.isInteger(times) || times < 1)) {
    throw new TypeError('Fault times must be a positive integer.');
  }
  return {
    kind: kind as KmsFault['kind'],
    ...(operation === undefined ? {} : { operation }),
    ...(latencyMs === undefined ? {} : { latencyMs }),
    ...(times === undefined ? {} : { times }),
  };
}

export class FaultInjector {
  private faults: { fault: KmsFault; remaining: number }[] = [];

  add(fault: KmsFault): void {
    this.faults.push({ fault, remaining: fault.times ?? Infinity });
  }

  clear(): void {
    this.faults = [];
  }

  list(): KmsFault[] {
    return this.faults.map(({ fault, remaining }) => ({
      ...fault,
      ...(Number.isFinite(remaining) ? { times: remaining } : {}),
    }));
  }

  /**
   * The faults that apply to one request, each use counted: every matching latency fault in
   * order, up to and including the first failing one.
   */
  take(operation: string): KmsFault[] {
    const applied: KmsFault[] = [];
    for (const entry of this.faults) {
      if (entry.fault.operation !== undefined && entry.fault.operation !== operation) continue;
      entry.remaining -= 1;
      applied.push(entry.fault);
      if (entry.fault.kind !== 'latency') break;
    }
    this.faults = this.faults.filter((entry) => entry.remaining > 0);
    return applied;
  }
}
