/** ropc-admin: the operator CLI entry (`npx ropc-admin …`, `npm run -s admin -- …`). See bin/admin/cli.ts. */
import { runCli } from './admin/cli';

process.exitCode = await runCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
});
