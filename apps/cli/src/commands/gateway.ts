/**
 * `glasshouse gateway init|serve` (issue 17 §3, vendor side): the only read
 * path to the data stored at the sites. An access is served only once its
 * record is in the access log under a witnessed checkpoint and the
 * supervisor's key release opened the data keys against it.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { ensureCallerKey, readCallerKey } from '../callers.js';
import { untilSignal, UsageError, type Io } from '../io.js';
import { readAccessConfig, startGateway, type AccessConfigFiles } from '../access/services.js';

/** The gateway's caller key in its directory (Ed25519 PKCS#8 PEM, mode 0600). */
export const GATEWAY_KEY_FILE = 'caller.key';

/** Creates the gateway's caller key in DIR (kept when present); returns its public key (SPKI PEM). */
export async function initGatewayDir(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const key = await ensureCallerKey(join(dir, GATEWAY_KEY_FILE));
  return createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
}

/** The options naming the access configuration, shared by `gateway serve` and `keyrelease serve`. */
export function accessConfigOptions(cmd: Command): Command {
  return cmd
    .requiredOption(
      '--access-log-policy <file>',
      'the access log\'s c2sp.org/tlog-policy; its "log" line carries the log\'s URL',
    )
    .requiredOption('--access-policy <file>', 'the access policy (glasshouse.access-policy/v1)')
    .requiredOption(
      '--principals <file>',
      'the principal registry (DSSE, signed by a supervisor key of the access policy)',
    )
    .requiredOption(
      '--residency-trust <file>',
      'the residency trust (JSON: logPolicy, vendorKey, supervisorKey, keyRelease)',
    );
}

export function accessConfigFiles(
  io: Io,
  opts: {
    accessLogPolicy: string;
    accessPolicy: string;
    principals: string;
    residencyTrust: string;
  },
): AccessConfigFiles {
  return {
    accessLogPolicy: resolve(io.cwd, opts.accessLogPolicy),
    accessPolicy: resolve(io.cwd, opts.accessPolicy),
    principals: resolve(io.cwd, opts.principals),
    residencyTrust: resolve(io.cwd, opts.residencyTrust),
  };
}

export function registerGatewayCommands(program: Command, io: Io): void {
  const gateway = program
    .command('gateway')
    .description(
      'The access gateway (vendor side): the only read path to data stored at the sites; logs every access ' +
        'in the witnessed access log before it serves',
    );

  gateway
    .command('init')
    .description(
      `Create the gateway's caller key in DIR (${GATEWAY_KEY_FILE}, Ed25519 PKCS#8 PEM, mode 0600; kept when present) ` +
        'and print its public key (PEM): the key the access log, the data sites (site serve --reader-key) and the ' +
        'key release (keyrelease serve --gateway-key) accept',
    )
    .requiredOption('--dir <dir>', "the gateway's data directory")
    .action(async (opts: { dir: string }) => {
      io.stdout(await initGatewayDir(resolve(io.cwd, opts.dir)));
    });

  accessConfigOptions(
    gateway
      .command('serve')
      .description(
        'Serve the gateway: POST /v1/access (a registered principal, RFC 9421 signed) checks the access policy and ' +
          'approvals, appends the access record to the access log (signed with DIR/caller.key), waits for a ' +
          "checkpoint meeting the log's witness policy, reads the sealed batches from the site the logged residency " +
          "policy names, has the key release open their keys, and answers the data with the record's receipt; " +
          'nothing is served when the log, the witnesses or the key release are unavailable (503 with a code). ' +
          'Also the approvals API (POST /v1/requests, GET /v1/requests, POST /v1/requests/<digest>/decisions, ' +
          'GET /v1/break-glass, POST /v1/break-glass/<record>/review) and GET /healthz. Stops on SIGTERM or SIGINT.\n\n' +
          'Example: glasshouse gateway serve --dir data/vendor/gateway --access-log-policy data/access-log-policy.txt \\\n' +
          '  --access-policy data/access-policy.json --principals data/principals.dsse.json \\\n' +
          '  --residency-trust data/residency-trust.json --key-release http://127.0.0.1:8486/ --listen 127.0.0.1:8485',
      )
      .requiredOption('--dir <dir>', "the gateway's data directory (after gateway init)"),
  )
    .requiredOption('--key-release <url>', "the supervisor's key release")
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8485')
    .option(
      '--postgres <url>',
      'keep records and approvals in PostgreSQL (schemas gateway, approvals)',
    )
    .option(
      '--witness-timeout-ms <ms>',
      'how long an access waits for a witnessed checkpoint covering its record',
      '10000',
    )
    .action(
      async (opts: {
        dir: string;
        accessLogPolicy: string;
        accessPolicy: string;
        principals: string;
        residencyTrust: string;
        keyRelease: string;
        listen: string;
        postgres?: string;
        witnessTimeoutMs: string;
      }) => {
        const dir = resolve(io.cwd, opts.dir);
        const keyPath = join(dir, GATEWAY_KEY_FILE);
        if (!existsSync(keyPath))
          throw new UsageError(`${dir} has no ${GATEWAY_KEY_FILE}; run "glasshouse gateway init"`);
        const timeout = Number(opts.witnessTimeoutMs);
        if (!(timeout >= 100)) throw new UsageError('--witness-timeout-ms wants a number ≥ 100');
        if (!/^https?:\/\//.test(opts.keyRelease))
          throw new UsageError(
            `--key-release ${JSON.stringify(opts.keyRelease)} is not an http(s) URL`,
          );
        const running = await startGateway({
          dir,
          listen: opts.listen,
          postgres: opts.postgres,
          config: await readAccessConfig(accessConfigFiles(io, opts)),
          keyReleaseUrl: opts.keyRelease,
          callerKey: await readCallerKey(keyPath),
          witnessTimeoutMs: timeout,
          io,
        });
        io.stderr(`gateway serving at ${running.url}\n`);
        io.stdout(`url ${running.url}\n`);
        await untilSignal();
        io.stderr('gateway: shutting down\n');
        await running.close();
      },
    );
}
