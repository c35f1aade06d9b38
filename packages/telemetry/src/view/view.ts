/**
 * The verified residency view: the residency log, tailed through its
 * tlog-tiles API (`VerifiedTail`: log signature, witness quorum of its
 * c2sp.org/tlog-policy, consistency with the last verified checkpoint), and
 * every entry folded into a `ResidencyState`. What the view holds is covered
 * by a witnessed checkpoint; nothing else is in it, so nothing acts on a
 * policy or an enrollment before the witnesses have seen it.
 *
 * The verified checkpoint and the entries are persisted together
 * (`TailStore`); a restarted view replays them and goes on from there, so
 * the log must stay consistent with what was verified across restarts too.
 *
 * An entry the fold refuses (a policy with one signature, a broken chain,
 * an enrollment without the vendor's signature) is skipped and kept in
 * `refused`; a refused policy entry after the latest good one makes the
 * policy unverifiable (`currentPolicy` throws `POLICY_UNVERIFIABLE`) until a
 * later version verifies: the router does not go on routing under an older
 * version once the log says the policy changed.
 */
import {
  type LoggedEnrollment,
  type LoggedPolicy,
  type PolicyKeys,
  ResidencyError,
  type ResidencyPolicy,
  ResidencyState,
} from '@glasshouse/residency';
import { CodedError } from '@glasshouse/errors';
import type { Policy } from '@glasshouse/tlog';
import { TelemetryError } from '../errors.js';
import { type TailEntry, type TailState, VerifiedTail } from './tail.js';
import { TailStore } from './tail-store.js';

export interface ResidencyViewOptions {
  /** The residency log's tlog-tiles prefix. */
  readonly url: string;
  /** The residency log's c2sp.org/tlog-policy (log key and URL, witnesses, quorum). */
  readonly logPolicy: string | Policy;
  /** The vendor's and the supervisor's residency public keys (raw Ed25519). */
  readonly keys: PolicyKeys;
  /** The view's data directory (`view.db`). */
  readonly dir: string;
  /** `start()`: time between refreshes. Default 1 s. */
  readonly intervalMs?: number;
  readonly now?: () => Date;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
  readonly retries?: number;
}

/** An entry the fold refused, with its code. */
export interface RefusedEntry {
  readonly index: bigint;
  readonly kind: 'policy' | 'enrollment' | 'unknown';
  readonly code: string;
  readonly message: string;
}

export interface ViewRefresh {
  readonly size: bigint;
  readonly applied: number;
  readonly refused: readonly RefusedEntry[];
}

export const VIEW_DB_FILE = 'view.db';
const LOG = 'residency';

/**
 * The verified residency view. It is the data site's `ResidencyLookup`
 * (`current()`), and answers the router's and the monitor's questions.
 */
