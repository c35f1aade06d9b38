/**
 * Product updates end to end against a real TUF repository, release log
 * and witness: the agent's own code installs into a new version directory,
 * passes its self-check (the new code's --version and its scan of the
 * installed rules' samples), becomes current atomically, and can be rolled
 * back; every refusal leaves the current version as it was.
 */
import { execFile, spawn } from 'node:child_process';
import { readdir, readlink, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasCode } from '@glasshouse/errors';
import {
  agentStatus,
  rollbackProduct,
  updateAgent,
  updateProduct,
  type Agent,
} from '../src/index.js';
import { startWorld, storedName, type World } from './fixtures.js';
import {
  PRODUCT,
  PRODUCT_SOURCE,
  productRelease,
  type ProductOptions,
} from './product-fixtures.js';

const run = promisify(execFile);

/** The version the product at DIR/product/current answers, and where it runs from. */
async function currentProduct(agent: Agent): Promise<{ version: string; where: string }> {
  const bin = join(agent.dir, 'product', 'current', 'bin', 'glasshouse.js');
  const version = (await run(process.execPath, [bin, '--version'])).stdout.trim();
  const where = (await run(process.execPath, [bin, '--where'])).stdout.trim();
  return { version, where: await realpath(where) };
}

let world: World;
beforeAll(async () => {
  world = await startWorld();
  await world.publish('1.0.0');
}, 60_000);
afterAll(async () => {
  await world.close();
});

/** A fresh world's agent with the rules installed and product `version` current. */
async function withProduct(w: World, version: string): Promise<Agent> {
  const agent = await w.newAgent({ name: PRODUCT, source: PRODUCT_SOURCE });
  await updateAgent({ dir: agent.dir });
  await publishProduct(w, version);
  expect(await updateProduct({ dir: agent.dir })).toMatchObject({ status: 'installed' });
  return agent;
}

async function publishProduct(
  w: World,
  version: string,
  options: ProductOptions & Parameters<World['publish']>[1] = {},
) {
  const { artifacts, tarball } = await productRelease(w.work, version, options);
  const release = await w.publish(version, {
    name: PRODUCT,
    source: PRODUCT_SOURCE,
    artifacts,
    ...options,
  });
  return { release, tarball, artifacts };
}

/** The update is refused with `code`, and the current product is still `version`. */
async function expectRefused(agent: Agent, code: string, version: string): Promise<void> {
  const before = await readlink(join(agent.dir, 'product', 'current'));
  const err = await updateProduct({ dir: agent.dir }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(hasCode(err, code) ? code : err).toBe(code);
  expect(await readlink(join(agent.dir, 'product', 'current'))).toBe(before);
  expect((await currentProduct(agent)).version).toBe(version);
  const status = await agentStatus(agent.dir);
  expect(status.product?.current?.version).toBe(version);
  expect(status.product?.lastUpdate).toMatchObject({ result: 'refused', code });
  // Only the current and previous versions are on disk: nothing of the refused one.
  const versions = await readdir(join(agent.dir, 'product', 'versions'));
  expect(versions.filter((v) => !v.includes(`-${version}-`)).length).toBeLessThanOrEqual(1);
}

describe('agent update: product releases', () => {
  it('installs, switches, runs from the new directory, and rolls back', async () => {
    const agent = await world.newAgent({ name: PRODUCT, source: PRODUCT_SOURCE });
    await updateAgent({ dir: agent.dir });
    await publishProduct(world, '1.0.0');
    const first = await updateProduct({ dir: agent.dir });
    expect(first).toMatchObject({ status: 'installed', release: { version: '1.0.0' } });
    if (first.status !== 'installed') throw new Error('not installed');
    // The new code scanned the installed rules' samples.
    expect(first.scannedCases).toBeGreaterThan(3);
    expect(await currentProduct(agent)).toEqual({ version: '1.0.0', where: first.path });

    await publishProduct(world, '1.1.0');
    const second = await updateProduct({ dir: agent.dir });
    expect(second).toMatchObject({
      status: 'installed',
      release: { version: '1.1.0' },
      previousSlot: first.slot,
    });
    if (second.status !== 'installed') throw new Error('not installed');
    expect(second.path).not.toBe(first.path);
    expect(await currentProduct(agent)).toEqual({ version: '1.1.0', where: second.path });
    expect(await readlink(join(agent.dir, 'product', 'previous'))).toBe(`versions/${first.slot}`);
    const status = await agentStatus(agent.dir);
    expect(status.product).toMatchObject({
      name: PRODUCT,
      current: { version: '1.1.0', slot: second.slot },
      previous: { version: '1.0.0', slot: first.slot },
      lastUpdate: { result: 'installed' },
    });
    expect(await updateProduct({ dir: agent.dir })).toEqual({
      status: 'up-to-date',
      version: '1.1.0',
    });

    expect(await rollbackProduct({ dir: agent.dir })).toEqual({
      from: second.slot,
      to: first.slot,
    });
    expect(await currentProduct(agent)).toEqual({ version: '1.0.0', where: first.path });
    // The version rolled back from is not reinstalled until a newer one comes.
    expect(await updateProduct({ dir: agent.dir })).toEqual({
      status: 'held-back',
      version: '1.1.0',
    });
    expect((await currentProduct(agent)).version).toBe('1.0.0');
    await publishProduct(world, '1.2.0');
    expect(await updateProduct({ dir: agent.dir })).toMatchObject({
      status: 'installed',
      release: { version: '1.2.0' },
      previousSlot: first.slot,
    });
  }, 120_000);
});

describe('refused, the current version untouched', () => {
  let w: World;
  let agent: Agent;
  beforeAll(async () => {
    w = await startWorld();
    await w.publish('1.0.0');
    agent = await withProduct(w, '1.0.0');
  }, 120_000);
  afterAll(async () => {
    await w.close();
  });

  it('tarball bytes that differ from the TUF target', async () => {
    const { release, tarball } = await publishProduct(w, '1.0.1');
    const swapped = Buffer.from(tarball);
    swapped[40] = swapped[40]! ^ 0xff;
    const target = `${PRODUCT}/1.0.1/${PRODUCT}-1.0.1.tgz`;
    w.override(`targets/${storedName(target, tarball)}`, swapped);
    await expectRefused(agent, 'AGENT_TUF_TARGET_MISMATCH', '1.0.0');
    w.override(`targets/${storedName(target, tarball)}`, undefined);
    expect(release.version).toBe('1.0.1');
    expect(await updateProduct({ dir: agent.dir })).toMatchObject({ status: 'installed' });
  }, 60_000);

  it('a release without the supervisor signature', async () => {
    await publishProduct(w, '1.0.2', { signers: 'vendor' });
    await expectRefused(agent, 'AGENT_TUF_SUPERVISOR_SIGNATURE_MISSING', '1.0.1');
  }, 60_000);
});

describe('refused, each in its own repository', () => {
  const cases: [string, ProductOptions & Parameters<World['publish']>[1], string][] = [
    [
      'a new version whose --version is wrong',
      { broken: 'version' },
      'AGENT_PRODUCT_SELFCHECK_FAILED',
    ],
    [
      'a new version whose scan misses the samples',
      { broken: 'scan' },
      'AGENT_PRODUCT_SELFCHECK_FAILED',
    ],
    ['a file added after the manifest', { extraFile: true }, 'AGENT_PRODUCT_MANIFEST_MISMATCH'],
    ['a file changed after the manifest', { changedFile: true }, 'AGENT_PRODUCT_MANIFEST_MISMATCH'],
  ];
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
    await w.publish('1.0.0');
  }, 60_000);
  afterAll(async () => {
    await w.close();
  });
  it.each(cases.map((c, i) => [...c, i] as const))(
    '%s',
    async (_, options, code, i) => {
      const agent = await withProduct(w, `1.${i}.0`);
      await publishProduct(w, `1.${i}.1`, options);
      await expectRefused(agent, code, `1.${i}.0`);
      expect((await agentStatus(agent.dir)).product?.failed).toMatchObject({ reason: code });
      // Fixed by a good release, the next update installs it.
      await publishProduct(w, `1.${i}.2`);
      expect(await updateProduct({ dir: agent.dir })).toMatchObject({
        status: 'installed',
        release: { version: `1.${i}.2` },
      });
    },
    120_000,
  );

  it('a release missing from the log', async () => {
    const agent = await withProduct(w, '2.0.0');
    const logged = await publishProduct(w, '2.0.1');
    await updateProduct({ dir: agent.dir });
    await publishProduct(w, '2.0.2', { unloggedReceipt: logged.release.receipt });
    await expectRefused(agent, 'AGENT_LOG_ENTRY_MISSING', '2.0.1');
  }, 60_000);
});

