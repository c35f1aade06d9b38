// A stand-in for the site's parse worker (batch-parser.test.ts): it refuses every batch,
// and a one-byte batch ends its thread, as a crash of the real parser would.
import { parentPort } from 'node:worker_threads';

parentPort?.on('message', ({ id, bytes }) => {
  if (bytes.length === 1) process.exit(3);
  parentPort?.postMessage({
    id,
    error: { code: 'BATCH_INVALID', message: 'refused by the stand-in' },
  });
});