export class ResidencyView {
  readonly #tail: VerifiedTail;
  readonly #store: TailStore;
  readonly #intervalMs: number;
  #state: ResidencyState;
  #tailState: TailState | null;
  readonly #refused: RefusedEntry[] = [];
  readonly #policies: LoggedPolicy[] = [];
  #refreshing: Promise<ViewRefresh> | undefined;
  #lastError: CodedError | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(opts: ResidencyViewOptions, store: TailStore) {
    this.#tail = new VerifiedTail({
      url: opts.url,
      policy: opts.logPolicy,
      ...(opts.now === undefined ? {} : { now: opts.now }),
      ...(opts.fetch === undefined ? {} : { fetch: opts.fetch }),
      ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
      ...(opts.retries === undefined ? {} : { retries: opts.retries }),
    });
    this.#store = store;
    this.#intervalMs = opts.intervalMs ?? 1_000;
    this.#state = ResidencyState.empty(opts.keys);
    this.#tailState = store.state(LOG);
    // Replays what was verified before: the entries were stored with the state.
    this.#fold(store.entries(LOG));
  }

  /** Opens the view on its data directory; call `refresh()` or `start()` to read the log. */
  static open(opts: ResidencyViewOptions): ResidencyView {
    const store = TailStore.open(opts.dir, VIEW_DB_FILE);
    try {
      return new ResidencyView(opts, store);
    } catch (err) {
      store.close();
      throw err;
    }
  }

  get state(): ResidencyState {
    return this.#state;
  }

  /** The verified fold of the residency log (the site's `ResidencyLookup`). */
  current(): ResidencyState {
    return this.#state;
  }

  /** The last verified (witnessed) checkpoint, or null before the first. */
  get checkpoint(): string | null {
    return this.#tailState?.checkpoint ?? null;
  }

  /** Entries covered by the last verified checkpoint. */
  get size(): bigint {
    return this.#tailState?.size ?? 0n;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Why the last refresh failed (the view kept its previous state), if it did. */
  get lastError(): CodedError | undefined {
    return this.#lastError;
  }

  get refused(): readonly RefusedEntry[] {
    return this.#refused;
  }

  /** The latest logged policy; throws `POLICY_NOT_LOGGED` or `POLICY_UNVERIFIABLE`. */
  currentPolicy(): LoggedPolicy {
    const policy = this.#state.policy;
    const lastRefused = this.#refused.findLast((r) => r.kind !== 'enrollment');
    if (lastRefused !== undefined && (policy === null || lastRefused.index > policy.index)) {
      throw new TelemetryError(
        'POLICY_UNVERIFIABLE',
        `the latest policy entry (index ${lastRefused.index}) does not verify: ${lastRefused.code}`,
        {
          evidence: {
            index: lastRefused.index.toString(),
            code: lastRefused.code,
            checkpoint: this.checkpoint,
          },
        },
      );
    }
    if (policy === null) {
      throw new TelemetryError(
        'POLICY_NOT_LOGGED',
        'no residency policy is covered by a witnessed checkpoint of the residency log',
        {
          evidence: {
            size: this.size.toString(),
            checkpoint: this.checkpoint,
            lastError: this.#lastError?.code ?? null,
          },
        },
      );
    }
    return policy;
  }

  /** Every logged, verified policy version, oldest first. */
  policies(): readonly LoggedPolicy[] {
    return this.#policies;
  }

  /** The residency log's origin (its key name in the pinned tlog-policy). */
  get origin(): string {
    return this.#tail.origin;
  }

  /** A verified entry of the residency log, as stored. */
  entry(index: bigint): Uint8Array | undefined {
    return this.#store.entry(LOG, index);
  }

  policyByDigest(digest: string): ResidencyPolicy | undefined {
    return this.#state.policyByDigest(digest);
  }

  enrollment(customer: string): LoggedEnrollment | undefined {
    return this.#state.enrollment(customer);
  }

  /** One verified step of the residency log; concurrent calls share it. */
  refresh(signal?: AbortSignal): Promise<ViewRefresh> {
    this.#refreshing ??= this.#refresh(signal).finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  /**
   * Refreshes until the view covers `size` entries (e.g. an enrollment just
   * appended at index size - 1). Throws the last refresh error, or
   * `VIEW_TIMEOUT`, when it does not within `timeoutMs`.
   */
  async waitForSize(size: bigint, timeoutMs = 30_000, pollMs = 50): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.size >= size) return;
      try {
        await this.refresh();
        if (this.size >= size) return;
      } catch (err) {
        if (!(err instanceof CodedError)) throw err;
      }
      if (Date.now() >= deadline) {
        throw new TelemetryError(
          'VIEW_TIMEOUT',
          `the residency view did not reach size ${size} under a witnessed checkpoint within ${timeoutMs} ms`,
          {
            cause: this.#lastError,
            evidence: {
              want: size.toString(),
              size: this.size.toString(),
              lastError: this.#lastError?.code ?? null,
            },
          },
        );
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  /** Refreshes every `intervalMs` until `close()`; failures are kept in `lastError`. */
  start(): void {
    if (this.#timer !== undefined || this.#closed) return;
    const tick = (): void => {
      this.refresh().then(
        () => undefined,
        () => undefined, // kept in lastError; the previous verified state stays
      );
      this.#timer = setTimeout(tick, this.#intervalMs);
      this.#timer.unref();
    };
    tick();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#refreshing?.catch(() => undefined);
    this.#tail.close();
    this.#store.close();
  }

  async #refresh(signal: AbortSignal | undefined): Promise<ViewRefresh> {
    if (this.#closed) throw new TelemetryError('CLOSED', 'the residency view is closed');
    let update;
    try {
      update = await this.#tail.step(this.#tailState, signal);
    } catch (err) {
      if (err instanceof CodedError) this.#lastError = err;
      throw err;
    }
    // Closed while the step ran: nothing is stored any more.
    if (this.closed) throw new TelemetryError('CLOSED', 'the residency view is closed');
    const before = this.#refused.length;
    if (update.entries.length > 0 || update.next !== update.previous) {
      // Stored before it is applied: a crash between the two replays it on open.
      this.#store.commit(LOG, { state: update.next, entries: update.entries });
    }
    const applied = this.#fold(update.entries);
    this.#tailState = update.next;
    this.#lastError = undefined;
    return { size: update.next.size, applied, refused: this.#refused.slice(before) };
  }

  /** Applies entries in order; a refused one is skipped and remembered. */
  #fold(entries: readonly TailEntry[]): number {
    let applied = 0;
    for (const e of entries) {
      try {
        const a = this.#state.apply(e.index, e.data);
        if (a.kind === 'policy') {
          this.#policies.push({ policy: a.policy, digest: a.digest, index: a.index });
        }
        applied++;
      } catch (err) {
        if (!(err instanceof ResidencyError)) throw err;
        this.#refused.push({
          index: e.index,
          kind: entryKind(e.data),
          code: err.code,
          message: err.message,
        });
      }
    }
    return applied;
  }
}

/** The `kind` an entry claims, read leniently (only to classify a refused entry). */
export function entryKind(data: Uint8Array): RefusedEntry['kind'] {
  try {
    const kind = (JSON.parse(new TextDecoder().decode(data)) as { kind?: unknown }).kind;
    return kind === 'policy' || kind === 'enrollment' ? kind : 'unknown';
  } catch {
    return 'unknown';
  }
}
