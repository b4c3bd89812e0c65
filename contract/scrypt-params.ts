/** scrypt cost parameters (RFC 7914): N = CPU/memory cost, r = block size, p = parallelism. */
export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/** OWASP Password Storage Cheat Sheet: N=2^17, r=8, p=1 (128 MiB, a few hundred ms on a Lambda vCPU). */
export const DEFAULT_SCRYPT_PARAMS: ScryptParams = Object.freeze({ N: 2 ** 17, r: 8, p: 1 });

/** Memory scrypt needs for its V array: 128·N·r bytes. Capped so a policy or a stored hash cannot exhaust the Lambda. */
export const MAX_SCRYPT_MEMORY = 2 ** 30;
/** Caps total work (128·N·r·p) at 32× the default, so a bad config or a planted hash cannot stall logins for minutes. */
export const MAX_SCRYPT_WORK = 2 ** 32;
export const MAX_SCRYPT_P = 16;

/** Throws a RangeError naming the offending parameter; the same bounds apply to policies and to stored hashes. */
export function validateScryptParams(params: ScryptParams): void {
  const { N, r, p } = params;
  if (!Number.isSafeInteger(N) || N < 2 || 2 ** Math.round(Math.log2(N)) !== N) {
    throw new RangeError(`scrypt N must be a power of two greater than 1, got ${String(N)}`);
  }
  if (!Number.isSafeInteger(r) || r < 1) {
    throw new RangeError(`scrypt r must be a positive integer, got ${String(r)}`);
  }
  if (!Number.isSafeInteger(p) || p < 1 || p > MAX_SCRYPT_P) {
    throw new RangeError(`scrypt p must be an integer from 1 to ${MAX_SCRYPT_P}, got ${String(p)}`);
  }
  const memory = 128 * N * r;
  if (memory > MAX_SCRYPT_MEMORY) {
    throw new RangeError(
      `scrypt N=${N}, r=${r} needs ${memory} bytes (128·N·r), above the ${MAX_SCRYPT_MEMORY}-byte limit`,
    );
  }
  if (memory * p > MAX_SCRYPT_WORK) {
    throw new RangeError(
      `scrypt N=${N}, r=${r}, p=${p} costs 128·N·r·p = ${memory * p}, above the limit of ${MAX_SCRYPT_WORK}`,
    );
  }
}

/** log2 of a validated N (a power of two below 2^31, given the memory cap). */
export function log2N(N: number): number {
  return 31 - Math.clz32(N);
}

/** The policy's text form: what SCRYPT_PARAMS, the `scrypt` context setting and the ScryptParams output hold. */
export function formatScryptParams({ N, r, p }: ScryptParams): string {
  return `N=${N},r=${r},p=${p}`;
}

/**
 * Parses a policy from configuration (an environment variable): "N=131072,r=8,p=1" or "ln=17,r=8,p=1".
 * Keys are case-sensitive, any order, each exactly once; whitespace around entries is ignored.
 * Throws an Error saying what is wrong, so a bad deployment fails at cold start rather than at the first login.
 */
export function parseScryptParams(text: string): ScryptParams {
  const fields = new Map<string, number>();
  for (const entry of text.split(',')) {
    const match = /^\s*([A-Za-z]+)\s*=\s*(\d+)\s*$/.exec(entry);
    if (!match) {
      throw new Error(
        `invalid scrypt parameters "${text}": expected "N=<int>,r=<int>,p=<int>" or "ln=<int>,r=<int>,p=<int>", bad entry "${entry.trim()}"`,
      );
    }
    const [, key = '', digits = ''] = match;
    if (!['N', 'ln', 'r', 'p'].includes(key)) {
      throw new Error(`invalid scrypt parameters "${text}": unknown key "${key}" (allowed: N or ln, r, p)`);
    }
    if (fields.has(key)) {
      throw new Error(`invalid scrypt parameters "${text}": "${key}" given twice`);
    }
    const value = Number(digits);
    if (!Number.isSafeInteger(value)) {
      throw new Error(`invalid scrypt parameters "${text}": ${key}=${digits} is too large`);
    }
    fields.set(key, value);
  }
  const n = fields.get('N');
  const ln = fields.get('ln');
  const r = fields.get('r');
  const p = fields.get('p');
  if (n !== undefined && ln !== undefined) {
    throw new Error(`invalid scrypt parameters "${text}": give either N or ln, not both`);
  }
  if (n === undefined && ln === undefined) throw new Error(`invalid scrypt parameters "${text}": N (or ln) is missing`);
  if (r === undefined) throw new Error(`invalid scrypt parameters "${text}": r is missing`);
  if (p === undefined) throw new Error(`invalid scrypt parameters "${text}": p is missing`);
  // ln is bounded before exponentiating so a huge value reports the range, not "N=Infinity".
  if (ln !== undefined && (ln < 1 || ln > 52)) {
    throw new Error(`invalid scrypt parameters "${text}": ln must be from 1 to 52, got ${ln}`);
  }
  const params: ScryptParams = { N: n ?? 2 ** (ln ?? 0), r, p };
  try {
    validateScryptParams(params);
  } catch (err) {
    throw new Error(`invalid scrypt parameters "${text}": ${(err as Error).message}`);
  }
  return Object.freeze(params);
}
