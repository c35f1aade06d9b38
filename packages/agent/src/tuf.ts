/**
 * TUF through the real tuf-js 5 client: refresh (TUF 5.3-5.6), the releases
 * of one rules name, and target downloads (TUF 5.7). tuf-js does every TUF
 * check; this module turns its failures into the agent's codes and reads
 * what tuf-js has verified and persisted.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Updater, type TargetFile } from 'tuf-js';
import { AgentError, type AgentErrorCode } from './errors.js';
import { mkdir } from 'node:fs/promises';

/** The delegated role that needs both the vendor's and the supervisor's signature. */
export const RELEASES_ROLE = 'releases';
/** tuf-js's own cap on targets metadata (targetsMaxLength). */
const MAX_TARGETS_METADATA_BYTES = 5_000_000;

export interface TufClientOptions {
  readonly metadataDir: string;
  /** Scratch space for downloads (emptied after each one). */
  readonly downloadDir: string;
  readonly repoUrl: string;
}

/** A listed target of the releases role, as tuf-js verified it. */
export interface VerifiedTarget {
  readonly name: string;
  readonly length: number;
  readonly sha256: string;
  readonly custom: Record<string, unknown>;
  readonly info: TargetFile;
}

export class TufClient {
  readonly #updater: Updater;
  readonly #options: TufClientOptions;

