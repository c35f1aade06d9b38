/**
 * `glasshouse portal serve`: the Transparency Center (apps/portal) for
 * reviewers, who verify every checkpoint, cosignature, proof and signature
 * in their own browser. The server only hands out the page, the trust
 * roots and the services' public bytes (portal/server.ts says why through
 * a same-origin proxy).
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { startPortalServer } from '../portal/server.js';
import {
  alertSources,
  logFromPolicy,
  portalDistDir,
  sourcesFromTrustBundle,
  uniqueIds,
} from '../portal/sources.js';
import { UsageError, parseListen, readSmallFile, untilSignal, type Io } from '../io.js';

/** The portal's default address (npm start uses it too). */
export const PORTAL_DEFAULT_LISTEN = '127.0.0.1:8445';
const MAX_TRUST_BUNDLE_FILE = 1024 * 1024;
const MAX_POLICY_FILE = 64 * 1024;

export function registerPortalCommands(program: Command, io: Io): void {
  const portal = program
    .command('portal')
    .description(
      "The Transparency Center: a web portal that verifies everything in the reviewer's browser",
    );
  portal
    .command('serve')
    .description(
      "Serve the Transparency Center. Its trust roots are the trust bundle (the release log's and the residency " +
        "log's witness policies, the TUF root, the builder's and the supervisor's keys) and any further log policy; " +
        'the page reaches the services through this server (GET only) and verifies every byte itself',
    )
    .requiredOption(
      '--trust-bundle <file>',
      'the trust bundle (npm start writes data/trust-bundle.json)',
    )
    .option('--assembly <url>', "the assembly line's base URL (its public release list)")
    .option(
      '--access-index <url>',
      "the access index service's base URL: its lookup is proxied for the My data page",
    )
    .option(
      '--gateway <url>',
      "the access gateway's base URL (only its public lists of approval requests and break-glass accesses are forwarded)",
    )
    .option(
      '--access-policy <file>',
      'the access policy (glasshouse.access-policy/v1): the supervisor keys approvals are checked against',
    )
    .option(
      '--log-policy <file>',
      'a further log to show: its c2sp.org/tlog-policy with the URL on its log line (repeatable)',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option(
      '--alerts <[title=]file>',
      "a monitor's alerts file (JSON lines) the page lists and re-verifies; its newest 1 MiB is served (repeatable)",
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option('--listen <host:port>', 'address to serve on', PORTAL_DEFAULT_LISTEN)
    .action(
      async (opts: {
        trustBundle: string;
        assembly?: string;
        accessIndex?: string;
        gateway?: string;
        accessPolicy?: string;
        logPolicy: string[];
        alerts: string[];
        listen: string;
      }) => {
        const listen = parseListen(opts.listen);
        const bundle = sourcesFromTrustBundle(
          await readBytes(opts.trustBundle, MAX_TRUST_BUNDLE_FILE),
        );
        const extra = await Promise.all(
          opts.logPolicy.map(async (f) => logFromPolicy(await readSmallFile(f, MAX_POLICY_FILE))),
        );
        const running = await startPortalServer({
          distDir: portalDistDir(),
          logs: uniqueIds([...bundle.logs, ...extra]),
          repoUrl: bundle.repoUrl,
          assemblyUrl: opts.assembly,
          accessIndexUrl: opts.accessIndex,
          gatewayUrl: opts.gateway,
          accessPolicy:
            opts.accessPolicy === undefined
              ? undefined
              : await readSmallFile(opts.accessPolicy, MAX_POLICY_FILE),
          trustBundleFingerprint: bundle.fingerprint,
          alerts: alertSources(opts.alerts),
          host: listen.host,
          port: listen.port,
        });
        io.stderr(`portal: trust bundle sha256 ${bundle.fingerprint}\n`);
        io.stdout(`portal: serving the Transparency Center at ${running.url}\n`);
        await untilSignal();
        await running.close();
      },
    );
}

async function readBytes(path: string, max: number): Promise<Uint8Array> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new UsageError(`cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  if (bytes.length > max) throw new UsageError(`${path} is larger than ${max} bytes`);
  return bytes;
}
