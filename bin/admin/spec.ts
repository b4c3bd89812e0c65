/** The command table: every command, its arguments and options, and its line in the usage text. */

/** Options every command accepts. */
export const GLOBAL_OPTIONS = ['json', 'stack', 'region', 'profile', 'help', 'version'] as const;

/** Every option the CLI knows, with its kind. */
export const OPTION_TYPES = {
  json: 'boolean',
  stack: 'string',
  region: 'string',
  profile: 'string',
  help: 'boolean',
  version: 'boolean',
  public: 'boolean',
  scopes: 'string',
  audience: 'string',
  'grant-types': 'string',
  'password-stdin': 'boolean',
  'trust-end-user-ip': 'boolean',
  'refresh-grace': 'string',
  'allowed-origin': 'string',
  propagation: 'string',
  username: 'string',
} as const satisfies Record<string, 'string' | 'boolean'>;

export type OptionName = keyof typeof OPTION_TYPES;
export type StringOptionName = { [K in OptionName]: (typeof OPTION_TYPES)[K] extends 'string' ? K : never }[OptionName];
export type BooleanOptionName = Exclude<OptionName, StringOptionName>;

/** String options that may be given more than once: each value counts (CommandContext.lists). */
export const REPEATABLE_OPTIONS: readonly StringOptionName[] = ['allowed-origin'];

export type CommandId =
  | 'clients create'
  | 'clients list'
  | 'clients show'
  | 'clients update'
  | 'clients disable'
  | 'clients enable'
  | 'clients delete'
  | 'users create'
  | 'users list'
  | 'users show'
  | 'users update'
  | 'users set-password'
  | 'users disable'
  | 'users enable'
  | 'users delete'
  | 'users unlock'
  | 'users import'
  | 'users mfa enroll'
  | 'users mfa disable'
  | 'tokens revoke'
  | 'keys list'
  | 'keys rotate'
  | 'keys revoke';

export interface CommandSpec {
  readonly id: CommandId;
  /** Names of the positional arguments, all required, in order. */
  readonly positionals: readonly string[];
  /** Command-specific options, besides GLOBAL_OPTIONS. */
  readonly options: readonly OptionName[];
  /** Options that must be given. */
  readonly required: readonly OptionName[];
  /** The arguments part of the usage line. */
  readonly synopsis: string;
  readonly summary: string;
}

function command(
  id: CommandId,
  synopsis: string,
  summary: string,
  extra: { positionals?: string[]; options?: OptionName[]; required?: OptionName[] } = {},
): CommandSpec {
  return {
    id,
    synopsis,
    summary,
    positionals: extra.positionals ?? [],
    options: extra.options ?? [],
    required: extra.required ?? [],
  };
}

