/**
 * Fetches DynamoDB Local once into a user cache and returns the directory holding `DynamoDBLocal.jar`.
 *
 * AWS publishes DynamoDB Local as a zip on S3; we take the same jar from the npm package
 * `amplify-dynamodb-simulator`, which bundles it (DynamoDBLocal.jar 1.25.1 in `package/emulator/`), so the
 * only network access needed is the npm registry. The package is fetched with `npm pack`, never installed,
 * and the tarball is checked against a pinned sha512 before anything in it is used.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { errorCode, type RunResult, run, tail } from './helpers';
import { startProgress } from './progress';

const PACKAGE_NAME = 'amplify-dynamodb-simulator';
const PACKAGE_VERSION = '2.9.30';
/** `npm view amplify-dynamodb-simulator@2.9.30 dist.integrity`, checked against a local sha512 of the tarball. */
const PACKAGE_INTEGRITY =
  'sha512-xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ==';
const CACHE_ENV = 'DYNAMODB_LOCAL_CACHE_DIR';
/** Written last, inside the temporary directory, before the atomic rename: its presence means "complete". */
const MARKER = '.complete.json';
const EMULATOR_DIR = 'emulator';
export const JAR = 'DynamoDBLocal.jar';
/** Temporary extraction directories older than this were left by a crashed process. */
const STALE_TMP_MS = 60 * 60_000;

