import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import {
  LogClient,
  type LogStorage,
  buildServer,
  initLog,
  openLog,
  openPostgresStorage,
  openSqliteStorage,
} from '@glasshouse/log';
import {
  MAX_ENTRY_SIZE,
  type Policy,
  generateSignerKey,
  parsePolicy,
  parseSignerKey,
  parseVerifierKey,
  verifyTlogProof,
} from '@glasshouse/tlog';
import {
  UsageError,
  listenOn,
  parseListen,
  readKeyIfPresent,
  readSmallFile,
  untilSignal,
  MAX_KEY_FILE_BYTES,
  writeSecretFile,
  type Io,
} from '../io.js';
import type { CallerSpec } from '@glasshouse/httpsig';
import {
  ROUTES,
  allowListOf,
  caller,
  callerKeyFromText,
  clientOptions,
  collect,
  formatCallers,
  readCallersFiles,
} from '../callers.js';

/** Where a data directory keeps the log's signer key (mode 0600). */
export const KEY_FILE_NAME = 'log.key';
const MAX_RECEIPT_BYTES = 64 * 1024;
/** c2sp.org/tlog-policy files are small; the parser's own default cap. */
const MAX_POLICY_BYTES = 64 * 1024;
/** Entries per POST /add-batch (the server's default limit). */
const BATCH_CHUNK = 4096;

export function registerLogCommands(program: Command, io: Io): void {
  const log = program
    .command('log')
    .description('Run and use a transparency log (C2SP tlog-tiles, tlog-checkpoint, tlog-proof)');

  log
    .command('init')
    .description(
      'Create a log: store its signer key in DIR (mode 0600), sign the empty checkpoint, print the verifier key',
    )
    .requiredOption(
      '--origin <origin>',
      'checkpoint origin, e.g. example.com/log (also the key name)',
    )
    .requiredOption('--dir <dir>', 'data directory')
    .option('--key-file <file>', 'use this PRIVATE+KEY+… signer key instead of generating one')
    .option('--postgres <url>', 'keep entries and tiles in this PostgreSQL database')
    .action(async (opts: { origin: string; dir: string; keyFile?: string; postgres?: string }) => {
      const dir = resolve(io.cwd, opts.dir);
      const { verifierKey } = await initDataDir({
        dir,
        origin: opts.origin,
        keyFile: opts.keyFile === undefined ? undefined : resolve(io.cwd, opts.keyFile),
        postgres: opts.postgres,
      });
      io.stdout(`${verifierKey}\n`);
    });

  log
    .command('serve')
    .description(
      'Serve an initialised log over HTTP; prints "url <URL>" and "vkey <VKEY>" when ready. SIGTERM/SIGINT stop it gracefully',
    )
    .requiredOption('--dir <dir>', 'data directory (created by log init)')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8480')
    .option('--postgres <url>', 'keep entries and tiles in this PostgreSQL database')
    .option(
      '--witness-policy <file>',
      'a c2sp.org/tlog-policy file whose witness lines carry URLs: publish only checkpoints its quorum cosigned',
    )
    .option(
      '--publish-unwitnessed',
      'DEVELOPMENT ONLY: publish checkpoints even when the witness quorum is not met (/healthz says so)',
    )
    .option(
      '--callers <file>',
      'who else may add entries (a callers file, repeatable); the log operator (the key in DIR) always may',
      collect,
    )
    .action(
      async (opts: {
        dir: string;
        listen: string;
        postgres?: string;
        witnessPolicy?: string;
        publishUnwitnessed?: boolean;
        callers?: string[];
      }) => {
        const server = await startLogServer({
          callers: await readCallersFiles((opts.callers ?? []).map((f) => resolve(io.cwd, f))),
          dir: resolve(io.cwd, opts.dir),
          listen: opts.listen,
          postgres: opts.postgres,
          witnessPolicy:
            opts.witnessPolicy === undefined ? undefined : resolve(io.cwd, opts.witnessPolicy),
          publishUnwitnessed: opts.publishUnwitnessed === true,
          io,
        });
        io.stdout(`url ${server.url}\nvkey ${server.verifierKey}\n`);
        await untilSignal();
        io.stderr('log: shutting down\n');
        await server.close();
      },
    );

  log
    .command('add')
    .description(
      'Add each FILE as one entry, signed with KEY (RFC 9421); prints, one line per file in order, "FILE: index N, receipt URL" ' +
        '(the receipt can be fetched once a published checkpoint covers the entry, also with ' +
        '"glasshouse log receipt"). Example: glasshouse log add --url http://127.0.0.1:8480/ --key data/vendor/log/log.key entry.bin',
    )
    .requiredOption('--url <url>', "the log's URL")
    .requiredOption(
      '--key <file>',
      "a caller key the log accepts: the log operator's log.key, or a PEM key on its callers list",
    )
    .option('--dedup', 'an entry already in the log gets its original index back')
    .option('--json', 'print one JSON object per file: {"file", "index", "receipt"}')
    .argument('<file...>', 'entries, 1 to 65,535 bytes each')
    .action(
      async (
        files: string[],
        opts: { url: string; key: string; dedup?: boolean; json?: boolean },
      ) => {
        const entries: Uint8Array[] = [];
        for (const file of files) entries.push(await readEntry(resolve(io.cwd, file)));
        const client = new LogClient(opts.url, await clientOptions(resolve(io.cwd, opts.key)));
        const dedup = opts.dedup === true;
        const added = (file: string, index: bigint): string => {
          const receipt = new URL(
            `receipt/${index}`,
            opts.url.endsWith('/') ? opts.url : `${opts.url}/`,
          ).href;
          return opts.json === true
            ? `${JSON.stringify({ file, index: index.toString(), receipt })}\n`
            : `${file}: index ${index}, receipt ${receipt}\n`;
        };
        if (entries.length === 1) {
          const r = await client.add(entries[0] as Uint8Array, { dedup });
          io.stdout(added(files[0] ?? '', r.index));
          return;
        }
        for (let i = 0; i < entries.length; i += BATCH_CHUNK) {
          const r = await client.addBatch(entries.slice(i, i + BATCH_CHUNK), { dedup });
          io.stdout(r.indices.map((n, j) => added(files[i + j] ?? '', n)).join(''));
        }
      },
    );

  log
    .command('receipt')
    .description('Print a c2sp.org/tlog-proof@v1 receipt for INDEX against the latest checkpoint')
    .requiredOption('--url <url>', "the log's URL")
    .argument('<index>', 'entry index')
    .action(async (index: string, opts: { url: string }) => {
      if (!/^(?:0|[1-9][0-9]{0,19})$/.test(index)) {
        throw new UsageError('INDEX must be a decimal number');
      }
      io.stdout(await new LogClient(opts.url).receipt(BigInt(index)));
    });

  log
    .command('verify')
    .description(
      'Check offline that ENTRY is in the log under a tlog-proof receipt; exit 0 and print the index, or print the error code (exit 1)',
    )
    .option(
      '--policy <file>',
      'a c2sp.org/tlog-policy file: the log and the witness quorum its checkpoint must meet',
    )
    .option(
      '--vkey <vkey>',
      "the log's verifier key (name+hexid+base64), for a log without witnesses (quorum none)",
    )
    .requiredOption('--entry <file>', 'the entry')
    .argument('<proof>', 'the receipt file (.tlog-proof)')
    .action(async (proof: string, opts: { vkey?: string; policy?: string; entry: string }) => {
      if ((opts.vkey === undefined) === (opts.policy === undefined)) {
        throw new UsageError('give exactly one of --policy FILE and --vkey VKEY');
      }
      const policy =
        opts.policy === undefined
          ? // c2sp.org/tlog-policy: one log, no witnesses required.
            parsePolicy(`log ${opts.vkey}\nquorum none\n`)
          : await readPolicy(resolve(io.cwd, opts.policy));
      const entry = await readEntry(resolve(io.cwd, opts.entry));
      const receipt = await readSmallFile(resolve(io.cwd, proof), MAX_RECEIPT_BYTES);
      // Log signature, witness quorum, then inclusion. c2sp.org/tlog-proof
      const v = verifyTlogProof(receipt, entry, policy);
      const witnessed = v.cosigners.length === 0 ? '' : `, cosigned by ${v.cosigners.join(', ')}`;
      io.stdout(
        `ok: index ${v.index} in ${v.checkpoint.origin} at tree size ${v.checkpoint.size}${witnessed}\n`,
      );
    });
}

