/**
 * Bulk import of users from another system (`ropc-admin users import`): JSON Lines, one user per line,
 * with the password hash the old system stored. The whole input is checked before anything is written,
 * so a bad file imports nothing; then the users are written in batches that never touch a username
 * that is taken, so a second run after an interruption imports the rest and skips the others.
 *
 * The input is read twice (check, then write) and never held whole: what the check keeps per line is 12
 * bytes for its username and 12 for its sub (LineIndex), for the duplicate checks; the writes keep 12 bytes
 * per username the table held when they began, when it held at most one for every ten users of the input.
 */
import { createHash } from 'node:crypto';
import { prepareUsername } from '../oauth/username';
import { hashProblem } from '../passwords/formats';
import { ImportClaimLostError, ImportInProgressError } from './errors';
import { type Clock, IMPORT_BATCH_SIZE, type Random, type RegisteredUser, type UserImport } from './ports';

/** One user of an import, checked: the username as the service keys it. */
export interface ImportedUser {
  readonly username: string;
  readonly passwordHash: string;
  /** The access tokens' `sub` the old system used; a fresh one is drawn when absent. */
  readonly sub?: string;
  readonly scopes: readonly string[];
  readonly disabled: boolean;
}

/** A line of the input as the reader delivers it: its text, or why it has none (too long, not UTF-8). */
export type ImportLine = { readonly text: string } | { readonly problem: string };

/** The input, opened afresh on each call: once for the check, once for the writes. */
export type ImportSource = () => AsyncIterable<ImportLine>;

export interface LineError {
  /** 1-based. */
  readonly line: number;
  readonly error: string;
}

export type ImportOutcome =
  /** Something was wrong: nothing was written. `errors` holds the first MAX_REPORTED_ERRORS of `errorCount`. */
  | { readonly kind: 'invalid'; readonly errors: readonly LineError[]; readonly errorCount: number }
  | {
      readonly kind: 'imported';
      readonly imported: number;
      readonly skipped: number;
      /** Stopped by ImportOptions.signal before every user was written or skipped: a re-run imports the rest. */
      readonly interrupted?: true;
      /** The claim could not be released: no user can be created until then (epoch milliseconds). */
      readonly claimLapsesAt?: number;
    };

export interface ImportProgress {
  /** Users written or skipped so far. */
  readonly done: number;
  /** Users in the input. */
  readonly total: number;
}

export interface ImportOptions {
  /** Called after each batch. */
  readonly onProgress?: (progress: ImportProgress) => void;
  /** Called after each batch with the users it wrote (not those it skipped); the import waits for it. */
  readonly onWritten?: (users: readonly { readonly username: string; readonly userId: string }[]) => Promise<void>;
  /** Batches in flight at once (default 8). */
  readonly concurrency?: number;
  /** Stops the import between batches (the batches in flight finish, the claim is released). */
  readonly signal?: AbortSignal;
  /** Who this import is, in the claim (a fresh UUID when absent): the CLI names its machine and process. */
  readonly claimHolder?: string;
  /**
   * Whether the import that holds the claim is gone for certain (a process of this machine that no longer
   * runs): its claim is then taken over at once rather than waited out.
   */
  readonly isAbandoned?: (holder: string) => boolean;
}

/** The line errors kept and reported; beyond them only the count (a wrong file can have millions). */
export const MAX_REPORTED_ERRORS = 50;

/** An import line's keys; any other is refused, so that a misspelt one is not silently dropped. */
const KEYS = new Set(['username', 'password_hash', 'sub', 'scopes', 'disabled']);

/**
 * The `sub` an access token carries (RFC 9068 §2.2, RFC 7519 §4.1.2: a case-sensitive string): visible
 * ASCII, no spaces, at most 255 characters, so it prints, logs and sits in a key as it is.
 */
const SUB = /^[\x21-\x7e]{1,255}$/;

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

const DEFAULT_CONCURRENCY = 8;

/** The input changed between the check and the writes (or the reader failed): the writes stop there. */
export class ImportSourceChangedError extends Error {
  constructor(
    readonly line: number,
    /** Users written before it was noticed. */
    readonly imported: number,
    readonly skipped: number,
  ) {
    super(`the input changed after it was checked (line ${line})`);
    this.name = 'ImportSourceChangedError';
  }
}

