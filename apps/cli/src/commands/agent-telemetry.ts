/**
 * `agent enroll` and `agent telemetry`: the device joins a customer, and
 * what it sent (sealed batches), where it was stored and each receipt's
 * check are shown; `--send` flushes the queue.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import {
  enrollDevice,
  sendTelemetry,
  telemetryReport,
  verifyReceipts,
  type SendReport,
  type SentRecord,
  type TelemetryReport,
} from '@glasshouse/agent';
import { readCallerKey } from '../callers.js';
import type { Io } from '../io.js';

/** The product version telemetry carries. */
export const PRODUCT_VERSION = 'glasshouse-agent-0.1.0';

export function registerAgentTelemetryCommands(agent: Command, io: Io): void {
  agent
    .command('enroll')
    .description(
      "Enroll this device for a customer: the customer's key signs the registration of the device key (created " +
        'when missing, DIR/device.key), the ingest router keeps it. The customer must already be enrolled: its region ' +
        'is read from the witnessed residency log, never given here. Needs an agent initialised with a residency ' +
        'trust (trust bundle). Refusals: AGENT_RESIDENCY_NOT_PINNED, AGENT_CUSTOMER_NOT_ENROLLED, AGENT_ROUTER_REFUSED, ' +
        'AGENT_ROUTER_UNREACHABLE, AGENT_RESIDENCY_LOG_INVALID.\n\n' +
        'Example: glasshouse agent enroll --dir data/endpoint --customer-key data/customers/acme/customer.key',
    )
    .requiredOption('--dir <dir>', "the agent's data directory")
    .requiredOption('--customer-key <file>', "the customer's key (Ed25519 PKCS#8 PEM)")
    .option('--router <url>', 'the ingest router (default: the pinned one)')
    .action(async (opts: { dir: string; customerKey: string; router?: string }) => {
      const enrollment = await enrollDevice({
        dir: resolve(io.cwd, opts.dir),
        customerKey: await readCallerKey(resolve(io.cwd, opts.customerKey)),
        routerUrl: opts.router,
        now: new Date(),
      });
      io.stdout(
        `enrolled device for ${enrollment.customer} region ${enrollment.region} ` +
          `(customer enrollment at residency-log index ${enrollment.enrollmentIndex})\n`,
      );
    });

  agent
    .command('telemetry')
    .description(
      'Show the telemetry of this device: its customer and region, the events queued, each sealed batch sent ' +
        '(digest, events, site, status) and its receipt check (the ingest-log entry, its inclusion proof and ' +
        "witness quorum, the site's verifier key from the logged policy). --send seals and sends what is queued " +
        '(and polls batches the router holds); --verify checks every kept receipt again',
    )
    .requiredOption('--dir <dir>', "the agent's data directory")
    .option('--send', 'seal and send queued events first')
    .option('--verify', 'check every kept receipt again')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { dir: string; send?: boolean; verify?: boolean; json?: boolean }) => {
      const dir = resolve(io.cwd, opts.dir);
      let sent: SendReport | undefined;
      if (opts.send === true) {
        sent = await sendTelemetry({ dir, productVersion: PRODUCT_VERSION, now: () => new Date() });
      }
      if (opts.verify === true) await verifyReceipts({ dir, now: () => new Date() });
      const report = await telemetryReport(dir);
      if (opts.json === true) {
        io.stdout(
          `${JSON.stringify({ send: sent, ...report, outbox: report.outbox.map((r) => ({ ...r, bytes: `${r.bytes.length} base64 characters` })) }, null, 2)}\n`,
        );
        return;
      }
      if (sent !== undefined) io.stdout(formatSend(sent));
      io.stdout(formatReport(report));
    });
}

export function formatSend(s: SendReport): string {
  return (
    `sent: ${s.sealed} batches sealed, ${s.stored} stored, ${s.queued} queued at the router, ` +
    `${s.refused} refused, ${s.retry} to retry; receipts ${s.verified} verified, ${s.verifyFailed} failed\n`
  );
}

function receiptLine(r: SentRecord): string {
  const v = r.verification;
  if (v === undefined) return 'receipt unchecked';
  return v.result === 'verified'
    ? `receipt verified (ingest-log index ${v.index}, tree ${v.checkpointSize}, cosigned by ${v.cosigners.join(', ') || 'none'})`
    : `receipt FAILED ${v.code}: ${v.message}`;
}

export function formatReport(report: TelemetryReport): string {
  const lines: string[] = [];
  const e = report.enrollment;
  lines.push(
    e === undefined
      ? 'device not enrolled'
      : `device enrolled for ${e.customer} region ${e.region}`,
  );
  lines.push(`router ${report.router}`);
  lines.push(`queued ${report.queued} events`);
  for (const o of report.outbox) {
    lines.push(
      `waiting ${o.digest} ${o.events} events ${o.status}${o.lastError === undefined ? '' : ` (last: ${o.lastError.code})`}`,
    );
  }
  for (const r of report.sent) {
    lines.push(
      r.status === 'stored'
        ? `batch ${r.digest} ${r.events} events stored at ${r.site ?? '?'} ${r.sentAt}: ${receiptLine(r)}`
        : `batch ${r.digest} ${r.events} events refused ${r.refusal?.code ?? '?'} ${r.sentAt}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
