import { join } from 'node:path';
import { main } from '../src/main.js';
import type { Io } from '../src/io.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `glasshouse …args` in-process with `stdin` as standard input. */
export async function runCli(
  args: readonly string[],
  stdin: string | Uint8Array = '',
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
    readStdin: (maxBytes) => {
      const data = typeof stdin === 'string' ? Buffer.from(stdin) : stdin;
      if (data.length > maxBytes) return Promise.reject(new Error('stdin too large'));
      return Promise.resolve(data);
    },
    cwd: process.cwd(),
  };
  const code = await main(['node', 'glasshouse', ...args], io);
  return { code, stdout, stderr };
}

/** `glasshouse log add` of FILES to the log at URL, signed by the log operator's key in LOGDIR. */
export function logAdd(url: string, logDir: string, ...files: string[]): Promise<CliResult> {
  return runCli(['log', 'add', '--url', url, '--key', join(logDir, 'log.key'), ...files]);
}

/** An Io that discards output and has empty stdin: for servers started in-process by tests. */
export const quietIo: Io = {
  stdout: () => undefined,
  stderr: () => undefined,
  readStdin: () => Promise.resolve(new Uint8Array()),
  cwd: process.cwd(),
};
