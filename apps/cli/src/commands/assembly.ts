import { resolve } from 'node:path';
import type { Command } from 'commander';
import {
  buildAssemblyServer,
  initAssemblyDir,
  openAssemblyLine,
  type AssemblyLine,
} from '@glasshouse/release';
import { listenOn, parseListen, untilSignal, type Io } from '../io.js';

export function registerAssemblyCommands(program: Command, io: Io): void {
  const assembly = program
    .command('assembly')
    .description(
      "Run the vendor's assembly line: builds release requests and signs their provenance",
    );

  assembly
    .command('init')
    .description(
      "Create an assembly line in DIR: a builder key (mode 0600) and its configuration; prints the builder's public key PEM and keyid",
    )
    .requiredOption('--dir <dir>', 'data directory')
    .option('--builder-id <uri>', 'the builder id written into every provenance')
    .action(async (opts: { dir: string; builderId?: string }) => {
      const identity = await initAssemblyDir({
        dir: resolve(io.cwd, opts.dir),
        builderId: opts.builderId,
      });
      io.stdout(
        `${identity.publicKeyPem.trimEnd()}\nkeyid ${identity.keyid}\nbuilder ${identity.builderId}\n`,
      );
    });

  assembly
    .command('serve')
    .description(
      'Serve the assembly line over HTTP; prints "url <URL>" when ready. SIGTERM/SIGINT stop it gracefully (a running build finishes first)',
    )
    .requiredOption('--dir <dir>', 'data directory (created by assembly init)')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8070')
    .action(async (opts: { dir: string; listen: string }) => {
      const server = await startAssemblyServer({
        dir: resolve(io.cwd, opts.dir),
        listen: opts.listen,
        io,
      });
      io.stdout(`url ${server.url}\n`);
      await untilSignal();
      io.stderr('assembly: shutting down\n');
      await server.close();
    });
}

export interface RunningAssemblyServer {
  readonly url: string;
  readonly line: AssemblyLine;
  /** Stops accepting requests, lets a running build finish, closes the store. */
  close(): Promise<void>;
}

/** Opens the assembly line in `dir` and serves it; resolves once it is listening. */
export async function startAssemblyServer(opts: {
  dir: string;
  listen: string;
  io: Io;
}): Promise<RunningAssemblyServer> {
  const address = parseListen(opts.listen);
  const line = await openAssemblyLine({ dir: opts.dir });
  if (line.sandbox.kind === 'none') {
    opts.io.stderr(
      `assembly: no sandbox (${line.sandbox.reason}); command builds will be recorded as not isolated\n`,
    );
  }
  const app = buildAssemblyServer({ line });
  let url: string;
  try {
    url = await listenOn(app, address);
  } catch (err) {
    line.close();
    throw err;
  }
  return {
    url,
    line,
    close: async () => {
      await app.close();
      line.close();
    },
  };
}
