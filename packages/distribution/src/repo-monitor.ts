/**
 * The supervisor's monitor of the update repository: it walks what clients
 * walk (timestamp → snapshot → every targets metadata the snapshot lists)
 * and raises an alert when
 *
 * - `targets.json` does not carry the supervisor's valid targets signature
 *   (`REPO_TARGETS_UNSUPERVISED`): the top-level role or its delegations
 *   changed without it;
 * - a delegated role's metadata does not carry the supervisor's valid
 *   release signature, or the snapshot lists a role other than `releases`
 *   (`REPO_DELEGATION_UNSUPERVISED`);
 * - a target is not part of a release the supervisor approved
 *   (`REPO_TARGET_UNAPPROVED`): the approvals the release-log monitor holds
 *   every release-log entry to.
 *
 * Evidence is the metadata itself. Each metadata file is alerted once: the
 * SHA-256 of every file already alerted is kept in
 * `<stateDir>/repo-monitor.json`, written durably after the alert was
 * delivered, so a restart does not repeat it (a crash in between may).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Metadata, Targets } from '@tufjs/models';
import { ensureDirDurably, isErrno, writeFileDurably } from '@glasshouse/durable';
import type { Alert, AlertSink } from '@glasshouse/witness';
import { DistributionError, type DistributionErrorCode } from './errors.js';
import { isPlainObject, parseJsonBytes } from './json.js';
import type { ApprovalLookup } from './release-log-checker.js';
import {
  RepoClient,
  readPublishedChain,
  type PublishedChain,
  type PublishedFile,
} from './repo-client.js';
import { targetNotApproved } from './supervisor-tuf.js';
import { verifyMetadataSignature, tufKeyId, type TufPublicKey } from './tuf-keys.js';
import { sha256Hex } from '@glasshouse/attest';
import { RELEASES_ROLE } from './tuf-metadata.js';

export const REPO_MONITOR_STATE_FILE = 'repo-monitor.json';
const STATE_SCHEMA = 'glasshouse.repo-monitor/v1';
const MAX_STATE_BYTES = 16 * 1024 * 1024;
/** Metadata larger than this is named by hash in the evidence, not copied. */
const MAX_EVIDENCE_FILE_BYTES = 256 * 1024;

export interface RepoMonitorOptions {
  /** The repository's base URL (serving `metadata/` and `targets/`). */
  readonly url: string;
  /** The supervisor's public TUF keys whose signatures the metadata must carry. */
  readonly keys: { readonly targets: TufPublicKey; readonly release: TufPublicKey };
  readonly approvals: ApprovalLookup;
  readonly alerts: AlertSink;
  /** Where the monitor keeps what it already alerted. */
  readonly stateDir: string;
  readonly now?: () => Date;
}

/** One thing wrong with one published metadata file. */
export interface RepoFinding {
  readonly code: DistributionErrorCode;
  readonly message: string;
  readonly role: string;
  readonly version: number;
  readonly sha256: string;
  readonly target?: string;
}

export interface RepoMonitorPass {
  /** The timestamp version seen; 0 before root v1 is published. */
  readonly timestampVersion: number;
  /** Everything wrong with what is published now, alerted before or not. */
  readonly findings: readonly RepoFinding[];
  /** The alert raised by this pass, if any (at most one). */
  readonly alert?: Alert;
}

export class RepoMonitor {
  readonly #options: RepoMonitorOptions;
  readonly #client: RepoClient;
  readonly #statePath: string;
  readonly #alerted: Set<string>;
  /** `name@sha256` of targets already found approved (approvals are not withdrawn). */
  readonly #approved = new Set<string>();

  private constructor(options: RepoMonitorOptions, alerted: Set<string>) {
    this.#options = options;
    this.#client = new RepoClient(options.url);
    this.#statePath = join(options.stateDir, REPO_MONITOR_STATE_FILE);
    this.#alerted = alerted;
  }

  /** Opens the monitor with what it alerted before (REPO_CORRUPT when that file is not its own). */
  static async open(options: RepoMonitorOptions): Promise<RepoMonitor> {
    const path = join(options.stateDir, REPO_MONITOR_STATE_FILE);
    let bytes: Uint8Array | undefined;
    try {
      bytes = await readFile(path);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
    const alerted = new Set<string>();
    if (bytes !== undefined) {
      const value = parseJsonBytes(bytes, MAX_STATE_BYTES, 'REPO_CORRUPT', path);
      if (
        !isPlainObject(value) ||
        value.schema !== STATE_SCHEMA ||
        !Array.isArray(value.alerted) ||
        !value.alerted.every((h) => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h))
      ) {
        throw new DistributionError('REPO_CORRUPT', `${path} is not a repository monitor state`);
      }
      for (const hash of value.alerted as string[]) alerted.add(hash);
    }
    return new RepoMonitor(options, alerted);
  }

