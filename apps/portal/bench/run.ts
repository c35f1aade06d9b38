/**
 * `npm run bench` in apps/portal: the reviewer's browser beside Node, same
 * packages, same run. In headless Chromium (Debian's /usr/bin/chromium)
 * and in this Node process: verify a checkpoint with its cosignatures
 * (one log signature, three witnesses, quorum two of three) and 1,000
 * inclusion proofs in a 1,000,000-entry log. And the weight of the first
 * page's JavaScript, gzipped, from the built portal (dist/).
 *
 *   npm run bench [-- --runs N]
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import {
  cosignatureSigner,
  encodeBase64,
  formatCheckpoint,
  generateCosignerKey,
  generateSignerKey,
  hashChildren,
  hashLeaf,
  inclusionProof,
  parseSignerKey,
  signNote,
  type HashReader,
} from '@glasshouse/tlog';
import { engine } from '@glasshouse/crypto';
import { runWork, type BenchInput, type BenchTimes } from './work.js';

const CHROMIUM = '/usr/bin/chromium';
const SIZE = 1_000_000;
const PROOFS = 1_000;
const FIRST_PAGE_TARGET_KB = 300;
const here = import.meta.dirname;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}

/** A 1,000,000-entry tree, every perfect subtree kept (levels[l][i] is node (l, i)). */
function buildTree(): { levels: Uint8Array[][]; root: Uint8Array } {
  const leaves: Uint8Array[] = [];
  for (let i = 0; i < SIZE; i++) leaves.push(hashLeaf(new TextEncoder().encode(`entry ${i}`)));
  const levels = [leaves];
  for (;;) {
    const below = levels[levels.length - 1]!;
    if (below.length < 2) break;
    const up: Uint8Array[] = [];
    for (let i = 0; i + 1 < below.length; i += 2) up.push(hashChildren(below[i]!, below[i + 1]!));
    levels.push(up);
  }
  // RFC 9162 §2.1.1: the root of a size that is not a power of two, folded from the right.
  let root: Uint8Array | undefined;
  let start = SIZE;
  for (let level = 0; start > 0; level++) {
    if (start & 1) {
      const node = levels[level]![start - 1]!;
      root = root === undefined ? node : hashChildren(node, root);
    }
    start >>= 1;
  }
  return { levels, root: root! };
}

