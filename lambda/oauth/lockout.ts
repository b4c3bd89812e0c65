import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { DEFAULTS } from '../../contract/settings';
import { prepareUsername } from './username';

/**
 * Brute-force protection for the password grant, as three independent counters:
 * - per (username, source IP): after `pairThreshold` consecutive failures each further attempt waits
 *   2^(n - threshold) seconds after the last one, capped (slows guessing one account from one place);
 * - per username, all IPs: at most `userFailuresPerHour` failures in a clock hour (OWASP ASVS V2.2.1),
 *   which stops distributed guessing of one account;
 * - per source IP: a daily failure budget, which stops one place from stuffing many accounts.
 * Unknown usernames are counted like known ones, and a refused attempt looks exactly like a wrong password.
 */
export interface LockoutPolicy {
  readonly pairThreshold: number;
  readonly pairMaxDelaySeconds: number;
  readonly userFailuresPerHour: number;
  readonly ipFailuresPerDay: number;
}

/** The limits' defaults are the shared settings' (contract/settings.ts); the backoff's cap is fixed. */
export const DEFAULT_LOCKOUT_POLICY: LockoutPolicy = {
  pairThreshold: DEFAULTS.lockoutPairThreshold,
  pairMaxDelaySeconds: 15 * 60,
  userFailuresPerHour: DEFAULTS.lockoutUserFailuresPerHour,
  ipFailuresPerDay: DEFAULTS.lockoutIpFailuresPerDay,
};

/** The counters that concern one attempt, as read before it (expired counters read as zero). */
export interface LoginAttemptCounters {
  /** Consecutive failures for this username from this IP, and when the last one was (epoch seconds). */
  readonly pairFailures: number;
  readonly pairLastFailureAt: number;
  /** Failures for this username in the current clock hour, from anywhere. */
  readonly userFailuresThisHour: number;
  /** Failures from this IP in the current UTC day, for any username. */
  readonly ipFailuresToday: number;
  /**
   * Until when this IP counts as one the username logged in from (epoch seconds): set by a success, for
   * KNOWN_ADDRESS_SECONDS. Absent when it is not. The per-user ceiling does not apply to such an address
   * (its own pair backoff does), so guesses from elsewhere cannot lock the user out of their usual places.
   */
  readonly knownAddressUntil?: number;
}

export const NO_FAILURES: LoginAttemptCounters = {
  pairFailures: 0,
  pairLastFailureAt: 0,
  userFailuresThisHour: 0,
  ipFailuresToday: 0,
};

export type LockoutReason = 'pair_backoff' | 'user_ceiling' | 'ip_budget';

export interface LockoutDecision {
  readonly refused: boolean;
  readonly reason?: LockoutReason;
  /** When an attempt may next be considered (epoch seconds), for the log and the operator. */
  readonly until?: number;
}

/** Pure: whether an attempt at `now` (epoch seconds) is refused without looking at the password. */
export function lockoutDecision(
  counters: LoginAttemptCounters,
  now: number,
  policy: LockoutPolicy = DEFAULT_LOCKOUT_POLICY,
): LockoutDecision {
  if (counters.ipFailuresToday >= policy.ipFailuresPerDay) {
    return { refused: true, reason: 'ip_budget', until: (dayBucket(now) + 1) * DAY };
  }
  if (counters.knownAddressUntil === undefined && counters.userFailuresThisHour >= policy.userFailuresPerHour) {
    return { refused: true, reason: 'user_ceiling', until: (hourBucket(now) + 1) * HOUR };
  }
  const delay = pairDelaySeconds(counters.pairFailures, policy);
  if (delay > 0 && now < counters.pairLastFailureAt + delay) {
    return { refused: true, reason: 'pair_backoff', until: counters.pairLastFailureAt + delay };
  }
  return { refused: false };
}

/** 0 below the threshold, then 1, 2, 4, … seconds, capped. */
export function pairDelaySeconds(failures: number, policy: LockoutPolicy = DEFAULT_LOCKOUT_POLICY): number {
  if (failures < policy.pairThreshold) return 0;
  const exponent = failures - policy.pairThreshold;
  return exponent >= 30 ? policy.pairMaxDelaySeconds : Math.min(2 ** exponent, policy.pairMaxDelaySeconds);
}

export const HOUR = 3600;
export const DAY = 86400;
/** How long a successful login makes its address a known one for the username. */
export const KNOWN_ADDRESS_SECONDS = 30 * DAY;
/** A success renews its address's mark only when less than this is left, so most successes write nothing. */
export const KNOWN_ADDRESS_RENEW_SECONDS = 25 * DAY;
export const hourBucket = (now: number) => Math.floor(now / HOUR);
export const dayBucket = (now: number) => Math.floor(now / DAY);

/**
 * Counters are keyed by a hash of the username (no usernames at rest in this table, and a bounded key
 * length whatever a client sends) and by the normalized source IP. The username is the prepared one
 * (./username.ts), so that "Alice" and "alice", which name one account, share its counters; a name the
 * profile refuses (a user registered before names were prepared) counts as typed.
 */
export interface AttemptSubject {
  readonly userKey: string;
  readonly ip: string;
}

export function attemptSubject(username: string, ip: string): AttemptSubject {
  return { userKey: usernameKey(username), ip: normalizeIp(ip) };
}

export function usernameKey(username: string): string {
  const prepared = prepareUsername(username);
  return createHash('sha256')
    .update(prepared.ok ? prepared.username : username, 'utf8')
    .digest('base64url');
}

/**
 * The address the counters key on. IPv4 as it is; IPv4-mapped IPv6 (`::ffff:198.51.100.1`, in any spelling)
 * as its IPv4 address; other IPv6 by its /64 (RFC 5952 text, zone id dropped), since one subscriber holds a
 * whole /64 and could otherwise walk its 2^64 addresses past every per-IP limit. Anything that is not an IP
 * counts as "unknown".
 */
export function normalizeIp(ip: string): string {
  const trimmed = ip.trim();
  if (isIP(trimmed) === 4) return trimmed;
  // Idempotent: a /64 this function made is its own key.
  const address = trimmed.replace(/%[^%]*$/, '').replace(/\/64$/, '');
  if (isIP(address) !== 6) return 'unknown';
  const groups = ipv6Groups(address);
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    const [high = 0, low = 0] = groups.slice(6);
    return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
  }
  return `${canonicalIpv6([...groups.slice(0, 4), 0, 0, 0, 0])}/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (an embedded IPv4 tail included). */
function ipv6Groups(address: string): number[] {
  // The WHATWG URL parser writes IPv6 hosts in RFC 5952 form, the IPv4 tail as two hex groups.
  const host = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const [head = '', tail] = host.split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  return [...left, ...Array(8 - left.length - right.length).fill(0), ...right];
}

function canonicalIpv6(groups: readonly number[]): string {
  return new URL(`http://[${groups.map((group) => group.toString(16)).join(':')}]/`).hostname.slice(1, -1);
}