  constructor(options: TufClientOptions) {
    this.#options = options;
    this.#updater = new Updater({
      metadataDir: options.metadataDir,
      metadataBaseUrl: `${options.repoUrl}/metadata`,
      targetBaseUrl: `${options.repoUrl}/targets`,
      targetDir: options.downloadDir,
      // One attempt: a refusal is reported at once, the next update retries.
      config: { fetchRetry: false, fetchTimeout: 30_000 },
    });
  }

  /** TUF 5.3-5.5: root, timestamp, snapshot, top-level targets. */
  async refresh(): Promise<void> {
    await tuf('metadata', () => this.#updater.refresh());
  }

  /**
   * Every target name of the `releases` role under `<rulesName>/`. tuf-js
   * has no listing call: asking for any path the delegation covers makes it
   * load and verify `releases.json` (TUF 5.6), which it persists in its
   * metadata directory; that verified file is read back here.
   */
  async releaseTargetNames(rulesName: string): Promise<string[]> {
    // Before the first release the trusted snapshot lists no releases.json
    // (TUF 5.6.1), and tuf-js would fail on the missing entry.
    const meta = (await this.trusted('snapshot')).meta as Record<string, unknown> | undefined;
    if (meta?.[`${RELEASES_ROLE}.json`] === undefined) return [];
    await tuf('metadata', () => this.#updater.getTargetInfo(`${rulesName}/listing`));
    let doc: unknown;
    try {
      const bytes = await readFile(join(this.#options.metadataDir, `${RELEASES_ROLE}.json`));
      if (bytes.length > MAX_TARGETS_METADATA_BYTES) throw new RangeError('too large');
      doc = JSON.parse(bytes.toString('utf8'));
    } catch (cause) {
      throw new AgentError(
        'AGENT_TUF_METADATA_INVALID',
        `tuf-js left no readable ${RELEASES_ROLE}.json`,
        { cause },
      );
    }
    const targets = (doc as { signed?: { targets?: unknown } }).signed?.targets;
    if (typeof targets !== 'object' || targets === null) return [];
    return Object.keys(targets).filter((name) => name.startsWith(`${rulesName}/`));
  }

  /** The role metadata tuf-js trusts now (after `refresh`), parsed. */
  async trusted(role: 'root' | 'targets' | 'snapshot'): Promise<Record<string, unknown>> {
    const bytes = await readFile(join(this.#options.metadataDir, `${role}.json`));
    return (JSON.parse(bytes.toString('utf8')) as { signed: Record<string, unknown> }).signed;
  }

  /** A target's info, verified by tuf-js through the delegation (TUF 5.6.7). */
  async target(name: string): Promise<VerifiedTarget> {
    const info = await tuf('metadata', () => this.#updater.getTargetInfo(name));
    if (info === undefined) {
      throw new AgentError('AGENT_RELEASE_INCOMPLETE', `the repository lists no target ${name}`, {
        evidence: { target: name },
      });
    }
    const sha256 = info.hashes.sha256;
    if (sha256 === undefined || !/^[0-9a-f]{64}$/.test(sha256)) {
      throw new AgentError('AGENT_TUF_METADATA_INVALID', `target ${name} has no SHA-256`, {
        evidence: { target: name },
      });
    }
    return { name, length: info.length, sha256, custom: info.custom, info };
  }

  /**
   * Downloads a target (TUF 5.7.3): tuf-js stops reading past the listed
   * length and checks the hashes before the bytes are handed out.
   */
  async download(target: VerifiedTarget, maxBytes: number): Promise<Uint8Array> {
    if (target.length > maxBytes) {
      throw new AgentError(
        'AGENT_TUF_TOO_LARGE',
        `target ${target.name} is over ${maxBytes} bytes`,
        {
          evidence: { target: target.name, length: target.length, maxBytes },
        },
      );
    }
    await mkdir(this.#options.downloadDir, { recursive: true });
    const scratch = await mkdtemp(join(this.#options.downloadDir, 'get-'));
    try {
      const path = await tuf('target', () =>
        this.#updater.downloadTarget(target.info, join(scratch, 'target')),
      );
      return new Uint8Array(await readFile(path));
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
}

async function tuf<T>(stage: 'metadata' | 'target', run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (cause) {
    throw agentErrorFromTuf(cause, stage);
  }
}

/**
 * The agent's code for a tuf-js failure. tuf-js throws one class per kind of
 * failure, but wraps failures while loading snapshot and targets metadata in
 * a RuntimeError whose message holds the inner error's text (its class is
 * lost), so those are told apart by the inner message tuf-js and
 * @tufjs/models write.
 */
export function agentErrorFromTuf(cause: unknown, stage: 'metadata' | 'target'): AgentError {
  if (cause instanceof AgentError) return cause;
  const names = classNames(cause);
  const message = cause instanceof Error ? cause.message : String(cause);
  const wrapped = /^Unable to load (?:snapshot metadata|targets) error (.*)$/s.exec(message)?.[1];
  const code = wrapped === undefined ? codeOfClass(names, message, stage) : codeOfWrapped(wrapped);
  return new AgentError(code, `TUF: ${message}`, { cause });
}

function codeOfClass(names: readonly string[], message: string, stage: string): AgentErrorCode {
  const is = (name: string): boolean => names.includes(name);
  // tuf-js fetcher: more bytes than the length allowed (endless data, TUF 5.4.1, 5.7.3).
  if (is('DownloadLengthMismatchError')) return 'AGENT_TUF_TOO_LARGE';
  if (is('DownloadError')) return 'AGENT_TUF_FETCH_FAILED';
  // TUF 5.3.10, 5.4.4, 5.5.6, 5.6.5: freeze attack.
  if (is('ExpiredMetadataError')) return 'AGENT_TUF_EXPIRED';
  // TUF 5.3.4, 5.4.2, 5.5.3, 5.6.3: not signed by a threshold of the role's keys.
  if (is('UnsignedMetadataError')) return 'AGENT_TUF_SIGNATURES';
  // TUF 5.7.3: target bytes that are not the listed ones; for metadata
  // (TUF 5.5.2, 5.6.2), a file other than the one listed.
  if (is('LengthOrHashMismatchError')) {
    return stage === 'target' ? 'AGENT_TUF_TARGET_MISMATCH' : 'AGENT_TUF_MIX_AND_MATCH';
  }
  if (is('BadVersionError')) return codeOfWrapped(message);
  // Network failures reach here as fetch's TypeError.
  if (is('TypeError') && /fetch failed/i.test(message)) return 'AGENT_TUF_FETCH_FAILED';
  return 'AGENT_TUF_METADATA_INVALID';
}

function codeOfWrapped(text: string): AgentErrorCode {
  if (/Max length reached/.test(text)) return 'AGENT_TUF_TOO_LARGE';
  if (/was signed by \d+\/\d+ keys/.test(text)) return 'AGENT_TUF_SIGNATURES';
  if (/is expired/.test(text)) return 'AGENT_TUF_EXPIRED';
  // TUF 5.5.4, 5.6.4: a file whose version is not the one its parent lists.
  if (
    /does not match snapshot version|doesn't match timestamp|Expected (?:length|hash)/.test(text)
  ) {
    return 'AGENT_TUF_MIX_AND_MATCH';
  }
  // TUF 5.3.5, 5.4.3, 5.5.5: older than what was trusted before.
  if (/less than current version|Expected version \d+, got/.test(text)) {
    return 'AGENT_TUF_ROLLBACK';
  }
  if (/Failed to download|fetch failed/i.test(text)) return 'AGENT_TUF_FETCH_FAILED';
  return 'AGENT_TUF_METADATA_INVALID';
}

/** Constructor names along the prototype chain (tuf-js's error classes do not set `name`). */
function classNames(value: unknown): string[] {
  const names: string[] = [];
  let proto: unknown =
    typeof value === 'object' && value !== null ? Object.getPrototypeOf(value) : null;
  while (proto !== null && proto !== Object.prototype) {
    const ctor = (proto as { constructor?: { name?: unknown } }).constructor;
    if (typeof ctor?.name === 'string') names.push(ctor.name);
    proto = Object.getPrototypeOf(proto);
  }
  return names;
}
