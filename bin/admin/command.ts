import type { BooleanOptionName, CommandSpec, StringOptionName } from './spec';
import type { StdinSource } from './stdin';
import type { Target } from './target';

/** What a command gets: its parsed arguments, stdin, and the target stack (resolved on first use). */
export interface CommandContext {
  readonly command: CommandSpec;
  readonly args: Readonly<Record<string, string>>;
  readonly strings: Readonly<Partial<Record<StringOptionName, string>>>;
  /** Every value of each string option, in order: more than one only for the spec's REPEATABLE_OPTIONS. */
  readonly lists: Readonly<Partial<Record<StringOptionName, readonly string[]>>>;
  readonly flags: Readonly<Partial<Record<BooleanOptionName, true>>>;
  readonly stdin: StdinSource;
  /** Prompts and notes only: never a result, a password or a secret. */
  readonly stderr: (text: string) => void;
  /** The environment the command runs in (settings such as PASSWORD_MIN_LENGTH). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /**
   * Connects to the target. Commands validate their arguments first, so a usage error is reported as such
   * even when no stack is running.
   */
  target(): Promise<Target>;
  now(): Date;
  /**
   * Appends a line to the audit trail (when there is one) for each thing the command did, as it does them,
   * beside the command's own line at the end: `users import` records each user it wrote.
   */
  audit(entries: readonly AuditEntry[]): Promise<void>;
}

/** One thing a command did, for its audit line: what it acted on, and fields that are never a secret. */
export interface AuditEntry {
  readonly subject: string;
  readonly fields: Readonly<Record<string, string | number>>;
}

/** A command's result: `json` is printed with --json (one object), `human` otherwise. */
export interface CommandResult {
  readonly json: Readonly<Record<string, unknown>>;
  readonly human: string;
  /** For the audit log, when the arguments do not name it: what the command acted on (the kid keys rotate created). */
  readonly subject?: string;
  /** More fields for the command's audit line (counts, how): never a secret, a password or a hash. */
  readonly audit?: Readonly<Record<string, string | number>>;
}

export type CommandHandler = (context: CommandContext) => Promise<CommandResult>;

/** Positional argument by name; the parser guarantees the spec's positionals are present. */
export function arg(context: CommandContext, name: string): string {
  const value = context.args[name];
  if (value === undefined) throw new Error(`missing argument ${name}`);
  return value;
}

/** Formats rows as an aligned plain-text table with a header. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** Formats one item as aligned `label  value` lines, for the show commands. */
export function formatFields(fields: readonly (readonly [string, string])[]): string {
  const width = Math.max(...fields.map(([label]) => label.length));
  return fields.map(([label, value]) => `${label.padEnd(width)}  ${value}`.trimEnd()).join('\n');
}
