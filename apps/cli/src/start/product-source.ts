/**
 * The demo's product source: the agent itself, as a repository the
 * assembly line builds and the supervisor rebuilds like any vendor
 * product. Written from this checkout at the first start:
 *
 *     packages/<name>/{package.json,src/}   every workspace package's TypeScript source
 *     apps/cli/src/                         the command line (the product's entry is agent-bin.ts)
 *     build.mjs                             apps/cli/product/build.mjs: esbuild -> dist/
 *     package.json                          glasshouse-agent <version of apps/cli>
 *     package-lock.json                     the build's dependencies, exactly as this checkout's lockfile pins them
 *     npm-cache/_cacache/content-v2/…       their tarballs, stored by integrity (npm's cache layout)
 *     glasshouse-recipe.json                npm ci --offline, node build.mjs, npm pack
 *
 * The build runs without network: `npm ci --offline` installs from the
 * committed cache, whose blobs npm checks against the lockfile's
 * integrity. The tarballs are copied from the npm cache of this machine
 * (where `npm ci` of the checkout left them), checked against the same
 * integrity first.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CodedError } from '@glasshouse/errors';
import { RECIPE_FILE } from '@glasshouse/release';
import { productTarballName } from '@glasshouse/release-format';
import { ensureCommittedSource, type DemoSource } from './demo-source.js';

/** The product release's name (and the npm package's). */
export const PRODUCT_RELEASE_NAME = 'glasshouse-agent';

/**
 * What the bundle needs at build time (esbuild, and the dependencies it
 * bundles). A dependency missing here fails the product build with
 * esbuild's "Could not resolve".
 */
const BUILD_DEPENDENCIES = [
  'esbuild',
  'commander',
  'tuf-js',
  '@tufjs/models',
  '@noble/curves',
  '@noble/hashes',
  '@hpke/core',
  '@hpke/dhkem-x25519',
];
/**
 * Shipped inside the tarball (bundleDependencies): the YARA-X engines. The
 * native binding, which can time out a runaway scan, is shipped when npm
 * installed it on this machine (Linux x64 with glibc); without it the
 * agent refuses to scan unless told to accept the WebAssembly engine.
 */
const ENGINE_WASM = '@virustotal/yara-x';
const ENGINE_NATIVE = '@litko/yara-x-linux-x64-gnu';
const REGISTRY = 'https://registry.npmjs.org/';
const CACHE_DIR = 'npm-cache';

interface LockEntry {
  version?: string;
  integrity?: string;
  resolved?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  optional?: boolean;
  dev?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  os?: string[];
  cpu?: string[];
  [key: string]: unknown;
}

/** The checkout this code runs from (it holds the sources and the lockfile). */
function checkoutRoot(): string {
  const root = fileURLToPath(new URL('../../../../', import.meta.url));
  if (!existsSync(join(root, 'package-lock.json')) || !existsSync(join(root, 'packages'))) {
    throw new CodedError(
      'START_PRODUCT_UNAVAILABLE',
      `the agent's sources are not here (${root}); run "glasshouse start" from a checkout`,
    );
  }
  return root;
}

/** The product repository in `dir`, written and committed when it has no commit yet. */
export async function ensureProductSource(
  dir: string,
  say: (line: string) => void,
): Promise<DemoSource & { version: string }> {
  const source = await ensureCommittedSource(
    dir,
    () => writeProductSource(checkoutRoot(), dir, say),
    "The Glasshouse agent's sources, its build and the pinned tarballs of its build dependencies",
  );
  const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { version: string };
  return { ...source, version: pkg.version };
}

