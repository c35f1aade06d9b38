import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nativeYaraEngine, wasmYaraEngine, type CompiledRules } from '@glasshouse/bundle';
import type { RulesBuildResult } from '@glasshouse/release';
import {
  buildEicarTestBundle,
  EICAR_RULE,
  eicarTestString,
  installBundleForTest,
} from '../bench/fixtures.js';
import {
  canScanInThreads,
  idleCoreScanThreads,
  loadActiveRules,
  MAX_SCAN_THREADS,
  ScanPool,
  scanPaths,
  type ActiveRules,
  type ScanOptions,
  type ScanRecord,
  type ScanSummary,
} from '../src/index.js';
import { codeOf } from '../../errors/test/codes.js';

let work: string;
let built: RulesBuildResult;
let active: ActiveRules;
let tree: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'agent-scan-threads-'));
  built = await buildEicarTestBundle(work);
  await installBundleForTest(join(work, 'agent'), built.bundle);
  active = await loadActiveRules(join(work, 'agent'));
  // Samples, clean files of many sizes, and entries that are skipped.
  tree = join(work, 'tree');
  for (const [i, c] of built.manifest.selfTest.entries()) {
    const target = join(tree, `d${i % 3}`, ...c.sample.split('/'));
    await mkdir(join(target, '..'), { recursive: true });
    await writeFile(target, await readFile(join(active.slotDir, ...c.sample.split('/'))));
  }
  await mkdir(join(tree, 'bulk'), { recursive: true });
  for (let i = 0; i < 150; i++) {
    const name = join(tree, 'bulk', `f${String(i).padStart(3, '0')}.txt`);
    await writeFile(name, i % 37 === 0 ? eicarTestString() : 'x'.repeat((i * 7919) % 40_000));
  }
  await writeFile(join(tree, 'bulk', 'big.bin'), Buffer.alloc(300_000, 0x41));
  execFileSync('mkfifo', [join(tree, 'fifo')]);
  await symlink('..', join(tree, 'bulk', 'up'));
  await symlink('missing', join(tree, 'dangling'));
});

afterAll(async () => {
  active.free();
  await rm(work, { recursive: true, force: true });
});

async function scan(
  paths: readonly string[],
  options: ScanOptions = {},
  rules: CompiledRules = active.rules,
): Promise<{ records: ScanRecord[]; summary: ScanSummary }> {
  const records: ScanRecord[] = [];
  const summary = await scanPaths(rules, paths, options, (r) => records.push(r));
  return { records, summary };
}

function poolOf(workers: number, startAfterMs?: number): ScanPool {
  return ScanPool.start({
    rules: active.rules,
    engine: active.engine,
    limits: active.limits,
    workers,
    ...(startAfterMs === undefined ? {} : { startAfterMs }),
  });
}

