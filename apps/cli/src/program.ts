/**
 * What every `glasshouse` command tree shares: the program with its
 * version and output wiring, and the mapping of failures to exit codes.
 * The full CLI (main.ts) and the agent's own product (agent-main.ts) both
 * build on it.
 */
import { Command, CommanderError } from 'commander';
import { CodedError } from '@glasshouse/errors';
import { UsageError, type Io } from './io.js';
import { ownPackage } from './package-info.js';

export function newProgram(io: Io, description: string): Command {
  return new Command('glasshouse')
    .description(description)
    .version(ownPackage().version)
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => {
        io.stdout(s);
      },
      writeErr: (s) => {
        io.stderr(s);
      },
    });
}

/**
 * Runs `program` and returns the exit code: 0 success, 1 a verification or
 * operation failed (with its error code on stderr), 2 a usage error.
 */
export async function runProgram(
  program: Command,
  argv: readonly string[],
  io: Io,
): Promise<number> {
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (err) {
    return reportError(err, io);
  }
}

function reportError(err: unknown, io: Io): number {
  if (err instanceof CommanderError) {
    // Help and --version also arrive here, with exit code 0.
    return err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof UsageError) {
    io.stderr(`error: ${err.message}\n`);
    return 2;
  }
  if (err instanceof CodedError) {
    io.stderr(`${err.code}: ${err.message}\n`);
    return 1;
  }
  io.stderr(`INTERNAL_ERROR: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}
