import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { compareBytes, type RuleSource } from '@glasshouse/bundle';
import { ReleaseError } from '../../errors.js';
import { DEFAULT_DEBIAN_YARA, detectDebianYara, run } from '../debian-yara.js';
import { checkCase, type ScanCase } from './cases.js';
import type { CrossCheck, RulesJobOptions } from './types.js';

/** Splits `yara` output lines (`RULE PATH`) into a map path → rule names. */
export function parseYaraOutput(stdout: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const space = line.indexOf(' ');
    if (space <= 0)
      throw new ReleaseError('RULES_ENGINE_FAILED', `unexpected yara output: ${line}`);
    const path = line.slice(space + 1);
    const list = out.get(path) ?? [];
    list.push(line.slice(0, space));
    out.set(path, list);
  }
  return out;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Debian's `yarac` compiles the same sources and `yara` scans every sample
 * and clean file where the checkout holds them (`scanRoots`: the samples and
 * clean directories), with its default threads; both must agree with the
 * recipe exactly as YARA-X did.
 */
export async function debianCrossCheck(
  options: RulesJobOptions,
  sources: readonly RuleSource[],
  publicNames: readonly string[],
  cases: readonly ScanCase[],
  scanRoots: readonly string[],
  progress: (message: string) => void,
  signal: AbortSignal,
): Promise<CrossCheck> {
  const mode = options.debianYara ?? 'auto';
  if (mode === 'off') {
    progress('Debian yara cross-check disabled');
    return { engine: 'yara', status: 'disabled' };
  }
  const paths = options.debianYaraPaths ?? DEFAULT_DEBIAN_YARA;
  const version = await detectDebianYara(paths);
  if (version === undefined) {
    if (mode === 'require') {
      throw new ReleaseError(
        'RULES_ENGINE_MISSING',
        'Debian yara/yarac is required but not installed',
      );
    }
    progress('Debian yara/yarac not installed: cross-check skipped (yara-x only)');
    return { engine: 'yara', status: 'not-installed' };
  }
  const work = await mkdtemp(join(options.tmpDir ?? tmpdir(), 'rules-xcheck-'));
  try {
    // Sources keep their bundle paths so yarac's diagnostics name them.
    for (const s of sources) {
      await mkdir(dirname(join(work, s.path)), { recursive: true });
      await writeFile(join(work, s.path), s.text);
    }
    const compiledPath = join(work, 'compiled.yarc');
    const yarac = await run(
      paths.yarac,
      [...sources.map((s) => s.path), 'compiled.yarc'].map((p) => join(work, p)),
      undefined,
      signal,
    );
    if (yarac.code !== 0) {
      const firstError =
        yarac.stderr.split('\n').find((l) => l.includes('error')) ?? yarac.stderr.trim();
      const file = sources.find((s) => firstError.includes(join(work, s.path)))?.path;
      throw new ReleaseError(
        'RULES_ENGINE_DISAGREE',
        `yara-x accepts the rules but Debian yarac ${version} refuses ${file ?? 'them'}: ${firstError.replaceAll(`${work}/`, '')}`,
        {
          evidence: {
            file,
            engine: 'yarac',
            version,
            stderr: yarac.stderr.replaceAll(`${work}/`, ''),
          },
        },
      );
    }
    // Public rule names: those matching an empty file plus those not matching it.
    const empty = join(work, 'empty');
    await writeFile(empty, new Uint8Array());
    const [hit, miss, ...scans] = await Promise.all([
      run(paths.yara, ['-C', compiledPath, empty], undefined, signal),
      run(paths.yara, ['-C', '-n', compiledPath, empty], undefined, signal),
      ...scanRoots.map((root) =>
        run(paths.yara, ['-C', '-r', compiledPath, root], undefined, signal),
      ),
    ]);
    if (hit.code !== 0 || miss.code !== 0) {
      throw new ReleaseError('RULES_ENGINE_FAILED', `yara failed: ${hit.stderr}${miss.stderr}`);
    }
    const reported = [
      ...(parseYaraOutput(hit.stdout).get(empty) ?? []),
      ...(parseYaraOutput(miss.stdout).get(empty) ?? []),
    ];
    const names = [...new Set(reported)].sort(compareBytes);
    if (!sameList(names, publicNames)) {
      const onlyDebian = names.filter((n) => !publicNames.includes(n));
      const onlyX = publicNames.filter((n) => !names.includes(n));
      throw new ReleaseError(
        'RULES_ENGINE_DISAGREE',
        `the engines see different rules: only yara ${version}: [${onlyDebian.join(', ')}], only yara-x: [${onlyX.join(', ')}]`,
        { evidence: { onlyDebian, onlyYaraX: onlyX } },
      );
    }
    const matches = new Map<string, string[]>();
    for (const scan of scans) {
      if (scan.code !== 0)
        throw new ReleaseError('RULES_ENGINE_FAILED', `yara failed: ${scan.stderr}`);
      for (const [path, rules] of parseYaraOutput(scan.stdout)) matches.set(path, rules);
    }
    const known = new Set(cases.map((c) => c.abs));
    const stray = [...matches.keys()].find((p) => !known.has(p));
    if (stray !== undefined) {
      // Only the files read for the build may be scanned; anything else means the tree changed.
      throw new ReleaseError('RULES_ENGINE_FAILED', `yara reports a file the build did not read`, {
        evidence: { path: stray },
      });
    }
    for (const c of cases)
      checkCase(c, (matches.get(c.abs) ?? []).sort(compareBytes), `yara ${version}`);
    progress(`Debian yara ${version}: compiled and passed ${cases.length} tests`);
    return { engine: 'yara', status: 'passed', version };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
