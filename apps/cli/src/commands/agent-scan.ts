import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import {
  canScanInThreads,
  DEFAULT_MAX_FILE_SIZE,
  idleCoreScanThreads,
  MAX_SCAN_THREADS,
  ScanPool,
  loadEnrollment,
  lookupReputation,
  queueDetections,
  sendTelemetry,
  loadActiveRules,
  type Detection,
  ScanError,
  scanPaths,
  type ScanRecord,
  type ScanSummary,
} from '@glasshouse/agent';
import { UsageError, type Io } from '../io.js';
import { formatSend, PRODUCT_VERSION } from './agent-telemetry.js';

/** The agent's data directory when `--dir` is not given. */
export const DEFAULT_AGENT_DIR = 'agent';

interface ScanCommandOptions {
  dir: string;
  json?: boolean;
  maxFileSize?: string;
  followSymlinks: boolean;
  scanTimeout?: string;
  allowEngineWithoutTimeout?: boolean;
  cloud?: boolean;
  threads: string;
}

/**
 * With `--threads auto`, workers start once a scan has run this long: about
 * what loading a worker's copy of 10,000 rules costs (1 s of CPU), so a scan
 * pays for a worker only once it has run as long as the worker costs, and a
 * short scan never pays for one.
 */
export const AUTO_THREADS_AFTER_MS = 1000;

/** `--threads`: `auto` or a whole number from 1 to MAX_SCAN_THREADS; anything else is `AGENT_SCAN_BAD_OPTION`. */
export function parseThreads(text: string): number | 'auto' {
  const trimmed = text.trim();
  if (trimmed === 'auto') return 'auto';
  const n = /^[0-9]{1,3}$/.test(trimmed) ? Number(trimmed) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_SCAN_THREADS) {
    throw new ScanError(
      'AGENT_SCAN_BAD_OPTION',
      `--threads wants auto or a whole number from 1 to ${MAX_SCAN_THREADS}, got ${JSON.stringify(text)}`,
      { evidence: { threads: text } },
    );
  }
  return n;
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The personal fields of a detection on this machine: sealed before they leave it. */
function detectionAt(
  path: string,
  sha256: string,
  rule: string | null,
  verdict: Detection['verdict'],
): Detection {
  return {
    sha256,
    rule,
    verdict,
    seenAt: new Date(),
    host: hostname(),
    user: userInfo().username,
    path: resolve(path),
  };
}

/** `--max-file-size`: bytes, or a number with a K/M/G suffix (binary units). */
export function parseByteSize(text: string): number {
  const m = /^([0-9]{1,15})([KMG]i?B?)?$/i.exec(text.trim());
  const digits = m?.[1];
  if (digits === undefined) {
    throw new UsageError(`--max-file-size wants bytes or N[K|M|G], got ${JSON.stringify(text)}`);
  }
  const unit = (m?.[2] ?? '').charAt(0).toUpperCase();
  const scale = unit === 'K' ? 2 ** 10 : unit === 'M' ? 2 ** 20 : unit === 'G' ? 2 ** 30 : 1;
  const bytes = Number(digits) * scale;
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`--max-file-size ${text} is too large`);
  return bytes;
}

/** `--scan-timeout`: whole milliseconds from 1 to 2^31 − 1. */
function parseMs(text: string): number {
  const ms = /^[0-9]{1,10}$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!Number.isSafeInteger(ms) || ms < 1 || ms > 2 ** 31 - 1) {
    throw new UsageError(
      `--scan-timeout wants milliseconds from 1 to ${2 ** 31 - 1}, got ${JSON.stringify(text)}`,
    );
  }
  return ms;
}

/** A path as printed in text mode: quoted as JSON when it holds control characters. */
function shown(path: string): string {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f]/.test(path) ? JSON.stringify(path) : path;
}

function summaryLine(s: ScanSummary): string {
  return (
    `scanned ${s.files} files, ${s.bytes} bytes, ${s.matches} matched, ` +
    `${s.skipped} skipped, ${s.seconds.toFixed(2)} s`
  );
}

