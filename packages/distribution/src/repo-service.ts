/**
 * The vendor's repository service: publishes approved releases from the
 * assembly line into the TUF repository and the release log, and keeps the
 * timestamp fresh. Publishing a release:
 *
 *  1. the release must be `approved` on the assembly line, and its layout,
 *     links and artifacts must verify against the layout key (the same
 *     check an endpoint makes);
 *  2. one entry is appended to the release log (release-log.ts) and the
 *     service waits for a checkpoint covering it, which yields a receipt;
 *  3. the artifacts, the attestations (provenance, links, VSA, approval,
 *     layout) and the receipt become targets under `<name>/<version>/`,
 *     each with a `custom` naming the release and the release-log index;
 *  4. the releases draft is signed by the vendor's release key. It is
 *     published only when the supervisor adds its signature.
 */
import { parseEnvelope, publicKeyFromPem, SLSA_VSA_V1, type PublicKey } from '@glasshouse/attest';
import { LogClient } from '@glasshouse/log';
import { AssemblyClient, fetchReleaseKit, verifyReleaseKit } from '@glasshouse/release';
import type { AttestationRef } from '@glasshouse/release-format';
import { CodedError } from '@glasshouse/errors';
import { DistributionError } from './errors.js';
import { encodeReleaseLogEntry, RELEASE_LOG_RECEIPT_NAME } from '@glasshouse/release-format';
import type { ReleaseTargetCustom } from './supervisor-tuf.js';
import type { TufMetadataDocument } from './tuf-metadata.js';
import { publishRelease, refreshTimestamp } from './releases-ceremony.js';
import type { ReleaseTarget } from './tuf-repo.js';

export interface RepoServiceOptions {
  readonly dir: string;
  /** The vendor's assembly line. */
  readonly assemblyUrl: string;
  /** The release log's prefix URL (its write API). */
  readonly releaseLogUrl: string;
  /** The layout key endpoints pin (PEM); the service checks releases with it before publishing. */
  readonly layoutKeyPem: string;
  readonly now?: () => Date;
  /** How the service calls the release log: a signing fetch when the log authenticates its writers. */
  readonly releaseLogFetch?: typeof fetch;
}

export interface PublishedDraft {
  readonly releaseId: string;
  readonly draftVersion: number;
  readonly releaseLog: { readonly index: bigint; readonly checkpoint?: string };
  readonly targets: readonly string[];
}

