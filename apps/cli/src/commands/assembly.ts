import { createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { CallerSpec } from '@glasshouse/httpsig';
import {
  ROUTES,
  allowListOf,
  caller,
  collect,
  formatCallers,
  readCallersFiles,
} from '../callers.js';
import { publicKeyFromPem, publicKeyToPem, signingKeyFromPem } from '@glasshouse/attest';
import {
  ASSEMBLY_CONFIG_FILE,
  buildAssemblyServer,
  initAssemblyDir,
  LAYOUT_KEY_FILE,
  openAssemblyLine,
  type AssemblyLine,
} from '@glasshouse/release';
import {
  listenOn,
  MAX_KEY_FILE_BYTES,
  parseListen,
  readSmallFile,
  untilSignal,
  type Io,
} from '../io.js';

export function registerAssemblyCommands(program: Command, io: Io): void {
  const assembly = program
    .command('assembly')
    .description(
      "Run the vendor's assembly line: builds release requests and signs their provenance",
    );

  assembly
    .command('init')
    .description(
      'Create an assembly line in DIR: a builder key and a layout key (both mode 0600) and its configuration. ' +
        "Prints the builder's public key PEM, 'keyid <id>' and 'builder <uri>', then 'layout-keyid <id>' and the " +
        "layout key's PEM (endpoints pin it to check release layouts), and 'supervisor <keyid>' once a supervisor " +
        'key is pinned. Idempotent: run it again with --supervisor-key to pin (or re-pin) the supervisor',
    )
    .requiredOption('--dir <dir>', 'data directory')
    .option('--builder-id <uri>', 'the builder id written into every provenance')
    .option(
      '--supervisor-key <file>',
      "the supervisor's public key (PEM): only what it signs is accepted as an upload",
    )
    .action(async (opts: { dir: string; builderId?: string; supervisorKey?: string }) => {
      const dir = resolve(io.cwd, opts.dir);
      const supervisorKeyPem =
        opts.supervisorKey === undefined
          ? undefined
          : await readSmallFile(resolve(io.cwd, opts.supervisorKey), MAX_KEY_FILE_BYTES);
      const identity = await initAssemblyDir({ dir, builderId: opts.builderId, supervisorKeyPem });
      const layoutKey = signingKeyFromPem(await readFile(join(dir, LAYOUT_KEY_FILE), 'utf8'));
      const lines = [
        identity.publicKeyPem.trimEnd(),
        `keyid ${identity.keyid}`,
        `builder ${identity.builderId}`,
        `layout-keyid ${layoutKey.keyid}`,
        publicKeyToPem(layoutKey.verifier).trimEnd(),
      ];
      const supervisor = await pinnedSupervisorKeyid(dir);
      if (supervisor !== undefined) lines.push(`supervisor ${supervisor}`);
      io.stdout(`${lines.join('\n')}\n`);
    });

  assembly
    .command('serve')
    .description(
      'Serve the assembly line over HTTP; prints "url <URL>" when ready. SIGTERM/SIGINT stop it gracefully (a running build is cancelled)',
    )
    .requiredOption('--dir <dir>', 'data directory (created by assembly init)')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8470')
    .option(
      '--callers <file>',
      'who may request builds (release engineers) or upload: a callers file, repeatable; the pinned ' +
        'supervisor key always may upload attestations',
      collect,
    )
    .action(async (opts: { dir: string; listen: string; callers?: string[] }) => {
      const server = await startAssemblyServer({
        dir: resolve(io.cwd, opts.dir),
        listen: opts.listen,
        callers: await readCallersFiles((opts.callers ?? []).map((f) => resolve(io.cwd, f))),
        io,
      });
      io.stdout(`url ${server.url}\n`);
      await untilSignal();
      io.stderr('assembly: shutting down\n');
      await server.close();
    });
}

/** The keyid of the supervisor key pinned in DIR's configuration, if any (init has just checked it). */
async function pinnedSupervisorKeyid(dir: string): Promise<string | undefined> {
  const pem = await pinnedSupervisorPem(dir);
  return pem === undefined ? undefined : publicKeyFromPem(pem).keyid;
}

/** The supervisor key (PEM) pinned in DIR's configuration, if any. */
async function pinnedSupervisorPem(dir: string): Promise<string | undefined> {
  const config = JSON.parse(await readFile(join(dir, ASSEMBLY_CONFIG_FILE), 'utf8')) as {
    supervisor?: { publicKeyPem?: unknown };
  };
  const pem = config.supervisor?.publicKeyPem;
  return typeof pem === 'string' ? pem : undefined;
}

export interface RunningAssemblyServer {
  readonly url: string;
  readonly line: AssemblyLine;
  /** Cancels a running build, stops accepting requests, closes the store. */
  close(): Promise<void>;
}

/** Opens the assembly line in `dir` and serves it; resolves once it is listening. */
export async function startAssemblyServer(opts: {
  dir: string;
  listen: string;
  /** Release engineers (and anyone else) allowed to write, besides the pinned supervisor. */
  callers?: readonly CallerSpec[];
  io: Io;
}): Promise<RunningAssemblyServer> {
  const address = parseListen(opts.listen);
  const line = await openAssemblyLine({ dir: opts.dir });
  if (line.sandbox.kind === 'none') {
    opts.io.stderr(
      `assembly: no sandbox (${line.sandbox.reason}); command builds will be recorded as not isolated\n`,
    );
  }
  // The pinned supervisor uploads its attestations; the listed callers do what they are allowed.
  const supervisorPem = await pinnedSupervisorPem(opts.dir);
  const allowList = allowListOf([
    ...(supervisorPem === undefined
      ? []
      : [caller('supervisor', createPublicKey(supervisorPem), ROUTES.assemblyUpload)]),
    ...(opts.callers ?? []),
  ]);
  opts.io.stderr(formatCallers('assembly', allowList));
  const app = buildAssemblyServer({ line, writers: { allowList } });
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
      // A build can run for minutes: cancel it so its request ends and the close does not wait.
      line.cancelBuild();
      await app.close();
      line.close();
    },
  };
}
