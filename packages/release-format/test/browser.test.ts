// The portal reads trust bundles, release-log entries and supervisor
// statements in the reviewer's browser with this package (DESIGN.md §10).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const src = join(import.meta.dirname, '..', 'src');

describe('@glasshouse/release-format in a browser', () => {
  it('has no node: imports, Buffer or process in src', () => {
    for (const file of readdirSync(src).filter((f) => f.endsWith('.ts'))) {
      expect(readFileSync(join(src, file), 'utf8'), file).not.toMatch(
        /from ['"]node:|require\(|\bBuffer\b|\bprocess\./,
      );
    }
  });

  it('bundles for the browser with no Node built-in reachable', async () => {
    const result = await build({
      entryPoints: [join(src, 'index.ts')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    expect(result.outputFiles[0]?.text).not.toMatch(/from ["']node:|require\(["']node:/);
  });
});
