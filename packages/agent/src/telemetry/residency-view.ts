/**
 * The agent's own view of the residency log: every entry of the witnessed
 * tree, folded with the pure ResidencyState under the two pinned residency
 * keys. It tells the agent which policy versions are logged (to find the
 * site named by a receipt and its verifier key), the site the current
 * policy designates for its region, and its customer's logged region.
 */
import { ResidencyError, ResidencyState, designatedSite, type Site } from '@glasshouse/residency';
import { join } from 'node:path';
import { CompactRange, encodeBase64, hashLeaf, type Checkpoint } from '@glasshouse/tlog';
import { AgentError } from '../errors.js';
import { fetchAllEntries, fetchCheckpoint, type TileLog } from './log-reader.js';
import { readFileIfPresent, writeFileAtomic } from '../files.js';
import { telemetryPaths, type PinnedResidency } from './trust.js';

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
  seen?: SeenTree,
): Promise<ResidencyView> {
  const log = residencyLog(pinned, fetchImpl);
  const { checkpoint } = await fetchCheckpoint(log);
  const entries = await fetchAllEntries(log, checkpoint);
  if (seen !== undefined) checkExtends(seen, checkpoint, entries);
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

/** A tree this agent saw before: its size and root hash (RFC 9162 §2.1.1). */
export interface SeenTree {
  readonly size: string;
  readonly rootHash: string;
}

/**
 * RFC 9162 §2.1.4: a log only grows. With every entry at hand, the tree seen
 * before must be the tree of the first `size` entries now (no fork, no rollback).
 */
function checkExtends(
  seen: SeenTree,
  checkpoint: Checkpoint,
  entries: readonly Uint8Array[],
): void {
  const size = BigInt(seen.size);
  const fork = (what: string): never => {
    throw new AgentError('AGENT_RESIDENCY_LOG_INVALID', `the residency log ${what}`, {
      evidence: {
        seen: { ...seen },
        now: { size: checkpoint.size.toString(), rootHash: encodeBase64(checkpoint.rootHash) },
      },
    });
  };
  if (checkpoint.size < size) fork('is smaller than a tree this agent saw (rolled back)');
  const range = new CompactRange();
  for (const entry of entries.slice(0, Number(size))) range.append(hashLeaf(entry));
  if (size > 0n && encodeBase64(range.root()) !== seen.rootHash)
    fork('does not extend the tree this agent saw (forked)');
}

const SEEN_FILE = 'residency-checkpoint.json';

/**
 * The residency log as this agent reads it each time: checked to extend the
 * tree it saw last (kept in DIR/telemetry/residency-checkpoint.json).
 */
export async function readAgentResidencyView(
  dir: string,
  pinned: PinnedResidency,
  fetchImpl?: typeof fetch,
): Promise<ResidencyView> {
  const path = join(telemetryPaths(dir).telemetry, SEEN_FILE);
  const bytes = await readFileIfPresent(path, 4096);
  let seen: SeenTree | undefined;
  if (bytes !== undefined) {
    try {
      seen = JSON.parse(bytes.toString('utf8')) as SeenTree;
      if (!/^[0-9]{1,19}$/.test(seen.size) || typeof seen.rootHash !== 'string')
        throw new Error('fields');
    } catch (cause) {
      throw new AgentError('AGENT_TELEMETRY_STATE_INVALID', `${path} is damaged`, { cause });
    }
  }
  const view = await readResidencyView(pinned, fetchImpl, seen);
  const now: SeenTree = {
    size: view.checkpoint.size.toString(),
    rootHash: encodeBase64(view.checkpoint.rootHash),
  };
  if (seen?.size !== now.size) await writeFileAtomic(path, `${JSON.stringify(now)}\n`);
  return view;
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
