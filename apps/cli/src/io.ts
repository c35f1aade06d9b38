import { readFile } from 'node:fs/promises';

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
