import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { buildRulesBundle, parseRecipe, type RulesRecipe } from '@glasshouse/release';
import { rejectionCode } from '../../errors/test/codes.js';

/** The rules build and its engine: a runaway rule times out or is cancelled, never hangs. */

const fixture = fileURLToPath(new URL('../testdata/rules', import.meta.url));
// Quadratic in the file size, and only on large files so the other samples stay clean of it.
const RUNAWAY = `rule runaway_loop {
    condition:
        filesize > 100KB and
        for all i in (0..filesize - 1) : ( for all j in (0..filesize - 1) : ( uint8(j) != 0xFF ) )
}
`;
const scratch: string[] = [];

afterAll(async () => {
  await Promise.all(scratch.map((d) => rm(d, { recursive: true, force: true })));
});

/** The test rules plus a runaway rule whose sample is 1 MiB of zeros. */
async function withRunawayRule(): Promise<{ dir: string; recipe: RulesRecipe }> {
  const dir = await mkdtemp(join(tmpdir(), 'rules-runaway-'));
  scratch.push(dir);
  await cp(fixture, dir, { recursive: true });
  await writeFile(join(dir, 'rules/runaway.yar'), RUNAWAY);
  await mkdir(join(dir, 'samples/runaway_loop'));
  await writeFile(join(dir, 'samples/runaway_loop/zeros.bin'), new Uint8Array(1024 * 1024));
  const recipe = parseRecipe(await readFile(join(dir, 'glasshouse-recipe.json')));
  if (recipe.kind !== 'rules') throw new Error('fixture is a rules recipe');
  return { dir, recipe };
}

describe('rules build engine', () => {
  it('records the engine that tested the rules', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rules-engine-'));
    scratch.push(dir);
    await cp(fixture, dir, { recursive: true });
    const recipe = parseRecipe(await readFile(join(dir, 'glasshouse-recipe.json')));
    if (recipe.kind !== 'rules') throw new Error('fixture is a rules recipe');
    const built = await buildRulesBundle({
      sourceDir: dir,
      recipe,
      sourceDateEpoch: 1_700_000_000,
      debianYara: 'off',
    });
    expect(built.engine).toMatchObject({
      name: 'yara-x',
      version: '1.20.0',
      binding: 'native',
      package: '@litko/yara-x-linux-x64-gnu@0.7.2',
    });
    expect(built.manifest.engines).toEqual({ 'yara-x': '1.20.0' });
  });

  it('a sample whose scan runs past the limit fails the build', async () => {
    const { dir, recipe } = await withRunawayRule();
    const build = buildRulesBundle({
      sourceDir: dir,
      recipe,
      sourceDateEpoch: 1_700_000_000,
      debianYara: 'off',
      scanTimeoutMs: 100,
    });
    expect(await rejectionCode(build)).toBe('RULES_SAMPLE_TIMEOUT');
  });

  it('aborting the signal stops a running build at once', async () => {
    const { dir, recipe } = await withRunawayRule();
    const controller = new AbortController();
    let abortedAt = 0;
    const build = buildRulesBundle({
      sourceDir: dir,
      recipe,
      sourceDateEpoch: 1_700_000_000,
      debianYara: 'off',
      scanTimeoutMs: 600_000,
      signal: controller.signal,
      onProgress: (message) => {
        // Abort once the rules are compiled and the runaway sample is being scanned.
        if (message.includes('compiled') && abortedAt === 0) {
          setTimeout(() => {
            abortedAt = performance.now();
            controller.abort();
          }, 500);
        }
      },
    });
    expect(await rejectionCode(build)).toBe('RULES_CANCELLED');
    expect(performance.now() - abortedAt).toBeLessThan(500);
  });
});
