/** ropc-admin: the operator CLI entry (`npx ropc-admin …`, `npm run -s admin -- …`). See bin/admin/cli.ts. */
import { runCli } from './admin/cli';

// The SDK warns on every run under Node 20 (which this project supports) about its future Node 22
// requirement; on a CLI whose stderr carries one-line errors that is noise. Read when a client first sends.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

process.exitCode = await runCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
});
