import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf } from './codes.js';
import { commandRecipe, RULES_TESTDATA } from './assembly-fixtures.js';
import { eventuallyNoProcessWith } from './processes.js';
import { startSupervised, type Supervised } from './supervised-fixture.js';

/** SIGTERM while the supervisor rebuilds: the rebuild stops at once and leaves nothing behind. */

let env: Supervised;

beforeAll(async () => {
  env = await startSupervised({ requireReview: false, reviewers: [] });
}, 60_000);

afterAll(async () => {
  await env.close();
});

describe('cancelling a supervisor rebuild', () => {
  it('rejects with RULES_CANCELLED, signs nothing and removes its checkout', async () => {
    const commit = await env.repo.commit({}, { copyFrom: RULES_TESTDATA });
    const release = await env.client.build(env.repo.dir, commit);
    const supervisor = await env.openSupervisor();
    const before = new Set(await readdir(env.work));
    let cancelledAt = 0;
    const rebuild = supervisor.rebuild(env.client, release.id, (line) => {
      // Cancel once the rules build process is running.
      if (line.startsWith('read ') && cancelledAt === 0) {
        cancelledAt = performance.now();
        supervisor.cancelRebuilds();
      }
    });
    expect(await codeOf(rebuild)).toBe('RULES_CANCELLED');
    expect(cancelledAt).toBeGreaterThan(0);
    expect(performance.now() - cancelledAt).toBeLessThan(2_000);
    expect((await env.client.getRelease(release.id)).status).toBe('built');
    // The checkout made in the scratch directory is gone again.
    expect(new Set(await readdir(env.work))).toEqual(before);
  });
});

describe('cancelling the rebuild of a command recipe', () => {
  it('kills its sandboxed process group at once: SANDBOX_CANCELLED, nothing signed', async () => {
    const token = `rebuild-${process.pid}-${Date.now()}`;
    // Four seconds per build: the vendor's runs them all, the supervisor's is stopped early.
    const commit = await env.repo.commit({
      'glasshouse-recipe.json': commandRecipe(
        `echo building; sleep 4; echo done > "$OUT_DIR/out.txt" # ${token}`,
        ['out.txt'],
      ),
    });
    const release = await env.client.build(env.repo.dir, commit);
    const supervisor = await env.openSupervisor();
    let cancelledAt = 0;
    const rebuild = supervisor.rebuild(env.client, release.id, (line) => {
      if (line.includes('building') && line.startsWith('[1 ') && cancelledAt === 0) {
        cancelledAt = performance.now();
        supervisor.cancelRebuilds();
      }
    });
    expect(await codeOf(rebuild)).toBe('SANDBOX_CANCELLED');
    expect(cancelledAt).toBeGreaterThan(0);
    expect(performance.now() - cancelledAt).toBeLessThan(2_000);
    expect(await eventuallyNoProcessWith(token)).toEqual([]);
    expect((await env.client.getRelease(release.id)).status).toBe('built');
  });
});
