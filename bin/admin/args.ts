import { parseArgs } from 'node:util';
import { UsageError } from './errors';
import {
  type BooleanOptionName,
  type CommandSpec,
  commandsOf,
  findCommand,
  GLOBAL_OPTIONS,
  GROUPS,
  OPTION_TYPES,
  type OptionName,
  type StringOptionName,
} from './spec';

export type ParsedArgs =
  | { readonly kind: 'help' }
  | {
      readonly kind: 'command';
      readonly command: CommandSpec;
      /** Positional arguments by their name in the spec (ID, NAME, KID). */
      readonly args: Readonly<Record<string, string>>;
      readonly strings: Readonly<Partial<Record<StringOptionName, string>>>;
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
  const flags: Partial<Record<BooleanOptionName, true>> = {};
  const seen: OptionName[] = [];
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
    if (!isOptionName(name)) throw new UsageError(`unknown option ${token.rawName}`);
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
      if (seen.includes(name)) throw new UsageError(`option --${name} is given more than once`);
      strings[name as StringOptionName] = value;
    }
    seen.push(name);
  }

  if (flags.help) return { kind: 'help' };

  const [group, name, ...rest] = positionals;
  if (group === undefined) throw new UsageError('missing command');
  if (group === 'help') return { kind: 'help' };
  if (!GROUPS.includes(group)) throw new UsageError(`unknown command "${group}"`);
  const choices = commandsOf(group)
    .map((spec) => spec.id.split(' ')[1])
    .join('|');
  if (name === undefined) throw new UsageError(`missing command after "${group}" (one of ${choices})`);
  const command = findCommand(group, name);
  if (command === undefined) throw new UsageError(`unknown command "${group} ${name}" (one of ${group} ${choices})`);

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
  return { kind: 'command', command, args, strings, flags };
}

export function usageLine(command: CommandSpec): string {
  return command.synopsis === '' ? command.id : `${command.id} ${command.synopsis}`;
}

function isOptionName(name: string): name is OptionName {
  return Object.hasOwn(OPTION_TYPES, name);
}
