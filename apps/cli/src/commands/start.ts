import type { Command } from 'commander';
import type { Io } from '../io.js';

/** `npm start`: for now, what the project can do and how to try it. */
export function registerStartCommand(program: Command, io: Io): void {
  program
    .command('start')
    .description('Start Glasshouse on this machine (embedded storage)')
    .action(() => {
      io.stdout(
        [
          'Glasshouse — verifiable-log core is ready.',
          '',
          'Services (log, witness, assembly line, repository) are not yet wired into `start`.',
          'Try the signed-note tools now:',
          '',
          '  npx glasshouse keygen --name example.com/log --out /tmp/log.key',
          '  printf "hello\\n" | npx glasshouse note sign --key-file /tmp/log.key > /tmp/note',
          '  npx glasshouse note verify --vkey <printed verifier key> < /tmp/note',
          '',
          program.helpInformation(),
        ].join('\n'),
      );
    });
}
