/**
 * The supervisor's entry checker for the release log (a plug-in of the
 * witness package's monitor): every entry must name a release this
 * supervisor approved — the approval it signed, with exactly the artifacts
 * it rebuilt, the provenance it checked and the VSA it signed. Anything else
 * is rejected, and the monitor raises an `entry-rejected` alert with the
 * entry as evidence.
 */
import { createHash } from 'node:crypto';
import {
  parseEnvelope,
  verifyStatementEnvelope,
  type PublicKey,
  type ResourceDescriptor,
} from '@glasshouse/attest';
import { APPROVAL_PREDICATE_TYPE } from '@glasshouse/release-format';
import { readSupervisorRecords } from '@glasshouse/release';
import type { EntryChecker, MonitorEntry } from '@glasshouse/witness';
import { DistributionError } from './errors.js';
import { parseReleaseLogEntry, type ReleaseLogEntry } from '@glasshouse/release-format';

/** What the supervisor approved about one release, from its own signed approval. */
export interface ApprovedRelease {
  readonly releaseId: string;
  readonly name: string;
  readonly version: string;
  /** The approved artifacts by name. */
  readonly subjects: readonly { readonly name: string; readonly sha256: string }[];
  /** SHA-256 of the approval envelope's bytes (as uploaded and kept). */
  readonly approvalSha256: string;
  /** SHA-256 of every approved artifact. */
  readonly artifacts: readonly string[];
  readonly provenanceSha256: string | undefined;
  readonly vsaSha256: string | undefined;
  /** Every digest the approval names as its evidence (provenance, links, reviews, VSA). */
  readonly evidence: readonly string[];
}

/** Where the checker learns what was approved. */
export interface ApprovalLookup {
  /** The supervisor key's in-toto keyid (its links and the layouts that name it). */
  readonly supervisorKeyid: string;
  /** The releases' approvals; none when the supervisor approved nothing with that id. */
  approvals(releaseId: string): Promise<ApprovedRelease[]>;
}

/**
 * Approvals read from a supervisor's directory (`records/<release>/`),
 * each verified with the supervisor's public key: a file that does not
 * verify is not an approval.
 */
export function supervisorDirApprovals(dir: string, supervisorKey: PublicKey): ApprovalLookup {
  return {
    supervisorKeyid: supervisorKey.keyid,
    async approvals(releaseId) {
      const out: ApprovedRelease[] = [];
      for (const record of await readSupervisorRecords(dir, releaseId)) {
        if (record.kind !== 'approval') continue;
        let predicate:
          | {
              releaseId?: unknown;
              name?: unknown;
              version?: unknown;
              evidence?: ResourceDescriptor[];
            }
          | undefined;
        let subjects: { name: string; sha256: string }[];
        try {
          const { statement } = verifyStatementEnvelope(parseEnvelope(record.bytes), {
            keys: [supervisorKey],
            predicateType: APPROVAL_PREDICATE_TYPE,
          });
          predicate = statement.predicate as typeof predicate;
          subjects = statement.subject.flatMap((s) =>
            s.digest.sha256 === undefined ? [] : [{ name: s.name ?? '', sha256: s.digest.sha256 }],
          );
        } catch {
          // Not signed by this supervisor (or damaged): it approves nothing.
          continue;
        }
        if (
          predicate?.releaseId !== releaseId ||
          typeof predicate.name !== 'string' ||
          typeof predicate.version !== 'string'
        ) {
          continue;
        }
        const descriptors = predicate.evidence ?? [];
        const evidence = (name: string): string | undefined =>
          descriptors.find((e) => e.name === name)?.digest?.sha256;
        out.push({
          releaseId,
          name: predicate.name,
          version: predicate.version,
          subjects,
          approvalSha256: createHash('sha256').update(record.bytes).digest('hex'),
          artifacts: subjects.map((s) => s.sha256),
          provenanceSha256: evidence('provenance'),
          vsaSha256: evidence('vsa'),
          evidence: descriptors.flatMap((e) =>
            typeof e.digest?.sha256 === 'string' ? [e.digest.sha256] : [],
          ),
        });
      }
      return out;
    },
  };
}

/**
 * The monitor's checker for the release log. Rejects an entry that is not a
 * release-log entry (release-format's RELEASE_LOG_ENTRY_INVALID), and
 * (RELEASE_LOG_ENTRY_UNAPPROVED) one that no approval of the supervisor
 * matches exactly.
 */
export function releaseLogChecker(lookup: ApprovalLookup): EntryChecker {
  return {
    async check(entry: MonitorEntry): Promise<void> {
      const parsed = parseReleaseLogEntry(entry.data);
      const approvals = await lookup.approvals(parsed.releaseId);
      const matching = approvals.find((a) => approvalMatches(a, parsed));
      if (matching === undefined) {
        throw new DistributionError(
          'RELEASE_LOG_ENTRY_UNAPPROVED',
          `release-log entry ${entry.index} (release ${parsed.releaseId}, ${parsed.name} ${parsed.version}) matches no approval of the supervisor`,
          {
            evidence: {
              index: entry.index.toString(),
              entry: parsed,
              approvals: approvals.map((a) => a.approvalSha256),
            },
          },
        );
      }
    },
  };
}

function approvalMatches(approval: ApprovedRelease, entry: ReleaseLogEntry): boolean {
  const approved = [...new Set(approval.artifacts)].sort();
  const logged = [...new Set(entry.targets.map((t) => t.sha256))].sort();
  return (
    approval.approvalSha256 === entry.approval.sha256 &&
    approval.provenanceSha256 === entry.provenance.sha256 &&
    approval.vsaSha256 === entry.vsa.sha256 &&
    approved.length === logged.length &&
    approved.every((d, i) => d === logged[i])
  );
}
