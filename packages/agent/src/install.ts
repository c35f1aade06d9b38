/**
 * Installing a rules bundle: unpack it into a staging slot, run the
 * manifest's self-test on the files as installed, then switch the active
 * symlink atomically. Until the switch the previous rules stay active; a
 * crash leaves either the old or the new link.
 *
 *     DIR/rules/slots/<name>-<version>-<sha256[0:12]>/
 *         bundle.tar                the bundle as downloaded
 *         manifest.json             and every file at its manifest path
 *     DIR/rules/active -> slots/<slot>
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, readlink, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { hasCode } from '@glasshouse/errors';
import { sha256Hex } from '@glasshouse/attest';
import {
  checkSelfTestCase,
  EngineProcess,
  MANIFEST_PATH,
  parseManifest,
  readBundle,
  selfTestResult,
  selfTestSources,
  serializeManifest,
  scanProcessesFor,
  selectYaraEngine,
  type BundleContents,
  type RulesManifest,
  type SelfTestResult,
  type YaraEngine,
} from '@glasshouse/bundle';
import { syncDir } from '@glasshouse/durable';
import { agentPaths, type AgentPaths } from './config.js';
import { AgentError } from './errors.js';
import { replaceSymlink } from './files.js';

/** Files written or read at the same time while staging and self-testing. */
const WRITE_BATCH = 32;

/** The downloaded bundle's file name inside a slot. */
export const BUNDLE_FILE = 'bundle.tar';

export interface BundleRef {
  readonly name: string;
  readonly version: string;
  readonly sha256: string;
}

/** `<name>-<version>-<first 12 hex of the bundle's SHA-256>`. */
export function slotName(bundle: BundleRef): string {
  return `${bundle.name}-${bundle.version}-${bundle.sha256.slice(0, 12)}`;
}

/** The absolute path of the active slot, or undefined before the first install. */
export async function activeRulesDir(dir: string): Promise<string | undefined> {
  const paths = agentPaths(dir);
  const slot = await activeSlot(paths);
  return slot === undefined ? undefined : slotDir(paths, slot);
}

/** The absolute path of a slot. */
export function slotDir(paths: Pick<AgentPaths, 'slots'>, slot: string): string {
  return join(resolve(paths.slots), slot);
}

/** The active slot's name, or undefined before the first install. */
export async function activeSlot(paths: Pick<AgentPaths, 'active'>): Promise<string | undefined> {
  let target: string;
  try {
    target = await readlink(paths.active);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AgentError('AGENT_INSTALL_FAILED', 'cannot read the active rules link', { cause });
  }
  const m = /^slots\/([^/]+)$/.exec(target);
  if (m?.[1] === undefined) {
    throw new AgentError('AGENT_INSTALL_FAILED', 'the active rules link points outside the slots', {
      evidence: { target },
    });
  }
  return m[1];
}

/** The bundle read (bounded tar parsing, every file against the manifest) and checked to be `ref`'s release. */
function verifiedBundle(ref: BundleRef, bytes: Uint8Array): BundleContents {
  let bundle: BundleContents;
  try {
    bundle = readBundle(bytes);
  } catch (cause) {
    throw new AgentError('AGENT_BUNDLE_INVALID', 'the rules bundle does not read', { cause });
  }
  if (bundle.manifest.name !== ref.name || bundle.manifest.version !== ref.version) {
    throw new AgentError('AGENT_BUNDLE_INVALID', 'the bundle is of another release', {
      evidence: {
        manifest: { name: bundle.manifest.name, version: bundle.manifest.version },
        release: { name: ref.name, version: ref.version },
      },
    });
  }
  if (bundle.files.has(BUNDLE_FILE)) {
    throw new AgentError('AGENT_BUNDLE_INVALID', `the bundle holds a file named ${BUNDLE_FILE}`);
  }
  return bundle;
}

