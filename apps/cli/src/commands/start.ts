/**
 * `npm start`: Glasshouse on one machine, with embedded storage under
 * ./data (ignored by git). The bring-up is in ../start/: the release half
 * (release-half.ts), the summary (summary.ts), the stop and close plumbing
 * (lifecycle.ts). This file parses the options and runs the halves in
 * order.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { parseListen, type Io } from '../io.js';
import type { HalfReport, StartContext, StartOptions } from '../start/context.js';
import { Closers, StartInterrupted, watchForStop } from '../start/lifecycle.js';
import { startPaths } from '../start/paths.js';
import { startReleaseHalf, type ReleaseHalf } from '../start/release-half.js';
import { formatSummary } from '../start/summary.js';

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
        "assembly line and update repository, the supervisor's witness and its monitors of the release log and the repository. " +
        'The first start publishes a demo rules release through the whole flow. Prints what runs ' +
        'where, commands to try, and a last line "ready <json>"',
    )
    .option('--data <dir>', 'data directory', 'data')
    .option('--listen <host:port>', 'address of the release log', '127.0.0.1:8480')
    .option('--witness-listen <host:port>', 'address of the witness', '127.0.0.1:8490')
    .option('--assembly-listen <host:port>', 'address of the assembly line', '127.0.0.1:8470')
    .option('--repo-listen <host:port>', 'address of the update repository', '127.0.0.1:8460')
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
        release = await startReleaseHalf(ctx);
        // Extension point: each later half (the data half: data-half.ts) starts
        // here, from `ctx` and what the release half produced (its witness,
        // policy, URLs), and pushes its HalfReport onto `later`.
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
