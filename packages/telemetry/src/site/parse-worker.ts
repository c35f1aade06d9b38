// The batch parser's worker thread (batch-parser.ts): parses each batch it
// is sent and answers the columns, or the coded error.
import { parentPort } from 'node:worker_threads';
import { hasCode } from '@glasshouse/errors';
import { type ParseAnswer, parseForStore } from './batch-parser.js';

const port = parentPort;
if (port === null) throw new Error('parse-worker.js runs as a worker thread');

port.on('message', ({ id, bytes }: { id: number; bytes: Uint8Array }) => {
  let answer: ParseAnswer;
  try {
    answer = { id, parsed: parseForStore(bytes) };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const evidence = (err as { evidence?: Record<string, unknown> }).evidence;
    answer = {
      id,
      error: {
        ...(hasCode(err, 'BATCH_TOO_LARGE') || hasCode(err, 'BATCH_INVALID')
          ? { code: err.code }
          : {}),
        message,
        ...(evidence === undefined ? {} : { evidence }),
      },
    };
  }
  port.postMessage(answer);
});
