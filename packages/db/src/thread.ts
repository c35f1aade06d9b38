/**
 * Starts a module's database thread: `name.js` next to the calling module
 * when that module runs compiled, or, from the sources (tests, `tsx`),
 * `name.ts` bundled once per process with the workspace packages it
 * imports (types stripped, nothing else; the database drivers stay
 * external) and run as CommonJS whose `require` resolves from its file.
 * Plain Node cannot load a `.ts` worker, and the sources have no `.js`.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const bundled = new Map<string, string>();

/** `here`: the caller's `import.meta.url`; `name`: the worker module's file name without extension. */
export function startModuleThread(here: string, name: string, workerData: unknown): Worker {
  const compiled = new URL(`./${name}.js`, here);
  if (!here.endsWith('.ts') && existsSync(fileURLToPath(compiled))) {
    return new Worker(compiled, { workerData });
  }
  return new Worker(sourceCode(fileURLToPath(new URL(`./${name}.ts`, here))), {
    eval: true,
    workerData,
  });
}

function sourceCode(file: string): string {
  let code = bundled.get(file);
  if (code === undefined) {
    const require = createRequire(file);
    const esbuild = require('esbuild') as {
      buildSync(opts: object): { outputFiles: { text: string }[] };
    };
    const [out] = esbuild.buildSync({
      entryPoints: [file],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      external: ['better-sqlite3', 'pg'],
      write: false,
      // A module may build a URL from import.meta.url for its own workers; not in this thread.
      logOverride: { 'empty-import-meta': 'silent' },
    }).outputFiles;
    if (out === undefined) throw new Error(`esbuild produced nothing for ${file}`);
    code =
      `(function (require, module, exports) {\n${out.text}\n})` +
      `(require('node:module').createRequire(${JSON.stringify(file)}), { exports: {} }, {});`;
    bundled.set(file, code);
  }
  return code;
}
