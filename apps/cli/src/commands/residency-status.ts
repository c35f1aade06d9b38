/**
 * `glasshouse residency status`: anyone's check of where the data is. It
 * runs one pass of the supervisor's residency monitor (@glasshouse/telemetry)
 * from scratch: the residency log (witnessed checkpoint, both signatures on
 * every policy version, the chain, the enrollments), then every site's
 * ingest log through its tlog-tiles API, each stored batch checked against
 * the policy version it names and its customer's logged region.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { CodedError } from '@glasshouse/errors';
import type { ResidencyStatus } from '@glasshouse/telemetry';
import { MemoryAlertSink } from '@glasshouse/witness';
import { readSmallFile, type Io } from '../io.js';
import { openResidencyMonitor, residencyTrustOf } from '../residency/services.js';
import { residencyCommand } from './residency.js';

export function formatResidencyStatus(status: ResidencyStatus): string {
  const r = status.residencyLog;
  const lines = [
    `residency log ${r.url} size ${r.size} ${r.verification}` +
      (r.policy === null ? ' policy none' : ` policy v${r.policy.version} ${r.policy.digest}`) +
      ` customers ${r.customers} refused-entries ${r.refusedEntries}` +
      // A status file written before outages were tracked has no such field.
      (r.unreachableSince == null ? '' : ` unreachable since ${r.unreachableSince}`),
  ];
  for (const s of status.sites) {
    const held = Object.entries(s.regionsHeld)
      .map(([region, n]) => `${region}(${n})`)
      .join(' ');
    lines.push(
      `site ${s.site} ${s.country} ${s.logUrl}`,
      `  designated  ${s.designated.join(' ') || '-'}`,
      `  held        ${held || '-'}`,
      `  stored      ${s.batches} batches, ${s.events} events (${s.deletedBatches} deleted)`,
      `  checkpoint  size ${s.size}${s.checkpoint === null ? ' (none)' : ''}`,
      `  verified    ${s.verification}, violations ${s.violations}` +
        (s.unreachableSince == null ? '' : `, unreachable since ${s.unreachableSince}`),
    );
  }
  return `${lines.join('\n')}\n`;
}

export function registerResidencyStatusCommand(program: Command, io: Io): void {
  residencyCommand(program)
    .command('status')
    .description(
      "Check where the data is: one pass of the residency monitor over the residency log and every site's ingest " +
        'log (read over HTTP, verified against the witness policy). Prints per site the regions designated and ' +
        'held, batches and events, the last checkpoint and the verification result; alerts (with evidence) go to ' +
        'stderr. Exits 1 with RESIDENCY_ALERTS when a check failed.\n\n' +
        'Example (npm start): glasshouse residency status --trust data/residency-trust.json',
    )
    .requiredOption(
      '--trust <file>',
      'the residency trust (JSON: logPolicy, vendorKey, supervisorKey, keyRelease)',
    )
    .option(
      '--state <dir>',
      "the monitor's state directory (default: a fresh one, so everything is checked again)",
    )
    .option('--json', 'print the status as JSON')
    .action(async (opts: { trust: string; state?: string; json?: boolean }) => {
      const trustPath = resolve(io.cwd, opts.trust);
      const pinned = residencyTrustOf(await readSmallFile(trustPath, 128 * 1024), trustPath);
      const dir =
        opts.state === undefined
          ? await mkdtemp(join(tmpdir(), 'residency-status-'))
          : resolve(io.cwd, opts.state);
      const alerts = new MemoryAlertSink();
      const monitor = openResidencyMonitor({ dir, trust: pinned.trust, alerts });
      try {
        const run = await monitor.runOnce();
        io.stdout(
          opts.json === true
            ? `${JSON.stringify(run.status, null, 2)}\n`
            : formatResidencyStatus(run.status),
        );
        for (const a of run.alerts) io.stderr(`alert ${JSON.stringify(a)}\n`);
        if (run.alerts.length > 0) {
          throw new CodedError(
            'RESIDENCY_ALERTS',
            `${run.alerts.length} residency check(s) failed`,
            {
              evidence: { alerts: run.alerts.length },
            },
          );
        }
      } finally {
        await monitor.close();
        if (opts.state === undefined) await rm(dir, { recursive: true, force: true });
      }
    });
}
