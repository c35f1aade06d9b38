import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import {
  type Alert,
  type AlertSink,
  FileMirrorStore,
  JsonLinesAlertSink,
  MIRROR_DIR,
  WitnessError,
  type MonitorProgress,
  SqliteMonitorStateStore,
  WebhookAlertSink,
  buildMirrorServer,
  createMonitor,
  fanOutAlertSink,
  formatAlertLine,
} from '@glasshouse/witness';
import {
  UsageError,
  listenOn,
  parseListen,
  readSmallFile,
  untilSignal,
  wholeSeconds,
  type Io,
} from '../io.js';

/** File in the state directory that receives every alert as one JSON line. */
export const ALERTS_FILE = 'alerts.jsonl';
const MAX_POLICY_BYTES = 64 * 1024;

interface MonitorOpts {
  url?: string;
  vkey?: string;
  policy?: string;
  state?: string;
  once?: boolean;
  webhook?: string;
  interval: string;
}

export function registerMonitorCommands(program: Command, io: Io): void {
  const monitor = program
    .command('monitor')
    .summary('Tail a log: verify every checkpoint and entry, keep a mirror, raise alerts')
    .description(
      'Tail a tiled log from its last verified state: verify each checkpoint (signature, ' +
        'witness quorum, consistency with the last one), recompute the tree from every new ' +
        'entry, check the served tiles against it, and keep a mirror. Alerts go to ' +
        '<state>/alerts.jsonl, stderr and the webhook. Needs --url, --vkey (or a --policy ' +
        'listing the log) and --state.',
    )
    .usage(
      '--url <url> --vkey <vkey> --state <dir> [options]\n       glasshouse monitor serve-mirror --state <dir> [--listen <host:port>]',
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  glasshouse monitor --url http://127.0.0.1:8480/ --vkey "$VKEY" --state ./monitor --once\n' +
        '  glasshouse monitor serve-mirror --state ./monitor --listen 127.0.0.1:8481\n',
    )
    .option('--url <url>', "the log's tlog-tiles prefix")
    .option('--vkey <vkey>', "the log's verifier key (name+hexid+base64)")
    .option('--policy <file>', 'a c2sp.org/tlog-policy file: checkpoints must meet its quorum')
    .option('--state <dir>', 'state directory: verified state, mirror, alerts.jsonl (one monitor)')
    .option('--once', 'check once and exit: 0 when all is well, 1 when any alert was raised')
    .option('--webhook <url>', 'also POST each alert as JSON to this URL')
    .option('--interval <seconds>', 'seconds between checks (without --once)', '30')
    .action(async (opts: MonitorOpts) => {
      await runMonitorCommand(opts, io);
    });

  monitor
    .command('serve-mirror')
    .summary('Serve the verified mirror read-only as tlog-tiles')
    .description(
      'Serve the mirror in --state read-only as tlog-tiles: the last verified checkpoint ' +
        'and its tiles and bundles. Prints "url <URL>" when ready; SIGTERM/SIGINT stop it.',
    )
    .option('--state <dir>', "the monitor's state directory")
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8481')
    .action(async (_opts: unknown, cmd: Command) => {
      // `--state` may be given before or after `serve-mirror`.
      const opts = cmd.optsWithGlobals<{ state?: string; listen: string }>();
      if (opts.state === undefined) throw new UsageError('serve-mirror needs --state DIR');
      const address = parseListen(opts.listen);
      const app = buildMirrorServer({ dir: join(resolve(io.cwd, opts.state), MIRROR_DIR) });
      io.stdout(`url ${await listenOn(app, address)}/\n`);
      await untilSignal();
      await app.close();
    });
}