/**
 * `glasshouse agent scan PATH…`: registered on the `agent` command by the
 * caller. Detections go to stdout (`PATH: rule, rule`, or one JSON object
 * per line with `--json`); skipped entries, progress and the summary go to
 * stderr (with `--json`, skipped entries and the summary are JSON lines on
 * stdout). Exits 1 with `AGENT_SCAN_DETECTED` when something matched.
 */
export function registerAgentScanCommand(agent: Command, io: Io): void {
  agent
    .command('scan')
    .description(
      'Scan files and directories with the active rules; print detections; exit 1 when something matched, 0 when clean.\n' +
        'Unreadable files, files over the size limit, symlink loops and special files are reported as skipped, never fatal.\n' +
        'Symlinks are followed; a directory reached again below itself is a loop, one reached twice is scanned once.',
    )
    .argument('<path...>', 'files and directories to scan')
    .option('--dir <dir>', "the agent's data directory", DEFAULT_AGENT_DIR)
    .option('--json', 'print one JSON object per line: matches, skipped entries and the summary')
    .option(
      '--max-file-size <bytes>',
      `skip files larger than this (bytes, or N[K|M|G]; default ${DEFAULT_MAX_FILE_SIZE / 2 ** 20}M)`,
    )
    .option('--no-follow-symlinks', 'do not follow symlinks found inside directories')
    .option(
      '--scan-timeout <ms>',
      'per-file scan limit in milliseconds; a file over it is reported as skipped (timeout) and the scan goes on (default 10000)',
    )
    .option(
      '--allow-engine-without-timeout',
      'scan even with the WebAssembly YARA-X fallback, which cannot stop a runaway rule',
    )
    .option(
      '--threads <n>',
      'scanning threads: this one and n-1 workers, each with its own copy of the compiled rules ' +
        `(1 to ${MAX_SCAN_THREADS}; auto: one, plus a worker per core the load average leaves idle, started once the scan has run ` +
        `${AUTO_THREADS_AFTER_MS} ms; output is in the same order either way; the WebAssembly fallback scans on one thread)`,
      'auto',
    )
    .option(
      '--cloud',
      'look up the files the local rules did not flag at the reputation API of the site the logged residency ' +
        "policy designates for this device's region (only SHA-256 values are sent); known-bad files count as " +
        'detections, and every detection is sent as sealed telemetry through the ingest router (needs agent enroll)',
    )
    .action(async (paths: string[], opts: ScanCommandOptions) => {
      const cloud = opts.cloud === true;
      // Checked before scanning: a device that cannot report should not scan for the cloud.
      if (cloud) await loadEnrollment(opts.dir);
      const matched: { path: string; rules: readonly string[] }[] = [];
      const clean: string[] = [];
      const maxFileSize =
        opts.maxFileSize === undefined ? DEFAULT_MAX_FILE_SIZE : parseByteSize(opts.maxFileSize);
      const json = opts.json === true;
      const threads = parseThreads(opts.threads);
      const active = await loadActiveRules(opts.dir, {
        allowEngineWithoutTimeout: opts.allowEngineWithoutTimeout === true,
        ...(opts.scanTimeout === undefined ? {} : { scanTimeoutMs: parseMs(opts.scanTimeout) }),
      });
      if (active.notice !== undefined) io.stderr(`agent: ${active.notice}\n`);
      const threaded = canScanInThreads(active.engine, active.rules);
      if (!threaded && typeof threads === 'number' && threads > 1) {
        io.stderr(
          `agent: ${active.engine.package} scans on one thread (--threads ${threads} ignored)\n`,
        );
      }
      let pool: ScanPool | undefined;
      let summary: ScanSummary;
      try {
        if (threaded) {
          pool = ScanPool.forThreads(threads === 'auto' ? idleCoreScanThreads() : threads, {
            rules: active.rules,
            engine: active.engine,
            limits: active.limits,
            ...(threads === 'auto' ? { startAfterMs: AUTO_THREADS_AFTER_MS } : {}),
          });
        }
        const onResult = (r: ScanRecord): void => {
          switch (r.type) {
            case 'match':
              matched.push({ path: r.path, rules: r.rules });
              io.stdout(
                json
                  ? `${JSON.stringify({ type: 'match', path: r.path, rules: r.rules, bytes: r.bytes })}\n`
                  : `${shown(r.path)}: ${r.rules.join(', ')}\n`,
              );
              return;
            case 'skipped':
              if (json) io.stdout(`${JSON.stringify(r)}\n`);
              else io.stderr(`skipped ${shown(r.path)}: ${r.reason} (${r.detail})\n`);
              return;
            case 'clean':
              if (cloud) clean.push(r.path);
              return;
          }
        };
        summary = await scanPaths(
          active.rules,
          paths,
          {
            maxFileSize,
            followSymlinks: opts.followSymlinks,
            ...(pool === undefined ? {} : { pool }),
            onProgress: (s) => {
              io.stderr(`progress: ${summaryLine(s)}\n`);
            },
          },
          onResult,
        );
      } finally {
        await pool?.close();
        active.free();
      }
      const rules = `rules ${active.manifest.name} ${active.manifest.version}`;
      if (json) {
        io.stdout(
          `${JSON.stringify({ type: 'summary', ...summary, rules: { name: active.manifest.name, version: active.manifest.version } })}\n`,
        );
      } else {
        io.stderr(`${summaryLine(summary)} (${rules})\n`);
      }
      let detected = summary.matches;
      if (cloud) detected += await cloudStep(opts.dir, matched, clean, json, io);
      if (detected > 0) {
        throw new ScanError(
          'AGENT_SCAN_DETECTED',
          `${detected} file${detected === 1 ? '' : 's'} matched`,
          { evidence: { matches: detected } },
        );
      }
    });
}

