// The ingest router in a process of its own, for the benchmark's end-to-end
// phase: reads its set-up from the JSON file named by argv[2], serves on
// loopback and reports its URL over IPC.
import { readFile } from 'node:fs/promises';
import { onStop, reportFailure, reportReady } from '@glasshouse/bench-kit';
import { IngestRouter, ResidencyView } from '@glasshouse/telemetry';

export interface RouterChildConfig {
  readonly dir: string;
  readonly viewDir: string;
  readonly residencyUrl: string;
  readonly residencyPolicy: string;
  /** Raw Ed25519 public keys and seeds, base64. */
  readonly vendorKey: string;
  readonly supervisorKey: string;
  readonly callerSeed: string;
  readonly vendorSeed: string;
}

const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

async function main(): Promise<void> {
  const cfg = JSON.parse(await readFile(process.argv[2] ?? '', 'utf8')) as RouterChildConfig;
  const view = ResidencyView.open({
    url: cfg.residencyUrl,
    logPolicy: cfg.residencyPolicy,
    keys: { vendorKey: b64(cfg.vendorKey), supervisorKey: b64(cfg.supervisorKey) },
    dir: cfg.viewDir,
    intervalMs: 50,
  });
  view.start();
  const router = IngestRouter.open({
    view,
    dir: cfg.dir,
    callerKey: b64(cfg.callerSeed),
    residencyLogUrl: cfg.residencyUrl,
    vendorResidencyKey: b64(cfg.vendorSeed),
    ackWaitMs: 15_000,
  });
  const url = await router.listen();
  onStop(async () => {
    await router.close();
    await view.close();
  });
  reportReady({ url: `${url}/` });
}

main().catch(reportFailure);
