import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import type { Readable } from 'node:stream';
import { sha256Hex } from '@glasshouse/attest';
import { compareBytes, readTarArchive, type TarFile } from '@glasshouse/bundle';
import { killProcessGroup } from '../build/sandbox.js';

/**
 * What the supervisor reports when its rebuild of a release does not match
 * the vendor's artifacts byte for byte: which artifacts differ and, for tar
 * archives, which files inside them. `runDiffoscope` adds diffoscope's
 * detailed text when the tool is installed.
 */

export interface ArtifactBytes {
  readonly name: string;
  readonly bytes: Uint8Array;
}

export type MemberDifference = {
  readonly path: string;
  readonly status: 'content-differs' | 'metadata-differs' | 'only-in-vendor' | 'only-in-rebuild';
  /** SHA-256 of the member's data, when present in the vendor archive. */
  readonly vendorSha256?: string;
  readonly rebuildSha256?: string;
  /** Which of mode/mtime differ, e.g. `['mtime']` (also set on content-differs when they do). */
  readonly fields?: readonly string[];
};

export interface ArtifactDifference {
  /** The artifact name. */
  readonly artifact: string;
  readonly status: 'differs' | 'missing-in-rebuild' | 'extra-in-rebuild';
  readonly vendorSha256?: string;
  readonly rebuildSha256?: string;
  readonly vendorSize?: number;
  readonly rebuildSize?: number;
  /** Present when both sides are ustar archives (optionally gzip-compressed) readable by readTar. */
  readonly members?: readonly MemberDifference[];
}

