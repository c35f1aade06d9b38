/**
 * The active rules: the installed bundle's rule files, checked against the
 * manifest's digests and compiled once for scanning.
 */
import type { Stats } from 'node:fs';
import { lstat, readFile, realpath } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { sha256Hex } from '@glasshouse/attest';
import {
  MANIFEST_PATH,
  parseManifest,
  requireScanTimeout,
  resolveScanLimits,
  selectYaraEngine,
  type CompiledRules,
  type RuleSource,
  type RulesManifest,
  type ScanLimits,
  type YaraEngine,
} from '@glasshouse/bundle';
import { ScanError } from './errors.js';
import { errnoOf } from './files.js';

/** Where install keeps the rule slots, relative to the agent directory. */
export const RULES_SLOTS_DIR = join('rules', 'slots');
/** The symlink to the active slot, relative to the agent directory. */
export const RULES_ACTIVE_LINK = join('rules', 'active');

/** Bounds on what `loadActiveRules` reads. */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
export const MAX_RULE_FILE_BYTES = 8 * 1024 * 1024;
export const MAX_RULES_TOTAL_BYTES = 64 * 1024 * 1024;

/** The compiled rules of the active slot. Call `free()` when done. */
export interface ActiveRules {
  /** Absolute, resolved path of the active slot directory. */
  readonly slotDir: string;
  /** The slot's name (its directory name under `rules/slots`). */
  readonly slot: string;
  readonly manifest: RulesManifest;
  /** SHA-256 of the slot's `manifest.json` bytes, lowercase hex. */
  readonly manifestSha256: string;
  readonly rules: CompiledRules;
  /** The limits `rules` applies to every scan (a `ScanPool` gives its workers the same). */
  readonly limits: ScanLimits;
  readonly warnings: readonly string[];
  /** The engine that compiled `rules`. */
  readonly engine: YaraEngine;
  /** Set when the engine is the WebAssembly fallback: print it once. */
  readonly notice: string | undefined;
  free(): void;
}

export interface LoadActiveRulesOptions {
  /**
   * When the installer recorded the SHA-256 of the manifest it installed,
   * pass it here: a different manifest is `AGENT_RULES_TAMPERED`.
   */
  readonly manifestSha256?: string;
  /** The engine that compiles the rules (default: `selectYaraEngine('auto')`, native where it loads). */
  readonly engine?: YaraEngine;
  /**
   * Scan with an engine that cannot time out a scan (the WebAssembly
   * fallback). Default false: loading fails with `AGENT_ENGINE_REFUSED`.
   */
  readonly allowEngineWithoutTimeout?: boolean;
  /** Per-file scan limit; a file that hits it is reported as `timeout`. Default 10 s. */
  readonly scanTimeoutMs?: number;
}

/** A bundle path as the rules build writes them: portable segments, no `.` or `..`. */
const BUNDLE_PATH = /^[A-Za-z0-9_][A-Za-z0-9._-]*(?:\/[A-Za-z0-9_][A-Za-z0-9._-]*)*$/;

/** Reads a regular file (no symlink) of at most `max` bytes, or throws a ScanError. */
async function readBounded(path: string, shown: string, max: number): Promise<Buffer> {
  let st: Stats;
  try {
    st = await lstat(path);
  } catch (cause) {
    if (errnoOf(cause) === 'ENOENT') {
      throw new ScanError('AGENT_RULES_TAMPERED', `${shown} is missing from the active slot`, {
        cause,
        evidence: { path: shown },
      });
    }
    throw new ScanError('AGENT_RULES_IO', `cannot read ${shown}`, { cause, evidence: { path } });
  }
  if (!st.isFile()) {
    throw new ScanError('AGENT_RULES_INVALID', `${shown} is not a regular file`, {
      evidence: { path: shown },
    });
  }
  if (st.size > max) {
    throw new ScanError('AGENT_RULES_INVALID', `${shown} is larger than ${max} bytes`, {
      evidence: { path: shown, size: st.size, max },
    });
  }
  try {
    return await readFile(path);
  } catch (cause) {
    throw new ScanError('AGENT_RULES_IO', `cannot read ${shown}`, { cause, evidence: { path } });
  }
}

/**
 * Loads the active rules of the agent directory `dir`: resolve
 * `rules/active` (a symlink into `rules/slots/`), parse its `manifest.json`,
 * read every rule file the manifest lists and check it against the
 * manifest's SHA-256, then compile them in manifest order with yara-x.
 *
 * Throws `AGENT_NO_ACTIVE_RULES` when nothing is installed,
 * `AGENT_RULES_TAMPERED` when a rule file differs from its digest, and
 * `AGENT_RULES_INVALID` for anything else out of shape.
 */
