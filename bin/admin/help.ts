import { GRANT_TYPES } from '../../lambda/oauth/grants';
import { usageLine } from './args';
import { type CommandId, type CommandSpec, commandsOf, GLOBAL_OPTIONS, GROUPS, type OptionName } from './spec';

/** What each group of commands manages, for the overview. */
const GROUP_SUMMARIES: Readonly<Record<string, string>> = {
  clients: 'the OAuth clients that may ask for tokens',
  users: 'the resource owners who log in with a password',
  tokens: 'the refresh tokens issued to users',
  keys: 'the KMS keys that sign the access tokens',
};

/** The arguments, as the usage lines name them. */
const ARGUMENT_HELP: Readonly<Record<string, string>> = {
  ID: 'the client ID: 1 to 128 printable ASCII characters (quote one with spaces in the shell)',
  NAME: 'the username, exactly as it was created',
  KID: 'the key id, as keys list shows it',
  FILE: 'a JSON Lines file (UTF-8, one JSON object a line, blank lines ignored), or - to read it from stdin',
};

/** Each option with its value, as the help shows it, and what it does. */
export const OPTION_HELP: Readonly<Partial<Record<OptionName, readonly [string, string]>>> = {
  stack: ['--stack NAME', 'target the deployed CloudFormation stack NAME instead of the local stack'],
  region: ['--region R', 'the AWS region of --stack (default: AWS_REGION or the AWS config)'],
  profile: [
    '--profile P',
    'the AWS shared-config profile for --stack: its credentials and region (default: AWS_PROFILE, or the profile named default)',
  ],
  json: ['--json', 'print exactly one JSON object on stdout'],
  help: ['-h, --help', 'print the help of the command (or of all commands) and exit'],
  version: ['--version', 'print the version of ropc-admin and exit'],
  public: ['--public', 'a public client (token_endpoint_auth_method "none"): it gets no client secret'],
  scopes: ['--scopes "a b"', 'the scopes, separated by spaces (default: none)'],
  audience: ['--audience A', "the aud of the client's access tokens (default: the stack's)"],
  'grant-types': [
    '--grant-types LIST',
    `the grant types, separated by commas: ${GRANT_TYPES.join(', ')} (default: password,refresh_token)`,
  ],
  'trust-end-user-ip': [
    '--trust-end-user-ip',
    'a confidential back end whose X-End-User-IP header the lockout counters trust',
  ],
  'refresh-grace': [
    '--refresh-grace SECONDS',
    "for how long (0 to 60 s; 0 = strict one-time use) a rotated refresh token, presented again by this client, still gets the same successor (default: the stack's, 30 unless set)",
  ],
  'allowed-origin': [
    '--allowed-origin URL',
    "a browser origin, https://host[:port] (http only on localhost), whose pages may read the client's token responses (CORS); repeatable, at most 20",
  ],
  'password-stdin': ['--password-stdin', 'read the password from stdin (one trailing newline is removed)'],
  propagation: [
    '--propagation DURATION',
    'how long the new key is published before it signs: 90s, 30m, 3h, 2d, 1h30m (default 3h; 0 = at once)',
  ],
  username: ['--username NAME', 'the user whose refresh tokens are revoked'],
};

/** Where an option means something particular to one command. */
const COMMAND_OPTION_HELP: Readonly<
  Partial<Record<CommandId, Partial<Record<OptionName, readonly [string, string]>>>>
> = {
  'clients update': {
    scopes: ['--scopes "a b"', 'the scopes from now on, replacing all of them ("" for none)'],
    'refresh-grace': [
      '--refresh-grace SECONDS|default',
      "the client's own refresh-token grace from now on, 0 to 60 s, or default: the stack's",
    ],
    'allowed-origin': [
      '--allowed-origin URL|none',
      'the allowed origins from now on, replacing all of them (repeatable; none, alone, removes them all)',
    ],
  },
  'users update': {
    scopes: ['--scopes "a b"', 'the scopes from now on, replacing all of them ("" for none)'],
  },
};

