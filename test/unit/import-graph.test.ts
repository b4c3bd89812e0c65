import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The directions of the import graph (contract/README.md): the shared facts live in contract/, which
 * depends on nothing; the runtime under lambda/ never reaches the CDK app, the CLI or the local stack; the
 * CDK app reaches no AWS SDK (so `cdk synth` never loads the clients); no two folders depend on each other.
 */
const ROOT = resolve(import.meta.dirname, '..', '..');
const SOURCE_FOLDERS = ['contract', 'lambda', 'lib', 'bin', 'local', 'test', 'bench'];

/**
 * What lib/ still imports from lambda/: the error renderer, so that API Gateway's own responses (throttled,
 * Lambda failed, unknown path) are byte for byte the bodies the functions send. Pure modules that reach
 * no AWS SDK (checked below).
 */
const LIB_RUNTIME_IMPORTS = ['lambda/oauth/errors.ts', 'lambda/oauth/responses.ts'];

interface SourceFile {
  readonly path: string;
  /** Project files it imports (statically or with import()), relative to the root. */
  readonly imports: string[];
  /** Package specifiers it imports. */
  readonly packages: string[];
}

const files = readSources();
const byPath = new Map(files.map((file) => [file.path, file]));

describe('import graph', () => {
  it('reads the whole tree', () => {
    expect(files.length).toBeGreaterThan(150);
    expect(byPath.get('lib/token-service-stack.ts')?.imports).toContain('contract/routes.ts');
  });

  it('keeps contract/ free of every dependency: no project module, no package', () => {
    const offending = files
      .filter((file) => file.path.startsWith('contract/'))
      .flatMap((file) => [
        ...file.imports.filter((target) => !target.startsWith('contract/')).map((target) => `${file.path} → ${target}`),
        ...file.packages.filter((name) => !name.startsWith('node:')).map((name) => `${file.path} → ${name}`),
      ]);
    expect(offending).toEqual([]);
  });

  it('keeps the runtime under lambda/ out of the CDK app, the CLI, the local stack, the tests and the benchmarks', () => {
    const offending = edges('lambda/').filter(([, target]) => /^(lib|bin|local|test|bench)\//.test(target));
    expect(offending.map(describeEdge)).toEqual([]);
  });

  it('lets lib/ import only contract/, the CDK libraries and the error renderer', () => {
    const offending = edges('lib/').filter(
      ([, target]) =>
        !target.startsWith('lib/') && !target.startsWith('contract/') && !LIB_RUNTIME_IMPORTS.includes(target),
    );
    expect(offending.map(describeEdge)).toEqual([]);
    const packages = files
      .filter((file) => file.path.startsWith('lib/'))
      .flatMap((file) =>
        file.packages
          .filter((name) => !/^(node:|aws-cdk-lib|constructs$|cdk-nag$)/.test(name))
          .map((name) => `${file.path} → ${name}`),
      );
    expect(packages).toEqual([]);
  });

  it('keeps the benchmarks and the tests apart: what both use lives in local/', () => {
    const offending = [
      ...edges('bench/').filter(([, target]) => target.startsWith('test/')),
      ...edges('test/').filter(([, target]) => target.startsWith('bench/')),
    ];
    expect(offending.map(describeEdge)).toEqual([]);
  });

  it('loads no AWS SDK module when the CDK app is built (cdk synth)', () => {
    const reached = reachable(['bin/app.ts']);
    expect(sdkImports(reached)).toEqual([]);
  });

  it('keeps the protocol core, the account services and the second factor pure: they reach no AWS SDK module, the adapters do', () => {
    const roots = files.filter((file) => /^lambda\/(oauth|accounts|mfa)\//.test(file.path)).map((file) => file.path);
    expect(roots.some((path) => path.startsWith('lambda/accounts/'))).toBe(true);
    expect(roots.some((path) => path.startsWith('lambda/mfa/'))).toBe(true);
    const reached = reachable(roots);
    expect([...reached].filter((path) => path.startsWith('lambda/adapters/'))).toEqual([]);
    expect(sdkImports(reached)).toEqual([]);
  });

  it('has no cycle between folders', () => {
    const graph = new Map<string, Set<string>>();
    for (const file of files) {
      for (const target of file.imports) {
        const [from, to] = [folderOf(file.path), folderOf(target)];
        if (from !== to) (graph.get(from) ?? graph.set(from, new Set()).get(from)!).add(to);
      }
    }
    expect(cycles(graph)).toEqual([]);
  });
});

/** The AWS SDK packages the given files import, as `file → package`. */
function sdkImports(paths: Iterable<string>): string[] {
  return [...paths].flatMap((path) =>
    byPath
      .get(path)!
      .packages.filter((name) => name.startsWith('@aws-sdk/'))
      .map((name) => `${path} → ${name}`),
  );
}

/** Import edges whose importer is under `prefix`. */
function edges(prefix: string): [string, string][] {
  return files
    .filter((file) => file.path.startsWith(prefix))
    .flatMap((file) => file.imports.map((target): [string, string] => [file.path, target]));
}

function describeEdge([from, to]: [string, string]): string {
  return `${from} → ${to}`;
}

/** The folder a file belongs to for the cycle check: lambda's and bin's subfolders are folders of their own. */
function folderOf(path: string): string {
  const parts = path.split('/');
  if ((parts[0] === 'lambda' || parts[0] === 'bin' || parts[0] === 'test') && parts.length > 2)
    return `${parts[0]}/${parts[1]}`;
  return parts.length > 1 ? parts[0]! : '.';
}

function reachable(roots: string[]): Set<string> {
  const seen = new Set<string>();
  const stack = [...roots];
  while (stack.length > 0) {
    const path = stack.pop()!;
    if (seen.has(path)) continue;
    seen.add(path);
    stack.push(...(byPath.get(path)?.imports ?? []));
  }
  return seen;
}

/** Every elementary cycle's smallest witness, as `a → b → a`; empty when the graph is acyclic. */
function cycles(graph: Map<string, Set<string>>): string[] {
  const found = new Set<string>();
  const visit = (node: string, path: string[]) => {
    for (const next of graph.get(node) ?? []) {
      const at = path.indexOf(next);
      if (at >= 0) {
        found.add([...path.slice(at), next].join(' → '));
        continue;
      }
      if (path.length < 12) visit(next, [...path, next]);
    }
  };
  for (const node of graph.keys()) visit(node, [node]);
  return [...found].sort();
}

function readSources(): SourceFile[] {
  const paths: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(join(ROOT, dir))) {
      const path = join(dir, name);
      if (statSync(join(ROOT, path)).isDirectory()) walk(path);
      else if (/\.(ts|mts)$/.test(name) && !name.endsWith('.d.ts')) paths.push(path);
    }
  };
  for (const folder of SOURCE_FOLDERS) walk(folder);
  return paths.map((path) => {
    const text = readFileSync(join(ROOT, path), 'utf8');
    const specifiers = [
      ...text.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+'([^']+)'/gm),
      ...text.matchAll(/^\s*import\s+'([^']+)'/gm),
      ...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g),
    ].map((match) => match[1]!);
    const imports: string[] = [];
    const packages: string[] = [];
    for (const specifier of specifiers) {
      if (specifier.startsWith('.')) imports.push(resolveModule(path, specifier));
      else packages.push(specifier);
    }
    return { path, imports, packages };
  });
}

function resolveModule(from: string, specifier: string): string {
  const base = relative(ROOT, resolve(ROOT, dirname(from), specifier));
  for (const candidate of [base, `${base}.ts`, join(base, 'index.ts')]) {
    if (existsSync(join(ROOT, candidate)) && statSync(join(ROOT, candidate)).isFile()) return candidate;
  }
  // A JavaScript entry (bin/ropc-admin.js) or a JSON file: keep the specifier's own path.
  return base;
}