async function writeProductSource(
  root: string,
  dir: string,
  say: (line: string) => void,
): Promise<void> {
  const cli = JSON.parse(await readFile(join(root, 'apps', 'cli', 'package.json'), 'utf8')) as {
    version: string;
    license?: string;
  };
  const rootPkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
    engines?: Record<string, string>;
  };
  const version = cli.version;
  const shipped = existsSync(join(root, 'node_modules', ENGINE_NATIVE, 'package.json'))
    ? [ENGINE_WASM, ENGINE_NATIVE]
    : [ENGINE_WASM];
  for (const name of await readdir(join(root, 'packages'))) {
    const from = join(root, 'packages', name);
    if (!existsSync(join(from, 'src'))) continue;
    await mkdir(join(dir, 'packages', name), { recursive: true });
    await copyFile(join(from, 'package.json'), join(dir, 'packages', name, 'package.json'));
    await cp(join(from, 'src'), join(dir, 'packages', name, 'src'), { recursive: true });
  }
  await cp(join(root, 'apps', 'cli', 'src'), join(dir, 'apps', 'cli', 'src'), { recursive: true });
  await copyFile(join(root, 'apps', 'cli', 'product', 'build.mjs'), join(dir, 'build.mjs'));

  const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const pinned = (name: string): string => {
    const v = lock.packages[`node_modules/${name}`]?.version;
    if (v === undefined) {
      throw new CodedError('START_PRODUCT_UNAVAILABLE', `the lockfile does not pin ${name}`);
    }
    return v;
  };
  const pkg = {
    name: PRODUCT_RELEASE_NAME,
    version,
    description: 'The Glasshouse endpoint agent',
    license: cli.license ?? 'Apache-2.0',
    type: 'module',
    bin: { glasshouse: 'dist/glasshouse.js' },
    files: ['dist'],
    ...(rootPkg.engines === undefined ? {} : { engines: rootPkg.engines }),
    dependencies: Object.fromEntries(shipped.map((d) => [d, pinned(d)])),
    bundleDependencies: shipped,
    devDependencies: Object.fromEntries(BUILD_DEPENDENCIES.map((d) => [d, pinned(d)])),
  };
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);

  const entries = lockClosure(lock.packages, [...shipped, ...BUILD_DEPENDENCIES]);
  const packages: Record<string, LockEntry> = {
    '': {
      name: pkg.name,
      version,
      license: pkg.license,
      dependencies: pkg.dependencies,
      devDependencies: pkg.devDependencies,
      bundleDependencies: pkg.bundleDependencies,
      bin: pkg.bin,
      ...(pkg.engines === undefined ? {} : { engines: pkg.engines }),
    },
  };
  for (const [path, entry] of entries) {
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    // The flags say how the checkout uses a package; here every one is a build tool except the engines.
    const rest: LockEntry = { ...entry };
    delete rest.dev;
    delete rest.devOptional;
    delete rest.peer;
    packages[path] = {
      ...rest,
      resolved: `${REGISTRY}${name}/-/${name.split('/').pop() ?? name}-${entry.version ?? ''}.tgz`,
      ...(shipped.includes(name) ? {} : { dev: true }),
    };
  }
  const lockfile = { name: pkg.name, version, lockfileVersion: 3, requires: true, packages };
  await writeFile(join(dir, 'package-lock.json'), `${JSON.stringify(lockfile, null, 2)}\n`);

  const copied = await copyTarballs(entries, join(dir, CACHE_DIR));
  say(
    `product source: ${copied.count} pinned tarballs (${(copied.bytes / 1e6).toFixed(1)} MB) from the npm cache`,
  );

  const npm = [
    '--offline',
    '--ignore-scripts',
    '--no-audit',
    '--no-fund',
    '--no-update-notifier',
    '--cache',
    CACHE_DIR,
  ];
  const recipe = {
    schema: 'glasshouse.recipe/v1',
    kind: 'command',
    name: PRODUCT_RELEASE_NAME,
    version,
    commands: [
      ['npm', 'ci', ...npm],
      ['node', 'build.mjs'],
      ['sh', '-c', `npm pack ${npm.join(' ')} --pack-destination "$OUT_DIR"`],
    ],
    outputs: [productTarballName({ name: PRODUCT_RELEASE_NAME, version })],
  };
  await writeFile(join(dir, RECIPE_FILE), `${JSON.stringify(recipe, null, 2)}\n`);
  await writeFile(
    join(dir, 'README.md'),
    `# ${PRODUCT_RELEASE_NAME} ${version}\n\n` +
      "The Glasshouse endpoint agent's sources, built by " +
      `\`${RECIPE_FILE}\`: \`npm ci --offline\` from \`${CACHE_DIR}/\` (the tarballs ` +
      'package-lock.json pins, by integrity), `node build.mjs` (esbuild bundles ' +
      '`apps/cli/src/agent-bin.ts` into `dist/`), `npm pack`.\n',
  );
}