export async function loadActiveRules(
  dir: string,
  options: LoadActiveRulesOptions = {},
): Promise<ActiveRules> {
  const link = join(dir, RULES_ACTIVE_LINK);
  let linkStat: Stats;
  try {
    linkStat = await lstat(link);
  } catch (cause) {
    if (errnoOf(cause) === 'ENOENT' || errnoOf(cause) === 'ENOTDIR') {
      throw new ScanError(
        'AGENT_NO_ACTIVE_RULES',
        `no active rules in ${dir}: run \`glasshouse agent update\` first`,
        { cause, evidence: { dir } },
      );
    }
    throw new ScanError('AGENT_RULES_IO', `cannot read ${link}`, { cause, evidence: { dir } });
  }
  if (!linkStat.isSymbolicLink()) {
    throw new ScanError('AGENT_RULES_INVALID', `${link} is not a symlink to a rules slot`, {
      evidence: { path: link },
    });
  }
  let slotDir: string;
  let slotsDir: string;
  try {
    slotDir = await realpath(link);
    slotsDir = await realpath(join(dir, RULES_SLOTS_DIR));
  } catch (cause) {
    if (errnoOf(cause) === 'ENOENT') {
      throw new ScanError(
        'AGENT_NO_ACTIVE_RULES',
        `${link} points to a missing slot: run \`glasshouse agent update\` first`,
        { cause, evidence: { path: link } },
      );
    }
    throw new ScanError('AGENT_RULES_IO', `cannot resolve ${link}`, { cause, evidence: { dir } });
  }
  // The link must name a slot directly under rules/slots, never a path elsewhere.
  const slot = relative(slotsDir, slotDir);
  if (slot === '' || slot.includes(sep) || slot.startsWith('..')) {
    throw new ScanError('AGENT_RULES_INVALID', `${link} does not point into ${RULES_SLOTS_DIR}`, {
      evidence: { path: link, target: slotDir },
    });
  }

  const manifestBytes = await readBounded(
    join(slotDir, MANIFEST_PATH),
    MANIFEST_PATH,
    MAX_MANIFEST_BYTES,
  );
  const manifestSha256 = sha256Hex(manifestBytes);
  if (options.manifestSha256 !== undefined && options.manifestSha256 !== manifestSha256) {
    throw new ScanError(
      'AGENT_RULES_TAMPERED',
      `${MANIFEST_PATH} of slot ${slot} is not the one installed`,
      { evidence: { slot, want: options.manifestSha256, got: manifestSha256 } },
    );
  }
  let manifest: RulesManifest;
  try {
    manifest = parseManifest(manifestBytes);
  } catch (cause) {
    throw new ScanError('AGENT_RULES_INVALID', `${MANIFEST_PATH} of slot ${slot} is invalid`, {
      cause,
      evidence: { slot },
    });
  }

  const sources: RuleSource[] = [];
  let total = 0;
  for (const path of manifest.rules) {
    if (!BUNDLE_PATH.test(path)) {
      throw new ScanError('AGENT_RULES_INVALID', `manifest lists a bad rule path ${path}`, {
        evidence: { path },
      });
    }
    const want = manifest.files[path];
    if (want === undefined) {
      // parseManifest already requires this; kept so the check reads whole here.
      throw new ScanError('AGENT_RULES_INVALID', `${path} has no digest in the manifest`, {
        evidence: { path },
      });
    }
    const data = await readBounded(join(slotDir, ...path.split('/')), path, MAX_RULE_FILE_BYTES);
    total += data.length;
    if (total > MAX_RULES_TOTAL_BYTES) {
      throw new ScanError(
        'AGENT_RULES_INVALID',
        `rule files exceed ${MAX_RULES_TOTAL_BYTES} bytes`,
        {
          evidence: { max: MAX_RULES_TOTAL_BYTES },
        },
      );
    }
    const got = sha256Hex(data);
    if (got !== want) {
      throw new ScanError('AGENT_RULES_TAMPERED', `${path} does not match its manifest digest`, {
        evidence: { slot, path, want, got },
      });
    }
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(data);
    } catch (cause) {
      throw new ScanError('AGENT_RULES_INVALID', `${path} is not UTF-8`, {
        cause,
        evidence: { path },
      });
    }
    sources.push({ path, text });
  }
  if (sources.length === 0) {
    throw new ScanError('AGENT_RULES_INVALID', `slot ${slot} lists no rule files`, {
      evidence: { slot },
    });
  }

  let engine: YaraEngine;
  let notice: string | undefined;
  try {
    ({ engine, notice } =
      options.engine === undefined
        ? selectYaraEngine('auto')
        : { engine: options.engine, notice: undefined });
    requireScanTimeout(engine, options.allowEngineWithoutTimeout === true);
  } catch (cause) {
    throw new ScanError('AGENT_ENGINE_REFUSED', 'no usable YARA engine', { cause });
  }
  let compiled: CompiledRules;
  let limits: ScanLimits;
  try {
    limits = resolveScanLimits(
      options.scanTimeoutMs === undefined ? {} : { timeoutMs: options.scanTimeoutMs },
    );
    compiled = engine.compile(sources, limits);
  } catch (cause) {
    throw new ScanError('AGENT_RULES_INVALID', `the rules of slot ${slot} do not compile`, {
      cause,
      evidence: { slot },
    });
  }
  return {
    slotDir,
    slot,
    manifest,
    manifestSha256,
    rules: compiled,
    limits,
    warnings: compiled.warnings,
    engine,
    notice,
    free: () => {
      compiled.free();
    },
  };
}