async function runMonitorCommand(opts: MonitorOpts, io: Io): Promise<void> {
  if (opts.url === undefined) throw new UsageError('monitor needs --url URL');
  if (opts.state === undefined) throw new UsageError('monitor needs --state DIR');
  if (opts.vkey === undefined && opts.policy === undefined) {
    throw new UsageError('monitor needs --vkey VKEY or --policy FILE');
  }
  const intervalS = wholeSeconds('--interval', opts.interval);
  const stateDir = resolve(io.cwd, opts.state);
  const policy =
    opts.policy === undefined
      ? undefined
      : await readSmallFile(resolve(io.cwd, opts.policy), MAX_POLICY_BYTES);

  const state = SqliteMonitorStateStore.open(stateDir);
  try {
    const mirror = await FileMirrorStore.open(join(stateDir, MIRROR_DIR));
    const alerts = cliAlertSink({
      path: join(stateDir, ALERTS_FILE),
      io,
      alertPrefix: '',
      errorPrefix: 'monitor: ',
      ...(opts.webhook === undefined ? {} : { webhook: opts.webhook }),
    });
    const monitor = createMonitor({
      url: opts.url,
      ...(opts.vkey === undefined ? {} : { logVerifier: opts.vkey }),
      ...(policy === undefined ? {} : { policy }),
      state,
      mirror,
      alerts,
      intervalMs: intervalS * 1000,
      onProgress: (event) => {
        io.stderr(describeProgress(event));
      },
    });
    if (opts.once === true) {
      const result = await monitor.runOnce();
      await alerts.close?.();
      if (result.alerts.length > 0) {
        throw new WitnessError(
          'ALERTS_RAISED',
          `${result.alerts.length} alert(s) raised; see ${join(stateDir, ALERTS_FILE)}`,
          { evidence: { kinds: result.alerts.map((a) => a.kind) } },
        );
      }
      return;
    }
    const stop = new AbortController();
    const onSignal = (): void => {
      stop.abort();
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    try {
      await monitor.run(stop.signal);
    } finally {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      await alerts.close?.();
    }
  } finally {
    await state.close();
  }
}

/**
 * Where the CLI's monitors send alerts: `path` as JSON lines (the record),
 * stderr (each line after `alertPrefix`) and, if given, a webhook whose
 * failures go to stderr after `errorPrefix`.
 */
export function cliAlertSink(opts: {
  readonly path: string;
  readonly io: Io;
  readonly alertPrefix: string;
  readonly errorPrefix: string;
  readonly webhook?: string;
}): AlertSink {
  const { io } = opts;
  const sinks: AlertSink[] = [
    new JsonLinesAlertSink(opts.path),
    {
      send: (alert: Alert) => {
        io.stderr(`${opts.alertPrefix}${formatAlertLine(alert)}`);
        return Promise.resolve();
      },
    },
  ];
  if (opts.webhook !== undefined) {
    sinks.push(
      new WebhookAlertSink({
        url: opts.webhook,
        onError: (err) => {
          io.stderr(`${opts.errorPrefix}${err.code}: ${err.message}\n`);
        },
      }),
    );
  }
  return fanOutAlertSink(sinks);
}

function describeProgress(e: MonitorProgress): string {
  switch (e.phase) {
    case 'checkpoint':
      return e.newSize === e.oldSize
        ? `monitor: checkpoint size ${e.newSize}\n`
        : `monitor: checkpoint size ${e.oldSize} -> ${e.newSize}\n`;
    case 'entries':
      return `monitor: verified ${e.size}/${e.newSize} entries (${Math.round(e.entriesPerSecond)} entries/s)\n`;
    case 'fetch-retry':
      return `monitor: log unreadable, retrying at the next interval: ${e.message}\n`;
    case 'done':
      switch (e.outcome) {
        case 'up-to-date':
          return `monitor: up to date at size ${e.size}\n`;
        case 'advanced':
          return `monitor: verified size ${e.size} (${e.entries} new entries in ${(e.ms / 1000).toFixed(1)} s)\n`;
        case 'alert':
          return `monitor: ALERT; staying at verified size ${e.size}\n`;
      }
  }
}
