/**
 * The access log, replayed in the browser: its checkpoint under the access
 * log's c2sp.org/tlog-policy, every entry hashed back to the signed root
 * (so each record shown is included), each entry parsed strictly by
 * @glasshouse/access-format's parseAccessRecord.
 */
import { parseAccessRecord, type AccessRecord } from '@glasshouse/access-format';
import { verifyCheckpointWithPolicy } from '@glasshouse/tlog';
import type { PortalConfig } from '../config.js';
import { reasonOf, skipped, step, type Check } from './check.js';
import { ENTRIES_CHECK, replayEntries } from './entries.js';
import { fetchText, type Fetcher } from './fetch.js';

export interface LoggedAccess {
  readonly index: number;
  readonly record: AccessRecord;
}

export interface AccessReport {
  readonly checks: readonly Check[];
  readonly records: readonly LoggedAccess[];
}

export async function verifyAccess(
  config: PortalConfig,
  now: Date,
  fetcher?: Fetcher,
): Promise<AccessReport> {
  const log = config.logs.find((l) => l.id === 'access-log');
  if (log === undefined) return { checks: [], records: [] };
  const checks: Check[] = [];
  const cpStep = await step(
    {
      id: 'checkpoint',
      title: 'Access log checkpoint',
      what: "The access log's checkpoint is signed by its log key and cosigned to its policy's quorum (c2sp.org/tlog-policy).",
    },
    async () => {
      const note = await fetchText(`${log.base}checkpoint`, fetcher);
      const v = verifyCheckpointWithPolicy(note, log.policy, {
        now: BigInt(Math.floor(now.getTime() / 1000)),
      });
      return {
        value: v.checkpoint,
        summary: `size ${v.checkpoint.size}, cosigned by ${v.cosigners.join(', ')}`,
        against: log.policyText,
        proof: [note],
      };
    },
  );
  checks.push(cpStep.check);
  const cp = cpStep.value;
  if (cp === undefined) {
    checks.push(skipped(ENTRIES_CHECK, 'no verified checkpoint'));
    return { checks, records: [] };
  }
  const entries = await replayEntries(log.base, cp, fetcher);
  checks.push(entries.check);
  const records: LoggedAccess[] = [];
  const refused: string[] = [];
  (entries.value ?? []).forEach((bytes, index) => {
    try {
      records.push({ index, record: parseAccessRecord(bytes) });
    } catch (err) {
      refused.push(`entry ${index}: ${reasonOf(err)}`);
    }
  });
  if (entries.value !== undefined) {
    const base = {
      id: 'records',
      title: 'Access records',
      what: 'Each entry is a well-formed, canonical access record (@glasshouse/access-format: schema, pseudonyms, site, scope, accessor, justification code with its ticket or legal reference, time, counter).',
    };
    checks.push(
      refused.length === 0
        ? { ...base, verdict: 'pass', summary: `${records.length} records, every one well-formed` }
        : {
            ...base,
            verdict: 'fail',
            summary: `${refused.length} malformed entries`,
            proof: refused,
          },
    );
  }
  return { checks, records };
}
