/**
 * `glasshouse access index serve | mine | monitor`: the per-customer
 * verifiable index over the access log (issue 17 §6), a customer's check
 * that it has seen every access to its data, and the supervisor's access
 * monitor (§7). The logs and the index are named by an access trust file.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { parseAccessPolicy } from '@glasshouse/access-format';
import {
  AccessMonitor,
  IndexService,
  buildIndexServer,
  checkMyAccesses,
  httpApprovalSource,
  jsonLinesAccessAlerts,
  openPostgresIndexStore,
  openSqliteIndexStore,
  type AccessMonitorStatus,
  type MineResult,
} from '@glasshouse/access';
import { CodedError } from '@glasshouse/errors';
import { rawPublicKey } from '@glasshouse/httpsig';
import { CUSTOMER_PSEUDONYM, customerPseudonym } from '@glasshouse/residency';
import { clientOptions, readCallerKey } from '../callers.js';
import { listenOn, parseListen, readSmallFile, untilSignal, UsageError, type Io } from '../io.js';

/** What a reader of the access half pins (JSON file). */
export interface AccessTrust {
  readonly accessLogUrl: string;
  /** The access log's c2sp.org/tlog-policy (text). */
  readonly accessLogPolicy: string;
  readonly outputLogUrl: string;
  /** The index output log's c2sp.org/tlog-policy (text). */
  readonly outputLogPolicy: string;
  readonly indexUrl: string;
}

const MAX_TRUST_BYTES = 128 * 1024;

export async function readAccessTrust(path: string): Promise<AccessTrust> {
  const text = await readSmallFile(path, MAX_TRUST_BYTES);
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch (cause) {
    throw new UsageError(`${path} is not JSON`, { cause });
  }
  for (const k of [
    'accessLogUrl',
    'accessLogPolicy',
    'outputLogUrl',
    'outputLogPolicy',
    'indexUrl',
  ] as const) {
    if (typeof v[k] !== 'string' || v[k] === '') {
      throw new UsageError(
        `${path} lacks "${k}" (the access trust: accessLogUrl, accessLogPolicy, outputLogUrl, outputLogPolicy, indexUrl)`,
      );
    }
  }
  return v as unknown as AccessTrust;
}

/** The `access` command group (shared with the approval commands). */
export function accessCommand(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'access') ??
    program
      .command('access')
      .description(
        'Access transparency: the access log, approvals, the per-customer verifiable index and its monitor',
      )
  );
}

export function formatMine(r: MineResult): string {
  const lines = [
    `these are all ${r.records.length} accesses to your data up to access-log size ${r.size}`,
    `  customer      ${r.customer}`,
    `  index         revision ${r.outputIndex} of the output log (witnessed)`,
  ];
  for (const { index, record } of r.records) {
    const j = record.justification;
    const ref =
      j.code === 'CUSTOMER_INITIATED_SUPPORT'
        ? ` ticket ${j.ticket}`
        : j.code === 'LEGAL_REQUEST'
          ? ` reference ${j.reference}`
          : '';
    lines.push(
      `  #${record.counter} entry ${index} ${record.time} ${record.site} ${record.dataClass} ${j.code}${ref}` +
        ` by ${record.accessor.principal} (${record.accessor.role}, ${record.accessor.entity}, ${record.accessor.country})` +
        (record.approval === null ? '' : ` approval ${record.approval}`),
    );
  }
  return `${lines.join('\n')}\n`;
}

export function formatMonitorStatus(s: AccessMonitorStatus): string {
  return (
    [
      `access log  ${s.accessLog.url} size ${s.accessLog.size} ${s.accessLog.verification}`,
      `output log  ${s.outputLog.url} size ${s.outputLog.size} ${s.outputLog.verification}`,
      `records     ${s.records} (${s.customers} customers, ${s.breakGlass} break-glass, ${s.reviewsPending} reviews pending, ${s.deferred} deferred)`,
      `index       ${s.revisionsChecked} revisions checked, last at size ${s.lastRevisionSize ?? '-'}`,
      `alerts      ${s.alerts} sent`,
    ].join('\n') + '\n'
  );
}