async function makeInput(): Promise<BenchInput> {
  const t0 = performance.now();
  const { levels, root } = buildTree();
  const read: HashReader = (ids) => ids.map((n) => levels[n.level]![Number(n.index)]!);
  const proofs: { index: string; leafHash: string; proof: string[] }[] = [];
  for (let k = 0; k < PROOFS; k++) {
    // Spread over the whole log, deterministic.
    const index = BigInt((k * 999_983) % SIZE);
    const proof = await inclusionProof(index, BigInt(SIZE), read);
    proofs.push({
      index: index.toString(),
      leafHash: encodeBase64(levels[0]![Number(index)]!),
      proof: proof.map(encodeBase64),
    });
  }
  const log = generateSignerKey('bench.example/log');
  const now = BigInt(Math.floor(Date.now() / 1000));
  const witnesses = [1, 2, 3].map((n) => generateCosignerKey(`bench.example/witness-${n}`));
  const text = formatCheckpoint({
    origin: 'bench.example/log',
    size: BigInt(SIZE),
    rootHash: root,
    extensions: [],
  });
  const note = signNote(text, [
    parseSignerKey(log.signerKey),
    ...witnesses.map((w) => cosignatureSigner(w.signerKey, () => now)),
  ]);
  const policy = [
    `log ${log.verifierKey}`,
    ...witnesses.map((w, i) => `witness w${i + 1} ${w.verifierKey}`),
    'group two-of-three 2 w1 w2 w3',
    'quorum two-of-three',
    '',
  ].join('\n');
  process.stderr.write(
    `bench: ${SIZE.toLocaleString('en')}-entry tree and ${PROOFS} proofs built in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
  );
  return {
    note,
    policy,
    now: now.toString(),
    size: String(SIZE),
    root: encodeBase64(root),
    proofs,
  };
}

async function inBrowser(
  input: BenchInput,
  runs: number,
): Promise<{ times: BenchTimes; version: string }> {
  const bundle = await build({
    entryPoints: [join(here, 'browser-entry.ts')],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    write: false,
    logLevel: 'silent',
  });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage();
    await page.addScriptTag({ content: bundle.outputFiles[0]!.text });
    const times = await page.evaluate(
      ([i, r]) => (globalThis as unknown as { benchWork: typeof runWork }).benchWork(i, r),
      [input, runs] as const,
    );
    return { times, version: browser.version() };
  } finally {
    await browser.close();
  }
}

/** The first page's JavaScript: every script index.html loads, gzipped (level 9, as a server would). */
function firstPageWeight(): { files: string[]; raw: number; gzipped: number } {
  const dist = join(here, '..', 'dist');
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const files = [...html.matchAll(/<script[^>]+src="\.?\/?([^"]+)"/g)].map((m) => m[1]!);
  let raw = 0;
  let gzipped = 0;
  for (const f of files) {
    const bytes = readFileSync(join(dist, f));
    raw += bytes.length;
    gzipped += gzipSync(bytes, { level: 9 }).length;
  }
  return { files, raw, gzipped };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const ms = (x: number): string => `${x.toFixed(2)} ms`;

async function main(): Promise<void> {
  const runs = arg('--runs', 7);
  if (!existsSync(CHROMIUM)) {
    process.stderr.write(`bench: ${CHROMIUM} is not installed (apt-get install -y chromium)\n`);
    process.exit(1);
  }
  if (!existsSync(join(here, '..', 'dist', 'index.html'))) {
    process.stderr.write('bench: the portal is not built: npm run build -w @glasshouse/portal\n');
    process.exit(1);
  }
  const input = await makeInput();
  process.stderr.write(`bench: Node (${engine}), ${runs} runs\n`);
  const node = runWork(input, runs);
  process.stderr.write(`bench: headless Chromium (browser engine), ${runs} runs\n`);
  const { times: web, version } = await inBrowser(input, runs);
  const rows: [string, string, string, string][] = [
    [
      'checkpoint + 3 cosignatures (quorum 2 of 3)',
      ms(median(node.checkpointMs)),
      ms(median(web.checkpointMs)),
      `${(median(web.checkpointMs) / median(node.checkpointMs)).toFixed(2)}×`,
    ],
    [
      `${PROOFS} inclusion proofs, size ${SIZE.toLocaleString('en')}`,
      ms(median(node.inclusionMs)),
      ms(median(web.inclusionMs)),
      `${(median(web.inclusionMs) / median(node.inclusionMs)).toFixed(2)}×`,
    ],
  ];
  const both = (t: BenchTimes): number => median(t.checkpointMs) + median(t.inclusionMs);
  rows.push([
    'together',
    ms(both(node)),
    ms(both(web)),
    `${(both(web) / both(node)).toFixed(2)}× (target ≤ 2×)`,
  ]);
  const weight = firstPageWeight();
  const load = (await import('node:os')).loadavg()[0]!.toFixed(1);
  console.log(
    `Node ${process.version} (${engine}) beside Chromium ${version} (browser engine), median of ${runs} runs, load ${load}`,
  );
  console.log('');
  console.log('| work | Node | Chromium | browser / Node |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log('');
  console.log(
    `first page JavaScript: ${(weight.gzipped / 1024).toFixed(1)} KiB gzipped (${(weight.raw / 1024).toFixed(1)} KiB raw, ${weight.files.join(', ')}); target ≤ ${FIRST_PAGE_TARGET_KB} KB`,
  );
}

await main();
