// The baseline of the lookup rows: a bare fastify server on loopback in its
// own process, answering GET with a constant reputation-sized JSON body and
// doing nothing else (no storage, no hooks, no metrics).
import Fastify from 'fastify';
import { onStop, reportFailure, reportReady } from '@glasshouse/bench-kit';

async function main(): Promise<void> {
  const app = Fastify({ logger: false });
  const answer = {
    sha256: '0'.repeat(64),
    verdict: 'unknown',
    firstSeen: null,
    detections: 0,
    source: [],
  };
  app.get('/reputation/:sha256', (_req, reply) => reply.send(answer));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  onStop(() => app.close());
  reportReady({ url: `http://127.0.0.1:${address.port}` });
}

main().catch(reportFailure);
