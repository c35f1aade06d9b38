/**
 * `glasshouse residency monitor`: the supervisor's residency monitor as a
 * long-running process (issue 16 §7) — what `npm start` runs in-process,
 * for a supervisor that runs it on its own machine. Each pass checks the
 * residency log and every site's ingest log from the last verified state
 * kept in --state; alerts (with their evidence) go to stderr,
 * <state>/alerts.jsonl and an optional webhook, each alert once, also
 * across restarts. A log that stays unreachable for --unreachable-alert
 * seconds raises its own alert: silence is not evidence of compliance.
 */
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { ResidencyStatus } from '@glasshouse/telemetry';
import { readSmallFile, untilSignal, wholeSeconds, type Io } from '../io.js';
import { openResidencyMonitor, residencyTrustOf } from '../residency/services.js';
import { ALERTS_FILE, cliAlertSink } from './monitor.js';
import { residencyCommand } from './residency.js';

interface ResidencyMonitorOpts {
  trust: string;
  state: string;
  interval: string;
  unreachableAlert: string;
  webhook?: string;
}

/** One line per pass: the residency log, then each site, each with its verification. */
export function formatPassLine(pass: number, status: ResidencyStatus): string {
  const r = status.residencyLog;
  const parts = [
    `residency log size ${r.size} ${r.verification}` +
      (r.unreachableSince == null ? '' : ` (unreachable since ${r.unreachableSince})`),
    ...status.sites.map(
      (s) =>
        `${s.site} size ${s.size} ${s.verification}` +
        (s.unreachableSince == null ? '' : ` (unreachable since ${s.unreachableSince})`),
    ),
  ];
  return `pass ${pass}: ${parts.join('; ')}\n`;
}

export function registerResidencyMonitorCommand(program: Command, io: Io): void {
  residencyCommand(program)
    .command('monitor')
    .description(
      "The supervisor's residency monitor, running until SIGTERM or SIGINT: every --interval seconds it checks " +
        'the residency log (witnessed checkpoints, both signatures and the chain of every policy version, ' +
        "enrollments) and every site's ingest log (each stored batch against the policy version it names and " +
        "its customer's logged region), from the verified state kept in --state. Prints one line per pass to " +
        'stdout; alerts, each once, go to stderr, <state>/alerts.jsonl and --webhook. A log unreachable for ' +
        '--unreachable-alert seconds raises an alert of its own. For a one-off check use `residency status`.\n\n' +
        'Example (npm start): glasshouse residency monitor --trust data/residency-trust.json --state ./residency-monitor',
    )
    .requiredOption(
      '--trust <file>',
      'the residency trust (JSON: logPolicy, vendorKey, supervisorKey, keyRelease)',
    )
    .requiredOption('--state <dir>', "the monitor's state directory (one monitor per directory)")
    .option('--interval <seconds>', 'seconds between passes', '30')
    .option(
      '--unreachable-alert <seconds>',
      'alert when a log has been unreachable this long (0: at the first failed pass)',
      '300',
    )
    .option('--webhook <url>', 'also POST each alert as JSON to this URL')
    .action(async (opts: ResidencyMonitorOpts) => {
      const intervalS = wholeSeconds('--interval', opts.interval, 1, 86_400);
      const unreachableS = wholeSeconds('--unreachable-alert', opts.unreachableAlert, 0, 604_800);
      const trustPath = resolve(io.cwd, opts.trust);
      const pinned = residencyTrustOf(await readSmallFile(trustPath, 128 * 1024), trustPath);
      const dir = resolve(io.cwd, opts.state);
      const monitor = openResidencyMonitor({
        dir,
        trust: pinned.trust,
        unreachableAlertMs: unreachableS * 1000,
        alerts: cliAlertSink({
          path: join(dir, ALERTS_FILE),
          io,
          alertPrefix: 'ALERT ',
          errorPrefix: 'residency monitor: ',
          ...(opts.webhook === undefined ? {} : { webhook: opts.webhook }),
        }),
      });
      const stop = new AbortController();
      let pass = 0;
      const running = monitor.run(stop.signal, intervalS * 1000, (run) => {
        io.stdout(formatPassLine(++pass, run.status));
      });
      try {
        await Promise.race([untilSignal(), running]);
      } finally {
        stop.abort();
        await running.catch(() => undefined);
        await monitor.close();
      }
    });
}