/**
 * Checks the whole input, then, if every line is good, takes the import's claim on the users table and
 * writes the users whose usernames are free and skips the others. Each imported user is what registerUser (./users.ts) writes: `userId` is the line's
 * sub (or a fresh UUID), created and password-changed now, so every other action treats them alike.
 */
export async function importUsers(
  deps: { readonly users: UserImport; readonly clock: Clock; readonly random: Pick<Random, 'uuid'> },
  source: ImportSource,
  options: ImportOptions = {},
): Promise<ImportOutcome> {
  const checked = await checkImport(source);
  if (checked.kind === 'invalid') return checked;
  return writeImport(deps, source, checked, options);
}

/** An input every line of which passed checkImport. */
export interface CheckedImport {
  readonly kind: 'valid';
  /** Users in it. */
  readonly total: number;
}

/**
 * The first pass alone: every line checked, duplicates across lines included. importUsers runs it; the
 * CLI runs the two passes itself, so that a bad file is reported before it connects to a stack.
 */
export async function checkImport(
  source: ImportSource,
): Promise<CheckedImport | Extract<ImportOutcome, { kind: 'invalid' }>> {
  const usernames = new LineIndex();
  const subs = new LineIndex();
  const errors: LineError[] = [];
  let errorCount = 0;
  let total = 0;
  let number = 0;
  for await (const line of source()) {
    number++;
    const checked = checkLine(line);
    if (checked === undefined) continue;
    let error = checked.ok ? undefined : checked.error;
    if (checked.ok) {
      const { username, sub } = checked.user;
      error =
        duplicate(usernames, username, number, `username ${quoted(username)}`) ??
        (sub === undefined ? undefined : duplicate(subs, sub, number, `sub ${quoted(sub)}`));
    }
    if (error === undefined) {
      total++;
    } else {
      errorCount++;
      if (errors.length < MAX_REPORTED_ERRORS) errors.push({ line: number, error });
    }
  }
  return errorCount === 0 ? { kind: 'valid', total } : { kind: 'invalid', errors, errorCount };
}

/** A duplicate's error, or undefined after noting the value. */
function duplicate(seen: LineIndex, value: string, line: number, what: string): string | undefined {
  const first = seen.firstLine(value, line);
  return first === undefined ? undefined : `${what} is on line ${first} already`;
}

/**
 * Which line each value was first seen on, in 12 bytes per value whatever its length: the first 64 bits of
 * its SHA-256 and the line number, in an open-addressing table of typed memory (a Map of strings costs
 * about 100 bytes an entry). Two values with the same 64 bits would read as a duplicate: a refusal, never
 * a user lost, and at a million users about one chance in 30 million.
 */
class LineIndex {
  /** [high 32 bits, low 32 bits, line] per slot; line 0 marks a free slot (lines count from 1). */
  private slots = new Uint32Array(3 * 1024);
  private size = 0;

  /** The line `value` was first seen on; undefined (and `line` noted) when it is new. */
  firstLine(value: string, line: number): number | undefined {
    const [high, low] = digestOf(value);
    // At most half full, so that probes stay short.
    if ((this.size + 1) * 2 > this.slots.length / 3) this.grow();
    const slot = this.find(this.slots, high, low);
    const seen = this.slots[slot + 2];
    if (seen !== 0) return seen;
    this.slots[slot] = high;
    this.slots[slot + 1] = low;
    this.slots[slot + 2] = line;
    this.size++;
    return undefined;
  }

  /** Whether `value` was noted, or another value with the same 64 bits: false only for a value never seen. */
  has(value: string): boolean {
    return this.slots[this.find(this.slots, ...digestOf(value)) + 2] !== 0;
  }

  /** The index of the slot holding (high, low), or of the free slot where it belongs (linear probing). */
  private find(slots: Uint32Array, high: number, low: number): number {
    const mask = slots.length / 3 - 1;
    let index = low & mask;
    while (slots[index * 3 + 2] !== 0 && (slots[index * 3] !== high || slots[index * 3 + 1] !== low)) {
      index = (index + 1) & mask;
    }
    return index * 3;
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Uint32Array(old.length * 2);
    for (let slot = 0; slot < old.length; slot += 3) {
      if (old[slot + 2] === 0) continue;
      this.slots.set(old.subarray(slot, slot + 3), this.find(this.slots, old[slot]!, old[slot + 1]!));
    }
  }
}

/** The first 64 bits of the SHA-256 of `value`, as two 32-bit halves. */
function digestOf(value: string): [number, number] {
  const digest = createHash('sha256').update(value, 'utf8').digest();
  return [digest.readUInt32BE(0), digest.readUInt32BE(4)];
}