  /** One pass: read the published chain, check it, alert on files not alerted before. */
  async check(): Promise<RepoMonitorPass> {
    const chain = await readPublishedChain(this.#client);
    if (chain === undefined) return { timestampVersion: 0, findings: [] };
    const findings = await this.#findings(chain);
    const fresh = findings.filter((f) => !this.#alerted.has(f.sha256));
    const timestampVersion = chain.timestamp.version;
    const first = fresh[0];
    if (first === undefined) return { timestampVersion, findings };

    const files = [...new Set(fresh.map((f) => f.sha256))];
    const alert: Alert = {
      kind: 'repository-unsupervised',
      time: (this.#options.now?.() ?? new Date()).toISOString(),
      log: this.#client.baseUrl,
      message: `${first.message}${fresh.length > 1 ? ` (and ${fresh.length - 1} more)` : ''}`,
      code: first.code,
      evidence: {
        findings: fresh,
        files: [...chain.roles.entries()]
          .filter(([, file]) => files.includes(file.sha256))
          .map(([role, file]) => fileEvidence(role, file)),
        snapshot: fileEvidence('snapshot', chain.snapshot),
        timestamp: fileEvidence('timestamp', chain.timestamp),
      },
    };
    await this.#options.alerts.send(alert);
    for (const hash of files) this.#alerted.add(hash);
    await ensureDirDurably(this.#options.stateDir, 0o700);
    await writeFileDurably(
      this.#statePath,
      `${JSON.stringify({ schema: STATE_SCHEMA, alerted: [...this.#alerted] })}\n`,
    );
    return { timestampVersion, findings, alert };
  }

  /** Checks every `intervalMs` until `signal` aborts; a failed pass goes to `onError`. */
  async run(
    signal: AbortSignal,
    intervalMs: number,
    handlers: {
      onPass?: (pass: RepoMonitorPass) => void;
      onError?: (err: unknown) => void;
      /** Wait one interval before the first check (the caller just made one). */
      waitFirst?: boolean;
    } = {},
  ): Promise<void> {
    if (handlers.waitFirst === true) await sleep(intervalMs, signal);
    while (!signal.aborted) {
      try {
        handlers.onPass?.(await this.check());
      } catch (err) {
        handlers.onError?.(err);
      }
      await sleep(intervalMs, signal);
    }
  }

  async #findings(chain: PublishedChain): Promise<RepoFinding[]> {
    const findings: RepoFinding[] = [];
    // targets first, so an alert's code names the top of what changed.
    const roles = [...chain.roles.entries()].sort(([a], [b]) =>
      a === 'targets' ? -1 : b === 'targets' ? 1 : a < b ? -1 : 1,
    );
    for (const [role, file] of roles) {
      const at = { role, version: file.version, sha256: file.sha256 };
      if (role === 'targets') {
        // TUF 5.6.3: targets is trusted at its role's threshold; ours needs the supervisor.
        if (!signedBy(file.metadata, this.#options.keys.targets)) {
          findings.push({
            ...at,
            code: 'REPO_TARGETS_UNSUPERVISED',
            message: `targets v${file.version} does not carry the supervisor's targets signature`,
          });
        }
      } else if (role !== RELEASES_ROLE || !signedBy(file.metadata, this.#options.keys.release)) {
        // TUF 5.6.7: a delegated role speaks for targets; only releases, co-signed, may.
        findings.push({
          ...at,
          code: 'REPO_DELEGATION_UNSUPERVISED',
          message:
            role === RELEASES_ROLE
              ? `${role} v${file.version} does not carry the supervisor's release signature`
              : `the snapshot lists role ${role}, which the supervisor does not sign`,
        });
      }
      for (const [name, target] of Object.entries(file.metadata.signed.targets)) {
        const sha256 = target.hashes.sha256 ?? '';
        const key = `${name}@${sha256}`;
        if (this.#approved.has(key)) continue;
        const why = await targetNotApproved(name, sha256, target.unrecognizedFields.custom, {
          approvals: this.#options.approvals,
          fetchTarget: async (n, h) => {
            const bytes = await this.#client.target(n, h);
            if (sha256Hex(bytes) !== h) {
              throw new DistributionError('REPO_CORRUPT', `target ${n} is not its hash`);
            }
            return bytes;
          },
        }).catch((err: unknown) => `cannot be checked: ${describe(err)}`);
        if (why === undefined) {
          this.#approved.add(key);
          continue;
        }
        findings.push({
          ...at,
          code: 'REPO_TARGET_UNAPPROVED',
          message: `target ${name} ${why}`,
          target: name,
        });
      }
    }
    return findings;
  }
}

/** Whether `metadata` carries a valid signature by `key` (TUF 4.2: over the canonical `signed`). */
function signedBy(metadata: Metadata<Targets>, key: TufPublicKey): boolean {
  const keyid = tufKeyId(key);
  const signature = metadata.signatures[keyid];
  return (
    signature !== undefined && verifyMetadataSignature(metadata, { keyid, sig: signature.sig }, key)
  );
}

function fileEvidence(role: string, file: PublishedFile<unknown>): Record<string, unknown> {
  return {
    role,
    version: file.version,
    sha256: file.sha256,
    ...(file.bytes.length <= MAX_EVIDENCE_FILE_BYTES
      ? { metadata: JSON.parse(Buffer.from(file.bytes).toString('utf8')) as unknown }
      : { length: file.bytes.length }),
  };
}

function describe(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  return typeof code === 'string' ? `${code}: ${message}` : message;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
