/**
 * `stageAndSelfTest`: the self-test's compile starts from the verified
 * bundle while the slot is written; what it reports must be what the
 * separate `stageBundle` + `selfTestSlot` report, and every refusal holds.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '@glasshouse/attest';
import { readBundle, serializeManifest, writeTar, type BundleContents } from '@glasshouse/bundle';
import { FIXED_EPOCH } from '../../release/test/assembly-fixtures.js';
import { agentPaths } from '../src/config.js';
import { selfTestSlot, stageAndSelfTest, stageBundle } from '../src/install.js';
import { RULES, rulesBundle } from './fixtures.js';

let work: string;
let good: Uint8Array;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'glasshouse-install-'));
  good = await rulesBundle('1.0.0');
}, 60_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

let n = 0;
const newPaths = (): ReturnType<typeof agentPaths> => agentPaths(join(work, `agent-${++n}`));
const refOf = (bytes: Uint8Array, version = '1.0.0') => ({
  name: RULES,
  version,
  sha256: sha256Hex(bytes),
});

/** `good` with its manifest changed by `edit` and rule `rel` (when given) replaced by `data`. */
function variant(
  edit: (m: BundleContents['manifest']) => BundleContents['manifest'],
  replace?: { rel: string; data: Uint8Array },
): Uint8Array {
  const contents = readBundle(good);
  const files = new Map(contents.files);
  let manifest = contents.manifest;
  if (replace !== undefined) {
    files.set(replace.rel, replace.data);
    manifest = {
      ...manifest,
      files: { ...manifest.files, [replace.rel]: sha256Hex(replace.data) },
    };
  }
  manifest = edit(manifest);
  return writeTar(
    [
      { path: 'manifest.json', data: serializeManifest(manifest) },
      ...[...files].map(([path, data]) => ({ path, data })),
    ],
    FIXED_EPOCH,
  );
}

describe('stageAndSelfTest', () => {
  it('stages the slot and self-tests it as stageBundle and selfTestSlot do', async () => {
    const paths = newPaths();
    const staged = await stageAndSelfTest(paths, refOf(good), good);
    const overlapped = await staged.selfTest;
    const separate = await selfTestSlot(staged.path);
    expect(overlapped).toEqual(separate);
    expect(overlapped.cases).toBe(readBundle(good).manifest.selfTest.length);
    expect(overlapped.cases).toBeGreaterThan(0);
  });

  it('refuses a bundle of another release before anything is written', async () => {
    const paths = newPaths();
    await expect(stageAndSelfTest(paths, refOf(good, '9.9.9'), good)).rejects.toMatchObject({
      code: 'AGENT_BUNDLE_INVALID',
    });
    await expect(readdir(paths.slots)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses, once staged, a sample that does not trigger its rules', async () => {
    const broken = variant((m) => ({
      ...m,
      selfTest: m.selfTest.map((c) => (c.expect.length > 0 ? { ...c, expect: [] } : c)),
    }));
    const staged = await stageAndSelfTest(newPaths(), refOf(broken), broken);
    await expect(staged.selfTest).rejects.toMatchObject({ code: 'AGENT_SELFTEST_FAILED' });
  });

  it('refuses rules that do not compile', async () => {
    const rel = readBundle(good).manifest.rules[0] ?? '';
    const broken = variant((m) => m, {
      rel,
      data: new TextEncoder().encode('rule broken { condition: nope }\n'),
    });
    const staged = await stageAndSelfTest(newPaths(), refOf(broken), broken);
    await expect(staged.selfTest).rejects.toMatchObject({ code: 'AGENT_BUNDLE_INVALID' });
  });
});

describe('selfTestSlot', () => {
  it('refuses a rule file changed after it was installed', async () => {
    const paths = newPaths();
    const staged = await stageBundle(paths, refOf(good), good);
    const rel = readBundle(good).manifest.rules[0] ?? '';
    await writeFile(join(staged.path, rel), 'rule changed { condition: true }\n');
    await expect(selfTestSlot(staged.path)).rejects.toMatchObject({
      code: 'AGENT_INSTALL_FAILED',
      message: `${rel} changed after it was installed`,
    });
  });
});