/**
 * The second pass, over an input checkImport passed, under the import's claim on the users table
 * (ports.ts UserImport), after an index of the usernames the table holds (indexUsernames): each line is parsed again (the input is not held) and a line that no longer
 * passes, or more or fewer users than were checked, stops the writes with ImportSourceChangedError. The
 * claim is renewed as the batches go and released at the end, whatever happened; a batch is sent only
 * while the claim has WRITE_MARGIN_MS left, else the import stops with ImportClaimLostError.
 */
export async function writeImport(
  deps: { readonly users: UserImport; readonly clock: Clock; readonly random: Pick<Random, 'uuid'> },
  source: ImportSource,
  checked: CheckedImport,
  options: ImportOptions = {},
): Promise<Extract<ImportOutcome, { kind: 'imported' }>> {
  const { total } = checked;
  const concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
  const claim = await ImportClaim.take(deps, options);
  let imported = 0;
  let skipped = 0;
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let existing: LineIndex | undefined;
  const mayExist = (username: string) => existing?.has(username) ?? true;
  const submit = (batch: RegisteredUser[]) => {
    const write = deps.users.importUsers(batch, claim.live, mayExist).then(
      async (outcome) => {
        imported += outcome.written.length;
        skipped += outcome.existing.length;
        const written = new Set(outcome.written);
        await options.onWritten?.(batch.filter((user) => written.has(user.username)));
        options.onProgress?.({ done: imported + skipped, total });
      },
      (error: unknown) => {
        failure ??= error;
      },
    );
    const tracked = write.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  };
  const stopped = () => failure !== undefined || options.signal?.aborted === true;
  /** Renews the claim when due, then sends the batch unless the import stopped. */
  const send = async (batch: RegisteredUser[]) => {
    await claim.renewIfDue().catch((error: unknown) => {
      failure ??= error;
    });
    if (!stopped()) submit(batch);
  };
  let batch: RegisteredUser[] = [];
  let number = 0;
  let users = 0;
  let changedAt: number | undefined;
  let released: boolean;
  try {
    existing = await indexUsernames(deps.users, Math.floor(total / INDEX_SHARE), () => claim.renewIfDue());
    for await (const line of source()) {
      number++;
      const checked = checkLine(line);
      if (checked === undefined) continue;
      if (!checked.ok || ++users > total) {
        changedAt = number;
        break;
      }
      batch.push(registered(checked.user, deps));
      if (batch.length === IMPORT_BATCH_SIZE) {
        await send(batch);
        batch = [];
        // Back-pressure: the reader waits while the writers are busy, so memory stays at a few batches.
        while (inFlight.size >= concurrency && !stopped()) await Promise.race(inFlight);
      }
      if (stopped()) break;
    }
    if (changedAt === undefined && users < total && !stopped()) changedAt = number;
    if (changedAt === undefined && !stopped() && batch.length > 0) await send(batch);
  } finally {
    await Promise.all(inFlight);
    released = await claim.release();
  }
  if (failure instanceof ImportClaimLostError) throw new ImportClaimLostError(imported, skipped);
  if (failure !== undefined) throw failure;
  if (changedAt !== undefined) throw new ImportSourceChangedError(changedAt, imported, skipped);
  return {
    kind: 'imported',
    imported,
    skipped,
    ...(options.signal?.aborted === true && imported + skipped < total ? { interrupted: true } : {}),
    ...(released ? {} : { claimLapsesAt: claim.until }),
  };
}

/**
 * The usernames in the table, read once under the claim (when no other user can appear), if there are at
 * most `limit` of them: a batch then reads back only the usernames it may share with the table, none at
 * all in a first import. With more, undefined: every batch reads all of its usernames (what is held stays
 * in proportion to the input, not to the table, and a re-run, whose users are all there, reads them once).
 */
async function indexUsernames(
  users: UserImport,
  limit: number,
  /** Called every INDEX_RENEW_EVERY usernames: a table of millions takes minutes to read. */
  renewIfDue: () => Promise<void>,
): Promise<LineIndex | undefined> {
  const index = new LineIndex();
  let count = 0;
  for await (const username of users.usernames()) {
    if (++count > limit) return undefined;
    index.firstLine(username, count);
    if (count % INDEX_RENEW_EVERY === 0) await renewIfDue();
  }
  return index;
}

