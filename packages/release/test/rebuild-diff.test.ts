import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '@glasshouse/attest';
import { gzipDeterministic, writeTar, type TarEntry } from '@glasshouse/bundle';
import {
  compareArtifacts,
  differingFiles,
  runDiffoscope,
  type ArtifactBytes,
} from '../src/supervisor/rebuild-diff.js';

const enc = new TextEncoder();
const EPOCH = 1_700_000_000;

const entries = (stamp: string): TarEntry[] => [
  { path: 'bin/run', data: enc.encode('#!/bin/sh\n'), executable: true },
  { path: 'build-info.txt', data: enc.encode(`built at ${stamp}\n`) },
  { path: 'lib/a.js', data: enc.encode('export const a = 1;\n') },
];

const art = (name: string, bytes: Uint8Array | string): ArtifactBytes => ({
  name,
  bytes: typeof bytes === 'string' ? enc.encode(bytes) : bytes,
});

describe('compareArtifacts', () => {
  it('returns nothing for identical sets, whatever their order', () => {
    const tar = writeTar(entries('x'), EPOCH);
    expect(
      compareArtifacts(
        [art('a.txt', 'A'), art('b.tar', tar)],
        [art('b.tar', tar.slice()), art('a.txt', 'A')],
      ),
    ).toEqual([]);
    expect(compareArtifacts([], [])).toEqual([]);
  });

  it('reports a plain file that differs, without members', () => {
    const diff = compareArtifacts([art('app.bin', 'vendor')], [art('app.bin', 'rebuilt!')]);
    expect(diff).toEqual([
      {
        artifact: 'app.bin',
        status: 'differs',
        vendorSha256: sha256Hex(enc.encode('vendor')),
        rebuildSha256: sha256Hex(enc.encode('rebuilt!')),
        vendorSize: 6,
        rebuildSize: 8,
      },
    ]);
  });

  it('reports missing and extra artifacts, sorted by name in byte order', () => {
    const diff = compareArtifacts(
      [art('b', 'same'), art('Z-only-vendor', 'v')],
      [art('b', 'same'), art('a-only-rebuild', 'rr')],
    );
    expect(diff).toEqual([
      {
        artifact: 'Z-only-vendor',
        status: 'missing-in-rebuild',
        vendorSha256: sha256Hex(enc.encode('v')),
        vendorSize: 1,
      },
      {
        artifact: 'a-only-rebuild',
        status: 'extra-in-rebuild',
        rebuildSha256: sha256Hex(enc.encode('rr')),
        rebuildSize: 2,
      },
    ]);
  });

  it('names the tar member whose content differs', () => {
    const vendor = writeTar(entries('2024-01-02T03:04:05Z'), EPOCH);
    const rebuild = writeTar(entries('2024-06-07T08:09:10Z'), EPOCH);
    const [d, ...rest] = compareArtifacts([art('r.tar', vendor)], [art('r.tar', rebuild)]);
    expect(rest).toEqual([]);
    expect(d?.status).toBe('differs');
    expect(d?.vendorSha256).toBe(sha256Hex(vendor));
    expect(d?.members).toEqual([
      {
        path: 'build-info.txt',
        status: 'content-differs',
        vendorSha256: sha256Hex(enc.encode('built at 2024-01-02T03:04:05Z\n')),
        rebuildSha256: sha256Hex(enc.encode('built at 2024-06-07T08:09:10Z\n')),
      },
    ]);
  });

  it('reports members found on one side only', () => {
    const extra = { path: 'debug.log', data: enc.encode('host=builder-7\n') };
    const vendor = writeTar([...entries('x'), extra], EPOCH);
    const rebuild = writeTar(entries('x').slice(1), EPOCH);
    const [d] = compareArtifacts([art('r.tar', vendor)], [art('r.tar', rebuild)]);
    expect(d?.members).toEqual([
      {
        path: 'bin/run',
        status: 'only-in-vendor',
        vendorSha256: sha256Hex(enc.encode('#!/bin/sh\n')),
      },
      { path: 'debug.log', status: 'only-in-vendor', vendorSha256: sha256Hex(extra.data) },
    ]);
    const [back] = compareArtifacts([art('r.tar', rebuild)], [art('r.tar', vendor)]);
    expect(back?.members?.map((m) => [m.path, m.status])).toEqual([
      ['bin/run', 'only-in-rebuild'],
      ['debug.log', 'only-in-rebuild'],
    ]);
  });

  it('reports an mtime difference as metadata-differs', () => {
    const vendor = writeTar(entries('x'), EPOCH);
    const rebuild = writeTar(entries('x'), EPOCH + 1);
    const [d] = compareArtifacts([art('r.tar', vendor)], [art('r.tar', rebuild)]);
    expect(d?.members?.map((m) => m.path)).toEqual(['bin/run', 'build-info.txt', 'lib/a.js']);
    expect(d?.members?.every((m) => m.status === 'metadata-differs')).toBe(true);
    expect(d?.members?.[1]).toEqual({
      path: 'build-info.txt',
      status: 'metadata-differs',
      vendorSha256: sha256Hex(enc.encode('built at x\n')),
      rebuildSha256: sha256Hex(enc.encode('built at x\n')),
      fields: ['mtime'],
    });
  });

  it('reports a mode difference, and metadata alongside a content difference', () => {
    const base = entries('x');
    const flipped = base.map((e) =>
      e.path === 'lib/a.js' ? { ...e, executable: true, data: enc.encode('changed\n') } : e,
    );
    const [d] = compareArtifacts(
      [art('r.tar', writeTar(base, EPOCH))],
      [art('r.tar', writeTar(flipped, EPOCH))],
    );
    expect(d?.members).toEqual([
      {
        path: 'lib/a.js',
        status: 'content-differs',
        vendorSha256: sha256Hex(enc.encode('export const a = 1;\n')),
        rebuildSha256: sha256Hex(enc.encode('changed\n')),
        fields: ['mode'],
      },
    ]);
  });

  it('looks inside gzip-compressed tars', () => {
    const vendor = gzipDeterministic(writeTar(entries('one'), EPOCH));
    const rebuild = gzipDeterministic(writeTar(entries('two'), EPOCH));
    const [d] = compareArtifacts([art('r.tar.gz', vendor)], [art('r.tar.gz', rebuild)]);
    expect(d?.status).toBe('differs');
    expect(d?.members?.map((m) => [m.path, m.status])).toEqual([
      ['build-info.txt', 'content-differs'],
    ]);
  });

  it('gives an empty member list when only the archive encoding differs', () => {
    const tar = writeTar(entries('x'), EPOCH);
    // Same tar, one extra zero block of padding after the end-of-archive blocks.
    const padded = new Uint8Array(tar.length + 512);
    padded.set(tar);
    const [d] = compareArtifacts([art('r.tar', tar)], [art('r.tar', padded)]);
    expect(d?.status).toBe('differs');
    expect(d?.members).toEqual([]);
  });

  it('does not throw on garbage, gzip magic included', () => {
    const garbage = new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7]);
    const cases: Uint8Array[] = [
      garbage,
      new Uint8Array([0x1f, 0x8b]),
      new Uint8Array([0x1f]),
      new Uint8Array(),
      new Uint8Array(1024).fill(0xff),
      gzipDeterministic(enc.encode('not a tar')),
    ];
    for (const bytes of cases) {
      const [d] = compareArtifacts([art('x', bytes)], [art('x', writeTar(entries('x'), EPOCH))]);
      expect(d?.status).toBe('differs');
      expect(d?.members).toBeUndefined();
    }
    // Both sides garbage: still no members, no throw.
    const [d] = compareArtifacts([art('x', garbage)], [art('x', new Uint8Array([0x1f, 0x8b]))]);
    expect(d?.members).toBeUndefined();
  });

  it('counts a repeated name as identical only when every copy matches', () => {
    expect(compareArtifacts([art('a', 'x'), art('a', 'x')], [art('a', 'x')])).toEqual([]);
    const [d, ...rest] = compareArtifacts([art('a', 'x'), art('a', 'y')], [art('a', 'x')]);
    expect(rest).toEqual([]);
    expect(d?.status).toBe('differs');
    expect(d?.members).toBeUndefined();
  });
});

