/**
 * The vendor's residency log, started while the release half runs (its URL
 * goes into the trust bundle's residency field): a `packages/log` log of
 * policy and enrollment entries, publishing only checkpoints the
 * supervisor's witness cosigned. The router may append (enrollments); the
 * log operator's own key publishes policy versions.
 */
import type { ResidencyTrust } from '@glasshouse/release-format';
import { ROUTES, caller, readCallerKey } from '../callers.js';
import { startLogServer, type RunningLogServer } from '../commands/log.js';
import type { StartContext } from './context.js';
import { writeIfChanged } from './files.js';
import type { PreparedData } from './data-prepare.js';
import { writeWitnessPolicy, type LocalWitness } from './witness-policy.js';

export interface RunningResidencyLog {
  readonly log: RunningLogServer;
  /** The residency log's c2sp.org/tlog-policy, with its URL. */
  readonly policy: string;
  readonly trust: ResidencyTrust;
}

export async function startResidencyLog(
  ctx: StartContext,
  prepared: PreparedData,
  witness: LocalWitness,
  listen: string,
): Promise<RunningResidencyLog> {
  const { paths } = prepared;
  const title = 'the residency log';
  await writeWitnessPolicy(
    paths.residencyLogPolicy,
    { title, verifierKey: prepared.residencyLogVkey },
    witness,
  );
  const routerKey = await readCallerKey(paths.routerKey);
  const log = await startLogServer({
    dir: paths.residencyLog,
    listen,
    witnessPolicy: paths.residencyLogPolicy,
    callers: [caller('ingest router', routerKey, ROUTES.logAdd)],
    io: ctx.io,
  });
  ctx.closers.add(() => log.close());
  const policy = await writeWitnessPolicy(
    paths.residencyLogPolicy,
    { title, verifierKey: prepared.residencyLogVkey, url: log.url },
    witness,
  );
  const trust: ResidencyTrust = {
    logPolicy: policy,
    vendorKey: prepared.vendorKey,
    supervisorKey: prepared.supervisorKey,
    keyRelease: prepared.keyRelease,
  };
  await writeIfChanged(paths.residencyTrust, `${JSON.stringify(trust, null, 2)}\n`);
  ctx.say(`vendor: residency log at ${log.url}, witnessed by the supervisor at ${witness.url}`);
  return { log, policy, trust };
}
