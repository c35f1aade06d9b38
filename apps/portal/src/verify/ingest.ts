/**
 * Each site's ingest log, replayed in the browser: found by the ingest-log
 * key the signed residency policy names for the site (the portal's trust
 * roots must hold a c2sp.org/tlog-policy for exactly that key); its
 * checkpoint under that policy (log signature, witness quorum); every entry
 * hashed back to the signed root; each entry parsed by @glasshouse/residency
 * and every `stored` one checked against the residency log's fold
 * (`checkStoredEntry`: a logged policy version designates the region to this
 * site, and the customer's logged enrollment is in that region). The events
 * per region over time are counted from those verified entries only.
 */
import { CodedError } from '@glasshouse/errors';
import {
  checkStoredEntry,
  parseIngestLogEntry,
  type ResidencyState,
  type Site,
  type StoredEntry,
} from '@glasshouse/residency';
import type { Checkpoint } from '@glasshouse/tlog';
import { fetchWitnessedCheckpoint } from './logs.js';
import type { PortalConfig } from '../config.js';
import { reasonOf, skipped, step, type Check } from './check.js';
import { ENTRIES_CHECK, replayEntries } from './entries.js';
import type { Fetcher } from './fetch.js';
import { CHART_BUCKETS, countsOverTime } from './series.js';

export interface EventSeries {
  /** Bucket boundaries (RFC 3339), CHART_BUCKETS + 1 of them, or none without stored entries. */
  readonly edges: readonly string[];
  /** Region → events stored in each bucket. */
  readonly byRegion: Readonly<Record<string, readonly number[]>>;
}

export interface SiteIngestReport {
  readonly site: Site;
  readonly checks: readonly Check[];
  readonly size: bigint | undefined;
  /** Region → batches and events stored (verified entries only). */
  readonly held: Readonly<Record<string, { batches: number; events: number }>>;
  readonly series: EventSeries;
}

/** Events per region in equal time buckets from the first to the last stored entry. */
export function eventSeries(stored: readonly StoredEntry[], buckets = CHART_BUCKETS): EventSeries {
  const { edges, series } = countsOverTime(
    stored.map((e) => ({ time: Date.parse(e.storedAt), series: e.region, count: e.events })),
    buckets,
  );
  return { edges, byRegion: series };
}

export async function verifySiteIngest(
  config: PortalConfig,
  site: Site,
  state: ResidencyState,
  now: Date,
  fetcher?: Fetcher,
): Promise<SiteIngestReport> {
  const checks: Check[] = [];
  const empty = { site, held: {}, series: { edges: [], byRegion: {} }, size: undefined };
  const cpStep = await step(
    {
      id: 'checkpoint',
      title: 'Ingest log checkpoint',
      what: "The site's ingest log is the one whose key the signed residency policy names for the site; its checkpoint is signed by that key and cosigned to the quorum of the ingest log's c2sp.org/tlog-policy in the portal's trust roots.",
    },
    async () => {
      const log = config.logs.find((l) => l.policy.logs[0]?.vkey === site.verifierKey);
      if (log === undefined) {
        throw new CodedError(
          'PORTAL_INGEST_LOG_UNKNOWN',
          `the trust roots hold no policy for the key the residency policy names for ${site.id}: ${site.verifierKey}`,
        );
      }
      const verified = await fetchWitnessedCheckpoint(
        log.base,
        log.policy,
        log.policyText,
        now,
        fetcher,
      );
      return { ...verified, value: { cp: verified.value, base: log.base } };
    },
  );
  checks.push(cpStep.check);
  const got: { cp: Checkpoint; base: string } | undefined = cpStep.value;
  const entriesBase = {
    id: 'stored',
    title: 'Every batch where the policy put it',
    what: "Each entry parsed by @glasshouse/residency; each stored batch checked against the residency log replayed above (checkStoredEntry): the policy version it names is logged and designates the batch's region to this site, and the customer's logged enrollment is in that region.",
  };
  if (got === undefined) {
    checks.push(
      skipped(ENTRIES_CHECK, 'no verified checkpoint'),
      skipped(entriesBase, 'no verified checkpoint'),
    );
    return { ...empty, checks };
  }
  const entriesStep = await replayEntries(got.base, got.cp, fetcher);
  checks.push(entriesStep.check);
  if (entriesStep.value === undefined) {
    checks.push(skipped(entriesBase, 'the entries did not verify'));
    return { ...empty, checks, size: got.cp.size };
  }
  const stored: StoredEntry[] = [];
  const refused: string[] = [];
  let deleted = 0;
  entriesStep.value.forEach((bytes, i) => {
    try {
      const entry = parseIngestLogEntry(bytes);
      if (entry.kind === 'deleted') {
        deleted += entry.batches.length;
        return;
      }
      // Old batches may predate a customer's re-enrollment: any logged enrollment counts.
      checkStoredEntry(state, site.id, entry, { anyEnrollment: true });
      stored.push(entry);
    } catch (err) {
      refused.push(`entry ${i}: ${reasonOf(err)}`);
    }
  });
  const held: Record<string, { batches: number; events: number }> = {};
  for (const e of stored) {
    const h = (held[e.region] ??= { batches: 0, events: 0 });
    h.batches += 1;
    h.events += e.events;
  }
  checks.push(
    refused.length === 0
      ? {
          ...entriesBase,
          verdict: 'pass',
          summary: `${stored.length} stored batch(es) in ${Object.keys(held).length} region(s), each designated here; ${deleted} batch(es) deleted by retention`,
        }
      : {
          ...entriesBase,
          verdict: 'fail',
          summary: `${refused.length} entr${refused.length === 1 ? 'y' : 'ies'} refused`,
          proof: refused,
        },
  );
  return { site, checks, size: got.cp.size, held, series: eventSeries(stored) };
}
