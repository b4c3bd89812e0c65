import { usageLine } from './args';
import { COMMANDS } from './spec';

export function helpText(): string {
  const lines = COMMANDS.map((spec) => ({ usage: usageLine(spec), summary: spec.summary }));
  return [
    'Usage: ropc-admin [--stack NAME [--region R]] [--json] COMMAND',
    '',
    'Manages the clients, users, refresh tokens and signing keys of the ropc-token-service.',
    // A shell expansion, printed as it is.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the help text shows the shell's ${VAR:-default} syntax
    'Targets the local stack started by `npm start` (its state in ${LOCAL_STATE_DIR:-.local}/stack.json),',
    'or a deployed stack with --stack NAME [--region R] (read from the CloudFormation stack outputs).',
    '',
    'Commands:',
    ...lines.flatMap((line) => [`  ${line.usage}`, `      ${line.summary}`]),
    '',
    'Options:',
    '  --stack NAME      target the deployed CloudFormation stack NAME instead of the local stack',
    '  --region R        the AWS region of --stack (default: AWS_REGION or the AWS config)',
    '  --json            print exactly one JSON object on stdout',
    '  -h, --help        print this help',
    '',
    'Passwords and secrets are never taken from arguments: --password-stdin reads the password from',
    'stdin (one trailing newline is removed), e.g.  printf %s "$PW" | ropc-admin users create alice --password-stdin',
    '',
    'Exit status: 0 success, 1 the operation failed, 2 usage error.',
    '',
  ].join('\n');
}
