/**
 * Fixtures shared by the scan benchmark and the scan tests: a rules bundle
 * with an EICAR rule added to the release package's test rules, and an
 * agent directory with a bundle laid out the way install leaves it
 * (`rules/slots/<slot>/` holding the bundle's files, `rules/active` a
 * symlink to it).
 *
 * The EICAR test string is assembled here at run time from pieces and only
 * ever written to temporary files: it never appears whole in the
 * repository, so nothing scanning the source tree flags it.
 */
import { cp, mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256Hex } from '@glasshouse/attest';
import {
  MANIFEST_PATH,
  MANIFEST_SCHEMA,
  readBundle,
  serializeManifest,
  wasmYaraEngine,
  type RulesManifest,
} from '@glasshouse/bundle';
import { buildRulesBundle, parseRecipe, type RulesBuildResult } from '@glasshouse/release';

/** The release package's test rules (four public rules with samples, clean files). */
export const RELEASE_TEST_RULES = fileURLToPath(
  new URL('../../release/testdata/rules', import.meta.url),
);

export const EICAR_RULE = 'gh_test_eicar';

/** The 68-byte EICAR anti-virus test string, assembled from pieces. */
export function eicarTestString(): string {
  return ['X5O!P%@AP[4\\PZX54', '(P^)7CC)7}$EICAR-', 'STANDARD-ANTIVIRUS-', 'TEST-FILE!$H+H*'].join(
    '',
  );
}

/**
 * A rule for the EICAR test file: the string as hex bytes at offset 0 of a
 * file of at most 128 bytes (the EICAR convention allows trailing
 * whitespace). Generated, so the literal string is not in the source.
 */
export function eicarRuleSource(): string {
  const hex = Buffer.from(eicarTestString(), 'latin1').toString('hex').toUpperCase();
  const bytes = hex.match(/../g)?.join(' ') ?? '';
  return [
    `rule ${EICAR_RULE}`,
    '{',
    '    meta:',
    '        description = "the EICAR anti-virus test file"',
    '    strings:',
    `        $eicar = { ${bytes} }`,
    '    condition:',
    '        $eicar at 0 and filesize <= 128',
    '}',
    '',
  ].join('\n');
}

/**
 * Builds a rules bundle from the release package's test rules plus the
 * EICAR rule and its sample, in a copy under `workDir`.
 */
export async function buildEicarTestBundle(
  workDir: string,
  as: { readonly name?: string; readonly version?: string } = {},
): Promise<RulesBuildResult> {
  const src = join(workDir, 'rules-src');
  await cp(RELEASE_TEST_RULES, src, { recursive: true });
  await writeFile(join(src, 'rules', 'eicar.yar'), eicarRuleSource());
  await mkdir(join(src, 'samples', EICAR_RULE), { recursive: true });
  await writeFile(join(src, 'samples', EICAR_RULE, 'eicar.com'), eicarTestString());
  const recipe = parseRecipe(await readFile(join(src, 'glasshouse-recipe.json')));
  if (recipe.kind !== 'rules') throw new Error('the test rules recipe is a rules recipe');
  return buildRulesBundle({
    sourceDir: src,
    recipe: { ...recipe, ...as },
    sourceDateEpoch: 1_700_000_000,
    debianYara: 'off',
  });
}

/**
 * Lays out `bundle` in `agentDir` as install does: every file under
 * `rules/slots/<slot>/`, then `rules/active` switched to it by renaming a
 * fresh relative symlink over the old one. Returns the slot directory.
 */
export async function installBundleForTest(
  agentDir: string,
  bundle: Uint8Array,
  slot = 'a',
): Promise<string> {
  const contents = readBundle(bundle);
  return writeSlot(agentDir, slot, contents.manifest, contents.files);
}

/**
 * Lays out rule sources as an installed slot without building a bundle: a
 * manifest listing each file's SHA-256 (no samples, no self-test), so that
 * `loadActiveRules` checks them as usual. For the benchmark, where the
 * rules build's per-sample self-test of 10,000 rules would dominate the run.
 */
export async function installRulesForBench(
  agentDir: string,
  rules: ReadonlyMap<string, Uint8Array>,
  slot = 'a',
): Promise<string> {
  const files: Record<string, string> = {};
  for (const [path, data] of rules) files[path] = sha256Hex(data);
  const manifest: RulesManifest = {
    schema: MANIFEST_SCHEMA,
    name: 'bench-rules',
    version: '1.0.0',
    sourceDateEpoch: 1_704_164_645,
    engines: { 'yara-x': wasmYaraEngine().version },
    rules: [...rules.keys()],
    ruleNames: [],
    files,
    selfTest: [],
  };
  return writeSlot(agentDir, slot, manifest, rules);
}

async function writeSlot(
  agentDir: string,
  slot: string,
  manifest: RulesManifest,
  files: ReadonlyMap<string, Uint8Array>,
): Promise<string> {
  const slotDir = join(agentDir, 'rules', 'slots', slot);
  await rm(slotDir, { recursive: true, force: true });
  for (const [path, data] of files) {
    const target = join(slotDir, ...path.split('/'));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, data);
  }
  await mkdir(slotDir, { recursive: true });
  await writeFile(join(slotDir, MANIFEST_PATH), serializeManifest(manifest));
  const tmpLink = join(agentDir, 'rules', `.active-${slot}`);
  await rm(tmpLink, { force: true });
  await symlink(join('slots', slot), tmpLink);
  await rename(tmpLink, join(agentDir, 'rules', 'active'));
  return slotDir;
}
