/**
 * The happy path end to end: a release signed by both organisations,
 * logged and cosigned, is installed into its slot and made active; status
 * reports it; a second update finds nothing newer.
 */
import { lstat, mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  activeRulesDir,
  agentStatus,
  loadActiveRules,
  scanPaths,
  updateAgent,
} from '../src/index.js';
import { EICAR_RULE, buildEicarTestBundle, eicarTestString } from '../bench/fixtures.js';
import { RULES, startWorld, type World } from './fixtures.js';

let world: World;
beforeAll(async () => {
  world = await startWorld();
}, 60_000);
afterAll(async () => {
  await world.close();
});

describe('agent update', () => {
  it('installs the newest supervised, logged release and reports it', async () => {
    const agent = await world.newAgent();
    expect(await activeRulesDir(agent.dir)).toBeUndefined();
    const release = await world.publish('1.0.0');

    const outcome = await updateAgent({ dir: agent.dir });
    expect(outcome).toMatchObject({
      status: 'installed',
      release: { name: RULES, version: '1.0.0', releaseId: release.releaseId },
    });
    const slot = `${RULES}-1.0.0-${(outcome.status === 'installed' ? outcome.release.sha256 : '').slice(0, 12)}`;
    const active = await activeRulesDir(agent.dir);
    expect(active).toBe(join(agent.dir, 'rules', 'slots', slot));
    expect(await readlink(join(agent.dir, 'rules', 'active'))).toBe(`slots/${slot}`);
    expect((await lstat(join(agent.dir, 'rules', 'active'))).isSymbolicLink()).toBe(true);
    const files = await readdir(active!);
    expect(files).toEqual(expect.arrayContaining(['bundle.tar', 'manifest.json']));

    const status = await agentStatus(agent.dir);
    expect(status.active).toMatchObject({ slot, version: '1.0.0', name: RULES });
    expect(status.lastUpdate).toMatchObject({ result: 'installed', slot });
    expect(status.lastCheckpoint?.size).toBe('1');
    expect(status.trust.tufRootVersion).toBe(1);

    expect(await updateAgent({ dir: agent.dir })).toEqual({
      status: 'up-to-date',
      version: '1.0.0',
    });

    // A newer release replaces it; the previous slot is kept.
    await world.publish('1.1.0');
    expect(await updateAgent({ dir: agent.dir })).toMatchObject({
      status: 'installed',
      release: { version: '1.1.0' },
      previousSlot: slot,
    });
    expect((await agentStatus(agent.dir)).lastCheckpoint?.size).toBe('2');
    expect((await readdir(join(agent.dir, 'rules', 'slots'))).sort()).toHaveLength(2);
  });
});

describe('install, then scan', () => {
  it('detects each sample and the EICAR test string after a real update; a clean file is clean', async () => {
    const agent = await world.newAgent();
    const built = await buildEicarTestBundle(world.work, { name: RULES, version: '2.0.0' });
    await world.publish('2.0.0', { bundle: built.bundle });
    expect(await updateAgent({ dir: agent.dir })).toMatchObject({ status: 'installed' });

    const rules = (await loadActiveRules(agent.dir)).rules;
    const active = (await activeRulesDir(agent.dir))!;
    const samples = join(world.work, 'scan-me');
    await mkdir(samples, { recursive: true });
    const expected = new Map<string, string>();
    for (const c of built.manifest.selfTest) {
      if (c.expect.length !== 1) continue;
      const name = c.sample.replaceAll('/', '_');
      // The samples as installed in the active slot (the bundle carries them for its self-test).
      await writeFile(join(samples, name), await readFile(join(active, c.sample)));
      expected.set(name, c.expect[0]!);
    }
    await writeFile(join(samples, 'eicar.txt'), eicarTestString());
    expected.set('eicar.txt', EICAR_RULE);
    expect(expected.size).toBeGreaterThan(3);
    await writeFile(join(samples, 'clean.txt'), 'nothing to see here\n');

    const found = new Map<string, string[]>();
    await scanPaths(rules, [samples], {}, (result) => {
      if (result.type === 'match') found.set(basename(result.path), [...result.rules]);
    });
    expect(found.get('clean.txt')).toBeUndefined();
    expect(found.get('eicar.txt')).toEqual([EICAR_RULE]);
    for (const [name, rule] of expected) {
      if (name === 'eicar.txt') continue;
      expect([name, found.get(name)]).toEqual([name, [rule]]);
    }
  });
});
