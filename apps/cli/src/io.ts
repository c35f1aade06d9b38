import { open, readFile, stat } from 'node:fs/promises';

/** What a command may touch of the outside world; tests pass an in-memory one. */
export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Reads standard input whole, refusing more than `maxBytes`. */
  readStdin(maxBytes: number): Promise<Uint8Array>;
  readonly cwd: string;
}

/** A mistake in how the command was called: exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function processIo(): Io {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    readStdin: (maxBytes) => readStream(process.stdin, maxBytes),
    cwd: process.cwd(),
  };
}

async function readStream(stream: NodeJS.ReadableStream, maxBytes: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    total += buf.length;
    if (total > maxBytes) throw new UsageError(`standard input is larger than ${maxBytes} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

/** Reads a small text file (keys, policies), refusing anything larger than `maxBytes`. */
export async function readSmallFile(path: string, maxBytes: number): Promise<string> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (cause) {
    throw new UsageError(`cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  if (data.length > maxBytes) throw new UsageError(`${path} is larger than ${maxBytes} bytes`);
  return data.toString('utf8');
}

/** Key files hold one line: a few hundred bytes at most. */
export const MAX_KEY_FILE_BYTES = 4096;

/** Reads a key file's single line, or undefined when the file does not exist. */
export async function readKeyIfPresent(path: string): Promise<string | undefined> {
  try {
    await stat(path);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  return (await readSmallFile(path, MAX_KEY_FILE_BYTES)).trim();
}

/** A `--listen` address, parsed; `text` is what the user wrote, for messages. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
  readonly text: string;
}

/**
 * A flag's value as a whole number of seconds from `min` to `max` (the
 * default bound keeps it to seven digits), or a UsageError naming the flag.
 */
export function wholeSeconds(flag: string, value: string, min = 1, max = 9_999_999): number {
  const n = /^[0-9]{1,9}$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) {
    throw new UsageError(`${flag} wants a whole number of seconds from ${min} to ${max}`);
  }
  return n;
}

/** Parses `--listen HOST:PORT` (`[::1]:8080` → host `::1`). */
export function parseListen(listen: string): ListenAddress {
  const m = /^(.*):([0-9]{1,5})$/.exec(listen);
  const port = Number(m?.[2]);
  if (m?.[1] === undefined || m[1] === '' || port > 65535) {
    throw new UsageError(`--listen wants HOST:PORT, got ${JSON.stringify(listen)}`);
  }
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port, text: listen };
}

/** A second stop signal within this time is the same stop request. */
const REPEAT_SIGNAL_MS = 1000;

/**
 * Resolves on the first SIGTERM or SIGINT: how a serving command learns to
 * stop gracefully. The listeners stay installed for the life of the process:
 * were they removed, Node would restore the default action and a second
 * signal (npm forwards the one its process group already got; Ctrl-C reaches
 * npm and node) would kill the process in the middle of its shutdown. A
 * repeat within a second is the same request; a later one quits at once,
 * after `onQuit` has said so.
 */
export function untilSignal(onQuit?: (signal: NodeJS.Signals) => void): Promise<void> {
  return new Promise((resolvePromise) => {
    let firstAt: number | undefined;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (firstAt === undefined) {
        firstAt = Date.now();
        resolvePromise();
        return;
      }
      if (Date.now() - firstAt < REPEAT_SIGNAL_MS) return;
      onQuit?.(signal);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

/**
 * Starts a server listening on `address` and resolves to its URL; an address
 * that cannot be bound (in use, not local) is a usage error naming it.
 */
export async function listenOn(
  app: { listen(opts: { host: string; port: number }): Promise<string> },
  address: ListenAddress,
): Promise<string> {
  try {
    return await app.listen({ host: address.host, port: address.port });
  } catch (cause) {
    throw new UsageError(`cannot listen on ${address.text}: ${(cause as Error).message}`, {
      cause,
    });
  }
}

/** Creates `path` with mode 0600, refusing to overwrite an existing key. */
export async function writeSecretFile(path: string, content: string): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new UsageError(`${path} already exists; not overwriting a key`);
    throw new UsageError(`cannot create ${path}: ${(cause as Error).message}`, { cause });
  }
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
