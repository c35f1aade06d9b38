/**
 * Benchmark child: a real witness (`createWitness` + `buildWitnessServer`,
 * SQLite state in DIR) trusting the given log keys, and beside it a bare
 * fastify server that answers every `POST /add-checkpoint` with a fixed
 * line: the HTTP baseline for the same client.
 *
 *   node --import tsx bench/witness-server.ts DIR VKEY...
 */
import { onStop, reportFailure, reportReady } from '@glasshouse/bench-kit';
import Fastify from 'fastify';
import { generateCosignerKey } from '@glasshouse/tlog';
import { buildWitnessServer, createWitness, openSqliteState } from '../src/index.js';

export interface WitnessServerReady {
  readonly witnessUrl: string;
  readonly bareUrl: string;
  readonly witnessVerifierKey: string;
}

async function main(): Promise<void> {
  const [dir, ...vkeys] = process.argv.slice(2);
  if (dir === undefined || vkeys.length === 0) {
    throw new Error('usage: witness-server DIR VKEY...');
  }
  const state = await openSqliteState({ dir });
  const witness = createWitness({
    cosigner: generateCosignerKey('bench.example/witness').signerKey,
    state,
    now: () => BigInt(Math.floor(Date.now() / 1000)),
  });
  for (const vkey of vkeys) await witness.addLog(vkey);
  const app = buildWitnessServer({ witness, state });

  const bare = Fastify({ logger: false });
  bare.removeAllContentTypeParsers();
  bare.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => {
    done(null, body);
  });
  bare.post('/add-checkpoint', (_req, reply) =>
    reply
      .header('content-type', 'text/plain; charset=utf-8')
      .send(
        '— bench.example/bare AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n',
      ),
  );

  const witnessUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  const bareUrl = await bare.listen({ host: '127.0.0.1', port: 0 });
  onStop(async () => {
    await Promise.all([app.close(), bare.close()]);
    await state.close();
  });
  const ready: WitnessServerReady = {
    witnessUrl,
    bareUrl,
    witnessVerifierKey: witness.verifierKey,
  };
  reportReady(ready);
}

main().catch(reportFailure);
