import { describe, expect, it } from 'vitest';
import { codeOf } from '../../errors/test/codes.js';
import {
  buildEnvironment,
  bubblewrapArgs,
  bubblewrapProbeArgs,
  checkCommands,
  checkOutputPath,
  etcFiles,
  formatSourceDateEpoch,
  sandboxExtraPath,
  TailBuffer,
  withUmask,
  type HostLayout,
} from '../src/build/sandbox-plan.js';

const MERGED_USR: HostLayout = {
  rootEntries: [
    { name: 'bin', kind: 'symlink', target: 'usr/bin' },
    { name: 'lib', kind: 'symlink', target: 'usr/lib' },
    { name: 'lib64', kind: 'symlink', target: 'usr/lib64' },
  ],
};

const MOUNTS = {
  source: '/host/src',
  work: '/host/scratch/work',
  out: '/host/out',
  passwd: '/host/scratch/etc/passwd',
  group: '/host/scratch/etc/group',
  hosts: '/host/scratch/etc/hosts',
};

/** The index of `needle` as a contiguous run inside `haystack`, or -1. */
function indexOfRun(haystack: readonly string[], needle: readonly string[]): number {
  for (let i = 0; i + needle.length <= haystack.length; i++) {
    if (needle.every((n, j) => haystack[i + j] === n)) return i;
  }
  return -1;
}

describe('formatSourceDateEpoch', () => {
  it('accepts integers as number or bigint', () => {
    expect(formatSourceDateEpoch(0)).toBe('0');
    expect(formatSourceDateEpoch(1_700_000_000n)).toBe('1700000000');
  });
  it('rejects fractions, negatives and far-future values', () => {
    for (const bad of [1.5, -1, Number.NaN, 10n ** 15n, -1n]) {
      expect(codeOf(() => formatSourceDateEpoch(bad))).toBe('SANDBOX_INVALID_REQUEST');
    }
  });
});

describe('checkOutputPath', () => {
  it('accepts plain relative paths', () => {
    for (const ok of ['a', 'dist/pkg-1.0.0.tgz', '.hidden/x']) expect(checkOutputPath(ok)).toBe(ok);
  });
  it('rejects absolute, dotted, empty-segment and odd paths', () => {
    for (const bad of ['', '/etc/passwd', '../x', 'a/../b', './a', 'a//b', 'a/', 'a\\b', 'a\0b']) {
      expect(codeOf(() => checkOutputPath(bad))).toBe('SANDBOX_INVALID_REQUEST');
    }
  });
});

describe('checkCommands', () => {
  it('needs at least one non-empty argv', () => {
    expect(
      codeOf(() => {
        checkCommands([]);
      }),
    ).toBe('SANDBOX_INVALID_REQUEST');
    expect(
      codeOf(() => {
        checkCommands([[]]);
      }),
    ).toBe('SANDBOX_INVALID_REQUEST');
    expect(
      codeOf(() => {
        checkCommands([['']]);
      }),
    ).toBe('SANDBOX_INVALID_REQUEST');
    expect(
      codeOf(() => {
        checkCommands([['sh', 'a\0']]);
      }),
    ).toBe('SANDBOX_INVALID_REQUEST');
    expect(
      codeOf(() => {
        checkCommands([['true']]);
      }),
    ).toBe('accepted');
  });
});

describe('buildEnvironment', () => {
  const base = { sourceDateEpoch: 42, home: '/build/home', tmp: '/tmp', outDir: '/build/out' };

  it('is exactly the fixed variables, sorted', () => {
    const env = buildEnvironment(base);
    expect(env).toEqual({
      HOME: '/build/home',
      LANG: 'C.UTF-8',
      LC_ALL: 'C.UTF-8',
      LOGNAME: 'build',
      OUT_DIR: '/build/out',
      PATH: '/usr/bin:/bin',
      SOURCE_DATE_EPOCH: '42',
      TMPDIR: '/tmp',
      TZ: 'UTC',
      USER: 'build',
    });
    expect(Object.keys(env)).toEqual([...Object.keys(env)].sort());
  });

  it('adds allowed extras and PATH entries, but never overrides a fixed variable', () => {
    const env = buildEnvironment({
      ...base,
      extraPath: ['/opt/node/bin', '/usr/bin'],
      extra: { NODE_ENV: 'production' },
    });
    expect(env['PATH']).toBe('/opt/node/bin:/usr/bin:/bin');
    expect(env['NODE_ENV']).toBe('production');
    const extras: Record<string, string>[] = [
      { TZ: 'Europe/Zurich' },
      { PATH: '/x' },
      { 'BAD-NAME': 'x' },
      { A: 'x\0' },
    ];
    for (const extra of extras) {
      expect(codeOf(() => buildEnvironment({ ...base, extra }))).toBe('SANDBOX_INVALID_REQUEST');
    }
  });
});

