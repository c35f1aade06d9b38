#!/usr/bin/env node
// Import-graph check, run by `npm run lint`.
//  (a) a workspace package may import only packages listed BEFORE it in the root
//      package.json "workspaces" (that order is the layering, dependencies first);
//  (b) no package (src, test, bench) imports anything from apps/;
//  (c) no import cycle between the modules of one package's src (relative
//      imports, `import type` included).
// Only Node built-ins; a regex over import/export-from and dynamic import().
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// Known exceptions, each with the reason it is allowed. Format:
// (a) "from-package -> to-package"; (c) the cycle's modules joined by " -> ".
const ALLOW = new Set([]);

const workspaces = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).workspaces;
const layer = new Map(); // package name -> { index, dir }
workspaces.forEach((dir, index) => {
  const name = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')).name;
  layer.set(name, { index, dir });
});

function tsFiles(dir) {
  const out = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (entry === 'node_modules' || entry === 'dist') continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...tsFiles(path));
    else if (/\.(c|m)?tsx?$/.test(entry) && !entry.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const IMPORT_RE =
  /(?:^|[\s;}])(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g;

function specifiers(file) {
  const text = readFileSync(file, 'utf8');
  const out = [];
  for (const m of text.matchAll(IMPORT_RE)) out.push(m[1] ?? m[2]);
  return out;
}

function packageOf(spec) {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function resolveRelative(from, spec) {
  const base = resolve(dirname(from), spec);
  const candidates = [
    base.replace(/\.js$/, '.ts'),
    base.replace(/\.mjs$/, '.mts'),
    base,
    `${base}.ts`,
    join(base, 'index.ts'),
  ];
  for (const c of candidates) {
    try {
      if (statSync(c).isFile()) return c;
    } catch {
      // try the next candidate
    }
  }
  return undefined;
}

const problems = [];
const rel = (p) => relative(root, p).split(sep).join('/');
const appsDirs = workspaces.filter((d) => d.startsWith('apps/')).map((d) => join(root, d));

for (const [name, { index, dir }] of layer) {
  if (dir.startsWith('apps/')) continue;
  const pkgRoot = join(root, dir);
  const graph = new Map(); // src module -> src modules it imports
  for (const file of tsFiles(pkgRoot)) {
    const inSrc = file.startsWith(join(pkgRoot, 'src') + sep);
    const edges = [];
    for (const spec of specifiers(file)) {
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        if (appsDirs.some((a) => target === a || target.startsWith(a + sep))) {
          problems.push(`(b) ${rel(file)} imports from apps/: '${spec}'`);
          continue;
        }
        if (inSrc) {
          const to = resolveRelative(file, spec);
          if (to && to.startsWith(join(pkgRoot, 'src') + sep)) edges.push(to);
        }
        continue;
      }
      const target = layer.get(packageOf(spec));
      if (!target || packageOf(spec) === name) continue;
      if (target.dir.startsWith('apps/')) {
        problems.push(`(b) ${rel(file)} imports from apps/: '${spec}'`);
      } else if (target.index > index && !ALLOW.has(`${name} -> ${packageOf(spec)}`)) {
        problems.push(
          `(a) ${rel(file)} imports ${packageOf(spec)}, which comes after ${name} in the workspaces order`,
        );
      }
    }
    if (inSrc) graph.set(file, edges);
  }
  for (const cycle of findCycles(graph)) {
    const key = cycle.map(rel).join(' -> ');
    if (!ALLOW.has(key)) problems.push(`(c) import cycle in ${name}: ${key}`);
  }
}

// One cycle per strongly connected component (Tarjan), reported as a path.
function findCycles(graph) {
  let next = 0;
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const cycles = [];
  const visit = (v) => {
    index.set(v, next);
    low.set(v, next);
    next += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v), index.get(w)));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      const selfLoop = (graph.get(v) ?? []).includes(v);
      if (component.length > 1 || selfLoop) cycles.push(cyclePath(graph, new Set(component)));
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return cycles;
}

function cyclePath(graph, members) {
  const start = [...members].sort()[0];
  const prev = new Map([[start, undefined]]);
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift();
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [];
        for (let x = v; x !== undefined; x = prev.get(x)) path.unshift(x);
        return [...path, start];
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

if (problems.length > 0) {
  for (const p of problems) console.error(p);
  console.error(`check-imports: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log('check-imports: ok');
