/**
 * The demo customers and their endpoints: one customer per region (its key
 * in data/customers/<name>, enrolled through the router, so its region is a
 * logged fact) and one demo agent per region (data/endpoint-<region>) that
 * pins the residency trust, enrolls its device with the customer's key and
 * sends a few detections, sealed, keeping the receipts. A second start
 * reuses them all and sends nothing again.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import {
  enrollDevice,
  loadEnrollment,
  pinResidency,
  queueDetections,
  sendTelemetry,
  telemetryReport,
  type Detection,
} from '@glasshouse/agent';
import type { ResidencyTrust } from '@glasshouse/release-format';
import { customerKeyIn, enrollCustomer, readCustomerEnrollment } from '../commands/customer.js';
import { PRODUCT_VERSION } from '../commands/agent-telemetry.js';
import type { DataPaths } from './data-prepare.js';

/** One demo customer per region: six designated to Zurich, two to the other site. */
export const DEMO_CUSTOMERS = [
  { name: 'acme-eu', region: 'EU' },
  { name: 'acme-na', region: 'NA' },
  { name: 'acme-au', region: 'AU' },
  { name: 'acme-kr', region: 'KR' },
  { name: 'acme-jp', region: 'JP' },
  { name: 'acme-sg', region: 'SG' },
  { name: 'acme-latam', region: 'LATAM' },
  { name: 'acme-mea', region: 'MEA' },
] as const;

/** The EICAR test file's SHA-256: a detection every scanner agrees on. */
export const EICAR_SHA256 = '275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f';

const SEND_ATTEMPTS = 15;
const SEND_RETRY_MS = 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A file only the cloud knows: no local rule matches it, but the demo agents
 * reported it as malicious, so the designated site's reputation says
 * known-bad (`agent scan --cloud` on a file holding DEMO_DROPPER_TEXT).
 */
export const DEMO_DROPPER_TEXT = 'glasshouse demo dropper';

const demoHash = (text: string): string => createHash('sha256').update(text).digest('hex');

const DEMO_DROPPER_SHA256 = demoHash(DEMO_DROPPER_TEXT);

function demoDetections(region: string): Detection[] {
  const seenAt = new Date();
  const personal = { host: `demo-host-${region.toLowerCase()}`, user: 'demo-user' };
  return [
    {
      sha256: EICAR_SHA256,
      rule: 'EICAR_Test_File',
      verdict: 'malicious',
      seenAt,
      ...personal,
      path: '/home/demo-user/Downloads/eicar.com',
    },
    {
      sha256: DEMO_DROPPER_SHA256,
      rule: null,
      verdict: 'malicious',
      seenAt,
      ...personal,
      path: '/tmp/dropper.bin',
    },
    {
      sha256: demoHash(`glasshouse demo clean file ${region}`),
      rule: null,
      verdict: 'clean',
      seenAt,
      ...personal,
      path: '/usr/local/bin/tool',
    },
  ];
}

export interface DemoEndpoint {
  readonly region: string;
  readonly customer: string;
  readonly dir: string;
  /** Where its batches are stored, by the receipts it keeps. */
  readonly sites: readonly string[];
  readonly batches: number;
  readonly verified: number;
}

/** Enrolls the customers and runs the demo agents; returns each endpoint's state. */
export async function ensureDemoEndpoints(opts: {
  paths: DataPaths;
  trust: ResidencyTrust;
  routerUrl: string;
  say: (line: string) => void;
}): Promise<DemoEndpoint[]> {
  const { paths } = opts;
  // Customers: keys and enrollments (in parallel: each waits for a witnessed checkpoint).
  await Promise.all(
    DEMO_CUSTOMERS.map(async (c) => {
      const dir = paths.customer(c.name);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await customerKeyIn(dir, true);
      if ((await readCustomerEnrollment(dir)) === undefined) {
        const record = await enrollCustomer({
          dir,
          region: c.region,
          routerUrl: opts.routerUrl,
          now: new Date(),
        });
        opts.say(
          `customer ${c.name}: enrolled ${record.customer} in ${c.region} (residency log index ${record.index})`,
        );
      }
    }),
  );
  // Endpoints: pin, enroll the device, send a few detections once.
  return Promise.all(
    DEMO_CUSTOMERS.map(async (c): Promise<DemoEndpoint> => {
      const dir = paths.endpoint(c.region);
      await pinResidency(dir, opts.trust);
      const enrolled = existsSync(`${dir}/telemetry/enrollment.json`)
        ? await loadEnrollment(dir)
        : await enrollDevice({
            dir,
            customerKey: (await customerKeyIn(paths.customer(c.name), false)).key,
            routerUrl: opts.routerUrl,
            now: new Date(),
          });
      let report = await telemetryReport(dir);
      if (report.sent.length === 0 && report.outbox.length === 0 && report.queued === 0) {
        await queueDetections(dir, enrolled, demoDetections(c.region));
        report = await telemetryReport(dir);
      }
      // The router and the sites tail the residency log: a batch sent right
      // after its customer's enrollment may wait a moment (kept, retried).
      for (let attempt = 0; attempt < SEND_ATTEMPTS; attempt++) {
        if (report.outbox.length === 0 && report.queued === 0) break;
        if (attempt > 0) await sleep(SEND_RETRY_MS);
        await sendTelemetry({ dir, productVersion: PRODUCT_VERSION, now: () => new Date() });
        report = await telemetryReport(dir);
      }
      const stored = report.sent.filter((s) => s.status === 'stored');
      return {
        region: c.region,
        customer: enrolled.customer,
        dir,
        sites: [...new Set(stored.map((s) => s.site ?? '?'))],
        batches: stored.length,
        verified: stored.filter((s) => s.verification?.result === 'verified').length,
      };
    }),
  );
}