export interface InitDataDirOptions {
  readonly dir: string;
  readonly origin: string;
  readonly keyFile?: string | undefined;
  readonly postgres?: string | undefined;
}

/**
 * Creates the data directory and its key file (copied from `keyFile`, kept
 * if already there, otherwise generated), then initialises the log storage.
 * Safe to run again on an initialised directory with the same origin.
 */
export async function initDataDir(opts: InitDataDirOptions): Promise<{ verifierKey: string }> {
  await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  const keyPath = join(opts.dir, KEY_FILE_NAME);
  const existing = await readKeyIfPresent(keyPath);
  let signerKey: string;
  if (opts.keyFile !== undefined) {
    signerKey = (await readSmallFile(opts.keyFile, MAX_KEY_FILE_BYTES)).trim();
    if (existing !== undefined && existing !== signerKey) {
      throw new UsageError(`${keyPath} already holds another key`);
    }
  } else {
    signerKey = existing ?? generateSignerKey(opts.origin).signerKey;
  }
  // Check the key before anything is written.
  const signer = parseSignerKey(signerKey);
  if (signer.name !== opts.origin) {
    throw new UsageError(
      `the key is named ${signer.name}, but a log key must be named after the origin ${opts.origin}`,
    );
  }
  if (existing === undefined) await writeSecretFile(keyPath, `${signerKey}\n`);
  const storage = await openStorage(opts.dir, opts.postgres);
  try {
    return await initLog({ origin: opts.origin, signerKey, storage });
  } finally {
    await storage.close();
  }
}