describe('scanning on several threads', () => {
  it('reports exactly the records of a one-thread scan, in the same order, with or without read-ahead', async () => {
    const one = await scan([tree], { maxFileSize: 200_000 });
    expect(one.summary.matches).toBeGreaterThan(5);
    expect(one.records.filter((r) => r.type === 'skipped').map((r) => r.reason)).toEqual(
      expect.arrayContaining(['special-file', 'too-large', 'symlink-loop', 'unreadable']),
    );
    // Reading ahead on libuv's threads changes nothing either.
    const ahead = await scan([tree], { maxFileSize: 200_000, readAhead: 2 });
    expect(ahead.records).toEqual(one.records);
    // Workers started at once (this thread scans until they are ready), then ready before the scan.
    for (const ready of [false, true]) {
      const pool = poolOf(2);
      try {
        if (ready) await pool.whenSettled();
        expect(pool.loadFailure).toBeUndefined();
        const many = await scan([tree], { maxFileSize: 200_000, pool });
        expect(many.records).toEqual(one.records);
        expect({ ...many.summary, seconds: 0 }).toEqual({ ...one.summary, seconds: 0 });
      } finally {
        await pool.close();
      }
    }
  });

  it('reports the files a stopped worker held as scan-failed, and scans the rest here', async () => {
    const one = await scan([tree]);
    const pool = poolOf(2);
    await pool.whenSettled();
    const records: ScanRecord[] = [];
    let closing: Promise<void> | undefined;
    const summary = await scanPaths(active.rules, [tree], { pool }, (r) => {
      records.push(r);
      // Stopped while its workers hold files: at the first record they may hold none yet.
      if (closing === undefined && pool.held > 0) closing = pool.close();
    });
    await closing;
    expect(records.map((r) => r.path)).toEqual(one.records.map((r) => r.path));
    const failed = records.filter(
      (r, i) =>
        r.type === 'skipped' && r.reason === 'scan-failed' && one.records[i]?.type !== 'skipped',
    );
    for (const [i, r] of records.entries()) {
      if (!failed.includes(r)) expect(r).toEqual(one.records[i]);
    }
    expect(failed.length).toBeGreaterThan(0);
    for (const r of failed) expect(r).toMatchObject({ detail: 'the scan was stopped' });
    expect(summary.files + summary.skipped).toBe(records.length);
  });

  it('counts one thread plus a worker per core the load leaves idle', () => {
    expect(idleCoreScanThreads(2, 0.2)).toBe(2);
    expect(idleCoreScanThreads(2, 1.0)).toBe(2);
    expect(idleCoreScanThreads(2, 1.5)).toBe(1);
    expect(idleCoreScanThreads(2, 9)).toBe(1);
    expect(idleCoreScanThreads(8, 2.5)).toBe(6);
    expect(idleCoreScanThreads(8, 0)).toBe(8);
    expect(idleCoreScanThreads(1, 0)).toBe(1);
  });

  it('never starts workers that a scan ending sooner does not need', async () => {
    const pool = poolOf(2, 60_000);
    const { records } = await scan([join(tree, 'bulk', 'f000.txt')], { pool });
    expect(records).toEqual([
      { type: 'match', path: join(tree, 'bulk', 'f000.txt'), bytes: 68, rules: [EICAR_RULE] },
    ]);
    expect(pool.readyThreads).toBe(0);
    await pool.close();
  });

  it('serves one scan at a time and refuses a bad thread count or an engine without copies', async () => {
    const pool = poolOf(1);
    try {
      await pool.whenSettled();
      expect(pool.readyThreads).toBe(1);
      const first = scan([tree], { pool });
      await expect(scan([tree], { pool })).rejects.toMatchObject({
        code: 'AGENT_SCAN_BAD_OPTION',
      });
      await first;
      // Reusable once the scan is done.
      const bulk = join(tree, 'bulk');
      expect((await scan([bulk], { pool })).records).toEqual((await scan([bulk])).records);
    } finally {
      await pool.close();
    }
    for (const threads of [0, -1, 1.5, MAX_SCAN_THREADS + 1, Number.NaN]) {
      expect(
        codeOf(() =>
          ScanPool.forThreads(threads, {
            rules: active.rules,
            engine: active.engine,
            limits: active.limits,
          }),
        ),
        String(threads),
      ).toBe('AGENT_SCAN_BAD_OPTION');
    }
    expect(
      ScanPool.forThreads(1, { rules: active.rules, engine: active.engine, limits: active.limits }),
    ).toBeUndefined();
    const wasm = wasmYaraEngine();
    const wasmRules = wasm.compile([{ path: 'a.yar', text: 'rule a { condition: true }' }]);
    try {
      expect(canScanInThreads(wasm, wasmRules)).toBe(false);
      expect(
        codeOf(() =>
          ScanPool.start({ rules: wasmRules, engine: wasm, limits: active.limits, workers: 1 }),
        ),
      ).toBe('AGENT_SCAN_BAD_OPTION');
    } finally {
      wasmRules.free();
    }
  });
});

describe('a scan that times out in a worker', () => {
  const runaway = readFileSync(
    new URL('../../bundle/test/engine/pathological.yar', import.meta.url),
    'utf8',
  );
  let dir: string;
  let rules: CompiledRules;

  beforeAll(async () => {
    dir = join(work, 'timeout');
    await mkdir(dir);
    await writeFile(join(dir, 'a-large.bin'), new Uint8Array(1024 * 1024));
    await writeFile(join(dir, 'b-small.bin'), new Uint8Array(8));
    rules = nativeYaraEngine().compile([{ path: 'rules/runaway.yar', text: runaway }], {
      timeoutMs: 100,
    });
  });

  afterAll(() => {
    rules.free();
  });

  it('is reported with its file, and the worker goes on with the next one', async () => {
    const pool = ScanPool.start({
      rules,
      engine: nativeYaraEngine(),
      limits: { timeoutMs: 100, maxMatchesPerPattern: 1_000_000 },
      workers: 1,
    });
    try {
      // Ready before the scan: both files go to the worker, which has room for them.
      await pool.whenSettled();
      const started = performance.now();
      const { records, summary } = await scan([dir], { pool }, rules);
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(records).toEqual([
        {
          type: 'skipped',
          path: join(dir, 'a-large.bin'),
          reason: 'timeout',
          detail: 'scan took longer than 100 ms',
        },
        { type: 'match', path: join(dir, 'b-small.bin'), bytes: 8, rules: ['runaway_loop'] },
      ]);
      expect(summary).toMatchObject({ files: 1, matches: 1, skipped: 1 });
    } finally {
      await pool.close();
    }
  });
});
