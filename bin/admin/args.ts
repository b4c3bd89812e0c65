import { parseArgs } from 'node:util';
import { UsageError } from './errors';
import {
  type BooleanOptionName,
  COMMANDS,
  type CommandSpec,
  commandsOf,
  findCommand,
  GLOBAL_OPTIONS,
  GROUPS,
  OPTION_TYPES,
  type OptionName,
  REPEATABLE_OPTIONS,
  type StringOptionName,
} from './spec';
import { didYouMean } from './suggest';

export type ParsedArgs =
  /** Help for one command, for one group of commands, or (neither) for all of them. */
  | { readonly kind: 'help'; readonly command?: CommandSpec; readonly group?: string }
  | { readonly kind: 'version'; readonly json: boolean }
  | {
      readonly kind: 'command';
      readonly command: CommandSpec;
      /** Positional arguments by their name in the spec (ID, NAME, KID). */
      readonly args: Readonly<Record<string, string>>;
      readonly strings: Readonly<Partial<Record<StringOptionName, string>>>;
      /** Every value of each string option, in order: more than one only for REPEATABLE_OPTIONS. */
      readonly lists: Readonly<Partial<Record<StringOptionName, readonly string[]>>>;
      readonly flags: Readonly<Partial<Record<BooleanOptionName, true>>>;
    };

/** A word such as -1 or -2.5 after a string option is its value, not an option. */
const NEGATIVE_NUMBER = /^-[0-9]+(\.[0-9]+)?$/;

/** Options people reach for that would put a secret on the command line (shell history, ps). */
const SECRET_OPTIONS = new Set(['password', 'secret', 'client-secret', 'client_secret']);

/**
 * Parses `GROUP COMMAND [ARGS] [OPTIONS]`; options may come anywhere, `--` ends them.
 * Throws UsageError with a one-line message for anything it does not accept.
 */
export function parseCommandLine(argv: readonly string[]): ParsedArgs {
  const options = Object.fromEntries(
    Object.entries(OPTION_TYPES).map(([name, type]) => [name, name === 'help' ? { type, short: 'h' } : { type }]),
  );
  // Not strict: unknown options and missing values are reported below, in our own words.
  // The only short option is -h: any other single-dash word is an argument (a kid may begin with "-"),
  // so it goes through parseArgs as a placeholder positional and is put back afterwards.
  const dashWords = new Map<string, string>();
  const endOfOptions = argv.indexOf('--');
  const words = argv.map((word, index) => {
    if (!/^-[^-]/.test(word) || word === '-h' || (endOfOptions !== -1 && index > endOfOptions)) return word;
    const placeholder = `\u0000${index}`;
    dashWords.set(placeholder, word);
    return placeholder;
  });
  const { tokens } = parseArgs({ args: words, options, strict: false, allowPositionals: true, tokens: true });

  const positionals: string[] = [];
  const strings: Partial<Record<StringOptionName, string>> = {};
  const lists: Partial<Record<StringOptionName, string[]>> = {};
  const flags: Partial<Record<BooleanOptionName, true>> = {};
  const seen: OptionName[] = [];
  // Reported once the command is known, so that the suggestion is one of its options.
  let unknownOption: string | undefined;
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(dashWords.get(token.value) ?? token.value);
      continue;
    }
    if (token.kind !== 'option') continue;
    const name = token.name;
    if (SECRET_OPTIONS.has(name)) {
      throw new UsageError(
        `${token.rawName} is not accepted: secrets and passwords are read from stdin, never from arguments (use --password-stdin)`,
      );
    }
    if (!isOptionName(name)) {
      unknownOption ??= token.rawName;
      continue;
    }
    if (OPTION_TYPES[name] === 'boolean') {
      if (token.value !== undefined) throw new UsageError(`option --${name} takes no value`);
      flags[name as BooleanOptionName] = true;
    } else {
      // `--stack --json` would otherwise take "--json" as the stack name. A negative number is a value
      // (`--refresh-grace -1`), left to the option's own check to refuse in its own words.
      const dashWord = token.value === undefined ? undefined : dashWords.get(token.value);
      const value = dashWord ?? token.value;
      if (
        value === undefined ||
        (!token.inlineValue && value.startsWith('-') && !(dashWord !== undefined && NEGATIVE_NUMBER.test(dashWord)))
      ) {
        throw new UsageError(`option --${name} needs a value`);
      }
      if (seen.includes(name) && !REPEATABLE_OPTIONS.includes(name as StringOptionName))
        throw new UsageError(`option --${name} is given more than once`);
      strings[name as StringOptionName] = value;
      (lists[name as StringOptionName] ??= []).push(value);
    }
    seen.push(name);
  }

  if (unknownOption !== undefined) {
    // A mistyped option may have taken its value for an argument, so the command may not resolve: then
    // the option is what to report, with the nearest of all options.
    let applicable: readonly string[] = Object.keys(OPTION_TYPES);
    try {
      const resolved = resolveCommand(positionals[0] === 'help' ? positionals.slice(1) : positionals);
      if (resolved.command !== undefined) applicable = [...GLOBAL_OPTIONS, ...resolved.command.options];
    } catch {
      // The command does not resolve: suggest from every option.
    }
    const suggestion = didYouMean(
      unknownOption.replace(/^-+/, ''),
      applicable.filter((option) => !SECRET_OPTIONS.has(option)),
      (option) => `--${option}`,
    );
    throw new UsageError(`unknown option ${unknownOption}${suggestion}`);
  }
  if (flags.help || positionals[0] === 'help') {
    const { command, group } = resolveCommand(positionals[0] === 'help' ? positionals.slice(1) : positionals, true);
    return { kind: 'help', ...(command === undefined ? {} : { command }), ...(group === undefined ? {} : { group }) };
  }
  if (flags.version) return { kind: 'version', json: flags.json === true };

  const { command, rest } = resolveCommand(positionals);
  if (command === undefined) throw new Error('a command resolves to one of the spec');

  for (const option of seen) {
    if (!(GLOBAL_OPTIONS as readonly string[]).includes(option) && !command.options.includes(option)) {
      throw new UsageError(
        `option --${option} does not apply to "${command.id}" (usage: ropc-admin ${usageLine(command)})`,
      );
    }
  }
  const args: Record<string, string> = {};
  command.positionals.forEach((argName, index) => {
    const value = rest[index];
    if (value === undefined) throw new UsageError(`missing ${argName} (usage: ropc-admin ${usageLine(command)})`);
    args[argName] = value;
  });
  const extra = rest[command.positionals.length];
  if (extra !== undefined)
    throw new UsageError(`unexpected argument "${extra}" (usage: ropc-admin ${usageLine(command)})`);
  for (const option of command.required) {
    if (!seen.includes(option)) {
      const why = option === 'password-stdin' ? ': the password is read from stdin, never from arguments' : '';
      throw new UsageError(`"${command.id}" needs --${option}${why} (usage: ropc-admin ${usageLine(command)})`);
    }
  }
  if (strings.region !== undefined && strings.stack === undefined) {
    throw new UsageError('--region only applies with --stack NAME (the local stack has its own region)');
  }
  if (strings.profile === '') throw new UsageError('option --profile needs a profile name');
  if (strings.profile !== undefined && strings.stack === undefined) {
    throw new UsageError('--profile only applies with --stack NAME (the local stack has its own credentials)');
  }
  return { kind: 'command', command, args, strings, lists, flags };
}

