// An ingest router in a process of its own, for the kill -9 test and the
// benchmark (plain JavaScript on the built package, so it starts fast).
// Usage: node router-child.mjs '<json config>'; prints `listening <url>`
// once it serves, and also reports `{ ready: { url } }` over IPC when it has
// a parent channel (bench-kit's startChild).
import { Buffer } from 'node:buffer';
import process from 'node:process';
import { IngestRouter, ResidencyView } from '@glasshouse/telemetry';

const b64 = (s) => new Uint8Array(Buffer.from(s, 'base64'));
const cfg = JSON.parse(process.argv[2] ?? '{}');
const view = ResidencyView.open({
  url: cfg.residencyUrl,
  logPolicy: cfg.residencyPolicy,
  keys: { vendorKey: b64(cfg.vendorKey), supervisorKey: b64(cfg.supervisorKey) },
  dir: cfg.viewDir,
  intervalMs: 50,
});
const router = IngestRouter.open({
  view,
  dir: cfg.dir,
  callerKey: b64(cfg.callerSeed),
  residencyLogUrl: cfg.residencyUrl,
  vendorResidencyKey: b64(cfg.vendorSeed),
  // The kill -9 test wants short waits and retries; the benchmark sets its own.
  ackWaitMs: cfg.ackWaitMs ?? 2_000,
  enrollTimeoutMs: 5_000,
  forwarder: { backoffMs: 50, maxBackoffMs: 300, timeoutMs: 5_000 },
});
const url = await router.listen();
process.stdout.write(`listening ${url}/\n`);
process.send?.({ ready: { url: `${url}/` } });
process.once('SIGTERM', () => {
  void router
    .close()
    .then(() => view.close())
    .finally(() => process.exit(0));
});