describe('downgrades', () => {
  it('are refused unless both organisations signed a rollback release', async () => {
    const w = await startWorld();
    try {
      await w.publish('1.0.0');
      await publishProduct(w, '1.0.0');
      const agent = await withProduct(w, '2.0.0');
      // 2.0.0 withdrawn: the newest listed, 1.0.0, is older than the current version.
      await w.withdraw(`${PRODUCT}/2.0.0/`);
      await expectRefused(agent, 'AGENT_RELEASE_ROLLBACK', '2.0.0');
      // A rollback release, marked in the releases role that both sign.
      await publishProduct(w, '1.5.0', { artifactCustom: { rollback: true } });
      expect(await updateProduct({ dir: agent.dir })).toMatchObject({
        status: 'installed',
        release: { version: '1.5.0' },
        downgrade: true,
      });
      expect((await currentProduct(agent)).version).toBe('1.5.0');
    } finally {
      await w.close();
    }
  }, 120_000);
});

describe('kill -9 during an install', () => {
  it('leaves the current version, and the next update completes', async () => {
    const w = await startWorld();
    try {
      await w.publish('1.0.0');
      const agent = await withProduct(w, '1.0.0');
      await publishProduct(w, '1.1.0');
      // A child process runs the update and is killed as soon as it starts unpacking.
      const script = `
        import { updateProduct } from ${JSON.stringify(new URL('../src/index.ts', import.meta.url).pathname)};
        await updateProduct({ dir: ${JSON.stringify(agent.dir)}, onProgress: (m) => console.log(m) });
      `;
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let output = '';
      await new Promise<void>((done) => {
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('unpacked ')) child.kill('SIGKILL');
        });
        child.on('close', () => {
          done();
        });
      });
      expect(child.signalCode).toBe('SIGKILL');
      expect((await currentProduct(agent)).version).toBe('1.0.0');
      expect(await updateProduct({ dir: agent.dir })).toMatchObject({
        status: 'installed',
        release: { version: '1.1.0' },
      });
      expect((await currentProduct(agent)).version).toBe('1.1.0');
      const versions = await readdir(join(agent.dir, 'product', 'versions'));
      expect(versions.filter((v) => v.startsWith('.staging-'))).toEqual([]);
    } finally {
      await w.close();
    }
  }, 120_000);
});
