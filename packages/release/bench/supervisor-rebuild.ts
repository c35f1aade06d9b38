/**
 * The supervisor's rebuild of a release, as the benchmark times it.
 *
 * For now this is the build half of the rebuild only: the same recipe at the
 * same commit through `buildRecipeAtCommit`, with the supervisor's own
 * sandbox detection and the Debian cross-check on `auto`. The real
 * supervisor rebuild (the same build plus fetching the release and signing
 * over HTTP) replaces the body of `measureSupervisorRebuild`; the contract
 * with `run.ts` is only the context in and the measurement out.
 */
import { buildRecipeAtCommit, detectSandbox } from '../src/index.js';

export interface RebuildContext {
  /** The source repository, as the release records it (`file://…`). */
  readonly source: string;
  /** The full commit of the release. */
  readonly commit: string;
  /** Scratch space for checkouts and outputs. */
  readonly scratchDir: string;
  /** The vendor's bundle digest, to check the rebuild reproduced it. */
  readonly expectedSha256: string;
  /** Build progress lines (the caller prints them with a timestamp). */
  readonly onProgress: (message: string) => void;
}

export interface RebuildMeasurement {
  /** Wall time of the timed part, in milliseconds. */
  readonly ms: number;
  /** SHA-256 of the rebuilt bundle. */
  readonly sha256: string;
  /** Whether the rebuilt bundle has the vendor's bytes. */
  readonly reproduced: boolean;
  /** What was timed, for the table's notes. */
  readonly what: string;
}

export async function measureSupervisorRebuild(ctx: RebuildContext): Promise<RebuildMeasurement> {
  // The supervisor detects its sandbox once at start-up, as the assembly line
  // does at open: not part of a rebuild's time.
  const sandbox = await detectSandbox();
  const t0 = performance.now();
  const built = await buildRecipeAtCommit({
    source: ctx.source,
    commit: ctx.commit,
    sandbox,
    debianYara: 'auto',
    scratchDir: ctx.scratchDir,
    onProgress: ctx.onProgress,
  });
  const ms = performance.now() - t0;
  const artifact = built.artifacts[0];
  if (artifact === undefined) throw new Error('the rebuild produced no artifact');
  return {
    ms,
    sha256: artifact.sha256,
    reproduced: artifact.sha256 === ctx.expectedSha256,
    what: 'buildRecipeAtCommit only (no HTTP, no signatures yet)',
  };
}
