/**
 * A "still running" line on stderr every few seconds while a build runs,
 * even when the build keeps the main thread busy for minutes (the yara-x
 * sample tests are one synchronous loop). The ticker is a worker thread
 * writing straight to file descriptor 2, so it does not need the main
 * thread's event loop; the main thread only tells it the latest phase.
 */
import { Worker } from 'node:worker_threads';

const TICKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const t0 = Date.now();
let phase = workerData.label;
let since = t0;
parentPort.on('message', (m) => { phase = m; since = Date.now(); });
setInterval(() => {
  const now = Date.now();
  writeSync(2, '[bench] ' + workerData.label + ' still running, ' + ((now - t0) / 1000).toFixed(0) +
    ' s in; ' + ((now - since) / 1000).toFixed(0) + ' s since: ' + phase + '\\n');
}, workerData.everyMs);
`;

export interface Heartbeat {
  /** The latest phase (a build progress line). */
  phase(message: string): void;
  stop(): Promise<void>;
}

export function startHeartbeat(label: string, everyMs = 30_000): Heartbeat {
  const worker = new Worker(TICKER, { eval: true, workerData: { label, everyMs } });
  worker.unref();
  return {
    phase: (message) => {
      worker.postMessage(message.slice(0, 120));
    },
    stop: async () => {
      await worker.terminate();
    },
  };
}
