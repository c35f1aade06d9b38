/**
 * `glasshouse ingest serve`: the vendor's ingest router (issue 16 §4). It
 * authenticates devices (RFC 9421), routes each batch to the one site the
 * logged, witnessed policy designates for the customer's logged region, and
 * fails closed: a batch waits in the durable outbox or is refused, never
 * sent elsewhere. It also takes customer enrollments (co-signed with the
 * vendor's residency key and logged) and device registrations.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { readCallerKey } from '../callers.js';
import { UsageError, readSmallFile, untilSignal, type Io } from '../io.js';
import { residencyTrustOf, startRouter } from '../residency/services.js';

export function registerIngestCommands(program: Command, io: Io): void {
  program
    .command('ingest')
    .description('The ingest router: telemetry from enrolled devices to the designated site only')
    .command('serve')
    .description(
      'Serve the router: POST /v1/enrollments, POST /v1/devices, POST /v1/batches (device-signed, replay-protected), ' +
        'GET /v1/batches/<digest>, GET /healthz, GET /metrics. Refusals are JSON {code, message}: ' +
        'DEVICE_NOT_ENROLLED, CUSTOMER_NOT_ENROLLED, REGION_MISMATCH, POLICY_NOT_LOGGED, BATCH_TOO_LARGE, ' +
        'BATCH_INVALID, REQUEST_REPLAYED, …. Stops on SIGTERM or SIGINT.\n\n' +
        'Example: glasshouse ingest serve --dir data/vendor/router --listen 127.0.0.1:8450 \\\n' +
        '  --trust data/residency-trust.json --vendor-key data/vendor/residency.key \\\n' +
        '  --caller-key data/vendor/router/caller.key',
    )
    .requiredOption('--dir <dir>', "the router's data directory (outbox, device registry, view)")
    .requiredOption(
      '--trust <file>',
      'the residency trust (JSON: logPolicy, vendorKey, supervisorKey, keyRelease)',
    )
    .requiredOption(
      '--vendor-key <file>',
      "the vendor's residency signing key: it co-signs enrollments",
    )
    .requiredOption(
      '--caller-key <file>',
      'the key the router signs deliveries to sites and log writes with',
    )
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8450')
    .option(
      '--device-rate <per-second>',
      'signed requests a device may make per second, sustained (above it: 429 RATE_LIMITED)',
      '30',
    )
    .option('--device-burst <requests>', 'signed requests a device may make at once', '60')
    .action(
      async (opts: {
        dir: string;
        trust: string;
        vendorKey: string;
        callerKey: string;
        listen: string;
        deviceRate: string;
        deviceBurst: string;
      }) => {
        const deviceRateLimit = deviceRateLimitOf(opts.deviceRate, opts.deviceBurst);
        const trustPath = resolve(io.cwd, opts.trust);
        const pinned = residencyTrustOf(await readSmallFile(trustPath, 128 * 1024), trustPath);
        const running = await startRouter({
          dir: resolve(io.cwd, opts.dir),
          listen: opts.listen,
          trust: pinned.trust,
          vendorResidencyKey: await readCallerKey(resolve(io.cwd, opts.vendorKey)),
          callerKey: await readCallerKey(resolve(io.cwd, opts.callerKey)),
          deviceRateLimit,
        });
        io.stderr(`ingest router serving at ${running.url}\n`);
        await untilSignal();
        await running.close();
      },
    );
}

/** `--device-rate` (a positive decimal, at most 100,000) and `--device-burst` (a whole number ≥ 1). */
export function deviceRateLimitOf(
  rate: string,
  burst: string,
): { readonly burst: number; readonly perSecond: number } {
  const perSecond = /^[0-9]{1,6}(\.[0-9]{1,6})?$/.test(rate) ? Number(rate) : NaN;
  if (!(perSecond > 0 && perSecond <= 100_000)) {
    throw new UsageError(
      '--device-rate wants a number of requests per second above 0, at most 100000',
    );
  }
  const n = /^[0-9]{1,6}$/.test(burst) ? Number(burst) : NaN;
  if (!(n >= 1))
    throw new UsageError('--device-burst wants a whole number of requests, at least 1');
  return { burst: n, perSecond };
}
