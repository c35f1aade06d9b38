/**
 * The package this code runs from: the nearest package.json above this
 * module. In a checkout that is apps/cli's; in the agent's product release
 * (one bundled file under dist/) it is the product's own package.json, so
 * `--version` and `agent status` name the version actually running.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PackageInfo {
  readonly name: string;
  readonly version: string;
  /** The directory holding the package.json. */
  readonly dir: string;
}

let cached: PackageInfo | undefined;

export function ownPackage(): PackageInfo {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    let text: string | undefined;
    try {
      text = readFileSync(join(dir, 'package.json'), 'utf8');
    } catch {
      // no package.json here: look one level up
    }
    if (text !== undefined) {
      const pkg = JSON.parse(text) as { name?: unknown; version?: unknown };
      cached = {
        name: typeof pkg.name === 'string' ? pkg.name : '',
        version: typeof pkg.version === 'string' ? pkg.version : '0.0.0',
        dir,
      };
      return cached;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('no package.json above the running code');
    dir = parent;
  }
}
