/**
 * A generated file tree to scan: deterministic (seeded) content of mixed
 * kinds and sizes, a few files carrying a rule's sample so that the scan
 * has something to find.
 *
 * Sizes: 80% small (256 B–16 KiB), 17% medium (16–512 KiB), 3% large
 * (1–8 MiB), drawn until the total reaches the target. Kinds: text (slices
 * of a pool of lowercase words, like documents and source), random bytes
 * (like compressed data), sparse binary (mostly zeros with random runs,
 * like executables and images), and PE-like files (an `MZ` header, then
 * sparse binary) — the generated rules have a shape that checks for `MZ`.
 * About 1 file in 50 is "infected": a rule's sample at offset 0 followed by
 * text, kept under 1 MB (one rule shape has `filesize < 1MB`). Text never
 * contains a rule's string (the rule generator guarantees it), so the
 * infected files are exactly the expected detections.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { seededRandom } from '../../release/bench/generate-rules.js';

export interface TreeSample {
  readonly rule: string;
  readonly data: Uint8Array;
}

export interface GeneratedTree {
  readonly dir: string;
  readonly files: number;
  readonly bytes: number;
  /** Absolute path → the rule it must trigger (and only it). */
  readonly expected: ReadonlyMap<string, string>;
}

const WORDS =
  'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea commodo consequat'.split(
    ' ',
  );
const FILES_PER_DIR = 40;
const INFECTED_EVERY = 50;

class Gen {
  readonly #next: () => number;
  constructor(seed: number) {
    this.#next = seededRandom(seed);
  }
  int(n: number): number {
    return Math.floor(this.#next() * n);
  }
  between(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  /** Random bytes, four at a time. */
  random(n: number): Buffer {
    const words = new Uint32Array(Math.ceil(n / 4));
    for (let i = 0; i < words.length; i++) words[i] = Math.floor(this.#next() * 4294967296);
    return Buffer.from(words.buffer, 0, n);
  }
}

/** A pool of lowercase text; text files are slices of it (generating words per byte is slow). */
function textPool(g: Gen, bytes: number): Buffer {
  const parts: string[] = [];
  let n = 0;
  while (n < bytes) {
    const w = WORDS[g.int(WORDS.length)]!;
    const sep = g.int(12) === 0 ? ',\n' : ' ';
    parts.push(w, sep);
    n += w.length + sep.length;
  }
  return Buffer.from(parts.join('').slice(0, bytes), 'latin1');
}

function text(g: Gen, pool: Buffer, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  let at = 0;
  while (at < n) {
    const start = g.int(pool.length - 1);
    at += pool.copy(out, at, start, Math.min(pool.length, start + (n - at)));
  }
  return out;
}

function sparse(g: Gen, n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let at = g.int(512); at < n; at += 256 + g.int(4096)) {
    g.random(Math.min(32 + g.int(480), n - at)).copy(out, at);
  }
  return out;
}

function size(g: Gen): number {
  const p = g.int(100);
  if (p < 80) return g.between(256, 16 * 1024);
  if (p < 97) return g.between(16 * 1024, 512 * 1024);
  return g.between(1024 * 1024, 8 * 1024 * 1024);
}

/** Writes a tree of about `bytes` bytes into `dir`. `samples` are the rules' samples to plant. */
export async function generateTree(
  dir: string,
  options: { bytes: number; samples: readonly TreeSample[]; seed?: number },
): Promise<GeneratedTree> {
  const g = new Gen(options.seed ?? 0x5eed1234);
  const pool = textPool(g, 1024 * 1024);
  const expected = new Map<string, string>();
  let files = 0;
  let bytes = 0;
  let nextSample = 0;
  let subdir = '';
  while (bytes < options.bytes) {
    if (files % FILES_PER_DIR === 0) {
      const n = files / FILES_PER_DIR;
      subdir = join(dir, `d${String(n % 16).padStart(2, '0')}`, `s${String(n).padStart(4, '0')}`);
      await mkdir(subdir, { recursive: true });
    }
    const infected = files % INFECTED_EVERY === INFECTED_EVERY - 1 && options.samples.length > 0;
    let data: Buffer;
    let name: string;
    if (infected) {
      // Spread the planted samples over the whole rule set.
      const sample = options.samples[(nextSample * 7919) % options.samples.length]!;
      nextSample++;
      const n = Math.min(size(g), 900 * 1024);
      data = Buffer.concat([sample.data, Buffer.from('\n'), text(g, pool, n)]);
      name = `f${String(files).padStart(6, '0')}.dat`;
      expected.set(join(subdir, name), sample.rule);
    } else {
      const n = size(g);
      const kind = g.int(10);
      if (kind < 4) {
        data = text(g, pool, n);
        name = `f${String(files).padStart(6, '0')}.txt`;
      } else if (kind < 6) {
        data = g.random(n);
        name = `f${String(files).padStart(6, '0')}.gz`;
      } else if (kind < 8) {
        data = sparse(g, n);
        name = `f${String(files).padStart(6, '0')}.bin`;
      } else {
        data = sparse(g, n);
        data.write('MZ', 0, 'latin1');
        name = `f${String(files).padStart(6, '0')}.exe`;
      }
    }
    await writeFile(join(subdir, name), data);
    files++;
    bytes += data.length;
  }
  return { dir, files, bytes, expected };
}