function defaultCacheDir(): string {
  const fromEnv = process.env[CACHE_ENV];
  if (fromEnv) return fromEnv;
  const cacheHome = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cacheHome, 'ropc-token-service', `dynamodb-local-${PACKAGE_VERSION}`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function isComplete(cacheDir: string): Promise<boolean> {
  return (await exists(join(cacheDir, MARKER))) && (await exists(join(cacheDir, EMULATOR_DIR, JAR)));
}

/**
 * Makes sure DynamoDB Local is in the cache and returns the directory holding `DynamoDBLocal.jar`.
 * Safe to call from several processes at once: each extracts into its own temporary directory next to the
 * cache directory and renames it into place; a process that loses the rename uses the winner's copy.
 */
export async function ensureDynamoDbLocal(cacheDir?: string, log?: (line: string) => void): Promise<string> {
  const dir = resolve(cacheDir ?? defaultCacheDir());
  const emulatorDir = join(dir, EMULATOR_DIR);
  if (await isComplete(dir)) return emulatorDir;

  const parent = dirname(dir);
  await mkdir(parent, { recursive: true });
  const tmpPrefix = `.${basename(dir)}.tmp-`;
  await removeStaleTemporaries(parent, tmpPrefix);

  log?.(`fetching DynamoDB Local… (${PACKAGE_NAME}@${PACKAGE_VERSION}, ~57 MB, into ${dir})`);
  const started = Date.now();
  const tmp = await mkdtemp(join(parent, tmpPrefix));
  try {
    // npm pack reports no byte counts: on a terminal a spinner shows it is still at work.
    const downloading = startProgress('downloading DynamoDB Local (~57 MB)');
    let tarball: string;
    try {
      tarball = await npmPack(tmp);
    } finally {
      downloading.stop();
    }
    await verifyIntegrity(tarball);
    log?.('extracting DynamoDB Local…');
    const tar = await run('tar', ['-xzf', tarball, '-C', tmp, '--strip-components=1', 'package/emulator']);
    if (tar.code !== 0) {
      throw new Error(`extracting ${tarball} failed (tar exited with ${tar.code}): ${tar.stderr.trim()}`);
    }
    if (!(await exists(join(tmp, EMULATOR_DIR, JAR)))) {
      throw new Error(`${PACKAGE_NAME}@${PACKAGE_VERSION} has no package/${EMULATOR_DIR}/${JAR}`);
    }
    await rm(tarball, { force: true });
    const marker = {
      package: PACKAGE_NAME,
      version: PACKAGE_VERSION,
      integrity: PACKAGE_INTEGRITY,
      completedAt: new Date().toISOString(),
    };
    await writeFile(join(tmp, MARKER), `${JSON.stringify(marker, null, 2)}\n`);
    await chmod(tmp, 0o755); // mkdtemp makes it 0700
    await moveIntoPlace(tmp, dir);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  log?.(`DynamoDB Local cached in ${dir} (${Date.now() - started} ms)`);
  return emulatorDir;
}

async function moveIntoPlace(tmp: string, dir: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await rename(tmp, dir);
      return;
    } catch (err) {
      const code = errorCode(err);
      if (code !== 'EEXIST' && code !== 'ENOTEMPTY' && code !== 'EPERM' && code !== 'EACCES') throw err;
    }
    // Another process won the race: use its copy (our temporary directory is removed by the caller).
    if (await isComplete(dir)) return;
    // An incomplete directory that was not renamed into place by this code (or lost its marker):
    // move it aside atomically, then try again.
    const aside = `${dir}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await rename(dir, aside);
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err;
    }
    await rm(aside, { recursive: true, force: true });
  }
  throw new Error(`could not move DynamoDB Local into ${dir}`);
}

async function removeStaleTemporaries(parent: string, prefix: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(parent);
  } catch {
    return;
  }
  const now = Date.now();
  await Promise.all(
    entries
      .filter((name) => name.startsWith(prefix))
      .map(async (name) => {
        const path = join(parent, name);
        try {
          if (now - (await stat(path)).mtimeMs > STALE_TMP_MS) await rm(path, { recursive: true, force: true });
        } catch {
          // Someone else removed it.
        }
      }),
  );
}

async function npmPack(destination: string): Promise<string> {
  const spec = `${PACKAGE_NAME}@${PACKAGE_VERSION}`;
  let result: RunResult;
  try {
    result = await run(
      'npm',
      ['pack', spec, '--pack-destination', destination, '--json', '--silent', '--ignore-scripts'],
      { cwd: destination, shell: process.platform === 'win32' },
    );
  } catch (err) {
    throw new Error(`could not run npm to fetch ${spec}: ${(err as Error).message}`, { cause: err });
  }
  if (result.code !== 0) {
    throw new Error(`npm pack ${spec} failed (exit code ${result.code}): ${tail(result.stderr || result.stdout)}`);
  }
  let filename: string | undefined;
  try {
    const parsed: unknown = JSON.parse(result.stdout);
    if (Array.isArray(parsed)) {
      const first: unknown = parsed[0];
      if (first && typeof first === 'object' && 'filename' in first && typeof first.filename === 'string') {
        filename = first.filename;
      }
    }
  } catch {
    // Fall back to looking for the tarball.
  }
  filename ??= (await readdir(destination)).find((name) => name.endsWith('.tgz'));
  if (!filename) throw new Error(`npm pack ${spec} produced no tarball in ${destination}: ${tail(result.stdout)}`);
  return join(destination, basename(filename));
}

async function verifyIntegrity(tarball: string): Promise<void> {
  const hash = createHash('sha512');
  const total = (await stat(tarball)).size;
  const checking = startProgress('checking DynamoDB Local');
  let done = 0;
  try {
    for await (const chunk of createReadStream(tarball)) {
      hash.update(chunk as Buffer);
      done += (chunk as Buffer).length;
      checking.update(done, total);
    }
  } finally {
    checking.stop();
  }
  const actual = `sha512-${hash.digest('base64')}`;
  if (actual !== PACKAGE_INTEGRITY) {
    throw new Error(
      `checksum mismatch for ${PACKAGE_NAME}@${PACKAGE_VERSION} (downloaded by npm pack to ${tarball}, now removed): expected ${PACKAGE_INTEGRITY}, ` +
        `got ${actual}. Refusing to use it; check the npm registry / proxy configuration (npm config get registry).`,
    );
  }
}
