/**
 * `glasshouse keyrelease serve` (issue 17 §4, supervisor side; its key from
 * `glasshouse supervisor key-release init`): holds
 * the HPKE private key the agents seal personal fields to and opens data
 * keys only for a witnessed access record whose scope covers the batches.
 * Every release and refusal is recorded in its own audit store.
 */
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { jsonLinesAccessAlerts } from '@glasshouse/access';
import { CUSTOMER_PSEUDONYM } from '@glasshouse/residency';
import { collect, readCallerPublicKey } from '../callers.js';
import { untilSignal, UsageError, type Io } from '../io.js';
import { readAccessConfig, startKeyRelease } from '../access/services.js';
import { accessConfigFiles, accessConfigOptions } from './gateway.js';

export function registerKeyReleaseCommands(program: Command, io: Io): void {
  const kr = program
    .command('keyrelease')
    .description(
      "The supervisor's key release: opens the data keys of sealed personal fields only against a witnessed access record",
    );

  accessConfigOptions(
    kr
      .command('serve')
      .description(
        'Serve the key release: POST /v1/release/prepare and POST /v1/release (the gateway only, RFC 9421 signed by ' +
          'a --gateway-key) open the data keys of the given sealed batches when the access record is fresh and not ' +
          'used before, its accessor is registered, its approvals verify, every batch is in its scope and its ' +
          "tlog-proof meets the access log's witness policy. Prepare runs every check but the receipt's and commits " +
          "the release's audit row (DIR or --postgres) before answering a single-use ticket; release takes the " +
          'ticket and the receipt and answers the keys (a restart refuses earlier tickets). A ' +
          'break-glass release or any request for a canary customer alerts (stderr and --alerts). The key in DIR must ' +
          'be the one the residency trust names (created by "glasshouse supervisor key-release init"). GET /healthz. Stops on SIGTERM or SIGINT.\n\n' +
          'Example: glasshouse keyrelease serve --dir data/supervisor/key-release --access-log-policy data/access-log-policy.txt \\\n' +
          '  --access-policy data/access-policy.json --principals data/principals.dsse.json \\\n' +
          '  --residency-trust data/residency-trust.json --gateway-key data/vendor/gateway/caller.pub --listen 127.0.0.1:8486',
      )
      .requiredOption(
        '--dir <dir>',
        "the key release's data directory (after supervisor key-release init)",
      ),
  )
    .requiredOption(
      '--gateway-key <file>',
      "the gateway's caller key (public PEM or private; repeatable): who may ask for keys",
      collect,
    )
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8486')
    .option('--postgres <url>', 'keep the audit in PostgreSQL (schema keyrelease_audit)')
    .option(
      '--canary <pseudonym>',
      'a canary customer: any request for it alerts; repeatable',
      collect,
    )
    .option('--alerts <file>', 'append alerts as JSON lines here (default DIR/alerts.jsonl)')
    .option('--validity-seconds <s>', 'how long an access record may be used for a release', '300')
    .action(
      async (opts: {
        dir: string;
        accessLogPolicy: string;
        accessPolicy: string;
        principals: string;
        residencyTrust: string;
        gatewayKey: string[];
        listen: string;
        postgres?: string;
        canary?: string[];
        alerts?: string;
        validitySeconds: string;
      }) => {
        const canaries = opts.canary ?? [];
        for (const c of canaries) {
          if (!CUSTOMER_PSEUDONYM.test(c))
            throw new UsageError(`--canary ${JSON.stringify(c)} is not a customer pseudonym (c-…)`);
        }
        const validity = Number(opts.validitySeconds);
        if (!(Number.isInteger(validity) && validity > 0))
          throw new UsageError('--validity-seconds wants a positive whole number');
        const dir = resolve(io.cwd, opts.dir);
        const file = jsonLinesAccessAlerts(
          opts.alerts === undefined ? join(dir, 'alerts.jsonl') : resolve(io.cwd, opts.alerts),
        );
        const running = await startKeyRelease({
          dir,
          listen: opts.listen,
          postgres: opts.postgres,
          config: await readAccessConfig(accessConfigFiles(io, opts)),
          gatewayKeys: await Promise.all(
            opts.gatewayKey.map((k) => readCallerPublicKey(resolve(io.cwd, k))),
          ),
          canaries,
          alerts: {
            send: async (a) => {
              io.stderr(`key release ALERT ${a.kind}: ${a.message}\n`);
              await file.send(a);
            },
          },
          validitySeconds: validity,
          io,
        });
        io.stderr(`key release serving at ${running.url}\n`);
        io.stdout(`url ${running.url}\n`);
        await untilSignal();
        io.stderr('key release: shutting down\n');
        await running.close();
      },
    );
}
