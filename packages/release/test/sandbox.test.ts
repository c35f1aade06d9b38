import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasCode } from '@glasshouse/errors';
import {
  detectSandbox,
  runBuild,
  type BuildRequest,
  type SandboxInfo,
} from '../src/build/sandbox.js';
import { eventuallyNoProcessWith } from './processes.js';

const detected = await detectSandbox();
const NO_SANDBOX: SandboxInfo = { kind: 'none', reason: 'forced off by the test' };
const EPOCH = 1_234_567_890n; // 2009-02-13T23:31:30Z

let root = '';
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sandbox-test-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let counter = 0;
async function freshDir(label: string): Promise<string> {
  counter += 1;
  const dir = join(root, `${label}-${counter}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

async function sourceTree(): Promise<string> {
  const dir = await freshDir('src');
  await writeFile(join(dir, 'input.txt'), 'hello\n');
  return dir;
}

async function build(
  sandbox: SandboxInfo,
  fields: Partial<BuildRequest> & Pick<BuildRequest, 'commands'>,
): Promise<{ outputDir: string; result: Awaited<ReturnType<typeof runBuild>> }> {
  const outputDir = join(await freshDir('out'), 'o');
  const result = await runBuild({
    sourceDir: fields.sourceDir ?? (await sourceTree()),
    outputDir,
    outputs: [],
    sourceDateEpoch: EPOCH,
    timeoutMs: 15_000,
    sandbox,
    ...fields,
  });
  return { outputDir, result };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the build to fail');
}

/**
 * A build whose command is a process tree that would run for a minute,
 * aborted once it runs: SANDBOX_CANCELLED within a second or two, no
 * process of the tree left.
 */
async function expectCancelled(sandbox: SandboxInfo, token: string): Promise<void> {
  const controller = new AbortController();
  let cancelledAt = 0;
  const running = build(sandbox, {
    commands: [
      ['sh', '-c', `node -e "setInterval(() => {}, 1000)" ${token} & echo started; sleep 60`],
    ],
    timeoutMs: 120_000,
    signal: controller.signal,
    onOutput: (chunk) => {
      if (cancelledAt === 0 && chunk.data.toString().includes('started')) {
        cancelledAt = performance.now();
        controller.abort();
      }
    },
  });
  const err = await failure(running);
  expect(hasCode(err, 'SANDBOX_CANCELLED')).toBe(true);
  expect(cancelledAt).toBeGreaterThan(0);
  expect(performance.now() - cancelledAt).toBeLessThan(2_000);
  expect(await eventuallyNoProcessWith(token)).toEqual([]);
}

// What a build reports about its environment, written to $OUT_DIR.
const ENV_REPORT = [
  'sh',
  '-c',
  [
    'printf "epoch=%s\\ntz=%s\\nhome=%s\\nlang=%s\\nlc_all=%s\\ntmpdir=%s\\npath=%s\\n" "$SOURCE_DATE_EPOCH" "$TZ" "$HOME" "$LANG" "$LC_ALL" "$TMPDIR" "$PATH" > "$OUT_DIR/env.txt"',
    'echo "date=$(date -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%S%z)" >> "$OUT_DIR/env.txt"',
    'echo "umask=$(umask)" >> "$OUT_DIR/env.txt"',
    'echo "mtime=$(stat -c %Y input.txt)" >> "$OUT_DIR/env.txt"',
    'echo "cwd=$(pwd)" >> "$OUT_DIR/env.txt"',
    'echo "who=$(id -un):$(id -u):$(id -g)" >> "$OUT_DIR/env.txt"',
    'echo "host=$(hostname)" >> "$OUT_DIR/env.txt"',
  ].join('\n'),
];
const NODE_REPORT = [
  'node',
  '-e',
  [
    "const os = require('os');",
    'const d = new Date(Number(process.env.SOURCE_DATE_EPOCH) * 1000);',
    "require('fs').mkdirSync(process.env.OUT_DIR + '/sub');",
    "require('fs').writeFileSync(process.env.OUT_DIR + '/sub/node.txt',",
    "  [d.toString(), d.toLocaleString(), os.homedir(), os.userInfo().username].join('\\n') + '\\n');",
  ].join('\n'),
];

if (detected.kind === 'none') {
  if (process.env['CI'] !== undefined) {
    describe('bubblewrap sandbox', () => {
      it('is usable on CI', () => {
        throw new Error(`bubblewrap is required on CI: ${detected.reason}`);
      });
    });
  } else {
    console.warn(`skipping bubblewrap sandbox tests: ${detected.reason}`);
  }
}

describe.skipIf(detected.kind === 'none')('bubblewrap sandbox', () => {
  const sandbox = detected;

  const version = detected.kind === 'bubblewrap' ? detected.version : '';

  it('detects a working bubblewrap', () => {
    expect(sandbox.kind).toBe('bubblewrap');
    expect(version).toMatch(/^\d+\.\d+/);
  });

  it('gives a fixed environment, runs node, and builds identically in different directories', async () => {
    const outputs = ['env.txt', 'sub/node.txt'];
    const first = await build(sandbox, { commands: [ENV_REPORT, NODE_REPORT], outputs });
    const second = await build(sandbox, { commands: [ENV_REPORT, NODE_REPORT], outputs });
    expect(first.result.isolated).toBe(true);
    expect(first.result.sandbox).toEqual({ kind: 'bubblewrap', version });
    expect(first.result.steps.map((s) => s.argv)).toEqual([ENV_REPORT, NODE_REPORT]);
    expect(first.result.steps.every((s) => s.exitCode === 0)).toBe(true);

    const env = await readFile(join(first.outputDir, 'env.txt'), 'utf8');
    expect(env).toContain('epoch=1234567890\n');
    expect(env).toContain('tz=UTC\n');
    expect(env).toContain('home=/build/home\n');
    expect(env).toContain('lang=C.UTF-8\n');
    expect(env).toContain('lc_all=C.UTF-8\n');
    expect(env).toContain('tmpdir=/tmp\n');
    expect(env).toContain('date=2009-02-13T23:31:30+0000\n');
    expect(env).toContain('umask=0022\n');
    expect(env).toContain('mtime=1234567890\n');
    expect(env).toContain('cwd=/build/work\n');
    expect(env).toContain('who=build:1000:1000\n');
    expect(env).toContain('host=build\n');
    expect(env).not.toContain(root);

    const node = await readFile(join(first.outputDir, 'sub/node.txt'), 'utf8');
    expect(node).toContain('Fri Feb 13 2009 23:31:30 GMT+0000');
    expect(node).toContain('/build/home\nbuild\n');

    expect(first.result.outputs.map((o) => o.path)).toEqual(outputs);
    expect(first.result.outputs).toEqual(second.result.outputs);
    expect(first.result.environment).toEqual(second.result.environment);
  });

  describe('network', () => {
    let server: Server;
    let port = 0;
    beforeAll(async () => {
      server = createServer((socket) => socket.end());
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      port = address.port;
    });
    afterAll(async () => {
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    });

    const connect = (): string[] => [
      'node',
      '-e',
      `const s = require('net').connect(${port}, '127.0.0.1');
       s.on('connect', () => { s.end(); process.exit(0); });
       s.on('error', () => process.exit(3));
       setTimeout(() => process.exit(4), 3000);`,
    ];

    it('cannot reach a server on the host loopback from inside the sandbox', async () => {
      const argv = connect();
      const err = await failure(build(sandbox, { commands: [argv] }));
      expect(hasCode(err, 'SANDBOX_COMMAND_FAILED')).toBe(true);
      expect((err as { evidence: { argv: string[]; exitCode: number } }).evidence).toMatchObject({
        argv,
        exitCode: 3,
      });
    });

    it('reaches the same server when the command runs without the sandbox', async () => {
      const { result } = await build(NO_SANDBOX, { commands: [connect()] });
      expect(result.isolated).toBe(false);
    });
  });

  it('keeps writes outside the output directory from reaching the host', async () => {
    const sourceDir = await sourceTree();
    // A host directory outside the temp directory (which is a tmpfs inside the sandbox).
    const hostDir = await mkdtemp(join(fileURLToPath(new URL('.', import.meta.url)), '.host-'));
    const tmpHostDir = await freshDir('host');
    // Paths under the host's /tmp exist only in the sandbox's own /tmp; a
    // checkout that itself lives under /tmp puts hostDir there too.
    const hostDirInTmp = hostDir.startsWith('/tmp/');
    const attempts = ['/build/src/planted', '/usr/planted', '/planted', '/etc/planted'];
    const invisible = [join(tmpHostDir, 'planted'), join(sourceDir, 'planted')];
    (hostDirInTmp ? invisible : attempts).push(join(hostDir, 'planted'));
    const script = [
      ...[...attempts, ...invisible].map(
        (p) =>
          `if (mkdir -p "$(dirname '${p}')" && echo x > '${p}') 2>/dev/null; then echo "wrote ${p}"; else echo "refused ${p}"; fi >> "$OUT_DIR/report"`,
      ),
      'echo changed > input.txt',
      'echo "work=$(cat input.txt)" >> "$OUT_DIR/report"',
    ].join('\n');
    let report: string;
    try {
      const { outputDir } = await build(sandbox, {
        sourceDir,
        commands: [['sh', '-c', script]],
        outputs: ['report'],
      });
      report = await readFile(join(outputDir, 'report'), 'utf8');
      // Nothing reached the host, and the source is untouched.
      expect(await readdir(hostDir)).toEqual([]);
    } finally {
      await rm(hostDir, { recursive: true, force: true });
    }
    for (const p of attempts) expect(report).toContain(`refused ${p}\n`);
    expect(report).toContain('work=changed\n');
    expect(await readdir(tmpHostDir)).toEqual([]);
    await expect(readFile('/usr/planted')).rejects.toThrow();
    await expect(readFile('/planted')).rejects.toThrow();
    expect(await readFile(join(sourceDir, 'input.txt'), 'utf8')).toBe('hello\n');
    expect(await readdir(sourceDir)).toEqual(['input.txt']);
  });

  it('reports a declared output that was not produced', async () => {
    const err = await failure(
      build(sandbox, { commands: [['sh', '-c', 'echo hi > "$OUT_DIR/a"']], outputs: ['a', 'b'] }),
    );
    expect(hasCode(err, 'SANDBOX_OUTPUT_MISSING')).toBe(true);
    expect((err as { evidence: { path: string } }).evidence.path).toBe('b');
  });

  it('refuses an output that is a symlink, or below one', async () => {
    const link = await failure(
      build(sandbox, {
        commands: [['sh', '-c', 'ln -s /etc/passwd "$OUT_DIR/a"']],
        outputs: ['a'],
      }),
    );
    expect(hasCode(link, 'SANDBOX_OUTPUT_UNSAFE')).toBe(true);
    const dirLink = await failure(
      build(sandbox, {
        commands: [['sh', '-c', 'ln -s /usr/bin "$OUT_DIR/d"']],
        outputs: ['d/sh'],
      }),
    );
    expect(hasCode(dirLink, 'SANDBOX_OUTPUT_UNSAFE')).toBe(true);
  });

  it('collects only the declared outputs', async () => {
    const { result } = await build(sandbox, {
      commands: [['sh', '-c', 'echo a > "$OUT_DIR/a"; echo b > "$OUT_DIR/b"']],
      outputs: ['a'],
    });
    expect(result.outputs).toEqual([
      {
        path: 'a',
        sha256: '87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7',
        size: 2,
      },
    ]);
  });

  it('names the argv and exit code of a failing command, and stops there', async () => {
    const argv = ['sh', '-c', 'echo oops >&2; exit 7'];
    const err = await failure(
      build(sandbox, { commands: [argv, ['sh', '-c', 'echo never > "$OUT_DIR/x"']] }),
    );
    expect(hasCode(err, 'SANDBOX_COMMAND_FAILED')).toBe(true);
    expect((err as { evidence: unknown }).evidence).toMatchObject({
      argv,
      exitCode: 7,
      output: 'oops\n',
    });
  });

  it('runs argv without a shell', async () => {
    const { outputDir } = await build(sandbox, {
      commands: [
        [
          'node',
          '-e',
          'require("fs").writeFileSync(process.env.OUT_DIR + "/a", process.argv[1])',
          '$HOME; *',
        ],
      ],
      outputs: ['a'],
    });
    expect(await readFile(join(outputDir, 'a'), 'utf8')).toBe('$HOME; *');
  });

  it('kills the whole build on timeout and leaves no process behind', async () => {
    const token = `lingering-${process.pid}-${Date.now()}`;
    const argv = ['sh', '-c', `node -e "setInterval(() => {}, 1000)" ${token} & sleep 30`];
    const started = Date.now();
    const err = await failure(build(sandbox, { commands: [argv], timeoutMs: 1000 }));
    expect(hasCode(err, 'SANDBOX_TIMEOUT')).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await eventuallyNoProcessWith(token)).toEqual([]);
  });

  it('is cancelled at once: the whole build is killed', async () => {
    await expectCancelled(sandbox, `cancelled-${process.pid}-${Date.now()}`);
  });
});

describe('without bubblewrap', () => {
  it('runs the build and says it was not isolated', async () => {
    const { result, outputDir } = await build(NO_SANDBOX, {
      commands: [ENV_REPORT, NODE_REPORT],
      outputs: ['env.txt', 'sub/node.txt'],
    });
    expect(result.isolated).toBe(false);
    expect(result.sandbox).toEqual(NO_SANDBOX);
    const env = await readFile(join(outputDir, 'env.txt'), 'utf8');
    expect(env).toContain('epoch=1234567890\n');
    expect(env).toContain('tz=UTC\n');
    expect(env).toContain('umask=0022\n');
    expect(env).toContain('mtime=1234567890\n');
    expect(result.environment['HOME']).not.toBe('/build/home');
    expect(result.outputs).toHaveLength(2);
  });

  it('still kills the process group on timeout', async () => {
    const token = `lingering-plain-${process.pid}-${Date.now()}`;
    const argv = ['sh', '-c', `node -e "setInterval(() => {}, 1000)" ${token} & sleep 30`];
    const err = await failure(build(NO_SANDBOX, { commands: [argv], timeoutMs: 1000 }));
    expect(hasCode(err, 'SANDBOX_TIMEOUT')).toBe(true);
    expect(await eventuallyNoProcessWith(token)).toEqual([]);
  });

  it('is cancelled at once too', async () => {
    await expectCancelled(NO_SANDBOX, `cancelled-plain-${process.pid}-${Date.now()}`);
  });

  it('refuses a non-empty output directory and bad requests', async () => {
    const outputDir = await freshDir('busy');
    await writeFile(join(outputDir, 'stale'), 'x');
    const sourceDir = await sourceTree();
    const base = {
      sourceDir,
      outputDir,
      outputs: [],
      commands: [['true']],
      sourceDateEpoch: EPOCH,
      timeoutMs: 1000,
      sandbox: NO_SANDBOX,
    };
    expect(hasCode(await failure(runBuild(base)), 'SANDBOX_INVALID_REQUEST')).toBe(true);
    const empty = join(await freshDir('o'), 'o');
    for (const bad of [
      { outputs: ['../escape'] },
      { commands: [] },
      { env: { PATH: '/evil' } },
      { sourceDateEpoch: -1 },
      { timeoutMs: 0 },
      { sourceDir: join(root, 'missing') },
    ]) {
      const err = await failure(runBuild({ ...base, outputDir: empty, ...bad }));
      expect(hasCode(err, 'SANDBOX_INVALID_REQUEST')).toBe(true);
    }
  });
});

describe('detectSandbox', () => {
  it('reports a missing bwrap', async () => {
    const info = await detectSandbox({ searchPath: join(tmpdir(), 'no-such-dir') });
    expect(info).toEqual({ kind: 'none', reason: 'bwrap was not found on PATH' });
  });

  it('reports a bwrap that does not work', async () => {
    const info = await detectSandbox({ bwrapPath: '/bin/false' });
    expect(info.kind).toBe('none');
    expect(info.kind === 'none' && info.reason).toMatch(/--version failed/);
  });
});