/**
 * The command that the first words name, and the words after it. With `partial` (for help), no words or a
 * group alone are accepted too. Throws UsageError for an unknown group or command, with the nearest ones.
 */
function resolveCommand(
  words: readonly string[],
  partial = false,
): { command?: CommandSpec; group?: string; rest: string[] } {
  const [group, name, ...rest] = words;
  if (group === undefined) {
    if (partial) return { rest: [] };
    throw new UsageError('missing command');
  }
  if (!GROUPS.includes(group)) {
    // A command name without its group ("list") suggests the commands of that name.
    const named = COMMANDS.filter((spec) => spec.id.split(' ')[1] === group).map((spec) => `"${spec.id}"`);
    const suggestion = named.length > 0 ? `: did you mean ${named.join(' or ')}?` : didYouMean(group, GROUPS);
    throw new UsageError(`unknown command "${group}"${suggestion} (the command groups are ${GROUPS.join(', ')})`);
  }
  // A word shared by several commands ("users mfa enroll|disable") is listed once.
  const names = [...new Set(commandsOf(group).map((spec) => spec.id.split(' ')[1] ?? ''))];
  if (name === undefined) {
    if (partial) return { group, rest: [] };
    throw new UsageError(`missing command after "${group}" (one of ${names.join('|')})`);
  }
  const command = findCommand(group, name);
  const subgroup = `${group} ${name}`;
  if (command === undefined && commandsOf(subgroup).length > 0) return resolveSubcommand(subgroup, rest, partial);
  if (command === undefined) {
    const suggestion = didYouMean(name, names, (candidate) => `"${group} ${candidate}"`);
    throw new UsageError(`unknown command "${group} ${name}"${suggestion} (one of ${group} ${names.join('|')})`);
  }
  return { command, group, rest };
}

/** The third word of a three-word command ("users mfa enroll"), as resolveCommand takes the second. */
function resolveSubcommand(
  subgroup: string,
  words: readonly string[],
  partial: boolean,
): { command?: CommandSpec; group?: string; rest: string[] } {
  const [name, ...rest] = words;
  const names = commandsOf(subgroup).map((spec) => spec.id.split(' ')[2] ?? '');
  if (name === undefined) {
    if (partial) return { group: subgroup, rest: [] };
    throw new UsageError(`missing command after "${subgroup}" (one of ${names.join('|')})`);
  }
  const command = findCommand(subgroup, name);
  if (command === undefined) {
    const suggestion = didYouMean(name, names, (candidate) => `"${subgroup} ${candidate}"`);
    throw new UsageError(`unknown command "${subgroup} ${name}"${suggestion} (one of ${subgroup} ${names.join('|')})`);
  }
  return { command, group: subgroup.split(' ')[0], rest };
}

export function usageLine(command: CommandSpec): string {
  return command.synopsis === '' ? command.id : `${command.id} ${command.synopsis}`;
}

function isOptionName(name: string): name is OptionName {
  return Object.hasOwn(OPTION_TYPES, name);
}
