/**
 * One scanning thread of a `ScanPool`: loads its own copy of the compiled
 * rule set (bytes the parent's set serialized in this process), then reads
 * and scans each file it is sent, one at a time, and answers with the
 * file's record. A scan that times out is a record like any other.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { selectYaraEngine, type CompiledRules } from '@glasshouse/bundle';
import { ReadBuffer, scanFileSync } from './scan-file.js';
import type { PoolWorkerData, WorkerAnswer, WorkerJob } from './scan-pool.js';

const port = parentPort;
if (port === null) throw new Error('scan-worker runs as a worker thread');
const init = workerData as PoolWorkerData;

function load(): CompiledRules {
  const { engine } = selectYaraEngine(init.binding);
  if (engine.load === undefined) throw new Error(`${engine.package} cannot load a compiled set`);
  return engine.load(init.serialized, init.limits);
}

const answer = (message: WorkerAnswer): void => {
  port.postMessage(message);
};

let rules: CompiledRules;
try {
  rules = load();
  answer({ type: 'ready' });
} catch (err) {
  answer({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}
const buffer = new ReadBuffer();
port.on('message', (job: WorkerJob) => {
  answer({
    type: 'result',
    seq: job.seq,
    record: scanFileSync(rules, job.path, job.maxFileSize, buffer),
  });
});
