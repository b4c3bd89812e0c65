#!/usr/bin/env node
// The package.json "bin" target for `npx ropc-admin`. Loading bin/ropc-admin.ts through tsx transpiles some
// 80 modules and resolves the AWS SDK file by file on every start; one bundle of all of it, made with the
// project's own esbuild (a devDependency), starts several times faster. The bundle is kept in
// node_modules/.cache/ropc-admin/ and made again when anything it was made from has changed since, so an
// edited source takes effect on the next run, as with tsx. Where esbuild cannot run or the cache cannot be
// written, the entry runs through tsx as before. `npm run admin` runs bin/ropc-admin.ts with tsx directly.
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import * as nodeModule from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SELF = relative(ROOT, fileURLToPath(import.meta.url));
// Tests point it elsewhere to bundle a copy of the sources without touching the project's cache.
const CACHE_DIR = process.env.ROPC_ADMIN_CACHE_DIR || join(ROOT, 'node_modules', '.cache', 'ropc-admin');
const BUNDLE = join(CACHE_DIR, 'cli.mjs');
// The bundle's first line records what it was made from, so the bundle and its record are replaced together.
const STAMP_PREFIX = '// ropc-admin bundle ';
const STAMP_VERSION = 1;
// Files whose change is only visible at a coarse mtime (or that were saved while esbuild read them) may be
// bundled in their previous version: a bundle made within this long of such a save is not trusted twice.
const SETTLE_MS = 1_000;

/** [path relative to ROOT, mtime, size] of each file; a missing file is [path, -1, -1]. */
function fileStates(paths) {
  return paths.map((path) => {
    const stats = statSync(join(ROOT, path), { throwIfNoEntry: false });
    return [path, stats?.mtimeMs ?? -1, stats?.size ?? -1];
  });
}

/**
 * The files to watch for an esbuild input: a project source itself, but for a dependency its package's
 * package.json, which npm rewrites with every install of the package (a few dozen stats instead of 600).
 */
function watchedFile(input) {
  const at = input.lastIndexOf('node_modules/');
  if (at === -1) return input;
  const parts = input.slice(at + 'node_modules/'.length).split('/');
  const name = parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  return `${input.slice(0, at)}node_modules/${name}/package.json`;
}

/** The stamp on the first line of the bundle, or undefined when there is no bundle or no usable stamp. */
function readStamp() {
  let file;
  try {
    file = openSync(BUNDLE, 'r');
  } catch {
    return undefined;
  }
  try {
    // Only the first line, not the megabytes of code after it.
    let head = Buffer.alloc(0);
    for (;;) {
      const chunk = Buffer.alloc(64 * 1024);
      const length = readSync(file, chunk, 0, chunk.length, head.length);
      if (length === 0) return undefined;
      head = Buffer.concat([head, chunk.subarray(0, length)]);
      const end = head.indexOf(10);
      if (end !== -1) {
        const line = head.subarray(0, end).toString('utf8');
        return line.startsWith(STAMP_PREFIX) ? (JSON.parse(line.slice(STAMP_PREFIX.length)) ?? undefined) : undefined;
      }
    }
  } catch {
    return undefined;
  } finally {
    closeSync(file);
  }
}

function isFresh(stamp) {
  if (stamp?.version !== STAMP_VERSION || stamp.root !== ROOT || !Array.isArray(stamp.files)) return false;
  const now = fileStates(stamp.files.map(([path]) => path));
  return now.every(([, mtime, size], index) => stamp.files[index][1] === mtime && stamp.files[index][2] === size);
}

/**
 * Bundles bin/ropc-admin.ts into BUNDLE. Each source module keeps its own import.meta.url, .filename and
 * .dirname (the CLI finds package.json and the project root from them), and the dependencies' require() of Node's built-in modules
 * gets a real require.
 */
async function buildBundle() {
  const esbuild = await import('esbuild');
  const started = Date.now();
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: ['bin/ropc-admin.ts'],
    outfile: BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    write: false,
    metafile: true,
    logLevel: 'silent',
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);",
    },
    plugins: [
      {
        name: 'source-import-meta-url',
        setup(build) {
          build.onLoad({ filter: /\.ts$/ }, (args) => {
            if (/[\\/]node_modules[\\/]/.test(args.path)) return undefined;
            const source = readFileSync(args.path, 'utf8');
            if (!source.includes('import.meta.')) return undefined;
            const own = {
              url: pathToFileURL(args.path).href,
              filename: args.path,
              dirname: dirname(args.path),
            };
            const contents = source.replace(/\bimport\.meta\.(url|filename|dirname)\b/g, (_, key) =>
              JSON.stringify(own[key]),
            );
            return { contents, loader: 'ts' };
          });
        },
      },
    ],
  });
  const inputs = Object.keys(result.metafile.inputs).map(watchedFile);
  const watched = [SELF, 'package.json', 'tsconfig.json', 'node_modules/esbuild/package.json', ...inputs];
  const files = fileStates([...new Set(watched)]);
  const settled = files.every(([, mtime]) => mtime < started - SETTLE_MS);
  const stamp = settled ? { version: STAMP_VERSION, root: ROOT, files } : null;
  mkdirSync(CACHE_DIR, { recursive: true });
  // Written aside and renamed into place: a concurrent run imports either the old bundle or the new one.
  const temp = `${BUNDLE}.${process.pid}-${started}.tmp`;
  try {
    writeFileSync(temp, `${STAMP_PREFIX}${JSON.stringify(stamp)}\n${result.outputFiles[0].text}`);
    renameSync(temp, BUNDLE);
  } finally {
    rmSync(temp, { force: true });
  }
}

async function bundled() {
  if (isFresh(readStamp())) return true;
  try {
    await buildBundle();
    return true;
  } catch (error) {
    if (process.env.ROPC_ADMIN_DEBUG) process.stderr.write(`ropc-admin: running through tsx, no bundle: ${error}\n`);
    return false;
  }
}

if (await bundled()) {
  // V8's compiled code for the bundle, kept next to it: a few tens of milliseconds less on every start.
  nodeModule.enableCompileCache?.(join(CACHE_DIR, 'v8'));
  await import(pathToFileURL(BUNDLE).href);
} else {
  const { tsImport } = await import('tsx/esm/api');
  await tsImport('./ropc-admin.ts', import.meta.url);
}
