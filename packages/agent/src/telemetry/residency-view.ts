/**
 * The agent's own view of the residency log: every entry of the witnessed
 * tree, folded with the pure ResidencyState under the two pinned residency
 * keys. It tells the agent which policy versions are logged (to find the
 * site named by a receipt and its verifier key), the site the current
 * policy designates for its region, and its customer's logged region.
 */
import { ResidencyError, ResidencyState, designatedSite, type Site } from '@glasshouse/residency';
import type { Checkpoint } from '@glasshouse/tlog';
import { AgentError } from '../errors.js';
import { fetchAllEntries, fetchCheckpoint, type TileLog } from './log-reader.js';
import type { PinnedResidency } from './trust.js';

export interface ResidencyView {
  readonly state: ResidencyState;
  readonly checkpoint: Checkpoint;
  /** Indices of entries the fold refused (they take no effect; the supervisor's monitor alerts on them). */
  readonly refused: readonly { index: string; code: string }[];
}

export function residencyLog(pinned: PinnedResidency, fetchImpl?: typeof fetch): TileLog {
  return {
    url: pinned.logUrl,
    policy: pinned.logPolicy,
    invalid: 'AGENT_RESIDENCY_LOG_INVALID',
    unreachable: 'AGENT_RESIDENCY_LOG_UNREACHABLE',
    ...(fetchImpl === undefined ? {} : { fetch: fetchImpl }),
  };
}

/** Reads and folds the whole residency log at its current witnessed checkpoint. */
export async function readResidencyView(
  pinned: PinnedResidency,
  fetchImpl?: typeof fetch,
): Promise<ResidencyView> {
  const log = residencyLog(pinned, fetchImpl);
  const { checkpoint } = await fetchCheckpoint(log);
  const entries = await fetchAllEntries(log, checkpoint);
  const state = ResidencyState.empty({
    vendorKey: pinned.vendorKey,
    supervisorKey: pinned.supervisorKey,
  });
  const refused: { index: string; code: string }[] = [];
  entries.forEach((entry, i) => {
    try {
      state.apply(BigInt(i), entry);
    } catch (err) {
      // A refused entry changes nothing (fail closed): the router skips it too.
      if (!(err instanceof ResidencyError)) throw err;
      refused.push({ index: String(i), code: err.code });
    }
  });
  return { state, checkpoint, refused };
}

/** The site the current logged policy designates for `region` (fail closed when none). */
export function currentSite(view: ResidencyView, region: string): { site: Site; policy: string } {
  const logged = view.state.policy;
  if (logged === null) {
    throw new AgentError('AGENT_POLICY_NOT_LOGGED', 'the residency log holds no policy yet');
  }
  try {
    return { site: designatedSite(logged.policy, region), policy: logged.digest };
  } catch (cause) {
    throw new AgentError(
      'AGENT_REGION_NOT_DESIGNATED',
      `the logged policy designates no site for ${region}`,
      {
        cause,
        evidence: { region, policy: logged.digest },
      },
    );
  }
}
