import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// The endpoint runs only pure formats and its own I/O: loading the built
// agent must not bring in server, database or sandbox code through a
// dependency (the built package, as an endpoint installs it).
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const work = mkdtempSync(join(tmpdir(), 'agent-deps-'));
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

const SERVER_SIDE =
  /\/node_modules\/(fastify|@fastify\/[^/]+|prom-client|better-sqlite3|pg|pino)\//;

describe('the agent package', () => {
  it('loads no server, database or sandbox code', () => {
    const hook = join(work, 'hook.mjs');
    writeFileSync(
      hook,
      'export async function resolve(spec, ctx, next) {\n' +
        '  const r = await next(spec, ctx);\n' +
        '  process.stdout.write(r.url + "\\n");\n' +
        '  return r;\n' +
        '}\n',
    );
    const register = join(work, 'register.mjs');
    writeFileSync(
      register,
      `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hook).href)});\n`,
    );
    const loaded = execFileSync(
      process.execPath,
      ['--import', register, '--input-type=module', '-e', "await import('@glasshouse/agent');"],
      { cwd: root, encoding: 'utf8' },
    )
      .split('\n')
      .filter((url) => url !== '');
    expect(loaded.some((url) => url.includes('/packages/agent/dist/'))).toBe(true);
    expect(loaded.filter((url) => SERVER_SIDE.test(url))).toEqual([]);
    expect(
      loaded.filter((url) => /\/packages\/(release|log|witness|telemetry|db)\//.test(url)),
    ).toEqual([]);
  });
});