export const COMMANDS: readonly CommandSpec[] = [
  command(
    'clients create',
    'ID [--public] [--scopes "a b"] [--audience A] [--grant-types password,refresh_token] [--trust-end-user-ip] [--refresh-grace SECONDS] [--allowed-origin URL]...',
    "register a client; prints its client_secret once (public clients get none); --refresh-grace: for how many seconds (0 to 60, default the stack's) a rotated refresh token still gets the same successor; --allowed-origin (repeatable, at most 20): a browser origin, https://host[:port] (http only on localhost), whose pages may read the client's token responses (CORS)",
    {
      positionals: ['ID'],
      options: ['public', 'scopes', 'audience', 'grant-types', 'trust-end-user-ip', 'refresh-grace', 'allowed-origin'],
    },
  ),
  command('clients list', '', 'list the registered clients'),
  command('clients show', 'ID', 'show one client (never its secret or the hash of it)', { positionals: ['ID'] }),
  command(
    'clients update',
    'ID [--scopes "a b"] [--refresh-grace SECONDS|default] [--allowed-origin URL|none]...',
    "change a client's scopes (replaced as a whole), its own refresh-token grace (0 to 60 seconds, or default: the stack's) or its allowed origins (the ones given replace them all; none removes them); at least one option",
    { positionals: ['ID'], options: ['scopes', 'refresh-grace', 'allowed-origin'] },
  ),
  command('clients disable', 'ID', 'disable a client (its requests fail with invalid_client)', { positionals: ['ID'] }),
  command('clients enable', 'ID', 'enable a disabled client', { positionals: ['ID'] }),
  command('clients delete', 'ID', 'delete a client', { positionals: ['ID'] }),
  command('users create', 'NAME --password-stdin [--scopes "a b"]', 'create a user; the password is read from stdin', {
    positionals: ['NAME'],
    options: ['password-stdin', 'scopes'],
    required: ['password-stdin'],
  }),
  command('users list', '', 'list the users (never their password hashes)'),
  command('users show', 'NAME', 'show one user (never the password hash)', { positionals: ['NAME'] }),
  command(
    'users update',
    'NAME --scopes "a b"',
    "replace a user's scopes (refresh tokens issued before keep theirs: revoke them with tokens revoke)",
    { positionals: ['NAME'], options: ['scopes'], required: ['scopes'] },
  ),
  command(
    'users set-password',
    'NAME --password-stdin',
    "replace a user's password (read from stdin); revokes the user's refresh tokens",
    {
      positionals: ['NAME'],
      options: ['password-stdin'],
      required: ['password-stdin'],
    },
  ),
  command('users disable', 'NAME', "disable a user; revokes the user's refresh tokens", { positionals: ['NAME'] }),
  command('users enable', 'NAME', 'enable a disabled user', { positionals: ['NAME'] }),
  command('users delete', 'NAME', "delete a user; revokes the user's refresh tokens", { positionals: ['NAME'] }),
  command('users unlock', 'NAME', "clear a user's failed-login counters and lockout", { positionals: ['NAME'] }),
  command(
    'users import',
    'FILE|-',
    'create users from a JSON Lines file (- reads stdin), one user a line: {"username": "…", "password_hash": "…", "sub": "…", "scopes": "read write", "disabled": false}, sub (the access tokens\' sub; default a fresh id), scopes (a string or an array) and disabled optional; every line is checked first, and if any is invalid nothing is imported and each is reported (line N: reason); users that already exist are skipped and counted, never changed, so running it again after an interruption is safe; while it writes, no other user is created (users create is refused, first logins through the legacy verifier get 503 and retry) and Ctrl-C stops it between batches',
    { positionals: ['FILE'] },
  ),
  command(
    'users mfa enroll',
    'NAME',
    "enroll a user in two-factor login: prints the otpauth:// URI and its QR code for an authenticator app (TOTP: SHA-1, 6 digits, 30 s) and 10 single-use recovery codes, shown once (--json: otpauth_uri, secret, recovery_codes); ends the user's sessions; a user enrolled already must be disabled first",
    { positionals: ['NAME'] },
  ),
  command(
    'users mfa disable',
    'NAME',
    "remove a user's second factor (secret and recovery codes): the password alone logs in again",
    { positionals: ['NAME'] },
  ),
  command('tokens revoke', '--username NAME', 'revoke every refresh token of a user', {
    options: ['username'],
    required: ['username'],
  }),
  command('keys list', '', 'list the signing keys: phase, kid, KMS key ARN, dates'),
  command(
    'keys rotate',
    '[--propagation DURATION]',
    'create a signing key: published now, signing after DURATION (default 3h; 0 = at once)',
    { options: ['propagation'] },
  ),
  command('keys revoke', 'KID', 'unpublish a signing key and stop it signing at once', { positionals: ['KID'] }),
];

export const GROUPS: readonly string[] = [...new Set(COMMANDS.map((spec) => spec.id.split(' ')[0] ?? ''))];

export function findCommand(group: string, name: string): CommandSpec | undefined {
  return COMMANDS.find((spec) => spec.id === `${group} ${name}`);
}

export function commandsOf(group: string): CommandSpec[] {
  return COMMANDS.filter((spec) => spec.id.startsWith(`${group} `));
}