/**
 * Reads the bundle (bounded tar parsing, every file against the manifest)
 * and unpacks it into its slot, replacing a leftover slot of the same name.
 * The bundle's manifest must name this release.
 */
export async function stageBundle(
  paths: AgentPaths,
  ref: BundleRef,
  bytes: Uint8Array,
): Promise<{ slot: string; path: string }> {
  return stageVerified(paths, ref, bytes, verifiedBundle(ref, bytes));
}

/** `stageBundle` of `bundle`, the contents `verifiedBundle` read from `bytes`. */
async function stageVerified(
  paths: AgentPaths,
  ref: BundleRef,
  bytes: Uint8Array,
  bundle: BundleContents,
): Promise<{ slot: string; path: string }> {
  const { slots } = paths;
  const slot = slotName(ref);
  const path = join(slots, slot);
  if ((await activeSlot(paths)) === slot) {
    throw new AgentError('AGENT_INSTALL_FAILED', `slot ${slot} is the active one`);
  }
  const staging = join(slots, `.staging-${randomBytes(6).toString('hex')}`);
  try {
    await mkdir(staging, { recursive: true });
    const dirs = new Set<string>([resolve(staging)]);
    const durableDirs = new Set<string>([resolve(staging)]);
    const root = resolve(staging);
    // What is read after the switch (the tar, the manifest, the rules) is synced
    // file by file; the self-test's samples and clean files are read once, by the
    // self-test, from the page cache, and a sync each would cost ten thousand
    // disk flushes for a large release.
    const durable = new Set<string>([BUNDLE_FILE, MANIFEST_PATH, ...bundle.manifest.rules]);
    const write = async (rel: string, data: Uint8Array): Promise<void> => {
      const target = resolve(staging, rel);
      // readTar refused unsafe paths already; this keeps every write inside the slot regardless.
      if (!target.startsWith(`${root}${sep}`)) {
        throw new AgentError('AGENT_BUNDLE_INVALID', `${rel} is outside the slot`);
      }
      const parent = dirname(target);
      if (!dirs.has(parent)) {
        await mkdir(parent, { recursive: true });
        for (let d = parent; d.startsWith(root); d = dirname(d)) dirs.add(d);
      }
      const handle = await open(target, 'wx', 0o644);
      try {
        await handle.writeFile(data);
        if (durable.has(rel)) {
          await handle.sync();
          for (let d = parent; d.startsWith(root); d = dirname(d)) durableDirs.add(d);
        }
      } finally {
        await handle.close();
      }
    };
    await write(BUNDLE_FILE, bytes);
    await write(MANIFEST_PATH, serializeManifest(bundle.manifest));
    // A few writes at a time: ten thousand small files one by one wait on the thread pool in turn.
    const files = [...bundle.files];
    for (let i = 0; i < files.length; i += WRITE_BATCH) {
      await Promise.all(files.slice(i, i + WRITE_BATCH).map(([rel, data]) => write(rel, data)));
    }
    for (const d of durableDirs) await syncDir(d);
    await rm(path, { recursive: true, force: true });
    await rename(staging, path);
    await syncDir(slots);
  } catch (cause) {
    await rm(staging, { recursive: true, force: true });
    if (cause instanceof AgentError) throw cause;
    throw new AgentError('AGENT_INSTALL_FAILED', `cannot unpack the bundle into ${slot}`, {
      cause,
    });
  }
  return { slot, path };
}

/**
 * The manifest's self-test, run on the slot's files as installed: every
 * file is read back and checked against the manifest's digest, the rules
 * are compiled once in an engine process (while the samples are read back),
 * and every sample and clean file goes to it or, for a large self-test,
 * to the few engine processes that load its compiled set; each sample
 * must trigger exactly its rules and each clean file none. The result says
 * whether `engine` is the YARA-X version the build tested with.
 */
export async function selfTestSlot(
  path: string,
  engine: YaraEngine = selectYaraEngine('auto').engine,
): Promise<SelfTestResult> {
  return runSelfTest(path, engine, undefined);
}