function optionHelp(command: CommandSpec | undefined, option: OptionName): readonly [string, string] {
  return (command && COMMAND_OPTION_HELP[command.id]?.[option]) ?? OPTION_HELP[option] ?? [`--${option}`, ''];
}

const FOOTER = [
  'Passwords and secrets are never taken from arguments: --password-stdin reads the password from',
  'stdin (one trailing newline is removed), e.g.  printf %s "$PW" | ropc-admin users create alice --password-stdin',
  '',
  'Exit status: 0 success, 1 the operation failed, 2 usage error.',
];

/** The overview: every group and its commands, and the options every command takes. */
export function helpText(): string {
  return [
    'Usage: ropc-admin [--stack NAME [--region R] [--profile P]] [--json] GROUP COMMAND [ARGUMENTS] [OPTIONS]',
    '       ropc-admin GROUP COMMAND --help | ropc-admin --version',
    '',
    'Manages the clients, users, refresh tokens and signing keys of the ropc-token-service.',
    // A shell expansion, printed as it is.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the help text shows the shell's ${VAR:-default} syntax
    'Targets the local stack started by `npm start` (its state in ${LOCAL_STATE_DIR:-.local}/stack.json),',
    'or a deployed stack with --stack NAME [--region R] [--profile P] (read from the CloudFormation stack outputs).',
    '',
    'Commands:',
    ...GROUPS.flatMap((group, index) => [...(index === 0 ? [] : ['']), ...groupLines(group)]),
    '',
    'Options of every command:',
    ...columns(GLOBAL_OPTIONS.map((option) => optionHelp(undefined, option))),
    '',
    ...FOOTER,
    '',
  ].join('\n');
}

/** One group's commands. */
export function groupHelp(group: string): string {
  return [
    `Usage: ropc-admin ${group} COMMAND [ARGUMENTS] [OPTIONS]`,
    '',
    'Commands:',
    ...groupLines(group),
    '',
    `Run "ropc-admin ${group} COMMAND --help" for a command's options, "ropc-admin --help" for all commands.`,
    '',
  ].join('\n');
}

/** One command: its usage line, what it does, its arguments and options, and the options every command takes. */
export function commandHelp(command: CommandSpec): string {
  const options = command.options.map((option) => {
    const [label, text] = optionHelp(command, option);
    return [label, command.required.includes(option) ? `${text} (required)` : text] as const;
  });
  return [
    `Usage: ropc-admin ${usageLine(command)}`,
    '',
    sentence(command.summary),
    ...(command.positionals.length === 0
      ? []
      : ['', 'Arguments:', ...columns(command.positionals.map((name) => [name, ARGUMENT_HELP[name] ?? ''] as const))]),
    ...(options.length === 0 ? [] : ['', 'Options:', ...columns(options)]),
    '',
    'Options of every command:',
    ...columns(GLOBAL_OPTIONS.map((option) => optionHelp(undefined, option))),
    '',
    'Exit status: 0 success, 1 the operation failed, 2 usage error.',
    '',
  ].join('\n');
}

function groupLines(group: string): string[] {
  const summary = GROUP_SUMMARIES[group];
  return [
    `  ${group}${summary === undefined ? '' : `: ${summary}`}`,
    ...commandsOf(group).flatMap((spec) => [`    ${usageLine(spec)}`, `        ${spec.summary}`]),
  ];
}

/** Two aligned columns, indented. */
function columns(rows: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, text]) => `  ${label.padEnd(width)}  ${text}`.trimEnd());
}

/** A summary as a sentence: capitalized, with a full stop. */
function sentence(summary: string): string {
  const text = summary.charAt(0).toUpperCase() + summary.slice(1);
  return /[.!?]$/.test(text) ? text : `${text}.`;
}
