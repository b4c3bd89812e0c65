/** The Java check for DynamoDB Local: `java -version` must run and report Java 17 or newer. */
import { errorCode, type RunResult, run, tail } from './helpers';

export interface CheckJavaOptions {
  /** The java executable; default `java` (looked up on the PATH of `env`). */
  javaBin?: string;
  /** Environment for `java -version`; default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

const MIN_JAVA = 17;

function javaError(found: string): Error {
  return new Error(
    [
      `DynamoDB Local needs a Java ${MIN_JAVA}+ runtime, but ${found}.`,
      'Install one and make sure `java` is on the PATH:',
      '  Debian/Ubuntu: sudo apt-get install -y default-jre-headless' +
        ` (if that is older than ${MIN_JAVA}, e.g. Debian 11 or Ubuntu 22.04: sudo apt-get install -y openjdk-${MIN_JAVA}-jre-headless)`,
      `  macOS: brew install openjdk@${MIN_JAVA} (then link it as brew explains), or install Temurin ${MIN_JAVA}+ from https://adoptium.net`,
    ].join('\n'),
  );
}

/** Checks that `java -version` runs and reports Java 17 or newer; throws an explanatory Error otherwise. */
export async function checkJava(options: CheckJavaOptions = {}): Promise<{ version: number }> {
  const javaBin = options.javaBin ?? 'java';
  let result: RunResult;
  try {
    result = await run(javaBin, ['-version'], { env: options.env ?? process.env });
  } catch (err) {
    if (errorCode(err) === 'ENOENT') throw javaError(`no \`${javaBin}\` executable was found on the PATH`);
    throw javaError(`running \`${javaBin} -version\` failed (${(err as Error).message})`);
  }
  // Java prints its version to stderr; some wrappers use stdout.
  const output = `${result.stderr}\n${result.stdout}`;
  const match = /version "(\d+)(?:\.(\d+))?[^"]*"/.exec(output);
  const versionLine = output
    .split('\n')
    .find((line) => /version "/.test(line))
    ?.trim();
  if (result.code !== 0 || !match) {
    const what = result.code !== 0 ? `exited with code ${result.code}` : 'printed no version';
    throw javaError(`\`${javaBin} -version\` ${what}: ${tail(output, 3) || '(no output)'}`);
  }
  let version = Number(match[1]);
  if (version === 1 && match[2] !== undefined) version = Number(match[2]); // "1.8.0_392" is Java 8
  if (version < MIN_JAVA) throw javaError(`found Java ${version} (${versionLine ?? match[0]})`);
  return { version };
}