describe('differingFiles', () => {
  it('lists artifacts and their differing members', () => {
    const diff = compareArtifacts(
      [art('r.tar', writeTar(entries('one'), EPOCH)), art('app.bin', 'v'), art('gone.txt', 'g')],
      [
        art('r.tar', writeTar(entries('two').slice(1), EPOCH)),
        art('app.bin', 'r'),
        art('new.txt', 'n'),
      ],
    );
    expect(differingFiles(diff)).toEqual([
      'app.bin',
      'gone.txt',
      'new.txt',
      'r.tar',
      'r.tar!bin/run',
      'r.tar!build-info.txt',
    ]);
    expect(differingFiles([])).toEqual([]);
  });
});

describe('runDiffoscope', () => {
  let dir = '';
  const script = async (name: string, body: string): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, `#!/bin/sh\n${body}\n`);
    await chmod(path, 0o755);
    return path;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rebuild-diff-'));
    await writeFile(join(dir, 'vendor.txt'), 'built at 2024-01-02\n');
    await writeFile(join(dir, 'rebuild.txt'), 'built at 2024-06-07\n');
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const files = (): [string, string] => [join(dir, 'vendor.txt'), join(dir, 'rebuild.txt')];

  it('reports a missing program as not-installed', async () => {
    const result = await runDiffoscope(...files(), { program: 'no-such-diffoscope-0b7e2c' });
    expect(result).toEqual({ status: 'not-installed' });
  });

  it('treats exit 1 as ran', async () => {
    const result = await runDiffoscope(...files(), { program: 'false' });
    expect(result).toEqual({ status: 'ran', output: '', truncated: false });
  });

  it('passes the diffoscope arguments and keeps the output', async () => {
    const echo = await script('echo-args', 'printf "%s\\n" "$@"; exit 1');
    const result = await runDiffoscope('vendor.txt', '/abs/rebuild.txt', { program: echo });
    expect(result.status).toBe('ran');
    expect(result.status === 'ran' ? result.output.split('\n') : []).toEqual([
      '--text',
      '-',
      '--no-progress',
      join(process.cwd(), 'vendor.txt'),
      '/abs/rebuild.txt',
      '',
    ]);
  });

  it('reports any other exit code as failed', async () => {
    const three = await script('exit3', 'echo "boom" >&2; exit 3');
    const result = await runDiffoscope(...files(), { program: three });
    expect(result.status).toBe('failed');
    expect(result.status === 'failed' ? result.reason : '').toContain('exited with 3: boom');
  });

  it('cuts output at maxOutputBytes', async () => {
    const big = await script('big', 'head -c 1048576 /dev/zero | tr "\\0" a; exit 1');
    const result = await runDiffoscope(...files(), { program: big, maxOutputBytes: 1000 });
    expect(result.status).toBe('ran');
    if (result.status !== 'ran') return;
    expect(result.truncated).toBe(true);
    expect(result.output.length).toBeLessThanOrEqual(1000);
    expect(result.output).toBe('a'.repeat(1000));
  });

  it('fails on timeout and kills the process group', async () => {
    const slow = await script('slow', 'sleep 30; exit 1');
    const started = Date.now();
    const result = await runDiffoscope(...files(), { program: slow, timeoutMs: 200 });
    expect(result.status).toBe('failed');
    expect(result.status === 'failed' ? result.reason : '').toContain('within 200 ms');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('reports a killed program as failed', async () => {
    const killed = await script('killed', 'kill -9 $$');
    const result = await runDiffoscope(...files(), { program: killed });
    expect(result.status).toBe('failed');
    expect(result.status === 'failed' ? result.reason : '').toContain('SIGKILL');
  });

  it('runs the real diffoscope when installed', async (ctx) => {
    const probe = spawnSync('diffoscope', ['--version'], { encoding: 'utf8' });
    if (probe.error !== undefined || probe.status !== 0) {
      // CI installs Debian's diffoscope-minimal: there its absence is a failure.
      if (process.env.CI) expect.fail('diffoscope is not installed');
      console.info('skipping: diffoscope is not installed (apt-get install diffoscope-minimal)');
      ctx.skip('diffoscope is not installed');
    }
    const result = await runDiffoscope(...files());
    expect(result.status).toBe('ran');
    expect(result.status === 'ran' ? result.output : '').toContain('2024-06-07');
  });
});
