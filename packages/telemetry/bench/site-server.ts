// The data site under test, in its own process: set-up from the JSON file
// named by argv[2] (the same shape as the kill -9 test's child), loopback
// port 0, URL reported over IPC.
import { readFile } from 'node:fs/promises';
import { AllowList } from '@glasshouse/httpsig';
import { onStop, reportFailure, reportReady } from '@glasshouse/bench-kit';
import { ResidencyState } from '@glasshouse/residency';
import { parsePolicy } from '@glasshouse/tlog';
import { buildSiteServer, openSite } from '../src/index.js';

export interface SiteServerConfig {
  readonly dir: string;
  readonly postgres?: string;
  readonly siteId: string;
  readonly logSignerKey: string;
  readonly witnessPolicy: string;
  readonly vendorKey: string;
  readonly supervisorKey: string;
  readonly entries: readonly string[];
  readonly routerKey: string;
}

async function main(): Promise<void> {
  const config = JSON.parse(await readFile(process.argv[2] ?? '', 'utf8')) as SiteServerConfig;
  const state = ResidencyState.empty({
    vendorKey: Buffer.from(config.vendorKey, 'base64'),
    supervisorKey: Buffer.from(config.supervisorKey, 'base64'),
  });
  config.entries.forEach((e, i) => state.apply(BigInt(i), Buffer.from(e, 'base64')));
  const site = await openSite({
    siteId: config.siteId,
    dir: config.dir,
    postgres: config.postgres,
    logSignerKey: config.logSignerKey,
    witnessing: { policy: parsePolicy(config.witnessPolicy) },
    residency: { current: () => state },
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
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  onStop(async () => {
    await app.close();
    await site.close();
  });
  reportReady({ url: `http://127.0.0.1:${address.port}` });
}

main().catch(reportFailure);
