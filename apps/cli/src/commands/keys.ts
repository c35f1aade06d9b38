import { open } from 'node:fs/promises';
import type { Command } from 'commander';
import { generateSignerKey } from '@glasshouse/tlog';
import { UsageError, type Io } from '../io.js';

export function registerKeyCommands(program: Command, io: Io): void {
  program
    .command('keygen')
    .description(
      'Generate an Ed25519 signed-note key: writes the PRIVATE+KEY+… signer key to FILE (mode 0600) and prints the verifier key',
    )
    .requiredOption('--name <name>', 'key name (for a log: its origin)')
    .requiredOption('--out <file>', 'where to write the signer key; must not exist')
    .action(async (opts: { name: string; out: string }) => {
      const { signerKey, verifierKey } = generateSignerKey(opts.name);
      await writeSecretFile(opts.out, `${signerKey}\n`);
      io.stdout(`${verifierKey}\n`);
    });
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
