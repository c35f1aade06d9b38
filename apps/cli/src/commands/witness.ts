import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { generateCosignerKey, parseCosignerKey } from '@glasshouse/tlog';
import {
  JsonLinesAlertSink,
  buildWitnessServer,
  createWitness,
  openPostgresState,
  openSqliteState,
  type WitnessStateStore,
  witnessRefusalAlert,
} from '@glasshouse/witness';
import {
  UsageError,
  listenOn,
  parseListen,
  readKeyIfPresent,
  untilSignal,
  writeSecretFile,
  type Io,
} from '../io.js';

/** Where a witness data directory keeps the witness's cosigner key (mode 0600). */
export const WITNESS_KEY_FILE_NAME = 'witness.key';
/** Where the witness records a split view it refused (one JSON alert a line, `@glasshouse/witness`'s format). */
export const WITNESS_ALERTS_FILE_NAME = 'alerts.jsonl';

export function registerWitnessCommands(program: Command, io: Io): void {
  const witness = program
    .command('witness')
    .description('Run a transparency log witness (C2SP tlog-witness, tlog-cosignature)');

  witness
    .command('init')
    .description(
      "Create a witness: store its cosigner key in DIR (mode 0600), create its state, print its verifier key (the vkey of a policy's witness line)",
    )
    .requiredOption('--name <name>', 'the witness name, e.g. witness.example.com/w1 (the key name)')
    .requiredOption('--dir <dir>', 'data directory')
    .option('--postgres <url>', 'keep the state in this PostgreSQL database')
    .action(async (opts: { name: string; dir: string; postgres?: string }) => {
      const verifierKey = await initWitnessDir({
        dir: resolve(io.cwd, opts.dir),
        name: opts.name,
        postgres: opts.postgres,
      });
      io.stdout(`${verifierKey}\n`);
    });

  witness
    .command('add-log')
    .description('Trust a log verifier key for an origin; prints the origin')
    .requiredOption('--dir <dir>', 'data directory (created by witness init)')
    .requiredOption('--vkey <vkey>', "the log's verifier key (name+hexid+base64)")
    .option('--origin <origin>', "the log's checkpoint origin (default: the key name)")
    .option('--postgres <url>', 'the state is in this PostgreSQL database')
    .action(async (opts: { dir: string; vkey: string; origin?: string; postgres?: string }) => {
      const origin = await trustLogInWitness({ ...opts, dir: resolve(io.cwd, opts.dir) });
      io.stdout(`${origin}\n`);
    });

  witness
    .command('serve')
    .description(
      'Serve the witness over HTTP (POST /add-checkpoint); prints "url <URL>" and "vkey <VKEY>" when ready. SIGTERM/SIGINT stop it gracefully',
    )
    .requiredOption('--dir <dir>', 'data directory (created by witness init)')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8490')
    .option('--postgres <url>', 'the state is in this PostgreSQL database')
    .action(async (opts: { dir: string; listen: string; postgres?: string }) => {
      const server = await startWitnessServer({
        dir: resolve(io.cwd, opts.dir),
        listen: opts.listen,
        postgres: opts.postgres,
        io,
      });
      io.stdout(`url ${server.url}\nvkey ${server.verifierKey}\n`);
      await untilSignal();
      io.stderr('witness: shutting down\n');
      await server.close();
    });
}

/**
 * `glasshouse witness init`: the witness's cosigner key (mode 0600) in `dir`
 * and its state. Idempotent for the same name. Returns the verifier key.
 */
