/**
 * `glasshouse site init|serve`: one data site (issue 16 §5) — its own
 * storage (SQLite in DIR, or PostgreSQL shared by several frontends), its
 * own witnessed ingest log, and its own verified view of the residency log,
 * against which it re-checks every batch the router delivers.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { SITE_ID } from '@glasshouse/residency';
import { generateSignerKey, parseSignerKey } from '@glasshouse/tlog';
import { collect, readCallerPublicKey } from '../callers.js';
import {
  readSmallFile,
  untilSignal,
  UsageError,
  wholeSeconds,
  writeSecretFile,
  type Io,
} from '../io.js';
import { residencyTrustOf, startSite, type VerdictFollowing } from '../residency/services.js';

/** The site's ingest-log signer key in its directory (signed-note PRIVATE+KEY+…). */
export const SITE_LOG_KEY_FILE = 'ingest-log.key';
export const siteLogOrigin = (host: string, id: string): string => `${host}/glasshouse/site/${id}`;

/** Creates the site's ingest-log key in DIR (kept when present); returns its verifier key. */
export async function initSiteDir(dir: string, id: string, host = 'localhost'): Promise<string> {
  if (!SITE_ID.test(id)) throw new UsageError(`--id ${JSON.stringify(id)} is not [a-z0-9-]{2,32}`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, SITE_LOG_KEY_FILE);
  if (!existsSync(path))
    await writeSecretFile(path, `${generateSignerKey(siteLogOrigin(host, id)).signerKey}\n`);
  const signer = parseSignerKey((await readFile(path, 'utf8')).trim());
  if (!signer.name.endsWith(`/glasshouse/site/${id}`)) {
    throw new UsageError(`${path} holds the key of ${signer.name}, not of site ${id}`);
  }
  return signer.verifierKey;
}