const INDEX_RENEW_EVERY = 10_000;
/** The table is read whole only when it holds at most one user for every INDEX_SHARE users of the input. */
const INDEX_SHARE = 10;

/** How long a claim lasts unless renewed: a killed import keeps users from being created this long at most. */
const CLAIM_MS = 5 * 60_000;
/** The claim is renewed before a batch once this long has passed since it was taken or last renewed. */
const RENEW_EVERY_MS = 30_000;
/**
 * A request that writes is sent only while the claim has this long left: longer than one request can
 * take with the SDK's own retries (the CLI's 3 attempts of at most 30 s), so that every write lands before
 * the claim lapses, with a minute and a half to spare for a clock that runs behind this one (the token
 * function judges the claim by its own clock).
 */
const WRITE_MARGIN_MS = 3 * 60_000;

/** The holder of the claim that refused this import, when `isAbandoned` says it is gone for certain. */
function abandonedHolder(error: unknown, isAbandoned: ImportOptions['isAbandoned']): string | undefined {
  if (!(error instanceof ImportInProgressError) || error.holder === undefined) return undefined;
  return isAbandoned?.(error.holder) === true ? error.holder : undefined;
}

/** One import's claim on the users table: taken, renewed while the batches go, released at the end. */
class ImportClaim {
  private renewedAt: number;
  private lost = false;

  private constructor(
    private readonly deps: { readonly users: UserImport; readonly clock: Clock },
    private readonly holder: string,
    private expiry: number,
  ) {
    this.renewedAt = deps.clock();
  }

  static async take(
    deps: { readonly users: UserImport; readonly clock: Clock; readonly random: Pick<Random, 'uuid'> },
    options: Pick<ImportOptions, 'claimHolder' | 'isAbandoned'>,
  ): Promise<ImportClaim> {
    const holder = options.claimHolder ?? deps.random.uuid();
    const now = deps.clock();
    try {
      await deps.users.claimImport(holder, now, now + CLAIM_MS);
    } catch (error) {
      const gone = abandonedHolder(error, options.isAbandoned);
      if (gone === undefined) throw error;
      // Taken over from that holder only: had another import taken it meanwhile, this one is refused.
      await deps.users.claimImport(holder, now, now + CLAIM_MS, gone);
    }
    return new ImportClaim(deps, holder, now + CLAIM_MS);
  }

  /** When it lapses unless renewed (epoch milliseconds). */
  get until(): number {
    return this.expiry;
  }

  /** Whether a write may be sent now: the claim is this import's, with WRITE_MARGIN_MS left. */
  readonly live = (): boolean => !this.lost && this.deps.clock() + WRITE_MARGIN_MS < this.expiry;

  /**
   * Renews the claim once RENEW_EVERY_MS has passed; a renewal that fails to reach DynamoDB is tried
   * again before the next batch (the writes stop by themselves once the margin is reached), one that
   * finds the claim lapsed or another's ends the import with ImportClaimLostError.
   */
  async renewIfDue(): Promise<void> {
    const now = this.deps.clock();
    if (now - this.renewedAt < RENEW_EVERY_MS) return;
    let renewed: boolean;
    try {
      renewed = await this.deps.users.renewImport(this.holder, now, now + CLAIM_MS);
    } catch {
      return;
    }
    if (!renewed) {
      this.lost = true;
      throw new ImportClaimLostError();
    }
    this.renewedAt = now;
    this.expiry = now + CLAIM_MS;
  }

  /** False when it could not be released: users can be created again once it lapses (`until`). */
  async release(): Promise<boolean> {
    return this.deps.users.releaseImport(this.holder).then(
      () => true,
      () => false,
    );
  }
}

function registered(
  user: ImportedUser,
  deps: { readonly clock: Clock; readonly random: Pick<Random, 'uuid'> },
): RegisteredUser {
  const at = new Date(deps.clock()).toISOString();
  return {
    username: user.username,
    userId: user.sub ?? deps.random.uuid(),
    passwordHash: user.passwordHash,
    scopes: [...user.scopes],
    disabled: user.disabled,
    createdAt: at,
    passwordChangedAt: at,
  };
}

type LineCheck = { readonly ok: true; readonly user: ImportedUser } | { readonly ok: false; readonly error: string };

/** One line on its own; undefined for a blank line (skipped, as JSON Lines readers commonly do). */
function checkLine(line: ImportLine): LineCheck | undefined {
  if ('problem' in line) return { ok: false, error: line.problem };
  if (line.text.trim() === '') return undefined;
  return parseImportLine(line.text);
}

