/**
 * `npm start`: Glasshouse on one machine, with embedded storage under
 * ./data (ignored by git). The bring-up is in ../start/: the release half
 * (release-half.ts), the summary (summary.ts), the stop and close plumbing
 * (lifecycle.ts). This file parses the options and runs the halves in
 * order.
 */
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { parseListen, type Io } from '../io.js';
import type { HalfReport, StartContext, StartOptions } from '../start/context.js';
import { Closers, StartInterrupted, watchForStop } from '../start/lifecycle.js';
import { startPaths } from '../start/paths.js';
import { startReleaseHalf, type ReleaseHalf } from '../start/release-half.js';
import { formatSummary } from '../start/summary.js';
import { startDataHalf } from '../start/data-half.js';
import { prepareDataHalf } from '../start/data-prepare.js';
import { startResidencyLog, type RunningResidencyLog } from '../start/data-residency-log.js';
import { startAccessHalf } from '../start/access-half.js';
import { prepareAccessHalf } from '../start/access-prepare.js';
import { startPortalHalf } from '../start/portal-half.js';
import { PORTAL_DEFAULT_LISTEN } from './portal.js';
import { ALERTS_FILE } from './monitor.js';
import { WITNESS_ALERTS_FILE_NAME } from './witness.js';

/**
 * The vendor runs the release log, the assembly line and the update
 * repository; the supervisor runs the witness of the release log and a
 * monitor of it. Each role has its own directory and keys and they talk
 * over loopback HTTP only. On first start the repository's root is
 * co-signed and a demo rules release goes through the whole flow: build,
 * review, rebuild, approval, release log, publication.
 */