export interface StartLogServerOptions {
  readonly dir: string;
  readonly listen: string;
  readonly postgres?: string | undefined;
  /** A tlog-policy file: publish only checkpoints its witness quorum cosigned. */
  readonly witnessPolicy?: string | undefined;
  /** Development only: publish without the quorum (needs `witnessPolicy`). */
  readonly publishUnwitnessed?: boolean | undefined;
  /** Who may add besides the log operator (the key in `dir`). */
  readonly callers?: readonly CallerSpec[];
  readonly io: Io;
}

export interface RunningLogServer {
  readonly url: string;
  readonly verifierKey: string;
  readonly origin: string;
  /** The parsed witness policy, if any. */
  readonly policy: Policy | undefined;
  /** Stops accepting requests, sequences what is queued, stops integrating, closes storage. */
  close(): Promise<void>;
}

/** Opens the log in `dir` and serves it; resolves once it is listening. */
export async function startLogServer(opts: StartLogServerOptions): Promise<RunningLogServer> {
  const address = parseListen(opts.listen);
  const signerKey = await readKeyIfPresent(join(opts.dir, KEY_FILE_NAME));
  if (signerKey === undefined) {
    throw new UsageError(`${opts.dir} has no ${KEY_FILE_NAME}; run "glasshouse log init" first`);
  }
  if (opts.publishUnwitnessed === true && opts.witnessPolicy === undefined) {
    throw new UsageError('--publish-unwitnessed only makes sense with --witness-policy');
  }
  const policy =
    opts.witnessPolicy === undefined ? undefined : await readPolicy(opts.witnessPolicy);
  if (policy !== undefined) {
    const vkey = parseSignerKey(signerKey).verifierKey;
    const own = parseVerifierKey(vkey).text;
    // c2sp.org/tlog-policy: verifiers accept the checkpoint only if a log line has its key.
    if (!policy.logs.some((l) => l.verifier.text === own)) {
      throw new UsageError(
        `the witness policy ${opts.witnessPolicy} has no "log" line with this log's key ${vkey}`,
      );
    }
  }
  const storage = await openStorage(opts.dir, opts.postgres);
  // A stuck integrator or an absent witness fails every round; say it once per change.
  const said = new Map<string, string>();
  const sayOnce = (topic: string, line: string): void => {
    if (said.get(topic) !== line) opts.io.stderr(line);
    said.set(topic, line);
  };
  try {
    const log = await openLog({
      storage,
      signerKey,
      integrator: {
        onError: (err) => {
          sayOnce('log', `log: ${describe(err)}\n`);
        },
      },
      ...(policy === undefined
        ? {}
        : {
            witnessing: {
              policy,
              publishUnwitnessed: opts.publishUnwitnessed === true,
              onWitnessError: (name: string, err: unknown) => {
                sayOnce(`witness ${name}`, `log: witness ${name}: ${describe(err)}\n`);
              },
            },
          }),
    });
    if (opts.publishUnwitnessed === true) {
      opts.io.stderr(
        'log: WARNING: --publish-unwitnessed: checkpoints are published without a witness quorum\n',
      );
    }
    // The log operator (its own key) and the listed callers may add; nobody else.
    const operator = callerKeyFromText(signerKey, join(opts.dir, KEY_FILE_NAME));
    const allowList = allowListOf([
      caller('log operator', operator, ROUTES.logAdd),
      ...(opts.callers ?? []),
    ]);
    opts.io.stderr(formatCallers('log', allowList));
    const app = buildServer({ log, writers: { allowList } });
    let url: string;
    try {
      url = await listenOn(app, address);
    } catch (err) {
      await log.close();
      throw err;
    }
    return {
      url: `${url}/`,
      verifierKey: log.verifierKey,
      origin: log.origin,
      policy,
      close: async () => {
        await app.close();
        await log.close();
        await storage.close();
      },
    };
  } catch (err) {
    await storage.close();
    throw err;
  }
}

/** Reads and parses a c2sp.org/tlog-policy file; a bad policy is a usage error naming the file. */
export async function readPolicy(path: string): Promise<Policy> {
  const text = await readSmallFile(path, MAX_POLICY_BYTES);
  try {
    return parsePolicy(text);
  } catch (cause) {
    const code = (cause as { code?: unknown }).code;
    throw new UsageError(
      `${path} is not a valid tlog-policy: ${typeof code === 'string' ? `${code}: ` : ''}${(cause as Error).message}`,
      { cause },
    );
  }
}

function describe(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  return `${typeof code === 'string' ? code : 'ERROR'}: ${message}`;
}

function openStorage(dir: string, postgres: string | undefined): Promise<LogStorage> {
  if (postgres !== undefined) return openPostgresStorage(postgres);
  return openSqliteStorage({ dir });
}

async function readEntry(path: string): Promise<Uint8Array> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (cause) {
    throw new UsageError(`cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  // c2sp.org/tlog-tiles: entries are 1 to 65,535 bytes (uint16 length prefix).
  if (data.length === 0 || data.length > MAX_ENTRY_SIZE) {
    throw new UsageError(
      `${path} is ${data.length} bytes; an entry is 1 to ${MAX_ENTRY_SIZE} bytes`,
    );
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
