// The agent's product build, run by its release recipe inside the build
// sandbox after `npm ci --offline`: bundles the agent's command tree
// (apps/cli/src/agent-bin.ts) and the scan engine's child process
// (packages/bundle/src/engine-child.ts) from the TypeScript sources into
// dist/, then checks that the bundle needs nothing at run time but Node's
// own modules and the YARA-X WebAssembly package the tarball carries
// (bundleDependencies). The workspace packages declare "sideEffects":
// false, so esbuild leaves out every module the agent does not use (the
// services' servers and databases) with its imports. Same sources, same
// esbuild, same output: the supervisor's rebuild gets the same bytes.
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { build } from 'esbuild';

/**
 * Shipped in the tarball's node_modules (bundleDependencies), loaded at run
 * time: the YARA-X WebAssembly package and, when the build machine has it,
 * the native binding (the agent scans with it: it can time out a scan).
 */
const SHIPPED = ['@virustotal/yara-x', '@litko/yara-x-linux-x64-gnu'];
/** Loaded only when present: debug (tuf-js's logger) colours its output with supports-color. */
const OPTIONAL = ['supports-color'];
/** The services' dependencies: reachable only from code the agent never runs. */
const SERVICES_ONLY = ['better-sqlite3', 'fastify', 'pg', 'prom-client'];

/** `@glasshouse/<name>[/<subpath>]` -> its TypeScript source, through the package's exports map. */
const workspaceSources = {
  name: 'workspace-sources',
  setup(b) {
    b.onResolve({ filter: /^@glasshouse\// }, (args) => {
      const [, name, sub] = /^@glasshouse\/([^/]+)(?:\/(.+))?$/.exec(args.path) ?? [];
      const dir = join(process.cwd(), 'packages', name);
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      const entry = pkg.exports?.[sub === undefined ? '.' : `./${sub}`]?.default;
      if (typeof entry !== 'string' || !/^\.\/dist\/.+\.js$/.test(entry)) {
        return { errors: [{ text: `${args.path}: no ./dist/*.js export to map to its source` }] };
      }
      return { path: join(dir, entry.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts')) };
    });
  },
};

const result = await build({
  entryPoints: {
    glasshouse: 'apps/cli/src/agent-bin.ts',
    'engine-child': 'packages/bundle/src/engine-child.ts',
  },
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: [...SHIPPED, ...OPTIONAL, ...SERVICES_ONLY],
  plugins: [workspaceSources],
  // Bundled CommonJS dependencies call require(): give the ES module one.
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as glasshouseCreateRequire } from 'node:module';\nconst require = glasshouseCreateRequire(import.meta.url);",
  },
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});

const allowed = new Set([...SHIPPED, ...OPTIONAL]);
const builtin = new Set(builtinModules);
for (const [file, output] of Object.entries(result.metafile.outputs)) {
  for (const { path, external } of output.imports) {
    if (!external || allowed.has(path) || path.startsWith('node:') || builtin.has(path)) continue;
    console.error(`${file} imports ${path} at run time, which the product does not carry`);
    process.exit(1);
  }
  console.log(`${file}: ${output.bytes} bytes`);
}
