/**
 * The supervisor's rebuild of a release, as the benchmark times it: the real
 * `Supervisor.rebuild` over HTTP — fetch the record, verify the vendor's
 * provenance and link with the pinned builder key, download the artifacts,
 * rebuild the same recipe at the same commit in the supervisor's own
 * sandbox, compare, sign and upload the link, the VSA and the approval.
 */
import type { AssemblyClient, Supervisor } from '@glasshouse/release';

export interface RebuildContext {
  readonly client: AssemblyClient;
  readonly supervisor: Supervisor;
  /** The vendor's release (a release is decided once, so one per rebuild). */
  readonly releaseId: string;
  /** The vendor's bundle digest, to check the rebuild reproduced it. */
  readonly expectedSha256: string;
  /** Build progress lines (the caller prints them with a timestamp). */
  readonly onProgress: (message: string) => void;
}

export interface RebuildMeasurement {
  /** Wall time of the timed part, in milliseconds. */
  readonly ms: number;
  /** SHA-256 of the approved bundle. */
  readonly sha256: string;
  /** Whether the supervisor approved the vendor's bytes. */
  readonly reproduced: boolean;
  /** What was timed, for the table's notes. */
  readonly what: string;
}

export async function measureSupervisorRebuild(ctx: RebuildContext): Promise<RebuildMeasurement> {
  const t0 = performance.now();
  const approved = await ctx.supervisor.rebuild(ctx.client, ctx.releaseId, ctx.onProgress);
  const ms = performance.now() - t0;
  const artifact = approved.record.artifacts[0];
  if (artifact === undefined) throw new Error('the approved release has no artifact');
  return {
    ms,
    sha256: artifact.sha256,
    reproduced: approved.record.status === 'approved' && artifact.sha256 === ctx.expectedSha256,
    what: 'Supervisor.rebuild over HTTP: verify, download, rebuild, compare, sign, upload',
  };
}
