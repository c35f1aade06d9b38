/**
 * A generated `rules` recipe repository for the benchmark: N rules spread
 * over `.yar` files of RULES_PER_FILE rules, one sample per rule that
 * triggers exactly that rule, and a few clean files that trigger nothing,
 * committed to a real git repository with a fixed date.
 *
 * Everything comes from a seeded generator, so the same N and seed always
 * give the same files, the same commit and the same bundle.
 *
 * Why a sample triggers only its own rule: every string starts with a random
 * token and carries the rule's index; every hex string holds the index in
 * three bytes between random ones; filler text is lowercase words and
 * punctuation, so it cannot contain any rule's string.
 *
 * Why every string starts with a random token: a real rule set's strings
 * have little in common, and a shared prefix (say "ACME-" in every string)
 * gives every rule the same atom, so each scan would verify thousands of
 * candidates — a property of that rule set, not of the build.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { RECIPE_FILE, RECIPE_SCHEMA } from '../src/index.js';

export const RULES_PER_FILE = 100;
export const DEFAULT_SEED = 0x9e3779b9;
/** 2024-01-02T03:04:05Z, the commit (and so SOURCE_DATE_EPOCH) of the generated repository. */
export const COMMIT_EPOCH = 1_704_164_645;

export interface GeneratedRepo {
  /** The git repository (its working tree holds the committed files). */
  readonly dir: string;
  readonly commit: string;
  /** Absolute paths of the `.yar` files, in recipe (byte) order. */
  readonly ruleFiles: readonly string[];
  readonly rules: number;
  readonly samples: number;
  readonly cleanFiles: number;
  readonly ruleBytes: number;
  readonly sampleBytes: number;
}

/** mulberry32: a small, fast, seeded 32-bit generator. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = [
  'lorem',
  'ipsum',
  'dolor',
  'sit',
  'amet',
  'consectetur',
  'adipiscing',
  'elit',
  'sed',
  'do',
  'eiusmod',
  'tempor',
  'incididunt',
  'ut',
  'labore',
  'et',
  'dolore',
  'magna',
  'aliqua',
  'enim',
  'ad',
  'minim',
  'veniam',
  'quis',
  'nostrud',
  'exercitation',
  'ullamco',
  'laboris',
  'nisi',
  'aliquip',
  'ex',
  'ea',
  'commodo',
  'consequat',
];
const TOKEN_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

class Gen {
  readonly #next: () => number;
  constructor(seed: number) {
    this.#next = seededRandom(seed);
  }
  int(n: number): number {
    return Math.floor(this.#next() * n);
  }
  byte(): number {
    return this.int(256);
  }
  token(length: number): string {
    let s = '';
    for (let i = 0; i < length; i++) s += TOKEN_ALPHABET[this.int(TOKEN_ALPHABET.length)]!;
    return s;
  }
  /** Lowercase words, spaces, commas and newlines: never part of any rule's string. */
  filler(bytes: number): string {
    let s = '';
    while (s.length < bytes) {
      s += WORDS[this.int(WORDS.length)]!;
      s += this.int(12) === 0 ? ',\n' : ' ';
    }
    return s.slice(0, bytes);
  }
}

