// Type-checks every workspace's tests and benchmarks too (`tsc -b` builds
// only src): each package's tsconfig.json is a noEmit project over
// src, test and bench.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const { workspaces } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
let failed = false;
for (const workspace of workspaces) {
  const project = join(root, workspace, 'tsconfig.json');
  if (!existsSync(project)) continue;
  try {
    execFileSync(process.execPath, [tsc, '-p', project], { stdio: 'inherit' });
  } catch {
    // tsc printed the errors; keep checking the other workspaces.
    failed = true;
    console.error(`typecheck failed: ${workspace}`);
  }
}
process.exit(failed ? 1 : 0);
