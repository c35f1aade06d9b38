/**
 * Checking a receipt the router passed back: the c2sp.org/tlog-proof of the
 * site's ingest-log entry for a batch. The entry itself is read from the
 * site's log (c2sp.org/tlog-tiles), the proof must verify against the
 * site's verifier key (from the logged residency policy) and the witness
 * quorum (the residency log policy's witnesses), and the entry must say
 * what the agent sent: this batch digest, customer, region and event count,
 * stored under a logged policy that designates the region to that site.
 */
import {
  ResidencyError,
  checkStoredEntry,
  parseIngestLogEntry,
  type IngestLogEntry,
  type Site,
} from '@glasshouse/residency';
import {
  TlogError,
  parsePolicy,
  parseTlogProof,
  verifyTlogProof,
  type Policy,
} from '@glasshouse/tlog';
import { hasCode } from '@glasshouse/errors';
import { AgentError } from '../errors.js';
import { fetchCheckpoint, fetchEntry, type TileLog } from './log-reader.js';
import type { ResidencyView } from './residency-view.js';
import type { PinnedResidency } from './trust.js';

/** What the agent expects its batch's ingest-log entry to say. */
export interface SentBatch {
  readonly digest: string;
  readonly customer: string;
  readonly region: string;
  readonly events: number;
}

export interface VerifiedReceipt {
  readonly site: string;
  readonly index: string;
  readonly checkpointSize: string;
  readonly cosigners: readonly string[];
  readonly policy: string;
  readonly storedAt: string;
}

/** The site's ingest log as the agent reads it: its prefix URL is `<ingestUrl>log/`. */
export function siteLog(pinned: PinnedResidency, site: Site, fetchImpl?: typeof fetch): TileLog {
  return {
    url: new URL('log/', site.ingestUrl).href,
    policy: sitePolicy(pinned, site),
    invalid: 'AGENT_RECEIPT_INVALID',
    unreachable: 'AGENT_SITE_UNREACHABLE',
    ...(fetchImpl === undefined ? {} : { fetch: fetchImpl }),
  };
}

/**
 * c2sp.org/tlog-policy of a site's ingest log: the site's verifier key as
 * the log, the witnesses and quorum of the residency log policy (the same
 * supervisor's witness cosigns every log of the data path).
 */
export function sitePolicy(pinned: PinnedResidency, site: Site): Policy {
  const rest = pinned.trust.logPolicy.split('\n').filter((line) => !/^log\s/.test(line.trim()));
  try {
    return parsePolicy(
      [`log ${site.verifierKey} ${new URL('log/', site.ingestUrl).href}`, ...rest].join('\n'),
    );
  } catch (cause) {
    throw new AgentError(
      'AGENT_RECEIPT_INVALID',
      `the verifier key of site ${site.id} does not parse`,
      {
        cause,
      },
    );
  }
}

/** The site with this id in the current logged policy. */
export function loggedSite(view: ResidencyView, siteId: string): Site {
  const site = view.state.policy?.policy.sites.find((s) => s.id === siteId);
  if (site === undefined) {
    throw new AgentError('AGENT_RECEIPT_INVALID', `site ${siteId} is not in the logged policy`, {
      evidence: { site: siteId, policy: view.state.policy?.digest ?? null },
    });
  }
  return site;
}

/** Verifies one receipt; throws AGENT_RECEIPT_INVALID (or _QUORUM / SITE_UNREACHABLE) with the evidence. */
export async function verifyBatchReceipt(options: {
  readonly pinned: PinnedResidency;
  readonly view: ResidencyView;
  readonly siteId: string;
  readonly receipt: string;
  readonly sent: SentBatch;
  readonly fetch?: typeof fetch;
}): Promise<VerifiedReceipt> {
  const { pinned, view, sent } = options;
  const site = loggedSite(view, options.siteId);
  const log = siteLog(pinned, site, options.fetch);
  let index: bigint;
  let size: bigint;
  try {
    const parsed = parseTlogProof(options.receipt);
    index = parsed.index;
    // The claimed size only picks the tile; the proof below authenticates the entry.
    size = BigInt(/\n([0-9]+)\n/.exec(parsed.checkpoint)?.[1] ?? '0');
  } catch (cause) {
    throw new AgentError('AGENT_RECEIPT_INVALID', 'the receipt is not a tlog-proof', { cause });
  }
  const current = await fetchCheckpoint(log).then(
    (c) => c.checkpoint.size,
    () => size,
  );
  const entryBytes = await fetchEntry(log, index, [size, current]);
  let proof;
  try {
    proof = verifyTlogProof(options.receipt, entryBytes, log.policy);
  } catch (cause) {
    // c2sp.org/tlog-policy: the cosignatures must meet the quorum.
    if (hasCode(cause, 'POLICY_QUORUM_NOT_MET')) {
      throw new AgentError('AGENT_RECEIPT_QUORUM_NOT_MET', 'the receipt lacks the witness quorum', {
        cause,
      });
    }
    if (!(cause instanceof TlogError)) throw cause;
    throw new AgentError('AGENT_RECEIPT_INVALID', 'the receipt does not verify', { cause });
  }
  let entry: IngestLogEntry;
  try {
    entry = parseIngestLogEntry(entryBytes);
  } catch (cause) {
    throw new AgentError('AGENT_RECEIPT_INVALID', 'the logged entry does not parse', { cause });
  }
  const mismatch = (what: string): never => {
    throw new AgentError('AGENT_RECEIPT_INVALID', `the logged entry names another ${what}`, {
      evidence: { entry: { ...entry }, sent: { ...sent } },
    });
  };
  if (entry.kind !== 'stored') return mismatch('kind');
  if (entry.batch !== sent.digest) mismatch('batch');
  if (entry.customer !== sent.customer) mismatch('customer');
  if (entry.region !== sent.region) mismatch('region');
  if (entry.events !== sent.events) mismatch('event count');
  try {
    // Issue 16 §5: stored under a logged policy designating this region to this site.
    checkStoredEntry(view.state, site.id, entry);
  } catch (cause) {
    if (!(cause instanceof ResidencyError)) throw cause;
    throw new AgentError(
      'AGENT_RECEIPT_INVALID',
      `the entry breaks the residency policy (${cause.code})`,
      {
        cause,
      },
    );
  }
  return {
    site: site.id,
    index: proof.index.toString(),
    checkpointSize: proof.checkpoint.size.toString(),
    cosigners: proof.cosigners,
    policy: entry.policy,
    storedAt: entry.storedAt,
  };
}
