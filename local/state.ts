import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
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
  readonly scrypt: ScryptParams;
  readonly accessTokenTtl: number;
  readonly pid: number;
  readonly startedAt: string;
}

/** Credentials the local emulators accept (any would do; these make it obvious nothing is real). */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;
export const LOCAL_REGION = 'us-east-1';

export function localStateDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return resolve(env.LOCAL_STATE_DIR || '.local');
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
