import { writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { untilSignal, type Io } from '../io.js';
import { initDataDir, startLogServer } from './log.js';
import { initWitnessDir, startWitnessServer, trustLogInWitness } from './witness.js';

/** The policy's name for the local witness (a tlog-policy name, not a key name). */
const POLICY_WITNESS_NAME = 'local-witness';
const POLICY_FILE_NAME = 'witness-policy.txt';

interface StartOptions {
  data: string;
  listen: string;
  witnessListen: string;
  origin: string;
  witnessName: string;
}

/**
 * `npm start`: runs the vendor's transparency log and the supervisor's
 * witness for it, on embedded storage under ./data (ignored by git). Each
 * role has its own directory and key; the log publishes only checkpoints the
 * witness cosigned.
 */
export function registerStartCommand(program: Command, io: Io): void {
  program
    .command('start')
    .description(
      'Start Glasshouse on this machine: a transparency log and a witness for it (embedded storage under ./data)',
    )
    .option('--data <dir>', 'data directory', 'data')
    .option('--listen <host:port>', 'address of the log', '127.0.0.1:8480')
    .option('--witness-listen <host:port>', 'address of the witness', '127.0.0.1:8490')
    .option('--origin <origin>', 'origin of the log (first start only)', 'localhost/glasshouse/log')
    .option(
      '--witness-name <name>',
      'key name of the witness (first start only)',
      'localhost/glasshouse/witness',
    )
    .action(async (opts: StartOptions) => {
      const data = resolve(io.cwd, opts.data);
      const logDir = join(data, 'log');
      const witnessDir = join(data, 'witness');
      const policyPath = join(data, POLICY_FILE_NAME);

      // The vendor's log: its own key in data/log.
      const { verifierKey: logVkey } = await initDataDir({ dir: logDir, origin: opts.origin });
      // The supervisor's witness: its own key in data/witness; it trusts the log's public key only.
      const witnessVkey = await initWitnessDir({ dir: witnessDir, name: opts.witnessName });
      await trustLogInWitness({ dir: witnessDir, vkey: logVkey });

      const witness = await startWitnessServer({
        dir: witnessDir,
        listen: opts.witnessListen,
        io,
      });
      let log: Awaited<ReturnType<typeof startLogServer>>;
      try {
        // Rewritten on every start: the witness's URL follows --witness-listen.
        await writeFile(
          policyPath,
          [
            '# c2sp.org/tlog-policy of the local log, written by `glasshouse start` (rewritten on each start).',
            `log ${logVkey}`,
            `witness ${POLICY_WITNESS_NAME} ${witnessVkey} ${witness.url}`,
            `quorum ${POLICY_WITNESS_NAME}`,
            '',
          ].join('\n'),
        );
        log = await startLogServer({
          dir: logDir,
          listen: opts.listen,
          witnessPolicy: policyPath,
          io,
        });
      } catch (err) {
        await witness.close();
        throw err;
      }

      const shown = (p: string): string => {
        const r = relative(io.cwd, p);
        return r === '' || r.startsWith('..') ? p : `./${r}`;
      };
      io.stdout(
        [
          'Glasshouse is running.',
          '',
          `transparency log  ${log.url}  (vendor)`,
          `  origin          ${log.origin}`,
          `  verifier key    ${log.verifierKey}`,
          `  data            ${shown(logDir)}`,
          `witness           ${witness.url}/  (supervisor)`,
          `  verifier key    ${witness.verifierKey}`,
          `  data            ${shown(witnessDir)}`,
          `witness policy    ${shown(policyPath)}  (quorum: ${POLICY_WITNESS_NAME})`,
          '',
          'The log publishes a checkpoint only once the witness has cosigned it.',
          '',
          'Try it:',
          `  echo hello > /tmp/entry && npx glasshouse log add --url ${log.url} /tmp/entry`,
          `  npx glasshouse log receipt --url ${log.url} 0 > /tmp/entry.tlog-proof`,
          `  npx glasshouse log verify --policy ${shown(policyPath)} --entry /tmp/entry /tmp/entry.tlog-proof`,
          `  curl ${log.url}checkpoint`,
          '',
          'Ctrl-C stops it.',
          '',
        ].join('\n'),
      );
      await untilSignal();
      await log.close();
      await witness.close();
    });
}
