/**
 * TUF through the real tuf-js 5 client: refresh (TUF 5.3-5.6), the releases
 * of one rules name, and target downloads (TUF 5.7). tuf-js does every TUF
 * check; this module turns its failures into the agent's codes and reads
 * what tuf-js has verified and persisted.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Updater, type TargetFile } from 'tuf-js';
import tufJsPackage from 'tuf-js/package.json' with { type: 'json' };
// tuf-js exports neither its default fetcher nor its error classes from its
// index; the package has no "exports" map, so its dist modules are its API too.
import { DefaultFetcher } from 'tuf-js/dist/fetcher.js';
import { AgentError } from './errors.js';
import { agentErrorFromTuf } from './tuf-failures.js';

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

/** How long one download may take. */
const FETCH_TIMEOUT_MS = 30_000;
// A JSON import rather than a runtime require, so a bundle of the agent carries it.
const TUF_JS_VERSION = tufJsPackage.version;

/**
 * tuf-js's own fetcher, keeping the failure of the last transfer (not of the
 * handler that checks the bytes; undefined once a transfer succeeds): tuf-js
 * wraps failures while loading snapshot and targets metadata in a
 * RuntimeError that keeps only their text, so it is kept here with its class.
 */
class RecordingFetcher extends DefaultFetcher {
  lastFailure: unknown = undefined;

  override async downloadFile<T>(
    url: string,
    maxLength: number,
    handler: (file: string) => Promise<T>,
  ): Promise<T> {
    // Set from the handler: TypeScript does not see that it may run.
    const transfer = { done: false };
    this.lastFailure = undefined;
    try {
      return await super.downloadFile(url, maxLength, (file) => {
        transfer.done = true;
        return handler(file);
      });
    } catch (err) {
      if (!transfer.done) this.lastFailure = err;
      throw err;
    }
  }
}

export class TufClient {
  readonly #updater: Updater;
  readonly #fetcher: RecordingFetcher;
  readonly #options: TufClientOptions;

  constructor(options: TufClientOptions) {
    this.#options = options;
    this.#fetcher = new RecordingFetcher({
      userAgent: `tuf-js/${TUF_JS_VERSION}`,
      timeout: FETCH_TIMEOUT_MS,
      // One attempt: a refusal is reported at once, the next update retries.
      retry: false,
    });
    this.#updater = new Updater({
      metadataDir: options.metadataDir,
      metadataBaseUrl: `${options.repoUrl}/metadata`,
      targetBaseUrl: `${options.repoUrl}/targets`,
      targetDir: options.downloadDir,
      fetcher: this.#fetcher,
    });
  }

  /** Runs one tuf-js call; its failure becomes the agent's code. */
  async #tuf<T>(stage: 'metadata' | 'target', run: () => Promise<T>): Promise<T> {
    this.#fetcher.lastFailure = undefined;
    try {
      return await run();
    } catch (cause) {
      throw agentErrorFromTuf(cause, stage, this.#fetcher.lastFailure);
    }
  }

  /** TUF 5.3-5.5: root, timestamp, snapshot, top-level targets. */
  async refresh(): Promise<void> {
    await this.#tuf('metadata', () => this.#updater.refresh());
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
    await this.#tuf('metadata', () => this.#updater.getTargetInfo(`${rulesName}/listing`));
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
    const info = await this.#tuf('metadata', () => this.#updater.getTargetInfo(name));
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
      const path = await this.#tuf('target', () =>
        this.#updater.downloadTarget(target.info, join(scratch, 'target')),
      );
      return new Uint8Array(await readFile(path));
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
}
