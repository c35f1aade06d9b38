/**
 * The self-check of a product version before it becomes current, run with
 * the new code from its own directory:
 *
 *  1. `glasshouse --version` prints exactly the release's version;
 *  2. `glasshouse agent scan --json` of the installed rules' self-test
 *     samples (from the active rules slot) reports for each sample exactly
 *     the rules its manifest expects, and nothing for clean files.
 *
 * The `glasshouse` command is the package.json `bin` entry of that name,
 * which must be a file of the package. Each run has a time limit and a cap
 * on its output; any failure is AGENT_PRODUCT_SELFCHECK_FAILED.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { MANIFEST_PATH, parseManifest, type SelfTestCase } from '@glasshouse/bundle';
import type { ProductFiles } from '@glasshouse/release-format';
import { AgentError } from './errors.js';

/** The command every product provides. */
export const PRODUCT_BIN = 'glasshouse';
/** How long each self-check run may take. */
export const SELFCHECK_TIMEOUT_MS = 60_000;
/** Self-test cases of the installed rules scanned by the new code. */
export const SELFCHECK_MAX_CASES = 64;
const MAX_OUTPUT_BYTES = 4 * 1024 * 1024;

export interface ProductSelfCheck {
  readonly version: string;
  /** Samples scanned with the new code (0 when no rules are installed). */
  readonly scannedCases: number;
}

/**
 * Runs the self-check of the product unpacked in `dir` (see the module
 * comment). `agentDir` is the agent's directory (the new code reads its
 * installed rules); `rulesDir` the active rules slot, when there is one.
 */
export async function selfCheckProduct(options: {
  readonly dir: string;
  readonly manifest: ProductFiles;
  readonly agentDir: string;
  readonly rulesDir: string | undefined;
  readonly timeoutMs?: number;
}): Promise<ProductSelfCheck> {
  const { dir, manifest } = options;
  const timeoutMs = options.timeoutMs ?? SELFCHECK_TIMEOUT_MS;
  const bin = await binOf(dir, manifest);
  const version = await run(bin, ['--version'], dir, timeoutMs);
  if (version.code !== 0 || version.stdout.trim() !== manifest.version) {
    throw failed(
      `--version printed ${JSON.stringify(version.stdout.trim())}, not ${manifest.version}`,
      {
        exitCode: version.code,
        stderr: version.stderr.slice(-2000),
      },
    );
  }
  const rulesDir = options.rulesDir;
  if (rulesDir === undefined) return { version: manifest.version, scannedCases: 0 };

  let cases: readonly SelfTestCase[];
  try {
    cases = parseManifest(await readFile(join(rulesDir, MANIFEST_PATH))).selfTest.slice(
      0,
      SELFCHECK_MAX_CASES,
    );
  } catch (cause) {
    throw new AgentError(
      'AGENT_INSTALL_FAILED',
      'cannot read the installed rules for the self-check',
      {
        cause,
      },
    );
  }
  if (cases.length === 0) return { version: manifest.version, scannedCases: 0 };
  const samples = cases.map((c) => resolve(rulesDir, c.sample));
  const scan = await run(
    bin,
    ['agent', 'scan', '--dir', options.agentDir, '--json', '--', ...samples],
    dir,
    timeoutMs,
  );
  // `agent scan` exits 1 when something matched, 0 when clean; anything else is a failure.
  if (scan.code !== 0 && scan.code !== 1) {
    throw failed(`agent scan exited ${scan.code}`, { stderr: scan.stderr.slice(-2000) });
  }
  const matched = new Map<string, string[]>();
  for (const line of scan.stdout.split('\n')) {
    if (line.trim() === '') continue;
    let record: { type?: unknown; path?: unknown; rules?: unknown };
    try {
      record = JSON.parse(line) as typeof record;
    } catch (cause) {
      throw new AgentError(
        'AGENT_PRODUCT_SELFCHECK_FAILED',
        'agent scan printed a line that is not JSON',
        {
          cause,
        },
      );
    }
    if (record.type === 'match' && typeof record.path === 'string' && Array.isArray(record.rules)) {
      matched.set(resolve(record.path), record.rules.map(String));
    }
  }
  for (const [i, c] of cases.entries()) {
    const got = [...(matched.get(samples[i] ?? '') ?? [])].sort();
    const want = [...c.expect].sort();
    if (got.join('\n') !== want.join('\n')) {
      throw failed(
        `the new code's scan of ${c.sample} found [${got.join(', ')}], not [${want.join(', ')}]`,
        {
          sample: c.sample,
        },
      );
    }
  }
  return { version: manifest.version, scannedCases: cases.length };
}

/** The package's `glasshouse` bin: a file of the manifest, inside `dir`. */
async function binOf(dir: string, manifest: ProductFiles): Promise<string> {
  let bin: unknown;
  try {
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as {
      name?: unknown;
      bin?: unknown;
    };
    bin =
      typeof pkg.bin === 'string'
        ? pkg.bin
        : (pkg.bin as Record<string, unknown> | undefined)?.[PRODUCT_BIN];
  } catch (cause) {
    throw new AgentError('AGENT_PRODUCT_SELFCHECK_FAILED', 'package.json does not read', { cause });
  }
  if (typeof bin !== 'string') throw failed(`package.json has no "${PRODUCT_BIN}" bin`, {});
  const rel = bin.replace(/^\.\//, '');
  const path = resolve(dir, rel);
  if (!path.startsWith(`${resolve(dir)}${sep}`) || manifest.files[rel] === undefined) {
    throw failed(`the bin ${bin} is not a file of the package`, { bin });
  }
  return path;
}

interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `node <bin> …args` in `cwd`, in its own process group, killed whole at the time limit. */
function run(
  bin: string,
  args: readonly string[],
  cwd: string,
  timeoutMs: number,
): Promise<RunResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? cwd },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let why: string | undefined;
    const kill = (reason: string): void => {
      why ??= reason;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_OUTPUT_BYTES) kill(`printed more than ${MAX_OUTPUT_BYTES} bytes`);
      else into.push(chunk);
    };
    child.stdout.on('data', collect(out));
    child.stderr.on('data', collect(err));
    const timer = setTimeout(() => {
      kill(`ran longer than ${timeoutMs} ms`);
    }, timeoutMs);
    child.on('error', (cause) => {
      clearTimeout(timer);
      fail(
        new AgentError('AGENT_PRODUCT_SELFCHECK_FAILED', 'cannot run the new version', { cause }),
      );
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (why !== undefined) {
        fail(failed(`${args[0] ?? ''}: ${why}`, {}));
        return;
      }
      done({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

function failed(message: string, evidence: Record<string, unknown>): AgentError {
  return new AgentError('AGENT_PRODUCT_SELFCHECK_FAILED', `self-check: ${message}`, { evidence });
}
