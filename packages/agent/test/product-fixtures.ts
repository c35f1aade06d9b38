/**
 * Product releases for the agent's tests: a small package packed with the
 * real `npm pack`, and its file manifest made from the tarball by the
 * assembly line's own build step (release's `productFilesArtifact`). The
 * package's `glasshouse` bin answers `--version` itself and runs every other command with this checkout's
 * `glasshouse` (the test product carries only its launcher), so the
 * self-check's scan runs real code on the installed rules.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { productFilesArtifact } from '@glasshouse/release';
import { productFilesName, productTarballName } from '@glasshouse/release-format';

export const PRODUCT = 'glasshouse-agent';
export const PRODUCT_SOURCE = 'https://git.vendor.example.org/agent.git';
const CLI = fileURLToPath(new URL('../../../apps/cli/bin/glasshouse.js', import.meta.url));

export interface ProductOptions {
  /** `version`: --version prints another version; `scan`: the scan finds nothing. */
  readonly broken?: 'version' | 'scan';
  /** A file added to the package after its manifest was made. */
  readonly extraFile?: boolean;
  /** A file of the package changed after its manifest was made. */
  readonly changedFile?: boolean;
}

export interface ProductArtifacts {
  readonly tarball: Uint8Array;
  readonly files: Uint8Array;
  /** The release's artifacts, as the fixture's `publish` takes them. */
  readonly artifacts: { name: string; bytes: Uint8Array }[];
}

function launcher(broken: ProductOptions['broken']): string {
  return `#!/usr/bin/env node
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const args = process.argv.slice(2);
if (args[0] === '--version') {
  process.stdout.write(${broken === 'version' ? "'0.0.0-broken'" : 'pkg.version'} + '\\n');
  process.exit(0);
}
if (args[0] === '--where') {
  process.stdout.write(new URL('..', import.meta.url).pathname + '\\n');
  process.exit(0);
}
${broken === 'scan' ? "if (args[0] === 'agent' && args[1] === 'scan') process.exit(0);\n" : ''}const run = spawnSync(process.execPath, [${JSON.stringify(CLI)}, ...args], { stdio: 'inherit' });
process.exit(run.status ?? 1);
`;
}

/** Packs `version` of the test product with npm pack; returns the tarball and its manifest. */
export async function productRelease(
  work: string,
  version: string,
  options: ProductOptions = {},
): Promise<ProductArtifacts> {
  const dir = await mkdtemp(join(work, 'product-src-'));
  const pkg = {
    name: PRODUCT,
    version,
    type: 'module',
    bin: { glasshouse: 'bin/glasshouse.js' },
    files: ['bin', 'lib'],
  };
  await mkdir(join(dir, 'bin'));
  await mkdir(join(dir, 'lib'));
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  await writeFile(join(dir, 'bin', 'glasshouse.js'), launcher(options.broken));
  await chmod(join(dir, 'bin', 'glasshouse.js'), 0o755);
  await writeFile(join(dir, 'lib', 'engine.js'), `export const version = '${version}';\n`);
  const pack = async (): Promise<Uint8Array> => {
    const out = await mkdtemp(join(work, 'product-out-'));
    await promisify(execFile)('npm', ['pack', '--silent', '--pack-destination', out], {
      cwd: dir,
      env: { ...process.env, npm_config_update_notifier: 'false' },
    });
    return new Uint8Array(
      await readFile(join(out, productTarballName({ name: PRODUCT, version }))),
    );
  };
  let tarball = await pack();
  // The manifest as the assembly line's build makes it beside the tarball.
  const manifest = productFilesArtifact({ name: PRODUCT, version }, [
    { name: productTarballName({ name: PRODUCT, version }), bytes: tarball, sha256: '' },
  ]);
  if (manifest === undefined) throw new Error('the build made no file manifest');
  const files = manifest.bytes;
  if (options.extraFile === true || options.changedFile === true) {
    if (options.extraFile === true) await writeFile(join(dir, 'lib', 'extra.js'), 'export {};\n');
    if (options.changedFile === true) {
      await writeFile(join(dir, 'lib', 'engine.js'), `export const version = 'tampered';\n`);
    }
    tarball = await pack();
  }
  return {
    tarball,
    files,
    artifacts: [
      { name: productTarballName({ name: PRODUCT, version }), bytes: tarball },
      { name: productFilesName({ name: PRODUCT, version }), bytes: files },
    ],
  };
}