/**
 * `stageBundle` and `selfTestSlot` of the same bundle, overlapped: the
 * engine starts compiling the verified bundle's rules (in memory) before
 * the first file is written, so the compile runs while staging writes and
 * syncs the slot. Resolves once the slot is staged, with the self-test
 * still running; `selfTest` always settles and ends its engine processes.
 * A staging failure stops the engine and rejects as `stageBundle` does.
 */
export async function stageAndSelfTest(
  paths: AgentPaths,
  ref: BundleRef,
  bytes: Uint8Array,
  engine: YaraEngine = selectYaraEngine('auto').engine,
): Promise<{ slot: string; path: string; selfTest: Promise<SelfTestResult> }> {
  const bundle = verifiedBundle(ref, bytes);
  const early = startEarlyCompile(bundle, engine);
  let staged: { slot: string; path: string };
  try {
    staged = await stageVerified(paths, ref, bytes, bundle);
  } catch (err) {
    await early.compiling.then(
      (p) => {
        p.close();
      },
      () => undefined,
    );
    throw err;
  }
  const selfTest = runSelfTest(staged.path, engine, early);
  // Settled by the caller's await; this only keeps a rejection during the caller's next step handled.
  selfTest.catch(() => undefined);
  return { ...staged, selfTest };
}

/** An engine compiling a verified bundle's rules, with the digests of exactly the bytes it was sent. */
interface EarlyCompile {
  readonly compiling: Promise<EngineProcess>;
  /** Rule path → SHA-256 (hex) of the bytes compiled, in the order compiled. */
  readonly compiled: ReadonlyMap<string, string>;
}

function startEarlyCompile(bundle: BundleContents, engine: YaraEngine): EarlyCompile {
  const compiled = new Map<string, string>();
  const sources = new Map<string, Uint8Array>();
  for (const rel of bundle.manifest.rules) {
    const data = bundle.files.get(rel);
    if (data !== undefined) {
      compiled.set(rel, sha256Hex(data));
      sources.set(rel, data);
    }
  }
  const compiling = Promise.resolve().then(() =>
    EngineProcess.start(
      { engine: engine.binding, sources: selfTestSources(bundle.manifest, sources) },
      {
        processes: scanProcessesFor(bundle.manifest.selfTest.length),
      },
    ),
  );
  // Awaited by the self-test (or closed after a failed stage); handled here until then.
  compiling.catch(() => undefined);
  return { compiling, compiled };
}