/**
 * `--cloud`: looks up the clean files at the designated site, prints the
 * known-bad ones, queues every detection (local and cloud) and sends them.
 * Returns the number of files the cloud flagged.
 */
/** Why the site says known-bad: the vendor's verdict list, other agents' reports, or both. */
function cloudEvidence(r: {
  source: readonly string[];
  detections: number;
  firstSeen: string | null;
}): string {
  const parts: string[] = [];
  if (r.source.includes('verdict-list')) parts.push("on the vendor's verdict list");
  if (r.detections > 0 || !r.source.includes('verdict-list')) {
    parts.push(`${r.detections} detections, first seen ${r.firstSeen ?? '?'}`);
  }
  return parts.join('; ');
}

async function cloudStep(
  dir: string,
  matched: readonly { path: string; rules: readonly string[] }[],
  clean: readonly string[],
  json: boolean,
  io: Io,
): Promise<number> {
  const hashes = new Map<string, string>();
  for (const path of clean) hashes.set(path, await sha256OfFile(path));
  const lookup = await lookupReputation({ dir, hashes: [...hashes.values()] });
  const bad = new Map(
    lookup.results.filter((r) => r.verdict === 'known-bad').map((r) => [r.sha256, r]),
  );
  const detections: Detection[] = [];
  let flagged = 0;
  for (const [path, sha256] of hashes) {
    const r = bad.get(sha256);
    if (r === undefined) continue;
    flagged++;
    io.stdout(
      json
        ? `${JSON.stringify({ type: 'cloud', path, sha256, verdict: r.verdict, source: r.source, detections: r.detections, firstSeen: r.firstSeen, site: lookup.site })}\n`
        : `${shown(path)}: cloud known-bad (site ${lookup.site}, ${cloudEvidence(r)})\n`,
    );
    detections.push(detectionAt(path, sha256, null, 'malicious'));
  }
  for (const m of matched) {
    const sha256 = await sha256OfFile(m.path);
    for (const rule of m.rules) detections.push(detectionAt(m.path, sha256, rule, 'malicious'));
  }
  io.stderr(
    `cloud: ${hashes.size} files looked up at ${lookup.site} (policy ${lookup.policy}), ${flagged} known-bad\n`,
  );
  if (detections.length > 0) {
    await queueDetections(dir, await loadEnrollment(dir), detections);
    const sent = await sendTelemetry({
      dir,
      productVersion: PRODUCT_VERSION,
      now: () => new Date(),
    });
    io.stderr(`telemetry ${formatSend(sent)}`);
  }
  return flagged;
}
