import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { Io } from '../io.js';
import { initDataDir, startLogServer } from './log.js';

/**
 * `npm start`: runs the vendor's transparency log on embedded storage under
 * ./data (ignored by git), initialising it on first start.
 */
export function registerStartCommand(program: Command, io: Io): void {
  program
    .command('start')
    .description('Start Glasshouse on this machine (embedded storage under ./data)')
    .option('--data <dir>', 'data directory', 'data')
    .option('--listen <host:port>', 'address of the log', '127.0.0.1:8480')
    .option('--origin <origin>', 'origin of the log (first start only)', 'localhost/glasshouse/log')
    .action(async (opts: { data: string; listen: string; origin: string }) => {
      const dir = join(resolve(io.cwd, opts.data), 'log');
      await initDataDir({ dir, origin: opts.origin });
      const log = await startLogServer({ dir, listen: opts.listen, io });
      io.stdout(
        [
          'Glasshouse is running.',
          '',
          `transparency log  ${log.url}`,
          `  origin          ${log.origin}`,
          `  verifier key    ${log.verifierKey}`,
          `  data            ${dir}`,
          '',
          'Try it:',
          `  echo hello > /tmp/entry && npx glasshouse log add --url ${log.url} /tmp/entry`,
          `  npx glasshouse log receipt --url ${log.url} 0 > /tmp/entry.tlog-proof`,
          `  npx glasshouse log verify --vkey '${log.verifierKey}' --entry /tmp/entry /tmp/entry.tlog-proof`,
          '',
          'Ctrl-C stops it.',
          '',
        ].join('\n'),
      );
      await new Promise<void>((done) => {
        const stop = (): void => {
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          done();
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
      await log.close();
    });
}
