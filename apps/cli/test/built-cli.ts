/**
 * Tests that run `glasshouse` as a child process need the built CLI. `npm
 * test` builds before vitest, so this is usually a no-op; when a test runs
 * on its own after a source change, it rebuilds first (only when needed, so
 * parallel test files do not run tsc at once for nothing).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = join(REPO_ROOT, 'apps/cli/bin/glasshouse.js');

/** Every workspace's sources: the CLI's build depends on all of them. */
function sourceDirs(): string[] {
  const dirs = [join(REPO_ROOT, 'apps/cli/src')];
  for (const e of readdirSync(join(REPO_ROOT, 'packages'), { withFileTypes: true })) {
    const src = join(REPO_ROOT, 'packages', e.name, 'src');
    if (e.isDirectory() && existsSync(src)) dirs.push(src);
  }
  return dirs;
}

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith('.ts') || e.name.endsWith('.test.ts')) continue;
    newest = Math.max(newest, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return newest;
}

export function ensureCliBuilt(): void {
  const built = join(REPO_ROOT, 'apps/cli/dist/main.js');
  const builtAt = existsSync(built) ? statSync(built).mtimeMs : 0;
  if (sourceDirs().every((dir) => newestSource(dir) <= builtAt)) return;
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-b'], {
    cwd: REPO_ROOT,
    stdio: 'inherit',
  });
  if (!existsSync(built)) throw new Error('apps/cli/dist/main.js is missing after the build');
}
