// DESIGN.md §10: pure packages run in the browser too, so no `node:` imports, no Buffer, no process.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { browserBundle } from '../../crypto/test/browser.js';

const src = join(import.meta.dirname, '..', 'src');

describe('purity of @glasshouse/residency', () => {
  it('has no node: imports, Buffer, process, clock or console in src', () => {
    for (const file of readdirSync(src).filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(join(src, file), 'utf8');
      expect(text, file).not.toMatch(
        /from ['"]node:|require\(|\bBuffer\b|\bprocess\.|Date\.now|new Date\(\)|console\./,
      );
    }
  });

  it('depends only on errors, the crypto interface and the pinned browser-safe crypto libraries', () => {
    const pkg = JSON.parse(readFileSync(join(src, '..', 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(Object.keys(pkg.dependencies).sort()).toEqual([
      '@glasshouse/crypto',
      '@glasshouse/errors',
      '@noble/hashes',
    ]);
    for (const version of Object.values(pkg.dependencies))
      expect(version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('bundles for the browser (esbuild, platform browser): no Node built-in is reachable', async () => {
    await browserBundle(join(src, 'index.ts'));
  });
});