describe('withUmask', () => {
  it('passes argv through sh untouched', () => {
    expect(withUmask(['node', '-e', '$X; *'])).toEqual([
      '/bin/sh',
      '-c',
      'umask 022 && exec "$@"',
      'sh',
      'node',
      '-e',
      '$X; *',
    ]);
  });
});

describe('bubblewrapArgs', () => {
  const env = buildEnvironment({
    sourceDateEpoch: 7,
    home: '/build/home',
    tmp: '/tmp',
    outDir: '/build/out',
  });
  const args = bubblewrapArgs(MERGED_USR, MOUNTS, env, ['npm', 'pack']);

  it('isolates every namespace with a fixed identity', () => {
    expect(args.slice(0, 10)).toEqual([
      '--unshare-all',
      '--unshare-user',
      '--uid',
      '1000',
      '--gid',
      '1000',
      '--hostname',
      'build',
      '--die-with-parent',
      '--new-session',
    ]);
    expect(args).not.toContain('--share-net');
  });

  it('mounts the system read-only and the build at fixed paths', () => {
    for (const run of [
      ['--ro-bind', '/usr', '/usr'],
      ['--symlink', 'usr/bin', '/bin'],
      ['--symlink', 'usr/lib64', '/lib64'],
      ['--ro-bind-try', '/etc/ld.so.cache', '/etc/ld.so.cache'],
      ['--ro-bind', '/host/scratch/etc/passwd', '/etc/passwd'],
      ['--ro-bind', '/host/src', '/build/src'],
      ['--bind', '/host/scratch/work', '/build/work'],
      ['--bind', '/host/out', '/build/out'],
      ['--tmpfs', '/build/home'],
      ['--tmpfs', '/tmp'],
      ['--proc', '/proc'],
      ['--dev', '/dev'],
      ['--remount-ro', '/'],
      ['--chdir', '/build/work'],
    ]) {
      expect(indexOfRun(args, run), run.join(' ')).toBeGreaterThanOrEqual(0);
    }
    // The root is made read-only after every mount is in place.
    const remount = indexOfRun(args, ['--remount-ro', '/']);
    expect(remount).toBeGreaterThan(indexOfRun(args, ['--tmpfs', '/build/home']));
  });

  it('clears the environment, then sets exactly the given one', () => {
    const clear = args.indexOf('--clearenv');
    const setenv = args.flatMap((a, i) => (a === '--setenv' ? [i] : []));
    expect(setenv.length).toBe(Object.keys(env).length);
    expect(setenv.every((i) => i > clear)).toBe(true);
    expect(indexOfRun(args, ['--setenv', 'SOURCE_DATE_EPOCH', '7'])).toBeGreaterThan(clear);
  });

  it('ends with the umask-wrapped command', () => {
    const dashdash = args.lastIndexOf('--');
    expect(args.slice(dashdash + 1)).toEqual(withUmask(['npm', 'pack']));
  });

  it('binds a Node.js outside /usr read-only at /opt/node and puts it on PATH', () => {
    const layout: HostLayout = {
      ...MERGED_USR,
      node: { prefix: '/home/u/node-v20', binDir: 'bin' },
    };
    expect(sandboxExtraPath(layout)).toEqual(['/opt/node/bin']);
    const withNode = bubblewrapArgs(layout, MOUNTS, env, ['node', '-v']);
    expect(indexOfRun(withNode, ['--ro-bind', '/home/u/node-v20', '/opt/node'])).toBeGreaterThan(0);
    expect(sandboxExtraPath(MERGED_USR)).toEqual([]);
  });

  it('binds real root directories on hosts without merged /usr', () => {
    const split: HostLayout = { rootEntries: [{ name: 'bin', kind: 'dir' }] };
    expect(indexOfRun(bubblewrapProbeArgs(split), ['--ro-bind', '/bin', '/bin'])).toBeGreaterThan(
      0,
    );
  });
});

describe('etcFiles', () => {
  it('names the build user with the sandbox HOME', () => {
    expect(etcFiles().passwd).toBe('build:x:1000:1000:build:/build/home:/bin/sh\n');
  });
});

describe('TailBuffer', () => {
  it('keeps the last bytes and says how many were dropped', () => {
    const tail = new TailBuffer(5);
    tail.push(Buffer.from('abc'));
    expect(tail.text()).toBe('abc');
    tail.push(Buffer.from('defg'));
    tail.push(Buffer.from('h'));
    expect(tail.text()).toBe('[3 earlier bytes dropped]\ndefgh');
  });
});
