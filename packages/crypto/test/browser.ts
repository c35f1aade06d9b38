/**
 * Test support shared by the pure packages (DESIGN.md §10: they run in the
 * reviewer's browser): a source check and a real browser bundle (esbuild,
 * platform "browser", which picks @glasshouse/crypto's @noble engine).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { expect } from 'vitest';

const NODE_ONLY = /from ['"]node:|require\(|\bBuffer\b|\bprocess\./;
const NODE_IMPORT_IN_BUNDLE = /from ["']node:|require\(["']node:/;

/** Every .ts file of `srcDir` (or just `files`) is free of Node built-ins and globals. */
export function expectNoNodeOnly(srcDir: string, files?: readonly string[]): void {
  for (const file of files ?? readdirSync(srcDir).filter((f) => f.endsWith('.ts'))) {
    expect(readFileSync(join(srcDir, file), 'utf8'), file).not.toMatch(NODE_ONLY);
  }
}

/**
 * Bundles `entry` (a file, or `{ contents, resolveDir }`) as a browser would
 * get it, checks that no Node built-in is reachable, and loads the bundle
 * when `load` is set, so a test can run the browser build on Node.
 */
export async function browserBundle(
  entry: string | { contents: string; resolveDir: string },
  load = false,
): Promise<{ text: string; module: unknown }> {
  const result = await build({
    ...(typeof entry === 'string' ? { entryPoints: [entry] } : { stdin: entry }),
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    logLevel: 'silent',
  });
  expect(result.errors).toEqual([]);
  const text = result.outputFiles[0]?.text ?? '';
  expect(text).not.toMatch(NODE_IMPORT_IN_BUNDLE);
  if (!load) return { text, module: undefined };
  const dir = mkdtempSync(join(tmpdir(), 'browser-bundle-'));
  try {
    const file = join(dir, 'bundle.mjs');
    writeFileSync(file, text);
    return { text, module: (await import(pathToFileURL(file).href)) as unknown };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The code of what `run` throws: a bundle has its own copy of the error classes. */
export function bundleCode(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    throw err;
  }
  return 'accepted';
}
