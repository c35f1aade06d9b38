/**
 * `glasshouse customer init|enroll`: a customer's key, its pseudonym, and
 * its enrollment in a region through the ingest router (which co-signs it
 * with the vendor's residency key and logs it in the witnessed residency
 * log). The customer's name never leaves this directory.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { rawPublicKey } from '@glasshouse/httpsig';
import { customerPseudonym, isKnownRegion, regionCodes } from '@glasshouse/residency';
import { readKeyIfPresent, UsageError, type Io } from '../io.js';
import { customerEnrollment, partyKey, postEnrollment } from '../residency/parties.js';

export const CUSTOMER_KEY_FILE = 'customer.key';
export const CUSTOMER_ENROLLMENT_FILE = 'enrollment.json';

/** What `customer enroll` keeps: the logged enrollment and its receipt. */
export interface CustomerEnrollmentRecord {
  readonly customer: string;
  readonly region: string;
  readonly sequence: number;
  readonly index: string;
  readonly receipt: string;
  readonly envelope: string;
}

/** The customer key in DIR, created when `create`; returns it with its pseudonym. */
export async function customerKeyIn(dir: string, create: boolean) {
  const path = join(dir, CUSTOMER_KEY_FILE);
  if (!create && (await readKeyIfPresent(path)) === undefined) {
    throw new UsageError(`${dir} has no ${CUSTOMER_KEY_FILE}; run "glasshouse customer init"`);
  }
  if (create) await mkdir(dir, { recursive: true, mode: 0o700 });
  const key = await partyKey(path, create);
  return { key, path, customer: customerPseudonym(rawPublicKey(key)) };
}

export async function readCustomerEnrollment(
  dir: string,
): Promise<CustomerEnrollmentRecord | undefined> {
  try {
    return JSON.parse(
      await readFile(join(dir, CUSTOMER_ENROLLMENT_FILE), 'utf8'),
    ) as CustomerEnrollmentRecord;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`${join(dir, CUSTOMER_ENROLLMENT_FILE)} cannot be read`, { cause: err });
  }
}

/** Enrolls the customer of DIR in `region` through the router; the next sequence number when re-enrolling. */
export async function enrollCustomer(opts: {
  dir: string;
  region: string;
  routerUrl: string;
  now: Date;
}): Promise<CustomerEnrollmentRecord> {
  if (!isKnownRegion(opts.region)) {
    throw new UsageError(`--region must be one of ${regionCodes().join(', ')}`);
  }
  const { key } = await customerKeyIn(opts.dir, false);
  const previous = await readCustomerEnrollment(opts.dir);
  const sequence = (previous?.sequence ?? 0) + 1;
  const { envelope, customer } = customerEnrollment(key, opts.region, sequence, opts.now);
  const { index, receipt } = await postEnrollment(opts.routerUrl, envelope);
  const record: CustomerEnrollmentRecord = {
    customer,
    region: opts.region,
    sequence,
    index,
    receipt,
    envelope,
  };
  await writeFile(join(opts.dir, CUSTOMER_ENROLLMENT_FILE), `${JSON.stringify(record, null, 2)}\n`);
  return record;
}

export function registerCustomerCommands(program: Command, io: Io): void {
  const customer = program
    .command('customer')
    .description(
      'A customer of the vendor: its key (Ed25519), its pseudonym c-<32 hex> (the only name of the customer in any log) ' +
        'and its enrollment in a region, logged in the witnessed residency log',
    );

  customer
    .command('init')
    .description(
      `Create the customer key in DIR (${CUSTOMER_KEY_FILE}, PKCS#8 PEM, mode 0600) and print the pseudonym; ` +
        'an existing key is kept',
    )
    .requiredOption('--dir <dir>', "the customer's directory")
    .action(async (opts: { dir: string }) => {
      const { customer: pseudonym, path } = await customerKeyIn(resolve(io.cwd, opts.dir), true);
      io.stdout(`customer ${pseudonym}\nkey ${path}\n`);
    });

  customer
    .command('enroll')
    .description(
      'Enroll the customer in a region: the customer signs the enrollment, the ingest router co-signs it with the ' +
        "vendor's residency key and logs it; prints the log index once a witnessed checkpoint covers it, and keeps " +
        `the receipt in DIR/${CUSTOMER_ENROLLMENT_FILE}. Enrolling again (another region) needs the same customer key ` +
        'and is logged too: the vendor cannot re-home a customer alone. Refusals: RESIDENCY_ROUTER_REFUSED ' +
        "(with the router's code), RESIDENCY_ROUTER_UNREACHABLE.\n\n" +
        'Example: glasshouse customer enroll --dir data/customers/acme --region EU --router http://127.0.0.1:8450/',
    )
    .requiredOption('--dir <dir>', "the customer's directory")
    .requiredOption('--region <code>', `the customer's region (${regionCodes().join(', ')})`)
    .requiredOption('--router <url>', 'the ingest router, e.g. http://127.0.0.1:8450/')
    .action(async (opts: { dir: string; region: string; router: string }) => {
      const record = await enrollCustomer({
        dir: resolve(io.cwd, opts.dir),
        region: opts.region,
        routerUrl: opts.router,
        now: new Date(),
      });
      io.stdout(
        `enrolled ${record.customer} region ${record.region} sequence ${record.sequence} residency-log index ${record.index}\n`,
      );
    });
}