const hex = (b: number): string => b.toString(16).toUpperCase().padStart(2, '0');
const hexList = (bytes: readonly number[]): string => bytes.map(hex).join(' ');
const indexBytes = (i: number): number[] => [(i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff];
const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');
const wide = (s: string): Buffer => Buffer.from(s, 'utf16le');

interface GeneratedRule {
  readonly name: string;
  readonly source: string;
  readonly sample: Buffer;
}

/**
 * Rule `i`, in one of five shapes (by `i % 5`) so the set looks like a real
 * one: text strings with modifiers, hex strings with wildcards, jumps and
 * alternatives, a regular expression, `all of them` / `any of them`, string
 * counts, a file-header check and a file-size bound.
 */
function generateRule(g: Gen, i: number, width: number): GeneratedRule {
  const id = String(i).padStart(width, '0');
  const name = `gh_bench_${id}`;
  const kind = i % 5;
  const idx = indexBytes(i);
  const pad = (): Buffer => ascii(` ${g.filler(40 + g.int(120))} `);
  const parts: Buffer[] = [];
  let strings: string[];
  let condition: string;
  let tags: string;
  let header: Buffer = Buffer.alloc(0);
  switch (kind) {
    case 0: {
      const a = `${g.token(12)}${id}`;
      const b = `${g.token(10).toLowerCase()}/${id}/${g.token(6).toLowerCase()}`;
      strings = [`$a = "${a}" ascii`, `$b = "${b}"`];
      condition = 'all of them';
      tags = 'bench text';
      parts.push(ascii(a), pad(), ascii(b));
      break;
    }
    case 1: {
      const s = `${g.token(10).toLowerCase()}_${id}`;
      const fixed = [g.byte(), g.byte(), ...idx, g.byte(), g.byte()];
      const tail = [g.byte(), g.byte()];
      strings = [`$s = "${s}" nocase`, `$h = { ${hexList(fixed)} ?? [2-4] ${hexList(tail)} }`];
      condition = '$s and $h';
      tags = 'bench hex';
      // The nocase string in upper case; the hex string with a 1-byte wildcard and a 3-byte jump.
      parts.push(ascii(s.toUpperCase()), pad());
      parts.push(Buffer.from([...fixed, g.byte(), g.byte(), g.byte(), g.byte(), ...tail]));
      break;
    }
    case 2: {
      const w = `${g.token(10)}-${id}`;
      const h = [g.byte(), g.byte(), ...idx, g.byte(), g.byte(), g.byte()];
      strings = [`$w = "${w}" wide ascii`, `$h = { ${hexList(h)} }`];
      condition = 'any of them and filesize < 1MB';
      tags = 'bench';
      parts.push(wide(w));
      break;
    }
    case 3: {
      const a = `${g.token(10)}${id}`;
      const b = `${g.token(8).toLowerCase()}-${id}`;
      strings = [`$a = "${a}"`, `$b = "${b}" fullword`];
      condition = 'uint16(0) == 0x5A4D and $a and #b >= 2';
      tags = 'bench pe';
      header = ascii('MZ');
      parts.push(ascii(a), pad(), ascii(b), pad(), ascii(b));
      break;
    }
    default: {
      const h = [g.byte(), g.byte(), ...idx];
      const alt = [
        [g.byte(), g.byte()],
        [g.byte(), g.byte()],
      ] as const;
      const last = g.byte();
      const prefix = g.token(8);
      const token = Array.from({ length: 8 }, () => '0123456789abcdef'[g.int(16)]!).join('');
      strings = [
        `$h = { ${hexList(h)} ( ${hexList(alt[0])} | ${hexList(alt[1])} ) ${hex(last)} }`,
        `$r = /${prefix}-${id}-[0-9a-f]{8}\\b/`,
      ];
      condition = '$h and $r';
      tags = 'bench regex';
      parts.push(
        Buffer.from([...h, ...alt[g.int(2)]!, last]),
        pad(),
        ascii(`${prefix}-${id}-${token}`),
      );
      break;
    }
  }
  const source = [
    `rule ${name} : ${tags}`,
    '{',
    '    meta:',
    `        description = "generated benchmark rule ${i} (shape ${kind})"`,
    '        author = "glasshouse bench"',
    '    strings:',
    ...strings.map((s) => `        ${s}`),
    '    condition:',
    `        ${condition}`,
    '}',
    '',
  ].join('\n');
  const sample = Buffer.concat([
    header,
    ascii(`${g.filler(60 + g.int(200))}\n`),
    ...parts,
    ascii(`\n${g.filler(60 + g.int(200))}\n`),
  ]);
  return { name, source, sample };
}

/** Files no rule may fire on: text, random bytes, zeros, an MZ header, near misses. */
function cleanFiles(g: Gen, rules: number, width: number): Record<string, Buffer> {
  const random = Buffer.alloc(64 * 1024);
  for (let i = 0; i < random.length; i++) random[i] = g.byte();
  const beyond = String(rules).padStart(width, '0'); // an index no rule has
  return {
    'notes.txt': ascii(g.filler(8 * 1024)),
    'random.bin': random,
    'zeros.bin': Buffer.alloc(4096),
    'mz-header.bin': Buffer.concat([ascii('MZ'), ascii(g.filler(2048))]),
    'near-miss.txt': ascii(
      [
        `GHB-A-${beyond}-${g.token(10)}`,
        `ghb_b_${beyond}_x`,
        `GHB-W-${beyond}-x`,
        `GHB-M-${beyond}-x ghb-m-${beyond}-cfg ghb-m-${beyond}-cfg`,
        `GHB-R-${beyond}-0123abcd`,
        g.filler(512),
      ].join('\n'),
    ),
  };
}

function git(dir: string, args: readonly string[]): string {
  const date = `@${COMMIT_EPOCH} +0000`;
  return execFileSync('git', ['-c', 'core.hooksPath=/dev/null', ...args], {
    cwd: dir,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_AUTHOR_NAME: 'Bench',
      GIT_AUTHOR_EMAIL: 'bench@example.org',
      GIT_COMMITTER_NAME: 'Bench',
      GIT_COMMITTER_EMAIL: 'bench@example.org',
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_DATE: date,
    },
  }).trim();
}

