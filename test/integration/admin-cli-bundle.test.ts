/**
 * bin/ropc-admin.js runs the CLI from an esbuild bundle that it keeps in a cache and makes again when a
 * source changes. Each test uses its own cache (ROPC_ADMIN_CACHE_DIR), and the tests that edit sources
 * edit a copy of them, never the project's.
 */
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '..', '..');
const BUNDLE_NAME = 'cli.mjs';

interface Run {
  code: number;
  out: string;
  err: string;
}

function runNode(args: string[], env: Record<string, string>, cwd = REPO): Promise<Run> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] => entry[1] !== undefined && entry[0] !== 'ROPC_ADMIN_CACHE_DIR',
    ),
  );
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => void (out += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => void (err += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

/** The entry that `npx ropc-admin` runs, in the project or in a copy of it. */
const bundledCli = (root: string, cache: string, args: string[], env: Record<string, string> = {}) =>
  runNode([join(root, 'bin', 'ropc-admin.js'), ...args], { ROPC_ADMIN_CACHE_DIR: cache, ...env });

/** What `npm run admin` runs: the TypeScript entry through tsx, no bundle. */
const tsxCli = (args: string[]) =>
  runNode([join(REPO, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(REPO, 'bin', 'ropc-admin.ts'), ...args], {});

/** The bundle's identity on disk: replaced (renamed into place) whenever it is made again. */
async function bundleIdentity(cache: string): Promise<string> {
  const stats = await stat(join(cache, BUNDLE_NAME));
  return `${stats.ino}:${stats.mtimeMs}`;
}

const dirs: string[] = [];
async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

// Each run starts a Node process, and the first in a cache bundles the CLI: slow on a loaded machine.
const SLOW = { timeout: 120_000 };

describe('the bundled entry', SLOW, () => {
  let cache: string;
  beforeAll(async () => {
    cache = await tempDir('ropc-admin-bundle-cache-');
  });

  it.each([[['--help']], [['--version']], [['--version', '--json']], [['clients', 'bogus']], [['keys', '--help']]])(
    'prints what the tsx entry prints for %j',
    async (args) => {
      const [bundled, direct] = await Promise.all([bundledCli(REPO, cache, args), tsxCli(args)]);
      expect(bundled).toEqual(direct);
      expect(bundled.out + bundled.err).not.toBe('');
      // Made into this cache: the output above came from the bundle, not from the tsx fallback.
      expect(await readdir(cache)).toContain(BUNDLE_NAME);
    },
  );

  it('gives concurrent first runs a whole bundle each, and leaves no partial file behind', async () => {
    const cache = await tempDir('ropc-admin-bundle-race-');
    const runs = await Promise.all(Array.from({ length: 4 }, () => bundledCli(REPO, cache, ['--version'])));
    const { version } = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string };
    expect(runs).toEqual(Array.from({ length: 4 }, () => ({ code: 0, out: `${version}\n`, err: '' })));
    expect((await readdir(cache)).filter((name) => name !== 'v8')).toEqual([BUNDLE_NAME]);
  });

  it('runs through tsx when the cache cannot be written', async () => {
    const blocker = join(await tempDir('ropc-admin-bundle-ro-'), 'a-file');
    await writeFile(blocker, '');
    const args = ['users', '--help'];
    const [fallback, direct] = await Promise.all([
      bundledCli(REPO, join(blocker, 'cache'), args, { ROPC_ADMIN_DEBUG: '1' }),
      tsxCli(args),
    ]);
    expect(fallback.code).toBe(direct.code);
    expect(fallback.out).toBe(direct.out);
    expect(fallback.err).toMatch(/^ropc-admin: running through tsx, no bundle: .*ENOTDIR/);
    expect(await bundledCli(REPO, join(blocker, 'cache'), args)).toEqual(direct);
  });
});

describe('a copy of the sources', SLOW, () => {
  let root: string;
  let cache: string;
  const helpSource = () => join(root, 'bin', 'admin', 'help.ts');

  beforeAll(async () => {
    root = await tempDir('ropc-admin-bundle-src-');
    cache = join(root, 'bundle-cache');
    // Old mtimes, as in a checkout: only what a test edits is new.
    for (const entry of ['bin', 'lambda', 'contract', 'local', 'package.json', 'tsconfig.json']) {
      await cp(join(REPO, entry), join(root, entry), { recursive: true, preserveTimestamps: true });
    }
    await symlink(join(REPO, 'node_modules'), join(root, 'node_modules'), 'dir');
  });

  /** Replaces text in the copy's help.ts, with its mtime `age` ms in the past (negative: in the future). */
  async function editHelp(from: string, to: string, age: number): Promise<void> {
    const source = await readFile(helpSource(), 'utf8');
    expect(source).toContain(from);
    await writeFile(helpSource(), source.replace(from, to));
    const when = new Date(Date.now() - age);
    await utimes(helpSource(), when, when);
  }

  it('reuses the bundle while nothing changed and makes it again after a source changed', async () => {
    const first = await bundledCli(root, cache, ['--help']);
    expect(first.code).toBe(0);
    expect(first.out).toContain('Manages the clients');
    const made = await bundleIdentity(cache);

    expect(await bundledCli(root, cache, ['--help'])).toEqual(first);
    expect(await bundleIdentity(cache)).toBe(made);

    await editHelp('Manages the clients', 'Manages (as edited) the clients', 60_000);
    const edited = await bundledCli(root, cache, ['--help']);
    expect(edited.code).toBe(0);
    expect(edited.out).toContain('Manages (as edited) the clients');
    expect(await readFile(join(cache, BUNDLE_NAME), 'utf8')).toContain('Manages (as edited) the clients');
    const remade = await bundleIdentity(cache);
    expect(remade).not.toBe(made);

    expect(await bundledCli(root, cache, ['--help'])).toEqual(edited);
    expect(await bundleIdentity(cache)).toBe(remade);
  });

  it('does not trust a bundle made from a source saved as it was read', async () => {
    // A save stamped after the bundling began: the bundle may hold the version before it.
    await editHelp('Manages', 'Now manages', -60_000);
    const edited = await bundledCli(root, cache, ['--help']);
    expect(edited.out).toContain('Now manages');
    const made = await bundleIdentity(cache);
    expect(await bundledCli(root, cache, ['--help'])).toEqual(edited);
    expect(await bundleIdentity(cache)).not.toBe(made);
  });

  it('keeps the import.meta.url of each source: --version reads the package.json of the copy', async () => {
    const packageFile = join(root, 'package.json');
    const manifest = JSON.parse(await readFile(packageFile, 'utf8')) as Record<string, unknown>;
    await writeFile(packageFile, `${JSON.stringify({ ...manifest, version: '9.8.7-copy' }, null, 2)}\n`);
    expect(await bundledCli(root, cache, ['--version'])).toEqual({ code: 0, out: '9.8.7-copy\n', err: '' });
  });
});
