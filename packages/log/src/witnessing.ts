/**
 * Witnessing from the log's side (c2sp.org/tlog-witness): a
 * {@link PublishCheckpoint} that asks every witness of a c2sp.org/tlog-policy
 * to cosign the latest signed checkpoint and publishes it only once the
 * verified cosignatures meet the policy's quorum.
 */
import {
  type NoteVerifier,
  type NoteVerifierKey,
  type Policy,
  type PolicyWitness,
  TlogError,
  collectCosignatures,
  decodeBase64Strict,
  openCheckpoint,
  openNote,
  parseVerifierKey,
  verifyCheckpointWithPolicy,
} from '@glasshouse/tlog';
import { WitnessError, addCheckpoint } from '@glasshouse/witness';
import { LogError } from './errors.js';
import type { PublishCheckpoint } from './integrator.js';
import type { LogMetrics } from './metrics.js';
import { storedConsistencyProof } from './proofs.js';
import type { LogStorage } from './storage.js';

export interface WitnessingOptions {
  /** The policy: its `log` lines must include this log's key, its `witness` lines carry URLs. */
  readonly policy: Policy;
  /** This log's verifier key. */
  readonly logVerifierKey: string;
  /** Where the proofs come from: tiles of every signed checkpoint are stored. */
  readonly storage: Pick<LogStorage, 'readTile'>;
  readonly metrics?: LogMetrics | undefined;
  /** Deadline of one add-checkpoint exchange. Default 5 s. */
  readonly timeoutMs?: number | undefined;
  /**
   * Once the quorum is met, how long to wait for the other witnesses before
   * publishing without them (their answers still update what they last
   * cosigned). Default 200 ms.
   */
  readonly quorumGraceMs?: number | undefined;
  /**
   * Development only: publish every signed checkpoint even when the quorum is
   * not met (with whatever cosignatures arrived). Off by default.
   */
  readonly publishUnwitnessed?: boolean | undefined;
  /** For tests and custom transports; default the global `fetch`. */
  readonly fetch?: typeof fetch | undefined;
  /** Called for each witness that brought no valid cosignature. */
  readonly onWitnessError?: ((witness: string, err: LogError) => void) | undefined;
}

/** Why one witness brought no cosignature (the `reason` label of the failure metric). */
export type WitnessFailure =
  /** No answer in time, or no connection. */
  | 'unreachable'
  /** An answer that breaks the protocol's grammar (or is oversize). */
  | 'invalid-response'
  /** 409 again after retrying from the size it reported (or a same-size root mismatch). */
  | 'conflict'
  /** It cosigned a larger tree than this log signed. */
  | 'ahead'
  /** Any other status (400, 403, 404, 422, 5xx). */
  | 'rejected'
  /** No line from its policy key, or one that does not verify. */
  | 'invalid-cosignature'
  /** The log could not build the consistency proof from its tiles. */
  | 'proof-unavailable';

export interface WitnessStatus {
  readonly name: string;
  readonly url: string;
  /** The size it last cosigned or reported (409), as far as this process knows. */
  readonly cosignedSize: bigint | undefined;
  /** The last failure, cleared by the next cosignature. */
  readonly lastError: { readonly reason: WitnessFailure; readonly message: string } | undefined;
}

const DEFAULT_TIMEOUT_MS = 5_000;
const DEFAULT_QUORUM_GRACE_MS = 200;
const EM_DASH_SPACE = '\u2014 ';

const noop = (): void => undefined;

/**
 * Collects witness cosignatures for signed checkpoints. One instance per
 * integrating process; what each witness last cosigned is kept in memory and
 * relearned from 409 answers after a restart.
 */
export class Witnessing {
  readonly policy: Policy;
  readonly publishUnwitnessed: boolean;
  /** The {@link PublishCheckpoint} to give the integrator. */
  readonly publish: PublishCheckpoint;
  readonly #o: WitnessingOptions;
  readonly #log: NoteVerifierKey;
  readonly #witnesses: readonly (PolicyWitness & { url: string })[];
  readonly #timeoutMs: number;
  readonly #graceMs: number;
  readonly #cosigned = new Map<string, bigint>();
  readonly #lastError = new Map<string, { reason: WitnessFailure; message: string }>();
  readonly #inflight = new Map<string, Promise<void>>();
  readonly #abort = new AbortController();
  readonly #fetch: typeof fetch;
  /** The last published note found complete (`isComplete`). */
  #lastComplete: string | undefined;