/** Every lockfile entry the named packages need, by the lockfile's own paths (Node's lookup). */
function lockClosure(
  packages: Record<string, LockEntry>,
  names: readonly string[],
): Map<string, LockEntry> {
  const resolve = (from: string, name: string): string | undefined => {
    let base = from;
    for (;;) {
      const path = `${base === '' ? '' : `${base}/`}node_modules/${name}`;
      if (packages[path] !== undefined) return path;
      if (base === '') return undefined;
      const i = base.lastIndexOf('/node_modules/');
      base = i < 0 ? '' : base.slice(0, i);
    }
  };
  const found = new Map<string, LockEntry>();
  const visit = (path: string): void => {
    const entry = packages[path];
    if (entry === undefined || found.has(path)) return;
    found.set(path, entry);
    const deps = { ...entry.dependencies, ...entry.optionalDependencies };
    for (const dep of Object.keys(deps)) {
      const at = resolve(path, dep);
      if (at !== undefined) visit(at);
      else if (entry.optionalDependencies?.[dep] === undefined) {
        throw new CodedError('START_PRODUCT_UNAVAILABLE', `the lockfile has no ${dep} for ${path}`);
      }
    }
  };
  for (const name of names) {
    const at = resolve('', name);
    if (at === undefined) {
      throw new CodedError('START_PRODUCT_UNAVAILABLE', `the lockfile has no ${name}`);
    }
    visit(at);
  }
  return new Map([...found].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Copies the tarball of every entry this machine installs (optional ones
 * for another OS or CPU are left out, as npm leaves them) from the local
 * npm cache into `cacheDir`, checked against the lockfile's integrity.
 * A tarball the local cache lacks is fetched into it once with
 * `npm cache add`; START_PRODUCT_UNAVAILABLE when that fails too.
 */
async function copyTarballs(
  entries: ReadonlyMap<string, LockEntry>,
  cacheDir: string,
): Promise<{ count: number; bytes: number }> {
  const local = localNpmCache();
  const needed = [...entries].filter(
    ([, e]) =>
      (e.os === undefined || e.os.includes(process.platform)) &&
      (e.cpu === undefined || e.cpu.includes(process.arch)),
  );
  let count = 0;
  let bytes = 0;
  const missing: string[] = [];
  const copyOne = async (path: string, entry: LockEntry): Promise<boolean> => {
    const [algorithm, base64] = (entry.integrity ?? '').split('-', 2);
    if (algorithm !== 'sha512' || base64 === undefined) {
      throw new CodedError('START_PRODUCT_UNAVAILABLE', `${path} has no sha512 integrity`);
    }
    const hex = Buffer.from(base64, 'base64').toString('hex');
    const rel = join(
      '_cacache',
      'content-v2',
      algorithm,
      hex.slice(0, 2),
      hex.slice(2, 4),
      hex.slice(4),
    );
    let data: Buffer;
    try {
      data = await readFile(join(local, rel));
    } catch {
      return false;
    }
    if (createHash('sha512').update(data).digest('hex') !== hex) return false;
    await mkdir(dirname(join(cacheDir, rel)), { recursive: true });
    await writeFile(join(cacheDir, rel), data);
    count += 1;
    bytes += data.length;
    return true;
  };
  for (const [path, entry] of needed) {
    if (!(await copyOne(path, entry))) missing.push(path);
  }
  if (missing.length > 0) {
    const specs = missing.map((path) => {
      const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
      return `${name}@${entries.get(path)?.version ?? ''}`;
    });
    try {
      execFileSync('npm', ['cache', 'add', ...specs], { stdio: 'ignore', timeout: 120_000 });
    } catch {
      // reported below, with the packages still missing
    }
    const still = [];
    for (const path of missing) {
      const entry = entries.get(path);
      if (entry === undefined || !(await copyOne(path, entry))) still.push(path);
    }
    if (still.length > 0) {
      throw new CodedError(
        'START_PRODUCT_UNAVAILABLE',
        `the npm cache (${local}) lacks ${still.join(', ')} and npm cache add could not fetch them`,
      );
    }
  }
  return { count, bytes };
}

/** npm's cache directory: from `npm start`'s environment, else npm's own answer. */
function localNpmCache(): string {
  const fromEnv = process.env.npm_config_cache;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  try {
    return execFileSync('npm', ['config', 'get', 'cache'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 30_000,
    }).trim();
  } catch {
    return join(homedir(), '.npm');
  }
}
