import { readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TableNames } from '../contract/tables';
import type { ScryptParams } from '../lambda/passwords';

/** What `npm start` writes for the operator CLI: where the running local stack's parts are. */
export interface LocalStackState {
  readonly issuer: string;
  readonly tokenEndpoint: string;
  readonly dynamodbEndpoint: string;
  readonly kmsEndpoint: string;
  readonly region: string;
  readonly tables: TableNames;
  readonly signingKeyAlias: string;
  /** The key TOTP secrets are encrypted with (`users mfa enroll`); absent in a state from before MFA. */
  readonly mfaKeyId?: string;
  readonly scrypt: ScryptParams;
  readonly accessTokenTtl: number;
  readonly pid: number;
  readonly startedAt: string;
}

/** Credentials the local emulators accept (any would do; these make it obvious nothing is real). */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;
export const LOCAL_REGION = 'us-east-1';

const PACKAGE_NAME = 'ropc-token-service';
export const DEFAULT_STATE_DIR_NAME = '.local';

/**
 * The project's root: the nearest folder above this module whose package.json is this package's (so it holds
 * wherever the module is run or bundled from inside the project); undefined if there is none.
 */
export const PROJECT_ROOT: string | undefined = findProjectRoot(dirname(fileURLToPath(import.meta.url)));

function findProjectRoot(from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    try {
      if ((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name === PACKAGE_NAME)
        return dir;
    } catch {
      // no package.json here, or not JSON
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * Where `npm start` keeps its state and the CLI looks for it: LOCAL_STATE_DIR (a relative value resolved against
 * `cwd`, the directory the command runs in), else `.local` in the project root, whatever the current directory.
 */
export function localStateDir(
  env: Readonly<Record<string, string | undefined>> = process.env,
  cwd: string = process.cwd(),
): string {
  if (env.LOCAL_STATE_DIR) return resolve(cwd, env.LOCAL_STATE_DIR);
  return join(PROJECT_ROOT ?? resolve(cwd), DEFAULT_STATE_DIR_NAME);
}

const STATE_FILE = 'stack.json';

export async function writeStackState(dir: string, state: LocalStackState): Promise<void> {
  await mkdir(dir, { recursive: true });
  const temp = join(dir, `${STATE_FILE}.${process.pid}.tmp`);
  await writeFile(temp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(temp, join(dir, STATE_FILE));
}

export async function readStackState(dir: string): Promise<LocalStackState | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8')) as LocalStackState;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