/**
 * One line: a JSON object with only the known keys, each of its type. Messages quote usernames, subs,
 * scopes and keys (escaped), never a password hash: not even a JSON parser's message, which quotes the text.
 */
export function parseImportLine(text: string): LineCheck {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const at = error instanceof Error ? /at position (\d+)/.exec(error.message)?.[1] : undefined;
    return fail(`not valid JSON${at === undefined ? '' : ` (at column ${Number(at) + 1})`}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('not a JSON object');
  const record = value as Record<string, unknown>;
  const unknown = Object.keys(record).filter((key) => !KEYS.has(key));
  if (unknown.length > 0) {
    return fail(
      `unknown ${unknown.length === 1 ? 'key' : 'keys'} ${unknown.map(keyName).join(', ')} (known: ${[...KEYS].join(', ')})`,
    );
  }

  if (record.username === undefined) return fail('username is missing');
  if (typeof record.username !== 'string') return fail('username must be a string');
  const prepared = prepareUsername(record.username);
  if (!prepared.ok) return fail(`invalid username ${quoted(record.username)}: ${prepared.problem}`);

  if (record.password_hash === undefined) return fail('password_hash is missing');
  if (typeof record.password_hash !== 'string') return fail('password_hash must be a string');
  const problem = hashProblem(record.password_hash);
  if (problem !== undefined) return fail(`password_hash is not usable: ${problem}`);

  let sub: string | undefined;
  if (record.sub !== undefined && record.sub !== null) {
    if (typeof record.sub !== 'string' || !SUB.test(record.sub)) {
      return fail(
        `invalid sub ${typeof record.sub === 'string' ? quoted(record.sub) : `(a ${jsonType(record.sub)})`}: use 1 to 255 visible ASCII characters, no spaces`,
      );
    }
    sub = record.sub;
  }

  const scopes = parseScopes(record.scopes);
  if (typeof scopes === 'string') return fail(scopes);

  if (record.disabled !== undefined && record.disabled !== null && typeof record.disabled !== 'boolean')
    return fail('disabled must be true or false');

  return {
    ok: true,
    user: {
      username: prepared.username,
      passwordHash: record.password_hash,
      ...(sub === undefined ? {} : { sub }),
      scopes,
      disabled: record.disabled === true,
    },
  };
}

/** `"read write"` or `["read", "write"]`: distinct RFC 6749 §3.3 scope tokens; absent means none. */
function parseScopes(value: unknown): string[] | string {
  if (value === undefined || value === null) return [];
  const rule = 'scopes are RFC 6749 scope tokens: printable ASCII except space, " and \\';
  if (typeof value === 'string') {
    const tokens = value.split(' ').filter((token) => token !== '');
    const bad = tokens.find((token) => !SCOPE_TOKEN.test(token));
    return bad === undefined ? [...new Set(tokens)] : `invalid scope ${quoted(bad)}: ${rule}`;
  }
  if (Array.isArray(value)) {
    const bad = value.find((token) => typeof token !== 'string' || !SCOPE_TOKEN.test(token));
    if (bad === undefined) return [...new Set(value as string[])];
    return `invalid scope ${typeof bad === 'string' ? quoted(bad) : `(a ${jsonType(bad)})`}: ${rule}`;
  }
  return 'scopes must be a string of space-separated scopes or an array of strings';
}

function fail(error: string): LineCheck {
  return { ok: false, error };
}

/**
 * A value from the input in a message: a JSON string, cut when long, with the characters JSON leaves alone
 * that a terminal would act on (DEL, C1 controls, format characters such as bidirectional overrides, line
 * and paragraph separators) escaped as well.
 */
function quoted(value: string): string {
  const characters = [...value];
  const shown = characters.length > 64 ? `${characters.slice(0, 64).join('')}…` : value;
  return JSON.stringify(shown).replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (character) =>
    Array.from(
      { length: character.length },
      (_, i) => `\\u${character.charCodeAt(i).toString(16).padStart(4, '0')}`,
    ).join(''),
  );
}

/** An unknown key in a message, when it looks like a key: a misaligned line could have a hash there. */
function keyName(key: string): string {
  return /^[A-Za-z0-9_.-]{1,40}$/.test(key) ? quoted(key) : '(not shown)';
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value === 'object' ? 'object' : typeof value;
}