function progress(io: Io, what: string): (p: { done: bigint; of: bigint; what?: string }) => void {
  return (p) => {
    io.stderr(`${p.what ?? what}: ${p.done} of ${p.of}\n`);
  };
}

export function registerAccessIndexCommands(program: Command, io: Io): void {
  const access = accessCommand(program);
  const index =
    access.commands.find((c) => c.name() === 'index') ??
    access.command('index').description('The verifiable index over the access log (per customer)');

  index
    .command('serve')
    .description(
      'Serve the verifiable index: tail the access log (witnessed checkpoints only), index every record by ' +
        'customer, append one output-log entry {log, size, logRoot, indexRoot} per access-log checkpoint and wait ' +
        'until it is witnessed, keep the index in --dir (SQLite) or --postgres, and answer GET /v1/lookup/<customer>, ' +
        'GET /v1/revision and GET /healthz. A rebuild prints its progress to stderr. Stops on SIGTERM or SIGINT.\n\n' +
        'Example: glasshouse access index serve --dir data/vendor/access-index --trust data/access-trust.json \\\n' +
        '  --listen 127.0.0.1:8483 --output-key data/vendor/access-index/caller.key',
    )
    .requiredOption('--dir <dir>', "the index's data directory")
    .requiredOption(
      '--trust <file>',
      'the access trust (JSON: accessLogUrl, accessLogPolicy, outputLogUrl, outputLogPolicy, indexUrl)',
    )
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8483')
    .option('--postgres <url>', 'keep the index in PostgreSQL (schema access_index)')
    .option('--output-key <file>', 'the caller key that signs appends to the output log (RFC 9421)')
    .option('--interval-ms <ms>', 'how often to look for a new access-log checkpoint', '1000')
    .action(
      async (opts: {
        dir: string;
        trust: string;
        listen: string;
        postgres?: string;
        outputKey?: string;
        intervalMs: string;
      }) => {
        const trust = await readAccessTrust(resolve(io.cwd, opts.trust));
        const interval = Number(opts.intervalMs);
        if (!(interval >= 10)) throw new UsageError('--interval-ms wants a number ≥ 10');
        const address = parseListen(opts.listen);
        const store =
          opts.postgres === undefined
            ? openSqliteIndexStore({ dir: resolve(io.cwd, opts.dir) })
            : await openPostgresIndexStore(opts.postgres);
        const out = await clientOptions(
          opts.outputKey === undefined ? undefined : resolve(io.cwd, opts.outputKey),
        );
        const service = await IndexService.open({
          accessLogUrl: trust.accessLogUrl,
          accessLogPolicy: trust.accessLogPolicy,
          outputLogUrl: trust.outputLogUrl,
          ...(out.fetch === undefined ? {} : { outputFetch: out.fetch }),
          store,
          onProgress: (p) => {
            io.stderr(`indexed ${p.indexed} of ${p.target} access-log entries\n`);
          },
        });
        const app = buildIndexServer({ service });
        let url: string;
        try {
          url = await listenOn(app, address);
        } catch (err) {
          await service.close();
          throw err;
        }
        io.stderr(`access index serving at ${url} (indexed ${service.size} entries)\n`);
        const stop = new AbortController();
        const loop = service.run(stop.signal, interval, (err) => {
          io.stderr(
            `${err instanceof CodedError ? (err as CodedError).code : 'ERROR'}: ${(err as Error).message}\n`,
          );
        });
        await untilSignal();
        stop.abort();
        await loop;
        await app.close();
        await service.close();
      },
    );

  access
    .command('mine')
    .description(
      "A customer's check that it sees every access to its data: reads the index's answer, checks it against the " +
        'witnessed output log (no two roots at one size, the revision logged), the witnessed access log (the ' +
        "revision's input is its prefix, every listed record included) and the lookup proof, and that the " +
        'counters run 1..n and nothing seen before (--state) or known (--known) is missing. Prints "these are all N ' +
        'accesses to your data up to access-log size S", or exits 1 with the code (INDEX_FORK, RECORD_OMITTED, ' +
        'LOOKUP_PROOF_MISMATCH, OUTPUT_ENTRY_NOT_LOGGED, …).\n\n' +
        'Example: glasshouse access mine --customer-key data/customers/acme/customer.key --trust data/access-trust.json \\\n' +
        '  --state data/customers/acme/access-mine.json',
    )
    .option(
      '--customer-key <file>',
      "the customer's key (Ed25519 PKCS#8 PEM): its pseudonym is what is looked up",
    )
    .option('--customer <pseudonym>', 'the customer pseudonym (c-…) instead of the key')
    .requiredOption(
      '--trust <file>',
      'the access trust (JSON: accessLogUrl, accessLogPolicy, outputLogUrl, outputLogPolicy, indexUrl)',
    )
    .option(
      '--state <file>',
      'remember what was seen (revisions, checkpoint, list) across runs in this file',
    )
    .option(
      '--known <index>',
      'an access-log index known to be an access to your data (a receipt); repeatable',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('--json', 'print the result as JSON')
    .action(
      async (opts: {
        customerKey?: string;
        customer?: string;
        trust: string;
        state?: string;
        known: string[];
        json?: boolean;
      }) => {
        let customer: string;
        if (opts.customerKey !== undefined) {
          customer = customerPseudonym(
            rawPublicKey(await readCallerKey(resolve(io.cwd, opts.customerKey))),
          );
        } else if (opts.customer !== undefined) {
          if (!CUSTOMER_PSEUDONYM.test(opts.customer))
            throw new UsageError('--customer is not a customer pseudonym (c-…)');
          customer = opts.customer;
        } else {
          throw new UsageError('give --customer-key FILE (or --customer c-…)');
        }
        const known = opts.known.map((k) => {
          if (!/^(?:0|[1-9][0-9]{0,15})$/.test(k))
            throw new UsageError(`--known ${JSON.stringify(k)} is not an index`);
          return BigInt(k);
        });
        const trust = await readAccessTrust(resolve(io.cwd, opts.trust));
        const result = await checkMyAccesses({
          customer,
          indexUrl: trust.indexUrl,
          accessLogUrl: trust.accessLogUrl,
          accessLogPolicy: trust.accessLogPolicy,
          outputLogUrl: trust.outputLogUrl,
          outputLogPolicy: trust.outputLogPolicy,
          ...(opts.state === undefined ? {} : { stateFile: resolve(io.cwd, opts.state) }),
          known,
        });
        io.stdout(
          opts.json === true
            ? `${JSON.stringify(
                {
                  customer: result.customer,
                  size: result.size.toString(),
                  outputIndex: result.outputIndex.toString(),
                  accesses: result.records.map((r) => ({
                    index: r.index.toString(),
                    record: r.record,
                  })),
                },
                null,
                2,
              )}\n`
            : formatMine(result),
        );
      },
    );

  access
    .command('monitor')
    .description(
      "The supervisor's access monitor: checks every access record (approval present and valid where the policy " +
        'requires, justification allowed, counter continuity per customer, break-glass reviewed by its deadline, ' +
        'canary customers never accessed), rebuilds the index and checks every output-log entry, and appends each ' +
        'alert (with its evidence, once, also across restarts) to --alerts. Writes DIR/status.json after each pass. ' +
        'With --once: one pass, the status on stdout, exit 1 with ACCESS_ALERTS when the pass found any. ' +
        'A replay of a long log prints its progress to stderr.\n\n' +
        'Example: glasshouse access monitor --dir data/supervisor/access-monitor --trust data/access-trust.json \\\n' +
        '  --access-policy data/access-policy.json --approvals http://127.0.0.1:8485 --canary c-… --alerts data/supervisor/alerts.jsonl',
    )
    .option('--dir <dir>', "the monitor's state directory (default with --once: a fresh one)")
    .requiredOption('--trust <file>', 'the access trust (JSON)')
    .requiredOption('--access-policy <file>', 'the access policy (glasshouse.access-policy/v1)')
    .requiredOption('--approvals <url>', 'the approvals API (the gateway)')
    .option(
      '--canary <pseudonym>',
      'a canary customer; repeatable',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option(
      '--customer-keys <file>',
      'JSON {pseudonym: base64 raw Ed25519 key} of enrolled customers (for customer approvals)',
    )
    .option('--review-hours <hours>', 'time a break-glass access has to get its review', '24')
    .option('--alerts <file>', 'append alerts as JSON lines here (default: stderr only)')
    .option('--interval-ms <ms>', 'time between passes', '10000')
    .option('--once', 'one pass, then exit')
    .action(
      async (opts: {
        dir?: string;
        trust: string;
        accessPolicy: string;
        approvals: string;
        canary: string[];
        customerKeys?: string;
        reviewHours: string;
        alerts?: string;
        intervalMs: string;
        once?: boolean;
      }) => {
        for (const c of opts.canary) {
          if (!CUSTOMER_PSEUDONYM.test(c))
            throw new UsageError(`--canary ${JSON.stringify(c)} is not a customer pseudonym`);
        }
        const hours = Number(opts.reviewHours);
        if (!(hours > 0)) throw new UsageError('--review-hours wants a positive number');
        const trust = await readAccessTrust(resolve(io.cwd, opts.trust));
        const policyPath = resolve(io.cwd, opts.accessPolicy);
        const policy = parseAccessPolicy(
          new TextEncoder().encode(await readSmallFile(policyPath, 64 * 1024)),
        );
        const keys = new Map<string, Uint8Array>();
        if (opts.customerKeys !== undefined) {
          const path = resolve(io.cwd, opts.customerKeys);
          let v: unknown;
          try {
            v = JSON.parse(await readSmallFile(path, 16 * 1024 * 1024));
          } catch (cause) {
            if (cause instanceof UsageError) throw cause;
            throw new UsageError(`${path} is not JSON`, { cause });
          }
          for (const [c, k] of Object.entries(v as Record<string, unknown>)) {
            const raw = typeof k === 'string' ? Buffer.from(k, 'base64') : undefined;
            if (!CUSTOMER_PSEUDONYM.test(c) || raw?.length !== 32)
              throw new UsageError(`${path}: ${c} is not a pseudonym with a base64 32-byte key`);
            keys.set(c, new Uint8Array(raw));
          }
        }
        if (opts.once !== true && opts.dir === undefined)
          throw new UsageError('--dir is needed unless --once');
        const dir =
          opts.dir === undefined
            ? await mkdtemp(join(tmpdir(), 'access-monitor-'))
            : resolve(io.cwd, opts.dir);
        const file =
          opts.alerts === undefined
            ? undefined
            : jsonLinesAccessAlerts(resolve(io.cwd, opts.alerts));
        const monitor = AccessMonitor.open({
          accessLogUrl: trust.accessLogUrl,
          accessLogPolicy: trust.accessLogPolicy,
          outputLogUrl: trust.outputLogUrl,
          outputLogPolicy: trust.outputLogPolicy,
          policy,
          approvals: httpApprovalSource({ url: opts.approvals }),
          customerKey: (c) => keys.get(c),
          canaries: opts.canary,
          reviewSeconds: hours * 3600,
          dir,
          alerts: {
            send: async (a) => {
              io.stderr(`alert ${JSON.stringify(a)}\n`);
              await file?.send(a);
            },
          },
          onProgress: progress(io, 'replayed'),
        });
        try {
          if (opts.once === true) {
            const run = await monitor.runOnce();
            io.stdout(formatMonitorStatus(run.status));
            if (run.alerts.length > 0) {
              throw new CodedError('ACCESS_ALERTS', `${run.alerts.length} alerts (see stderr)`);
            }
            return;
          }
          const interval = Number(opts.intervalMs);
          if (!(interval >= 100)) throw new UsageError('--interval-ms wants a number ≥ 100');
          const stop = new AbortController();
          const loop = monitor.run(stop.signal, interval);
          io.stderr(`access monitor running, status in ${join(dir, 'status.json')}\n`);
          await Promise.race([untilSignal(), loop]);
          stop.abort();
          await loop;
        } finally {
          await monitor.close();
        }
      },
    );
}