export function registerSiteCommands(program: Command, io: Io): void {
  const site = program
    .command('site')
    .description(
      'A regional data site: stores the telemetry the residency policy designates to it, and logs each stored ' +
        'batch in its own witnessed ingest log',
    );

  site
    .command('init')
    .description(
      `Create the site's ingest-log key in DIR (${SITE_LOG_KEY_FILE}, mode 0600; origin <host>/glasshouse/site/<id>) ` +
        "and print its verifier key: the key the residency policy names as the site's verifierKey. Kept when present",
    )
    .requiredOption('--dir <dir>', "the site's data directory")
    .requiredOption('--id <id>', 'the site id of the residency policy, e.g. ch-zrh')
    .option('--host <host>', 'the host part of the ingest log origin', 'localhost')
    .action(async (opts: { dir: string; id: string; host: string }) => {
      io.stdout(`${await initSiteDir(resolve(io.cwd, opts.dir), opts.id, opts.host)}\n`);
    });

  site
    .command('serve')
    .description(
      'Serve the site: POST /v1/batches (from the router only, RFC 9421 signed by a --router-key), the ingest log ' +
        'read API under /log/ (c2sp.org/tlog-tiles), GET /reputation/<sha256> and POST /reputation, GET /v1/summary, ' +
        'POST /v1/read (sealed batches, for the access gateway only: a --reader-key), ' +
        "GET /healthz and /metrics. Every batch is re-checked against the site's own view of the residency log " +
        "(REGION_NOT_DESIGNATED_HERE and the other codes of the router's API). Stops on SIGTERM or SIGINT.\n\n" +
        'Example: glasshouse site serve --dir data/vendor/sites/ch-zrh --id ch-zrh --listen 127.0.0.1:8451 \\\n' +
        '  --trust data/residency-trust.json --router-key data/vendor/router/caller.key',
    )
    .requiredOption('--dir <dir>', "the site's data directory (after site init)")
    .requiredOption('--id <id>', 'the site id')
    .requiredOption(
      '--trust <file>',
      'the residency trust (JSON: logPolicy, vendorKey, supervisorKey, keyRelease)',
    )
    .requiredOption(
      '--router-key <file>',
      "the ingest router's caller key (private or public; repeatable)",
      collect,
    )
    .option(
      '--reader-key <file>',
      "the access gateway's caller key (private or public; repeatable): it may read sealed batches (POST /v1/read)",
      collect,
    )
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8451')
    .option('--postgres <url>', 'store in PostgreSQL (several frontends of the site may share it)')
    .option(
      '--retention-days <days>',
      'delete stored batches older than this (each deletion is logged)',
    )
    .option(
      '--verdicts <name>',
      'serve the vendor verdict lists of this release (needs --verdicts-dir and --verdicts-source)',
    )
    .option(
      '--verdicts-dir <dir>',
      'an agent directory initialised with the trust bundle (glasshouse agent init): each list is ' +
        'checked there as an endpoint checks rules (TUF both signatures, release log, VSA, provenance)',
    )
    .option('--verdicts-source <uri>', "the source repository the lists' provenance must name")
    .option('--verdicts-interval <seconds>', 'how often to look for a newer list', '300')
    .action(
      async (opts: {
        dir: string;
        id: string;
        trust: string;
        routerKey: string[];
        readerKey?: string[];
        listen: string;
        postgres?: string;
        retentionDays?: string;
        verdicts?: string;
        verdictsDir?: string;
        verdictsSource?: string;
        verdictsInterval: string;
      }) => {
        const verdicts = verdictFollowingOf(opts, io.cwd);
        const dir = resolve(io.cwd, opts.dir);
        const keyPath = join(dir, SITE_LOG_KEY_FILE);
        if (!existsSync(keyPath))
          throw new UsageError(`${dir} has no ${SITE_LOG_KEY_FILE}; run "glasshouse site init"`);
        const signerKey = (await readSmallFile(keyPath, 4096)).trim();
        const trustPath = resolve(io.cwd, opts.trust);
        const pinned = residencyTrustOf(await readSmallFile(trustPath, 128 * 1024), trustPath);
        const days = opts.retentionDays === undefined ? undefined : Number(opts.retentionDays);
        if (days !== undefined && !(days > 0))
          throw new UsageError('--retention-days wants a positive number');
        const running = await startSite({
          id: opts.id,
          dir,
          listen: opts.listen,
          logSignerKey: signerKey,
          logVerifierKey: parseSignerKey(signerKey).verifierKey,
          trust: pinned.trust,
          routerKeys: await Promise.all(
            opts.routerKey.map((k) => readCallerPublicKey(resolve(io.cwd, k))),
          ),
          readerKeys: await Promise.all(
            (opts.readerKey ?? []).map((k) => readCallerPublicKey(resolve(io.cwd, k))),
          ),
          postgres: opts.postgres,
          retentionDays: days,
          verdicts,
          io,
        });
        io.stderr(`site ${opts.id} serving at ${running.url}\n`);
        await untilSignal();
        await running.close();
      },
    );
}

/** `--verdicts NAME --verdicts-dir DIR --verdicts-source URI [--verdicts-interval S]`, all or none. */
function verdictFollowingOf(
  opts: {
    verdicts?: string;
    verdictsDir?: string;
    verdictsSource?: string;
    verdictsInterval: string;
  },
  cwd: string,
): VerdictFollowing | undefined {
  const given = [opts.verdicts, opts.verdictsDir, opts.verdictsSource];
  if (given.every((v) => v === undefined)) return undefined;
  if (
    opts.verdicts === undefined ||
    opts.verdictsDir === undefined ||
    opts.verdictsSource === undefined
  ) {
    throw new UsageError('--verdicts, --verdicts-dir and --verdicts-source go together');
  }
  const seconds = wholeSeconds('--verdicts-interval', opts.verdictsInterval);
  return {
    name: opts.verdicts,
    dir: resolve(cwd, opts.verdictsDir),
    source: opts.verdictsSource,
    intervalMs: seconds * 1000,
  };
}
