import { crc32, deflateRawSync, gunzipSync } from 'node:zlib';
import { sha256Hex } from '@glasshouse/attest';
import { matchedRuleNames, type RuleSource, type ScanResult, type YaraEngine } from './engine.js';
import { BundleError } from './errors.js';
import { MANIFEST_PATH, parseManifest, type RulesManifest, type SelfTestCase } from './manifest.js';
import { DEFAULT_TAR_LIMITS, readTar, type TarFile, type TarLimits } from './tar.js';

/**
 * Gzip (RFC 1952) with a fixed header: no name, MTIME 0, XFL 0, OS 255
 * ("unknown"), so the header never depends on the host. The deflate stream is
 * Node's bundled zlib at level 9: identical across runs and machines on the
 * same Node release, but a different zlib may compress differently, so a
 * reproducible pipeline pins Node (or compares the uncompressed tar).
 */
export function gzipDeterministic(data: Uint8Array): Uint8Array {
  const body = deflateRawSync(data, { level: 9 });
  const out = new Uint8Array(10 + body.length + 8);
  out.set([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff], 0);
  out.set(body, 10);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(10 + body.length, crc32(data), true);
  view.setUint32(14 + body.length, data.length >>> 0, true);
  return out;
}

/**
 * The files of a ustar archive, gunzipped first when it starts with the gzip
 * magic. Inflating stops at `limits.maxTotalBytes` (a decompression bomb is
 * `TAR_TOO_LARGE`, not a full memory); bad gzip is `BUNDLE_BAD_GZIP`; the
 * tar is read by the strict `readTar`.
 */
export function readTarArchive(
  bytes: Uint8Array,
  limits: TarLimits = DEFAULT_TAR_LIMITS,
): TarFile[] {
  let tar = bytes;
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      tar = gunzipSync(bytes, { maxOutputLength: limits.maxTotalBytes });
    } catch (cause) {
      const code = (cause as { code?: unknown }).code;
      if (code === 'ERR_BUFFER_TOO_LARGE') {
        throw new BundleError('TAR_TOO_LARGE', 'the archive inflates past the size limit', {
          cause,
        });
      }
      throw new BundleError('BUNDLE_BAD_GZIP', 'the archive is not valid gzip', { cause });
    }
  }
  return readTar(tar, limits);
}

/** One bundle, read and checked against its manifest. */
export interface BundleContents {
  readonly manifest: RulesManifest;
  /** Every file but `manifest.json`, by bundle path. */
  readonly files: ReadonlyMap<string, Uint8Array>;
}

/**
 * Reads a rules bundle (a ustar archive, optionally gzip-compressed): bounded
 * tar parsing, then the manifest, then every file against its digest. Any
 * file missing from the manifest, listed but absent, or with another digest
 * is refused. Pure: bytes in, value out or a `BundleError`.
 */
export function readBundle(
  bytes: Uint8Array,
  limits: TarLimits = DEFAULT_TAR_LIMITS,
): BundleContents {
  const entries = readTarArchive(bytes, limits);
  const manifestEntry = entries.find((e) => e.path === MANIFEST_PATH);
  if (manifestEntry === undefined)
    throw new BundleError('MANIFEST_INVALID', 'bundle has no manifest.json');
  const manifest = parseManifest(manifestEntry.data);
  const files = new Map<string, Uint8Array>();
  for (const entry of entries) {
    if (entry.path === MANIFEST_PATH) continue;
    const want = manifest.files[entry.path];
    if (want === undefined) {
      throw new BundleError('MANIFEST_DIGEST_MISMATCH', `${entry.path} is not in the manifest`, {
        evidence: { path: entry.path },
      });
    }
    const got = sha256Hex(entry.data);
    if (got !== want) {
      throw new BundleError('MANIFEST_DIGEST_MISMATCH', `${entry.path} does not match its digest`, {
        evidence: { path: entry.path, want, got },
      });
    }
    files.set(entry.path, entry.data);
  }
  for (const path of Object.keys(manifest.files)) {
    if (!files.has(path)) {
      throw new BundleError('MANIFEST_DIGEST_MISMATCH', `${path} is listed but missing`, {
        evidence: { path },
      });
    }
  }
  return { manifest, files };
}

export interface SelfTestResult {
  readonly cases: number;
  readonly warnings: readonly string[];
  /** The engine that ran the self-test. */
  readonly engine: { readonly name: string; readonly version: string; readonly package: string };
  /** The version of the same engine the build tested with (the manifest's `engines`), if recorded. */
  readonly builtWith: string | undefined;
  /** True when this endpoint runs the engine version the build tested with. */
  readonly sameEngineVersion: boolean;
}

/** The manifest's rule sources, in manifest order, decoded as UTF-8. */
export function selfTestSources(
  manifest: RulesManifest,
  files: ReadonlyMap<string, Uint8Array>,
): RuleSource[] {
  return manifest.rules.map((path) => {
    const data = files.get(path);
    if (data === undefined)
      throw new BundleError('MANIFEST_INVALID', `rule source ${path} missing`);
    try {
      return { path, text: new TextDecoder('utf-8', { fatal: true }).decode(data) };
    } catch (cause) {
      throw new BundleError('SELFTEST_FAILED', `rule source ${path} is not UTF-8`, { cause });
    }
  });
}

/**
 * One self-test case: the scan must have finished and matched exactly the
 * expected rule names. Throws `SELFTEST_FAILED` naming the file and the rules.
 */
export function checkSelfTestCase(c: SelfTestCase, result: ScanResult): void {
  if (result.status === 'timeout') {
    throw new BundleError(
      'SELFTEST_FAILED',
      `self-test: scanning ${c.sample} timed out after ${result.timeoutMs} ms`,
      { evidence: { sample: c.sample, timeoutMs: result.timeoutMs } },
    );
  }
  const got = matchedRuleNames(result);
  const want = [...c.expect].sort();
  if (got.join('\n') !== want.join('\n')) {
    throw new BundleError(
      'SELFTEST_FAILED',
      `self-test: ${c.sample} matched [${got.join(', ')}], expected [${want.join(', ')}]`,
      { evidence: { sample: c.sample, expect: want, got } },
    );
  }
}

/** The result of a self-test that passed with `engine`. */
export function selfTestResult(
  manifest: RulesManifest,
  engine: Pick<YaraEngine, 'name' | 'version' | 'package'>,
  warnings: readonly string[],
): SelfTestResult {
  const builtWith = manifest.engines[engine.name];
  return {
    cases: manifest.selfTest.length,
    warnings: [...warnings],
    engine: { name: engine.name, version: engine.version, package: engine.package },
    builtWith,
    sameEngineVersion: builtWith === engine.version,
  };
}

/**
 * The self-test an endpoint runs after installing a bundle: compile the
 * manifest's rules with `engine` once, scan every case, and require exactly
 * the expected rule names. Throws `SELFTEST_FAILED` naming the file and the
 * rules (a scan that times out fails too).
 */
export function runSelfTest(bundle: BundleContents, engine: YaraEngine): SelfTestResult {
  const rules = engine.compile(selfTestSources(bundle.manifest, bundle.files));
  try {
    for (const c of bundle.manifest.selfTest) {
      const data = bundle.files.get(c.sample);
      if (data === undefined)
        throw new BundleError('MANIFEST_INVALID', `self-test file ${c.sample} missing`);
      checkSelfTestCase(c, rules.scan(data));
    }
  } finally {
    rules.free();
  }
  return selfTestResult(bundle.manifest, engine, rules.warnings);
}