/**
 * Writes the recipe repository for `rules` rules into `dir` (created) and
 * commits it. The commit is written with `git fast-import` (one pack) rather
 * than `git add` and `git commit`, which store every file and directory as
 * a loose object: for 10,000 samples that was most of the time. The commit
 * (tree, author, date, message) is the same either way. With `worktree:
 * false` only the repository is written (a build fetches from it; the
 * benchmarks' baselines need the files).
 */
export async function generateRulesRepo(
  dir: string,
  options: { rules: number; seed?: number; rulesPerFile?: number; worktree?: boolean },
): Promise<GeneratedRepo> {
  const { rules } = options;
  if (!Number.isSafeInteger(rules) || rules < 1 || rules > 9_999_999) {
    throw new Error(`rule count out of range: ${rules}`);
  }
  const perFile = options.rulesPerFile ?? RULES_PER_FILE;
  const g = new Gen(options.seed ?? DEFAULT_SEED);
  const width = Math.max(5, String(rules).length);
  const fileWidth = Math.max(3, String(Math.ceil(rules / perFile) - 1).length);
  /** Every file by path relative to `dir`, in the order they are generated. */
  const files = new Map<string, Buffer>();
  files.set(
    RECIPE_FILE,
    Buffer.from(
      `${JSON.stringify(
        {
          schema: RECIPE_SCHEMA,
          kind: 'rules',
          name: 'bench-rules',
          version: '1.0.0',
          inputs: { rules: 'rules', samples: 'samples', clean: 'clean' },
        },
        null,
        2,
      )}\n`,
    ),
  );
  const ruleFiles: string[] = [];
  let ruleBytes = 0;
  let sampleBytes = 0;
  for (let first = 0; first < rules; first += perFile) {
    const chunk: string[] = [
      `// Generated benchmark rules ${first}..${Math.min(first + perFile, rules) - 1}; harmless markers only.\n`,
    ];
    for (let i = first; i < Math.min(first + perFile, rules); i++) {
      const rule = generateRule(g, i, width);
      chunk.push(rule.source);
      files.set(`samples/${rule.name}/sample.bin`, rule.sample);
      sampleBytes += rule.sample.length;
    }
    const rel = `rules/bench-${String(first / perFile).padStart(fileWidth, '0')}.yar`;
    const text = Buffer.from(chunk.join('\n'));
    files.set(rel, text);
    ruleFiles.push(join(dir, rel));
    ruleBytes += text.length;
  }
  const clean = cleanFiles(g, rules, width);
  for (const [name, data] of Object.entries(clean)) files.set(`clean/${name}`, data);

  await mkdir(dir, { recursive: true });
  if (options.worktree !== false) {
    const made = new Set<string>();
    for (const [rel, data] of files) {
      const parent = dirname(join(dir, rel));
      if (!made.has(parent)) {
        mkdirSync(parent, { recursive: true });
        made.add(parent);
      }
      writeFileSync(join(dir, rel), data);
    }
  }
  git(dir, ['init', '--quiet', '--initial-branch=main']);
  const commit = commitWithFastImport(dir, files, `bench rules: ${rules} rules\n`);
  if (options.worktree !== false) git(dir, ['read-tree', 'HEAD']); // the index matches the files
  return {
    dir,
    commit,
    ruleFiles,
    rules,
    samples: rules,
    cleanFiles: Object.keys(clean).length,
    ruleBytes,
    sampleBytes,
  };
}

/** One commit on `main` holding `files` (mode 100644), written by `git fast-import`; its id. */
function commitWithFastImport(
  dir: string,
  files: ReadonlyMap<string, Buffer>,
  message: string,
): string {
  const parts: Buffer[] = [];
  const text = (s: string): void => {
    parts.push(Buffer.from(s));
  };
  const paths = [...files.keys()];
  for (const [i, rel] of paths.entries()) {
    const data = files.get(rel) ?? Buffer.alloc(0);
    text(`blob\nmark :${i + 1}\ndata ${data.length}\n`);
    parts.push(data);
    text('\n');
  }
  const who = `Bench <bench@example.org> ${COMMIT_EPOCH} +0000`;
  text(`commit refs/heads/main\nauthor ${who}\ncommitter ${who}\n`);
  text(`data ${Buffer.byteLength(message)}\n${message}`);
  for (const [i, rel] of paths.entries()) text(`M 100644 :${i + 1} ${rel}\n`);
  text('done\n');
  execFileSync('git', ['-c', 'core.hooksPath=/dev/null', 'fast-import', '--quiet', '--done'], {
    cwd: dir,
    input: Buffer.concat(parts),
    stdio: ['pipe', 'ignore', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
    },
  });
  return git(dir, ['rev-parse', 'HEAD']);
}