export async function initWitnessDir(opts: {
  dir: string;
  name: string;
  postgres?: string | undefined;
}): Promise<string> {
  await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  const keyPath = join(opts.dir, WITNESS_KEY_FILE_NAME);
  const existing = await readKeyIfPresent(keyPath);
  let verifierKey: string;
  if (existing === undefined) {
    let keys;
    try {
      keys = generateCosignerKey(opts.name);
    } catch (cause) {
      throw new UsageError(`--name: ${(cause as Error).message}`, { cause });
    }
    await writeSecretFile(keyPath, `${keys.signerKey}\n`);
    verifierKey = keys.verifierKey;
  } else {
    // Running init again is harmless; a different name is a mistake.
    const cosigner = parseCosignerKey(existing);
    if (cosigner.name !== opts.name) {
      throw new UsageError(`${keyPath} already holds the key of witness ${cosigner.name}`);
    }
    verifierKey = cosigner.verifierKey;
  }
  const state = await openState(opts.dir, opts.postgres);
  await state.close();
  return verifierKey;
}

/** `glasshouse witness add-log` (idempotent): trust a log's verifier key; returns the origin. */
export async function trustLogInWitness(opts: {
  dir: string;
  vkey: string;
  origin?: string | undefined;
  postgres?: string | undefined;
}): Promise<string> {
  const { signerKey } = await readWitnessKey(opts.dir);
  const state = await openState(opts.dir, opts.postgres);
  try {
    const w = createWitness({ cosigner: signerKey, state, now: posixNow });
    return await w.addLog(opts.vkey, opts.origin);
  } finally {
    await state.close();
  }
}

export interface StartWitnessServerOptions {
  readonly dir: string;
  readonly listen: string;
  readonly postgres?: string | undefined;
  readonly io: Io;
}

export interface RunningWitnessServer {
  /** The submission (and monitoring) prefix, without a trailing slash. */
  readonly url: string;
  readonly verifierKey: string;
  /** Stops accepting requests, finishes those in flight, closes the state. */
  close(): Promise<void>;
}

/**
 * Per client on add-checkpoint, which stays open (the checkpoint's signature
 * says which log sent it): ample for a log that integrates every few
 * milliseconds, a wall for a flood.
 */
const ADD_CHECKPOINT_RATE_LIMIT = { burst: 200, perSecond: 50 };

/** Opens the witness in `dir` and serves it; resolves once it is listening. */
export async function startWitnessServer(
  opts: StartWitnessServerOptions,
): Promise<RunningWitnessServer> {
  const address = parseListen(opts.listen);
  const { signerKey } = await readWitnessKey(opts.dir);
  const state = await openState(opts.dir, opts.postgres);
  try {
    const witness = createWitness({ cosigner: signerKey, state, now: posixNow });
    const alerts = new JsonLinesAlertSink(join(opts.dir, WITNESS_ALERTS_FILE_NAME));
    const app = buildWitnessServer({
      witness,
      state,
      rateLimit: ADD_CHECKPOINT_RATE_LIMIT,
      onSuspicious: (r) => {
        opts.io.stderr(
          `witness: refused ${r.code}: ${r.reason} ${JSON.stringify(r.evidence ?? {})}\n`,
        );
        const alert = witnessRefusalAlert(r, witness.name, new Date());
        if (alert === undefined) return;
        alerts.send(alert).catch((err: unknown) => {
          opts.io.stderr(`witness: ${(err as Error).message}\n`);
        });
      },
    });
    const url = await listenOn(app, address);
    return {
      url,
      verifierKey: witness.verifierKey,
      close: async () => {
        await app.close();
        await alerts.close();
        await state.close();
      },
    };
  } catch (err) {
    await state.close();
    throw err;
  }
}

function openState(dir: string, postgres: string | undefined): Promise<WitnessStateStore> {
  if (postgres !== undefined) return openPostgresState(postgres);
  return openSqliteState({ dir });
}

async function readWitnessKey(dir: string): Promise<{ signerKey: string }> {
  const signerKey = await readKeyIfPresent(join(dir, WITNESS_KEY_FILE_NAME));
  if (signerKey === undefined) {
    throw new UsageError(
      `${dir} has no ${WITNESS_KEY_FILE_NAME}; run "glasshouse witness init" first`,
    );
  }
  return { signerKey };
}

/** c2sp.org/tlog-cosignature: timestamps are POSIX seconds. */
function posixNow(): bigint {
  return BigInt(Math.floor(Date.now() / 1000));
}