  constructor(opts: WitnessingOptions) {
    this.#o = opts;
    this.policy = opts.policy;
    this.publishUnwitnessed = opts.publishUnwitnessed === true;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#graceMs = opts.quorumGraceMs ?? DEFAULT_QUORUM_GRACE_MS;
    try {
      this.#log = parseVerifierKey(opts.logVerifierKey);
    } catch (cause) {
      throw new LogError('KEY_INVALID', 'not an Ed25519 verifier key', { cause });
    }
    // c2sp.org/tlog-policy: a checkpoint verifies only if a `log` line has its key.
    if (!opts.policy.logs.some((l) => l.verifier.text === this.#log.text)) {
      throw new LogError('WITNESS_POLICY_INVALID', "the policy's log lines do not name this log", {
        evidence: { log: this.#log.text, policyLogs: opts.policy.logs.map((l) => l.vkey) },
      });
    }
    this.#witnesses = opts.policy.witnesses.flatMap((w) =>
      w.url === undefined ? [] : [{ ...w, url: w.url }],
    );
    // A witness without a URL cannot be asked; the rest must be able to meet the quorum.
    if (!opts.policy.quorumMet(new Set(this.#witnesses.map((w) => w.name)))) {
      throw new LogError(
        'WITNESS_POLICY_INVALID',
        'the witnesses with a URL in the policy cannot meet its quorum',
        {
          evidence: {
            quorum: opts.policy.quorum,
            withUrl: this.#witnesses.map((w) => w.name),
            withoutUrl: opts.policy.witnesses.filter((w) => w.url === undefined).map((w) => w.name),
          },
        },
      );
    }
    const base = opts.fetch ?? fetch;
    // Requests still running when the log closes are cut off.
    this.#fetch = (input, init) =>
      base(input, {
        ...init,
        signal:
          init?.signal == null
            ? this.#abort.signal
            : AbortSignal.any([init.signal, this.#abort.signal]),
      });
    this.publish = (signedNote, previousNote) => this.#publish(signedNote, previousNote);
  }

  /**
   * Whether a published note needs nothing more: it meets the quorum (or the
   * development flag publishes without it). The empty tree, published when the
   * log was created, does not, so it is offered to the witnesses too.
   */
  isComplete(publishedNote: string): boolean {
    if (this.publishUnwitnessed) return true;
    // The integrator asks about the same published note every round until the next one:
    // the answer for the same bytes under the same policy does not change (no time check).
    if (publishedNote === this.#lastComplete) return true;
    try {
      // c2sp.org/tlog-policy: the log's signature and a quorum of valid cosignatures.
      verifyCheckpointWithPolicy(publishedNote, this.policy);
      this.#lastComplete = publishedNote;
      return true;
    } catch (err) {
      if (err instanceof TlogError) return false;
      throw err;
    }
  }

  /** The policy's witnesses that have a URL, and what this process knows of each. */
  status(): WitnessStatus[] {
    return this.#witnesses.map((w) => ({
      name: w.name,
      url: w.url,
      cosignedSize: this.#cosigned.get(w.name),
      lastError: this.#lastError.get(w.name),
    }));
  }

  /** Cuts off requests still running (a straggler after the quorum was met). */
  async close(): Promise<void> {
    this.#abort.abort(new LogError('CLOSED', 'the log is closing'));
    await Promise.all(this.#inflight.values());
  }

  async #publish(signedNote: string, previousNote: string): Promise<string> {
    const signed = this.#open(signedNote);
    const previous = this.#open(previousNote);
    const cosignatures = await this.#gather(signedNote, signed.size, previous.size);
    // Policy order, so the same cosignatures always make the same note.
    const lines = this.#witnesses.flatMap((w) => cosignatures.get(w.name) ?? []);
    const note = signedNote + lines.join('');
    try {
      // c2sp.org/tlog-policy: the log's signature and a quorum of valid cosignatures.
      verifyCheckpointWithPolicy(note, this.policy);
      this.#o.metrics?.quorumMet.set(1);
      return note;
    } catch (cause) {
      if (!(cause instanceof TlogError && cause.code === 'POLICY_QUORUM_NOT_MET')) throw cause;
      this.#o.metrics?.quorumMet.set(0);
      if (this.publishUnwitnessed) return note;
      throw new LogError('QUORUM_NOT_MET', 'witness cosignatures do not meet the quorum', {
        cause,
        evidence: {
          size: signed.size.toString(),
          quorum: this.policy.quorum,
          cosigners: [...cosignatures.keys()],
          failures: Object.fromEntries(
            this.#witnesses
              .filter((w) => !cosignatures.has(w.name))
              .map((w) => [w.name, this.#lastError.get(w.name)?.reason ?? 'no answer in time']),
          ),
        },
      });
    }
  }

  #open(note: string): { size: bigint } {
    return openCheckpoint(note, [this.#log], { origin: this.#log.name }).checkpoint;
  }

  /**
   * Asks every witness at once. Resolves when all have answered or failed,
   * or shortly after the quorum is met: a slow witness does not hold up the
   * others, and its late answer still updates what it last cosigned.
   */
  #gather(signedNote: string, size: bigint, publishedSize: bigint): Promise<Map<string, string[]>> {
    return new Promise((resolve) => {
      const got = new Map<string, string[]>();
      let pending = this.#witnesses.length;
      let done = false;
      let grace: NodeJS.Timeout | undefined;
      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(grace);
        resolve(new Map(got));
      };
      if (pending === 0) finish();
      for (const w of this.#witnesses) {
        this.#ask(w, signedNote, size, publishedSize)
          .then(
            (lines) => {
              if (done) return;
              got.set(w.name, lines);
              if (grace === undefined && this.policy.quorumMet(new Set(got.keys()))) {
                grace = setTimeout(finish, this.#graceMs);
              }
            },
            (err: unknown) => {
              const e =
                err instanceof LogError
                  ? err
                  : new LogError('WITNESS_FAILED', 'witnessing failed', { cause: err });
              this.#o.onWitnessError?.(w.name, e);
            },
          )
          .finally(() => {
            pending--;
            if (pending === 0) finish();
          })
          .catch(noop);
      }
    });
  }

  /** One exchange at a time per witness: a late answer must land before the next request. */
  #ask(
    w: WitnessEntry,
    signedNote: string,
    size: bigint,
    publishedSize: bigint,
  ): Promise<string[]> {
    const before = this.#inflight.get(w.name);
    const run = (async () => {
      if (before !== undefined) await before;
      return this.#exchange(w, signedNote, size, publishedSize);
    })();
    const settled = run.then(noop, noop);
    this.#inflight.set(w.name, settled);
    void settled.then(() => {
      if (this.#inflight.get(w.name) === settled) this.#inflight.delete(w.name);
    });
    return run;
  }

  /**
   * c2sp.org/tlog-witness add-checkpoint: from the size the witness last
   * cosigned (unknown: the published size), and once more from the size it
   * reports in a 409.
   */
  async #exchange(
    w: WitnessEntry,
    signedNote: string,
    size: bigint,
    publishedSize: bigint,
  ): Promise<string[]> {
    let old = this.#cosigned.get(w.name) ?? publishedSize;
    for (let attempt = 0; ; attempt++) {
      if (old > size) {
        // It cosigned a larger tree than the latest this log signed: never by this log's
        // current history. Evidence for an operator, not something to retry.
        throw this.#fail(w, 'ahead', 'the witness cosigned a larger tree than this log signed', {
          witnessSize: old.toString(),
          size: size.toString(),
        });
      }
      const proof = await this.#proof(w, old, size);
      let res;
      try {
        res = await addCheckpoint(
          w.url,
          { oldSize: old, consistencyProof: proof, checkpoint: signedNote },
          { timeoutMs: this.#timeoutMs, fetch: this.#fetch },
        );
      } catch (cause) {
        const unreachable = cause instanceof WitnessError && cause.code === 'WITNESS_UNREACHABLE';
        throw this.#fail(
          w,
          unreachable ? 'unreachable' : 'invalid-response',
          unreachable ? 'the witness did not answer' : 'the witness answered outside the protocol',
          {},
          cause,
        );
      }
      switch (res.kind) {
        case 'cosigned': {
          const lines = this.#verifiedLines(w, signedNote, res.signatureLines);
          this.#record(w, size);
          this.#lastError.delete(w.name);
          return lines;
        }
        case 'conflict': {
          // c2sp.org/tlog-witness: 409 carries the size of its latest cosigned checkpoint.
          const reported = res.witnessSize;
          if (reported <= size) this.#record(w, reported);
          if (attempt > 0 || reported === old || reported > size) {
            throw this.#fail(
              w,
              reported > size ? 'ahead' : 'conflict',
              'the witness refused the old size',
              {
                old: old.toString(),
                witnessSize: reported.toString(),
                size: size.toString(),
              },
            );
          }
          old = reported;
          continue;
        }
        case 'rejected':
          throw this.#fail(w, 'rejected', `the witness answered ${res.status}`, {
            status: res.status,
            reason: res.reason.slice(0, 200),
          });
      }
    }
  }

  /** RFC 6962 §2.1.2 proof from `old`; c2sp.org/tlog-witness: empty for old size 0. */
  async #proof(w: WitnessEntry, old: bigint, size: bigint): Promise<Uint8Array[]> {
    if (old === 0n || old === size) return [];
    try {
      return await storedConsistencyProof(this.#o.storage, old, size);
    } catch (cause) {
      throw this.#fail(
        w,
        'proof-unavailable',
        'cannot build the consistency proof',
        {
          old: old.toString(),
          size: size.toString(),
        },
        cause,
      );
    }
  }

  /**
   * Keeps only this witness's own cosignature lines, and only if they verify
   * over the checkpoint (c2sp.org/tlog-witness: the client ignores unknown
   * keys; c2sp.org/tlog-cosignature). One line per key is enough.
   */
  #verifiedLines(w: WitnessEntry, signedNote: string, lines: readonly string[]): string[] {
    const own = lines.filter((line) => isLineOf(line, w.verifier));
    if (own.length === 0) {
      throw this.#fail(w, 'invalid-cosignature', 'no cosignature from the policy key', {
        lines: lines.length,
      });
    }
    try {
      const opened = openNote(signedNote + own.join(''), [this.#log, w.verifier]);
      if (collectCosignatures(opened, [w.verifier]).accepted.length === 0) {
        throw new LogError('WITNESS_FAILED', 'no accepted cosignature');
      }
    } catch (cause) {
      throw this.#fail(w, 'invalid-cosignature', 'the cosignature does not verify', {}, cause);
    }
    return own.slice(0, 1);
  }

  #record(w: WitnessEntry, size: bigint): void {
    this.#cosigned.set(w.name, size);
    this.#o.metrics?.witnessCosignedSize.set({ witness: w.name }, Number(size));
  }

  #fail(
    w: WitnessEntry,
    reason: WitnessFailure,
    message: string,
    evidence: Record<string, unknown>,
    cause?: unknown,
  ): LogError {
    this.#lastError.set(w.name, { reason, message });
    this.#o.metrics?.witnessFailures.inc({ witness: w.name, reason });
    return new LogError('WITNESS_FAILED', `${w.name}: ${message}`, {
      ...(cause === undefined ? {} : { cause }),
      evidence: { witness: w.name, url: w.url, reason, ...evidence },
    });
  }
}

type WitnessEntry = PolicyWitness & { url: string };

/** Whether a `— name base64` line carries `verifier`'s key name and key ID. c2sp.org/signed-note */
function isLineOf(line: string, verifier: NoteVerifier): boolean {
  if (!line.startsWith(EM_DASH_SPACE) || !line.endsWith('\n')) return false;
  const rest = line.slice(EM_DASH_SPACE.length, -1);
  const space = rest.lastIndexOf(' ');
  if (space <= 0 || rest.slice(0, space) !== verifier.name) return false;
  const sig = decodeBase64Strict(rest.slice(space + 1));
  if (sig === undefined || sig.length < 4) return false;
  const keyId = new DataView(sig.buffer, sig.byteOffset, 4).getUint32(0);
  return keyId === verifier.keyId;
}
