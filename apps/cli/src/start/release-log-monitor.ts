/**
 * The supervisor's monitor of the release log, in the background: every
 * checkpoint must be signed by the log and cosigned by the policy's witness
 * quorum, every entry must name a release the supervisor approved (the
 * release-log checker reads the approvals in the supervisor's directory).
 * Alerts go to `<supervisor>/alerts.jsonl` and to stderr.
 */
import { join } from 'node:path';
import type { PublicKey } from '@glasshouse/attest';
import { releaseLogChecker, supervisorDirApprovals } from '@glasshouse/distribution';
import {
  type Alert,
  FileMirrorStore,
  JsonLinesAlertSink,
  MIRROR_DIR,
  type MonitorProgress,
  SqliteMonitorStateStore,
  createMonitor,
  fanOutAlertSink,
  formatAlertLine,
} from '@glasshouse/witness';
import type { Io } from '../io.js';
import { ALERTS_FILE } from '../commands/monitor.js';

export interface ReleaseLogMonitorOptions {
  /** The release log's tlog-tiles prefix. */
  readonly url: string;
  /** The c2sp.org/tlog-policy text naming the log and its witness quorum. */
  readonly policy: string;
  /** The supervisor's directory: its approvals, and alerts.jsonl. */
  readonly supervisorDir: string;
  readonly supervisorKey: PublicKey;
  /** The monitor's own state and mirror. */
  readonly stateDir: string;
  readonly intervalMs: number;
  readonly io: Io;
}

/** How the first pass ended. */
export interface MonitorPass {
  readonly size: bigint;
  readonly alerts: number;
}

export interface RunningReleaseLogMonitor {
  readonly alertsPath: string;
  /** Resolves after the first check of the log (or once the monitor stops before it). */
  readonly firstPass: Promise<MonitorPass>;
  /** Stops the loop and closes the state. */
  stop(): Promise<void>;
}

export async function startReleaseLogMonitor(
  opts: ReleaseLogMonitorOptions,
): Promise<RunningReleaseLogMonitor> {
  const { io } = opts;
  const alertsPath = join(opts.supervisorDir, ALERTS_FILE);
  const state = SqliteMonitorStateStore.open(opts.stateDir);
  let alerts = 0;
  let firstDone: (pass: MonitorPass) => void = () => undefined;
  const firstPass = new Promise<MonitorPass>((resolve) => {
    firstDone = resolve;
  });
  let lastRetry: string | undefined;
  const sink = fanOutAlertSink([
    new JsonLinesAlertSink(alertsPath),
    {
      send: (alert: Alert) => {
        alerts += 1;
        io.stderr(`supervisor monitor: ALERT ${formatAlertLine(alert)}`);
        return Promise.resolve();
      },
    },
  ]);
  const stop = new AbortController();
  let running: Promise<void>;
  try {
    const monitor = createMonitor({
      url: opts.url,
      policy: opts.policy,
      state,
      mirror: await FileMirrorStore.open(join(opts.stateDir, MIRROR_DIR)),
      alerts: sink,
      checker: releaseLogChecker(supervisorDirApprovals(opts.supervisorDir, opts.supervisorKey)),
      intervalMs: opts.intervalMs,
      onProgress: (event: MonitorProgress) => {
        if (event.phase === 'fetch-retry') {
          // An outage is said once, not every interval.
          if (event.message !== lastRetry) {
            io.stderr(`supervisor monitor: release log unreadable, retrying: ${event.message}\n`);
          }
          lastRetry = event.message;
          return;
        }
        if (event.phase !== 'done') return;
        lastRetry = undefined;
        if (event.outcome === 'advanced') {
          io.stderr(
            `supervisor monitor: release log verified up to size ${event.size} (${event.entries} new entries, each an approved release)\n`,
          );
        }
        firstDone({ size: event.size, alerts });
      },
    });
    running = monitor.run(stop.signal).catch((err: unknown) => {
      io.stderr(`supervisor monitor: stopped: ${describe(err)}\n`);
    });
  } catch (err) {
    await state.close();
    throw err;
  }
  return {
    alertsPath,
    firstPass: Promise.race([
      firstPass,
      running.then(() => ({ size: 0n, alerts }) satisfies MonitorPass),
    ]),
    stop: async () => {
      stop.abort();
      await running;
      await sink.close?.();
      await state.close();
    },
  };
}

function describe(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  return `${typeof code === 'string' ? code : 'ERROR'}: ${message}`;
}