export function registerStartCommand(program: Command, io: Io): void {
  program
    .command('start')
    .description(
      "Start Glasshouse on this machine (embedded storage under ./data): the vendor's release log, " +
        "assembly line and update repository, the supervisor's witness and its monitors of the release log and the repository; " +
        'the data half: the residency log, two data sites (ch-zrh Zurich, us-iad), the ingest router, the ' +
        "supervisor's residency monitor and key-release key, the demo residency policy, and a demo customer and " +
        'agent per region sending sealed detections; the access half: the access log, the access gateway, the ' +
        "supervisor's key release and access monitor, the per-customer access index and its output log, and a " +
        'demo of four accesses (support with approvals, threat investigation, a refusal, break-glass). ' +
        'The first start publishes a demo rules release through the whole flow. Prints what runs ' +
        'where, commands to try, and a last line "ready <json>"',
    )
    .option('--data <dir>', 'data directory', 'data')
    .option('--listen <host:port>', 'address of the release log', '127.0.0.1:8480')
    .option('--witness-listen <host:port>', 'address of the witness', '127.0.0.1:8490')
    .option('--assembly-listen <host:port>', 'address of the assembly line', '127.0.0.1:8470')
    .option('--repo-listen <host:port>', 'address of the update repository', '127.0.0.1:8460')
    .option('--residency-log-listen <host:port>', 'address of the residency log', '127.0.0.1:8481')
    .option('--router-listen <host:port>', 'address of the ingest router', '127.0.0.1:8450')
    .option(
      '--site-listen <host:port>',
      'address of the Zurich data site (ch-zrh)',
      '127.0.0.1:8451',
    )
    .option(
      '--second-site-listen <host:port>',
      'address of the second data site (us-iad)',
      '127.0.0.1:8452',
    )
    .option('--access-log-listen <host:port>', 'address of the access log', '127.0.0.1:8482')
    .option(
      '--access-index-listen <host:port>',
      'address of the access index (per-customer lookups)',
      '127.0.0.1:8483',
    )
    .option(
      '--access-index-log-listen <host:port>',
      "address of the access index's output log",
      '127.0.0.1:8484',
    )
    .option('--gateway-listen <host:port>', 'address of the access gateway', '127.0.0.1:8485')
    .option(
      '--key-release-listen <host:port>',
      "address of the supervisor's key release",
      '127.0.0.1:8486',
    )
    .option(
      '--portal-listen <host:port>',
      "address of the Transparency Center (the reviewers' portal)",
      PORTAL_DEFAULT_LISTEN,
    )
    .option('--origin <origin>', 'origin of the log (first start only)', 'localhost/glasshouse/log')
    .option(
      '--witness-name <name>',
      'key name of the witness (first start only)',
      'localhost/glasshouse/witness',
    )
    .action(async (opts: StartOptions) => {
      // Every address is checked before anything is written.
      for (const listen of [
        opts.listen,
        opts.witnessListen,
        opts.assemblyListen,
        opts.repoListen,
        opts.residencyLogListen,
        opts.routerListen,
        opts.siteListen,
        opts.secondSiteListen,
        opts.accessLogListen,
        opts.accessIndexListen,
        opts.accessIndexLogListen,
        opts.gatewayListen,
        opts.keyReleaseListen,
        opts.portalListen,
      ]) {
        parseListen(listen);
      }
      const stop = watchForStop(io);
      const ctx: StartContext = {
        opts,
        paths: startPaths(resolve(io.cwd, opts.data)),
        closers: new Closers(),
        checkStop: stop.checkStop,
        say: (line) => {
          io.stderr(`${line}\n`);
        },
        io,
      };
      let release: ReleaseHalf;
      const later: HalfReport[] = [];
      try {
        // The data half's keys first: the witness learns its logs before it runs.
        const prepared = await prepareDataHalf(ctx);
        const preparedAccess = await prepareAccessHalf(ctx);
        let residencyLog: RunningResidencyLog | undefined;
        release = await startReleaseHalf(ctx, {
          residencyTrust: async (witness) => {
            residencyLog = await startResidencyLog(ctx, prepared, witness, opts.residencyLogListen);
            return residencyLog.trust;
          },
        });
        if (residencyLog === undefined) throw new Error('the residency log did not start');
        // Each later half starts from `ctx` and what the release half produced,
        // and pushes its HalfReport onto `later`.
        const data = await startDataHalf(
          ctx,
          prepared,
          residencyLog,
          {
            residencyLog: opts.residencyLogListen,
            router: opts.routerListen,
            sites: { 'ch-zrh': opts.siteListen, 'us-iad': opts.secondSiteListen },
          },
          {
            siteReaders: [preparedAccess.gatewayKey],
            ...(release.verdicts === undefined
              ? {}
              : {
                  verdicts: {
                    ...release.verdicts,
                    trustBundle: ctx.paths.trustBundle,
                    fingerprint: release.trustBundle.fingerprint,
                  },
                }),
          },
        );
        later.push(data);
        const access = await startAccessHalf(
          ctx,
          preparedAccess,
          {
            paths: prepared.paths,
            residencyTrustPath: prepared.paths.residencyTrust,
            witness: release.localWitness,
          },
          {
            accessLog: opts.accessLogListen,
            index: opts.accessIndexListen,
            indexLog: opts.accessIndexLogListen,
            gateway: opts.gatewayListen,
            keyRelease: opts.keyReleaseListen,
          },
        );
        later.push(access);
        // Last: the portal shows every log the halves before it started.
        later.push(
          await startPortalHalf(ctx, {
            release,
            prepared,
            sites: data.ready.sites as Record<string, string>,
            logPolicies: [
              preparedAccess.paths.accessLogPolicy,
              preparedAccess.paths.indexLogPolicy,
            ],
            alerts: [
              {
                id: 'supervisor',
                title: "the supervisor's release-log and repository monitors",
                path: release.monitor.alertsPath,
              },
              {
                id: 'witness',
                title: "the supervisor's witness (split views it refused)",
                path: join(ctx.paths.witness, WITNESS_ALERTS_FILE_NAME),
              },
              {
                id: 'residency',
                title: 'the residency monitor',
                path: join(prepared.paths.monitor, ALERTS_FILE),
              },
              {
                id: 'access',
                title: 'the access monitor',
                path: join(preparedAccess.paths.monitor, ALERTS_FILE),
              },
            ],
            accessIndex: {
              url: access.ready.accessIndexUrl as string,
              demoCustomerKey: access.ready.accessDemoCustomerKey as string,
            },
            access: {
              gatewayUrl: access.ready.gatewayUrl as string,
              accessPolicy: preparedAccess.paths.accessPolicy,
            },
            listen: opts.portalListen,
          }),
        );
      } catch (err) {
        await ctx.closers.closeAll(io);
        if (err instanceof StartInterrupted) return;
        throw err;
      }
      stop.up();
      io.stdout(formatSummary(release, later, ctx.paths, io.cwd));
      await stop.requested;
      io.stderr('start: shutting down\n');
      await ctx.closers.closeAll(io);
    });
}