/** The files of a ustar archive (gzip-compressed or not), or `undefined` for anything else. */
function archiveFiles(bytes: Uint8Array): Map<string, TarFile> | undefined {
  try {
    return new Map(readTarArchive(bytes).map((file) => [file.path, file]));
  } catch {
    // Not valid gzip, inflates past the limit, or not an archive readTar accepts:
    // compared as a plain file.
    return undefined;
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

function compareMembers(
  vendor: Map<string, TarFile>,
  rebuild: Map<string, TarFile>,
): MemberDifference[] {
  const paths = [...new Set([...vendor.keys(), ...rebuild.keys()])].sort(compareBytes);
  const out: MemberDifference[] = [];
  for (const path of paths) {
    const v = vendor.get(path);
    const r = rebuild.get(path);
    if (r === undefined) {
      if (v !== undefined) {
        out.push({ path, status: 'only-in-vendor', vendorSha256: sha256Hex(v.data) });
      }
      continue;
    }
    if (v === undefined) {
      out.push({ path, status: 'only-in-rebuild', rebuildSha256: sha256Hex(r.data) });
      continue;
    }
    const fields: string[] = [];
    if (v.mode !== r.mode) fields.push('mode');
    if (v.mtime !== r.mtime) fields.push('mtime');
    const sameData = equalBytes(v.data, r.data);
    if (sameData && fields.length === 0) continue;
    out.push({
      path,
      status: sameData ? 'metadata-differs' : 'content-differs',
      vendorSha256: sha256Hex(v.data),
      rebuildSha256: sha256Hex(r.data),
      ...(fields.length > 0 ? { fields } : {}),
    });
  }
  return out;
}

/** Member differences when both sides are archives, `undefined` otherwise; never throws. */
function memberDifferences(
  vendor: Uint8Array,
  rebuild: Uint8Array,
): MemberDifference[] | undefined {
  try {
    const v = archiveFiles(vendor);
    const r = v === undefined ? undefined : archiveFiles(rebuild);
    return v === undefined || r === undefined ? undefined : compareMembers(v, r);
  } catch {
    // The whole-file difference is still reported; member detail is best effort.
    return undefined;
  }
}

function byName(artifacts: readonly ArtifactBytes[]): Map<string, Uint8Array[]> {
  const map = new Map<string, Uint8Array[]>();
  for (const a of artifacts) {
    const list = map.get(a.name);
    if (list === undefined) map.set(a.name, [a.bytes]);
    else list.push(a.bytes);
  }
  return map;
}

/**
 * Pure. Compares by artifact name; returns the differences sorted by artifact
 * name (UTF-8 byte order), empty when every artifact is identical. Members
 * are sorted by path. A name given more than once on a side only counts as
 * identical when every copy on both sides has the same bytes; it is then
 * reported with its first copies and no members. Never throws.
 */
export function compareArtifacts(
  vendor: readonly ArtifactBytes[],
  rebuild: readonly ArtifactBytes[],
): ArtifactDifference[] {
  const v = byName(vendor);
  const r = byName(rebuild);
  const names = [...new Set([...v.keys(), ...r.keys()])].sort(compareBytes);
  const out: ArtifactDifference[] = [];
  for (const artifact of names) {
    const vs = v.get(artifact) ?? [];
    const rs = r.get(artifact) ?? [];
    const [vFirst] = vs;
    const [rFirst] = rs;
    if (rFirst === undefined) {
      if (vFirst !== undefined) {
        out.push({
          artifact,
          status: 'missing-in-rebuild',
          vendorSha256: sha256Hex(vFirst),
          vendorSize: vFirst.length,
        });
      }
      continue;
    }
    if (vFirst === undefined) {
      out.push({
        artifact,
        status: 'extra-in-rebuild',
        rebuildSha256: sha256Hex(rFirst),
        rebuildSize: rFirst.length,
      });
      continue;
    }
    const vDigests = vs.map((bytes) => sha256Hex(bytes));
    const rDigests = rs.map((bytes) => sha256Hex(bytes));
    if (new Set([...vDigests, ...rDigests]).size === 1) continue;
    const unique = vs.length === 1 && rs.length === 1;
    const members = unique ? memberDifferences(vFirst, rFirst) : undefined;
    out.push({
      artifact,
      status: 'differs',
      vendorSha256: vDigests[0],
      rebuildSha256: rDigests[0],
      vendorSize: vFirst.length,
      rebuildSize: rFirst.length,
      ...(members === undefined ? {} : { members }),
    });
  }
  return out;
}

/**
 * Names of the differing files for a one-line message: each artifact name,
 * followed for archives by `artifact!member` for each differing member.
 */
export function differingFiles(differences: readonly ArtifactDifference[]): string[] {
  const out: string[] = [];
  for (const d of differences) {
    out.push(d.artifact);
    for (const m of d.members ?? []) out.push(`${d.artifact}!${m.path}`);
  }
  return out;
}

export type DiffoscopeResult =
  | { readonly status: 'ran'; readonly output: string; readonly truncated: boolean }
  | { readonly status: 'not-installed' }
  | { readonly status: 'failed'; readonly reason: string };

export interface DiffoscopeOptions {
  /** Default `'diffoscope'`, looked up on PATH. */
  readonly program?: string;
  /** Default 120,000. */
  readonly timeoutMs?: number;
  /** Default 256 KiB; output beyond is cut and `truncated` is true. */
  readonly maxOutputBytes?: number;
}

const DEFAULT_MAX_OUTPUT = 256 * 1024;
const STDERR_KEPT = 4096;

/** Appends chunks up to `limit` bytes and remembers whether anything was dropped. */
class CappedBuffer {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  dropped = false;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    const room = this.limit - this.size;
    if (chunk.length > room) this.dropped = true;
    if (room <= 0) return;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(kept);
    this.size += kept.length;
  }

  /** UTF-8 text; a multi-byte character cut at the limit is left out, not replaced. */
  text(): string {
    return new TextDecoder().decode(Buffer.concat(this.chunks), { stream: true });
  }
}

/**
 * Runs `diffoscope --text - --no-progress <vendorPath> <rebuildPath>` (no
 * shell, LC_ALL=C, PATH only, its own process group). Exit 0 (identical) and
 * 1 (different) are 'ran'; ENOENT is 'not-installed'; any other exit code, a
 * timeout or a kill is 'failed' with a reason. Never throws.
 */
export function runDiffoscope(
  vendorPath: string,
  rebuildPath: string,
  options: DiffoscopeOptions = {},
): Promise<DiffoscopeResult> {
  const program = options.program ?? 'diffoscope';
  const timeoutMs = options.timeoutMs ?? 120_000;
  const maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    return Promise.resolve({ status: 'failed', reason: `invalid timeoutMs ${timeoutMs}` });
  }
  if (!Number.isSafeInteger(maxOutputBytes) || maxOutputBytes < 0) {
    return Promise.resolve({
      status: 'failed',
      reason: `invalid maxOutputBytes ${maxOutputBytes}`,
    });
  }
  // Absolute paths, so a name starting with '-' cannot be read as an option.
  const args = ['--text', '-', '--no-progress', resolvePath(vendorPath), resolvePath(rebuildPath)];
  return new Promise<DiffoscopeResult>((resolve) => {
    let settled = false;
    const settle = (result: DiffoscopeResult): void => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    let child: ChildProcessByStdio<null, Readable, Readable>;
    try {
      child = spawn(program, args, {
        env: { LC_ALL: 'C', PATH: process.env.PATH ?? '' },
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (cause) {
      // spawn throws synchronously for arguments it refuses (e.g. a NUL byte).
      settle({ status: 'failed', reason: `cannot start ${program}: ${String(cause)}` });
      return;
    }
    const stdout = new CappedBuffer(maxOutputBytes);
    const stderr = new CappedBuffer(STDERR_KEPT);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killProcessGroup(child.pid);
      // A helper that left the group could keep the pipes open; stop waiting for them.
      child.stdout.destroy();
      child.stderr.destroy();
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr.push(chunk);
    });
    child.on('error', (cause: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (cause.code === 'ENOENT') settle({ status: 'not-installed' });
      else settle({ status: 'failed', reason: `cannot start ${program}: ${cause.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      killProcessGroup(child.pid);
      if (timedOut) {
        settle({ status: 'failed', reason: `${program} did not finish within ${timeoutMs} ms` });
        return;
      }
      if (code === 0 || code === 1) {
        settle({ status: 'ran', output: stdout.text(), truncated: stdout.dropped });
        return;
      }
      const how = code === null ? `was killed by ${signal ?? 'a signal'}` : `exited with ${code}`;
      const detail = stderr.text().trim();
      settle({
        status: 'failed',
        reason: `${program} ${how}${detail === '' ? '' : `: ${detail}`}`,
      });
    });
  });
}

/**
 * diffoscope's report for each differing artifact, written side by side
 * under a scratch directory (same base name on both sides, so the report
 * reads naturally; the scratch path is removed from the output). Undefined
 * when diffoscope is not installed.
 */
export async function diffoscopeReports(
  differences: readonly ArtifactDifference[],
  vendor: readonly { name: string; bytes: Uint8Array }[],
  rebuilt: readonly { name: string; bytes: Uint8Array }[],
  options: {
    readonly diffoscope: DiffoscopeOptions;
    readonly scratchDir: string;
    readonly progress: (message: string) => void;
  },
): Promise<Record<string, { output: string; truncated: boolean }> | undefined> {
  const out: Record<string, { output: string; truncated: boolean }> = {};
  const scratch = await mkdtemp(join(options.scratchDir, 'glasshouse-diff-'));
  try {
    for (const d of differences) {
      const a = vendor.find((v) => v.name === d.artifact);
      const b = rebuilt.find((r) => r.name === d.artifact);
      if (a === undefined || b === undefined) continue;
      const base = d.artifact.replaceAll('/', '_');
      await mkdir(join(scratch, 'vendor'), { recursive: true });
      await mkdir(join(scratch, 'rebuild'), { recursive: true });
      await writeFile(join(scratch, 'vendor', base), a.bytes);
      await writeFile(join(scratch, 'rebuild', base), b.bytes);
      const result = await runDiffoscope(
        join(scratch, 'vendor', base),
        join(scratch, 'rebuild', base),
        options.diffoscope,
      );
      if (result.status === 'not-installed') {
        options.progress(
          'diffoscope is not installed: the report lists differing files without it',
        );
        return undefined;
      }
      if (result.status === 'failed') {
        options.progress(`diffoscope failed on ${d.artifact}: ${result.reason}`);
        continue;
      }
      out[d.artifact] = {
        output: result.output.replaceAll(scratch, ''),
        truncated: result.truncated,
      };
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return out;
}