async function runSelfTest(
  path: string,
  engine: YaraEngine,
  early: EarlyCompile | undefined,
): Promise<SelfTestResult> {
  let manifest: RulesManifest;
  const read = async (rel: string): Promise<Uint8Array> => {
    const want = manifest.files[rel];
    const data = new Uint8Array(await readFile(join(path, rel)));
    if (want === undefined || sha256Hex(data) !== want) {
      throw new AgentError('AGENT_INSTALL_FAILED', `${rel} changed after it was installed`, {
        evidence: { path: rel },
      });
    }
    return data;
  };
  const rules = new Map<string, Uint8Array>();
  let compiling: Promise<EngineProcess> | undefined = early?.compiling;
  let compiled: EngineProcess | undefined;
  try {
    try {
      manifest = parseManifest(await readFile(join(path, MANIFEST_PATH)));
      for (const rel of manifest.rules) rules.set(rel, await read(rel));
    } catch (cause) {
      if (cause instanceof AgentError) throw cause;
      throw new AgentError('AGENT_INSTALL_FAILED', 'cannot read the staged slot back', { cause });
    }
    if (early !== undefined) {
      // The engine compiled the verified bundle's bytes, not the files. It is a test of the
      // files as installed because: each rule file was just read back and its SHA-256 equals
      // the installed manifest's digest (`read`), and here the installed manifest names
      // exactly the rule files compiled, in the same order, with the digests of the bytes
      // compiled. Equal SHA-256 digests, equal bytes: the installed rules are the rules the
      // engine compiled. Anything else is refused as a changed slot.
      const compiledRules = [...early.compiled.keys()];
      const same =
        compiledRules.length === manifest.rules.length &&
        manifest.rules.every(
          (rel, i) => compiledRules[i] === rel && early.compiled.get(rel) === manifest.files[rel],
        );
      if (!same) {
        throw new AgentError(
          'AGENT_INSTALL_FAILED',
          'the installed rules are not the rules compiled for the self-test',
          { evidence: { path: MANIFEST_PATH } },
        );
      }
    }
    // Several engine processes share a large self-test (the extra ones load the compiled set).
    const started = (compiling ??= EngineProcess.start(
      { engine: engine.binding, sources: selfTestSources(manifest, rules) },
      {
        processes: scanProcessesFor(manifest.selfTest.length),
      },
    ));
    // Read the samples back while the engine compiles; a failed compile is reported first.
    const reading = readAll(
      manifest.selfTest.map((c) => c.sample),
      read,
    );
    compiled = await started.catch(async (err: unknown) => {
      await reading.catch(() => undefined);
      throw err;
    });
    const samples = await reading;
    const results = await compiled.scan(samples);
    for (const [i, c] of manifest.selfTest.entries()) {
      const result = results[i];
      if (result === undefined)
        throw new AgentError('AGENT_INSTALL_FAILED', 'a self-test result is missing');
      checkSelfTestCase(c, result);
    }
    return selfTestResult(manifest, compiled.engine, compiled.warnings);
  } catch (cause) {
    // An engine started early and not yet handed over is stopped too.
    if (compiled === undefined)
      await compiling?.then(
        (p) => {
          p.close();
        },
        () => undefined,
      );
    if (cause instanceof AgentError) throw cause;
    throw new AgentError(
      hasCode(cause, 'SELFTEST_FAILED') ? 'AGENT_SELFTEST_FAILED' : 'AGENT_BUNDLE_INVALID',
      'the self-test failed on the installed rules',
      { cause },
    );
  } finally {
    compiled?.close();
  }
}

/** `read` of every path, in order, a batch at a time. */
async function readAll(
  paths: readonly string[],
  read: (rel: string) => Promise<Uint8Array>,
): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let i = 0; i < paths.length; i += WRITE_BATCH) {
    out.push(...(await Promise.all(paths.slice(i, i + WRITE_BATCH).map(read))));
  }
  return out;
}

/**
 * Makes `slot` active: a new symlink under a temporary name, renamed over
 * `rules/active` (rename(2) replaces it atomically), then the directory is
 * synced so the switch survives a crash.
 */
export async function activateSlot(paths: AgentPaths, slot: string): Promise<void> {
  try {
    await replaceSymlink(paths.active, `slots/${slot}`);
  } catch (cause) {
    throw new AgentError('AGENT_INSTALL_FAILED', `cannot make ${slot} active`, { cause });
  }
}

/** Removes every slot but those named (the active one, the previous one). */
export async function pruneSlots(
  paths: Pick<AgentPaths, 'slots'>,
  keep: readonly string[],
): Promise<void> {
  const { slots } = paths;
  let names: string[];
  try {
    names = await readdir(slots);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw cause;
  }
  for (const name of names) {
    if (!keep.includes(name)) await rm(join(slots, name), { recursive: true, force: true });
  }
}

/** The name and version in a slot's manifest, when it has a readable one. */
export async function slotRelease(
  paths: Pick<AgentPaths, 'slots'>,
  slot: string,
): Promise<{ name: string; version: string } | undefined> {
  try {
    const manifest = parseManifest(await readFile(join(paths.slots, slot, MANIFEST_PATH)));
    return { name: manifest.name, version: manifest.version };
  } catch {
    return undefined; // a damaged slot has no version to show; status says so
  }
}