export class RepoService {
  readonly dir: string;
  readonly #assembly: AssemblyClient;
  readonly #log: LogClient;
  readonly #layoutKey: PublicKey;
  readonly #now: () => Date;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: RepoServiceOptions) {
    this.dir = options.dir;
    this.#assembly = new AssemblyClient(options.assemblyUrl);
    this.#log = new LogClient(
      options.releaseLogUrl,
      options.releaseLogFetch === undefined ? {} : { fetch: options.releaseLogFetch },
    );
    this.#layoutKey = publicKeyFromPem(options.layoutKeyPem);
    this.#now = options.now ?? (() => new Date());
  }

  /** Publishes an approved release as a releases draft (see the module comment). */
  async publish(
    releaseId: string,
    onProgress: (message: string) => void = () => undefined,
  ): Promise<PublishedDraft> {
    const record = await upstream(() => this.#assembly.getRelease(releaseId));
    if (record.status !== 'approved') {
      throw new DistributionError(
        'RELEASE_NOT_APPROVED',
        `release ${record.id} is ${record.status}, not approved`,
      );
    }
    const kit = await upstream(() => fetchReleaseKit(this.#assembly, record.id));
    verifyReleaseKit(kit, { layoutKey: this.#layoutKey, now: this.#now() });
    onProgress(`release ${record.id}: layout, links and artifacts verify`);

    const attestations = new Map<string, { ref: AttestationRef; bytes: Uint8Array }>();
    for (const ref of record.attestations) {
      if (ref.kind === 'mismatch-report') continue;
      const bytes = await upstream(() => this.#assembly.attestation(record.id, ref.sha256));
      attestations.set(ref.sha256, { ref, bytes });
    }
    const one = (kind: string): string => {
      const found = record.attestations.find((a) => a.kind === kind);
      if (found === undefined) {
        throw new DistributionError('RELEASE_NOT_APPROVED', `release ${record.id} has no ${kind}`);
      }
      return found.sha256;
    };
    checkVsaPassed(attestations.get(one('vsa'))?.bytes);

    const base = `${record.name}/${record.version}`;
    const entry = encodeReleaseLogEntry({
      releaseId: record.id,
      name: record.name,
      version: record.version,
      targets: record.artifacts.map((a) => ({ name: `${base}/${a.name}`, sha256: a.sha256 })),
      provenance: { sha256: one('provenance') },
      vsa: { sha256: one('vsa') },
      approval: { sha256: one('approval') },
    });
    const logged = await upstream(() => this.#log.add(entry, { wait: true }));
    onProgress(`release log: entry ${logged.index}`);
    const releaseLog = {
      origin: this.#logOrigin(logged.checkpoint),
      index: logged.index.toString(),
    };

    const targets: ReleaseTarget[] = [];
    const custom = (
      extra: Omit<ReleaseTargetCustom, 'releaseId' | 'releaseLog'>,
    ): Record<string, unknown> => ({
      releaseId: record.id,
      releaseLog,
      ...extra,
    });
    for (const artifact of kit.artifacts) {
      targets.push({
        name: `${base}/${artifact.name}`,
        bytes: artifact.bytes,
        custom: custom({ kind: 'artifact' }),
      });
    }
    for (const { ref, bytes } of attestations.values()) {
      targets.push({
        name: `${base}/attestations/${attestationFileName(ref)}`,
        bytes,
        custom: custom({ kind: 'attestation', attestation: ref.kind }),
      });
    }
    if (logged.receipt !== undefined) {
      targets.push({
        name: `${base}/${RELEASE_LOG_RECEIPT_NAME}`,
        bytes: new TextEncoder().encode(logged.receipt),
        custom: custom({ kind: 'release-log-receipt' }),
      });
    }
    const draft = await publishRelease({ dir: this.dir, targets, now: this.#now() });
    onProgress(
      `releases draft v${draftVersionOf(draft)}: signed by the vendor, awaiting the supervisor`,
    );
    return {
      releaseId: record.id,
      draftVersion: draftVersionOf(draft),
      releaseLog: {
        index: logged.index,
        ...(logged.checkpoint === undefined ? {} : { checkpoint: logged.checkpoint }),
      },
      targets: targets.map((t) => t.name),
    };
  }

  /** Renews the timestamp (and snapshot) before they expire; every `intervalMs` until `stop()`. */
  startTimestampRefresh(
    intervalMs = 60_000,
    onError: (err: unknown) => void = () => undefined,
  ): void {
    this.stop();
    const tick = (): void => {
      refreshTimestamp(this.dir, this.#now()).catch((err: unknown) => {
        // Before root v1 is complete there is nothing to refresh.
        if (err instanceof CodedError && (err as CodedError).code === 'ROOT_NOT_PUBLISHED') return;
        onError(err);
      });
    };
    tick();
    this.#timer = setInterval(tick, intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #logOrigin(checkpoint: string | undefined): string {
    return checkpoint?.split('\n', 1)[0] ?? '';
  }
}

function attestationFileName(ref: AttestationRef): string {
  if (ref.kind === 'layout') return 'root.layout';
  if (ref.fileName !== undefined && ref.kind === 'link') return ref.fileName;
  return `${ref.kind}.${ref.sha256.slice(0, 16)}.json`;
}

function draftVersionOf(draft: TufMetadataDocument): number {
  return Number((draft.signed as { version?: unknown }).version);
}

/**
 * The VSA must say PASSED. Its signature was checked by the assembly line
 * on upload; the supervisor checks its own approval again before it signs
 * the draft, so parsing is enough here.
 */
function checkVsaPassed(bytes: Uint8Array | undefined): void {
  if (bytes === undefined) {
    throw new DistributionError('RELEASE_NOT_APPROVED', 'the release has no VSA');
  }
  const envelope = parseEnvelope(bytes);
  const payload = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as {
    predicateType?: unknown;
    predicate?: { verificationResult?: unknown };
  };
  if (payload.predicateType !== SLSA_VSA_V1 || payload.predicate?.verificationResult !== 'PASSED') {
    throw new DistributionError('RELEASE_NOT_APPROVED', 'the VSA does not say PASSED');
  }
}

/** Errors of the assembly line or the log, passed on with their own code, or REPO_UPSTREAM_FAILED. */
async function upstream<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (cause) {
    if (cause instanceof CodedError) throw cause;
    throw new DistributionError(
      'REPO_UPSTREAM_FAILED',
      'a service the repository depends on failed',
      {
        cause,
      },
    );
  }
}
