// A data site in a child process, for the kill -9 test and the benchmark:
// reads its set-up from the JSON file named by argv[2], serves on loopback
// port 0 and reports its URL over IPC.
import { readFile } from 'node:fs/promises';
import { AllowList } from '@glasshouse/httpsig';
import { onStop, reportFailure, reportReady } from '@glasshouse/bench-kit';
import { ResidencyState } from '@glasshouse/residency';
import { parsePolicy } from '@glasshouse/tlog';
import {
  type OpenSiteOptions,
  ResidencyView,
  buildSiteServer,
  openSite,
} from '@glasshouse/telemetry';

export interface ChildConfig {
  readonly dir: string;
  readonly postgres?: string;
  readonly siteId: string;
  readonly logSignerKey: string;
  readonly witnessPolicy: string;
  readonly vendorKey: string;
  readonly supervisorKey: string;
  /** Residency-log entries, base64, in order. */
  readonly entries: readonly string[];
  /** Raw Ed25519 public key of the router, base64. */
  readonly routerKey: string;
  /** Tuning of the ingest log (`openSite`'s `log`); the site's defaults when absent. */
  readonly log?: OpenSiteOptions['log'];
  /**
   * A live residency view of this log (its URL and tlog-policy) instead of
   * the fixed `entries`: the site serves once the view has a policy.
   */
  readonly view?: { readonly url: string; readonly policy: string; readonly dir: string };
  /** The loopback port to serve on (default: any free one). */
  readonly port?: number;
}

async function main(): Promise<void> {
  const config = JSON.parse(await readFile(process.argv[2] ?? '', 'utf8')) as ChildConfig;
  const keys = {
    vendorKey: Buffer.from(config.vendorKey, 'base64'),
    supervisorKey: Buffer.from(config.supervisorKey, 'base64'),
  };
  const state = ResidencyState.empty(keys);
  config.entries.forEach((e, i) => state.apply(BigInt(i), Buffer.from(e, 'base64')));
  const view =
    config.view === undefined
      ? undefined
      : ResidencyView.open({
          url: config.view.url,
          logPolicy: config.view.policy,
          keys,
          dir: config.view.dir,
          intervalMs: 50,
        });
  if (view !== undefined) {
    view.start();
    const deadline = Date.now() + 30_000;
    while (view.current().policy === null) {
      if (Date.now() > deadline) throw new Error('the residency view found no policy');
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  const site = await openSite({
    siteId: config.siteId,
    dir: config.dir,
    postgres: config.postgres,
    logSignerKey: config.logSignerKey,
    witnessing: { policy: parsePolicy(config.witnessPolicy) },
    residency: view ?? { current: () => state },
    ...(config.log === undefined ? {} : { log: config.log }),
  });
  const app = buildSiteServer({
    site,
    writers: {
      allowList: new AllowList([
        {
          name: 'router',
          publicKey: Buffer.from(config.routerKey, 'base64'),
          allow: ['POST /v1/batches'],
        },
      ]),
    },
  });
  await app.listen({ host: '127.0.0.1', port: config.port ?? 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  onStop(async () => {
    await app.close();
    await site.close();
    await view?.close();
  });
  reportReady({ url: `http://127.0.0.1:${address.port}` });
}

main().catch(reportFailure);
