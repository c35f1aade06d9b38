/**
 * The monitor: tails a tiled log from its last verified state and checks
 * everything a third party can check.
 *
 * One run, in order (each step fails closed: an alert, and the previous
 * verified state stays):
 *
 *  1. fetch `/checkpoint`; verify the log's signature (c2sp.org/signed-note,
 *     tlog-checkpoint) and, with a policy, the witness quorum
 *     (c2sp.org/tlog-policy)                         → checkpoint-signature, quorum
 *  2. compare with the previous verified checkpoint: smaller → rollback;
 *     same size, other root → split-view; larger → consistency proof built
 *     from tiles (RFC 9162 §2.1.4)                    → rollback, split-view,
 *                                                       inconsistent-checkpoint
 *  3. fetch every new entry bundle and its level-0 tile, bundle by bundle;
 *     recompute leaf hashes (RFC 9162 §2.1.1) and require the tile to hold
 *     them; entries already verified must be unchanged; every hash tile above
 *     is compared with the subtree hashes recomputed from the entries
 *                                                     → tiles-mismatch
 *  4. hand each new entry to the entry checker        → entry-rejected
 *  5. require the recomputed root to equal the checkpoint's root
 *                                                     → root-mismatch
 *  6. publish the staged tiles and the checkpoint in the mirror
 *                                                     → mirror-conflict
 *  7. only then persist the new state.
 *
 * Transient fetch failures: the fetcher retries network errors, timeouts,
 * 5xx and 429 with backoff inside a run. If the log is still unreadable,
 * `runOnce` reports a `fetch-failed` alert (a one-shot check that could not
 * check must not pass). `run` tolerates an outage for `fetchFailureGraceMs`
 * (default 5 minutes), retrying at every interval, and raises one
 * `fetch-failed` alert when it lasts longer: a log that stays unreadable to
 * its monitors can hide what it serves to others.
 *
 * Each piece of evidence is sent to the alert sink once: the keys of sent
 * alerts are kept in the state store, so neither the next run nor a
 * restarted monitor sends it again (`runOnce` still reports it in its
 * result: the log is still bad).
 *
 * The checks of a checkpoint are in `monitor-checks.ts`, the tree
 * recomputation in `monitor-recompute.ts`.
 */
import {
  type NoteVerifierKey,
  type Policy,
  emptyRoot,
  parsePolicy,
  parseVerifierKey,
} from '@glasshouse/tlog';
import type { Alert, AlertSink } from './alerts.js';
import type { EntryChecker } from './checker.js';
import { WitnessError } from './errors.js';
import type { MirrorStore } from './mirror.js';
import { AlertFactory, AlertRaised, alertKey } from './monitor-alerts.js';
import {
  type CheckpointTrust,
  checkConsistency,
  isSameAsVerified,
  verifyNote,
} from './monitor-checks.js';
import { type RecomputeContext, recomputeTree } from './monitor-recompute.js';
import type { MonitorStateStore } from './monitor-state.js';
import { TilesFetcher } from './tiles-fetch.js';

export interface MonitorOptions {
  /** The log's tlog-tiles prefix. */
  readonly url: string;
  /** The log's verifier key (its name is the origin). Required unless a policy lists the log. */
  readonly logVerifier?: string | NoteVerifierKey;
  /** A c2sp.org/tlog-policy: checkpoints must also meet its witness quorum. */
  readonly policy?: string | Policy;
  readonly state: MonitorStateStore;
  readonly mirror?: MirrorStore;
  readonly checker?: EntryChecker;
  readonly alerts: AlertSink;
  /** Replaces the tiles fetcher's built-in node:http(s) transport; it must decode gzip. */
  readonly fetch?: typeof fetch;
  /** Fetcher tuning: per-attempt timeout and retries. */
  readonly timeoutMs?: number;
  readonly retries?: number;
  readonly backoffMs?: number;
  /** Bundles fetched ahead of the one being verified. Default 6. */
  readonly prefetch?: number;
  /** Clock for alert times and cosignature timestamps. */
  readonly now?: () => Date;
  /** Seconds a cosignature may lie in the future. Default 60. */
  readonly maxFutureSkewSeconds?: number;
  /** Content alerts (tile mismatches, rejected entries) reported per run before summarising. Default 20. */
  readonly maxAlertsPerRun?: number;
  /** `run`: time between runs. Default 30 s. */
  readonly intervalMs?: number;
  /** `run`: how long the log may stay unreadable before `fetch-failed` is raised. Default 5 min. */
  readonly fetchFailureGraceMs?: number;
  readonly onProgress?: (event: MonitorProgress) => void;
}

export type MonitorProgress =
  | { readonly phase: 'checkpoint'; readonly oldSize: bigint; readonly newSize: bigint }
  | {
      readonly phase: 'entries';
      readonly size: bigint;
      readonly newSize: bigint;
      readonly entriesPerSecond: number;
    }
  | {
      readonly phase: 'done';
      readonly outcome: RunOutcome;
      readonly size: bigint;
      readonly entries: bigint;
      readonly ms: number;
    }
  /** `run`: the log could not be read; it is tried again at the next interval. */
  | { readonly phase: 'fetch-retry'; readonly message: string };

export type RunOutcome = 'up-to-date' | 'advanced' | 'alert';

export interface RunResult {
  readonly outcome: RunOutcome;
  /** Verified size before and after the run. */
  readonly oldSize: bigint;
  readonly size: bigint;
  /** Entries verified in this run. */
  readonly entries: bigint;
  readonly alerts: readonly Alert[];
}

export interface Monitor {
  /** One check; alerts go to the sink, and are also returned. */
  runOnce(signal?: AbortSignal): Promise<RunResult>;
  /** Checks every `intervalMs` until `signal` aborts. */
  run(signal: AbortSignal): Promise<void>;
}

export function createMonitor(opts: MonitorOptions): Monitor {
  return new LogMonitor(opts);
}

class LogMonitor implements Monitor {
  readonly #opts: MonitorOptions;
  readonly #state: MonitorStateStore;
  readonly #fetcher: TilesFetcher;
  readonly #alerts: AlertFactory;
  readonly #trust: CheckpointTrust;
  readonly #recompute: RecomputeContext;
  readonly #progress: (event: MonitorProgress) => void;

  constructor(opts: MonitorOptions) {
    const verifier =
      typeof opts.logVerifier === 'string' ? parseVerifierKey(opts.logVerifier) : opts.logVerifier;
    const policy = typeof opts.policy === 'string' ? parsePolicy(opts.policy) : opts.policy;
    if (verifier === undefined && (policy === undefined || policy.logs.length === 0)) {
      throw new WitnessError(
        'MONITOR_CONFIG_INVALID',
        "a monitor needs the log's verifier key or a policy listing the log",
      );
    }
    this.#opts = opts;
    this.#state = opts.state;
    this.#fetcher = new TilesFetcher({
      url: opts.url,
      ...(opts.fetch === undefined ? {} : { fetch: opts.fetch }),
      ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
      ...(opts.retries === undefined ? {} : { retries: opts.retries }),
      ...(opts.backoffMs === undefined ? {} : { backoffMs: opts.backoffMs }),
    });
    this.#alerts = new AlertFactory(this.#fetcher.url, opts.now ?? ((): Date => new Date()));
    // The vkey counts as a policy log unless the policy already lists it.
    const listed =
      verifier !== undefined &&
      (policy?.logs.some(
        (l) => l.verifier.name === verifier.name && l.verifier.keyId === verifier.keyId,
      ) ??
        false);
    this.#trust = {
      verifier,
      policy,
      extraLogs: verifier === undefined || listed ? [] : [verifier],
      maxFutureSkewSeconds: opts.maxFutureSkewSeconds ?? 60,
    };
    const progress = opts.onProgress ?? ((): void => undefined);
    this.#progress = progress;
    this.#recompute = {
      fetcher: this.#fetcher,
      alerts: this.#alerts,
      mirror: opts.mirror,
      checker: opts.checker,
      maxAlerts: opts.maxAlertsPerRun ?? 20,
      prefetch: Math.max(1, opts.prefetch ?? 6),
      onProgress: (e) => {
        progress({ phase: 'entries', ...e });
      },
    };
  }

  async runOnce(signal?: AbortSignal): Promise<RunResult> {
    const began = Date.now();
    const { result } = await this.#attempt(signal);
    // A check that could not check must not pass: an outage is reported every time.
    await this.#send(result.alerts, { outages: true });
    this.#done(result, began);
    return result;
  }

  async run(signal: AbortSignal): Promise<void> {
    const interval = this.#opts.intervalMs ?? 30_000;
    const grace = this.#opts.fetchFailureGraceMs ?? 5 * 60_000;
    let failingSince: number | undefined;
    let outageReported = false;
    // A function, so the checks after each await read the signal afresh.
    const stopped = (): boolean => signal.aborted;
    while (!stopped()) {
      const began = Date.now();
      let outcome: { result: RunResult; fatal: Alert | undefined };
      try {
        outcome = await this.#attempt(signal);
      } catch (err) {
        if (stopped()) break;
        throw err;
      }
      if (stopped()) break;
      const { result, fatal } = outcome;
      if (fatal?.kind === 'fetch-failed') {
        failingSince ??= Date.now();
        if (!outageReported && Date.now() - failingSince >= grace) {
          outageReported = true;
          await this.#opts.alerts.send(fatal);
        } else {
          this.#progress({ phase: 'fetch-retry', message: fatal.message });
        }
      } else {
        failingSince = undefined;
        outageReported = false;
      }
      // Outages are reported above, once they outlast the grace period.
      await this.#send(result.alerts, { outages: false });
      this.#done(result, began);
      await sleep(interval, signal);
    }
  }

  /**
   * Sends, in order, the alerts whose evidence was never sent before, and
   * remembers them durably; `fetch-failed` alerts (not evidence) are sent
   * every time or never, as `outages` says.
   */
  async #send(alerts: readonly Alert[], { outages }: { outages: boolean }): Promise<void> {
    if (alerts.length === 0) return;
    const sent = new Set(await this.#state.alertedKeys());
    const fresh: string[] = [];
    for (const a of alerts) {
      if (a.kind === 'fetch-failed') {
        if (outages) await this.#opts.alerts.send(a);
        continue;
      }
      const key = alertKey(a);
      if (sent.has(key)) continue;
      sent.add(key);
      fresh.push(key);
      await this.#opts.alerts.send(a);
    }
    if (fresh.length > 0) await this.#state.addAlertedKeys(fresh);
  }

  #done(result: RunResult, began: number): void {
    this.#progress({
      phase: 'done',
      outcome: result.outcome,
      size: result.size,
      entries: result.entries,
      ms: Date.now() - began,
    });
  }

  /** Runs `#check`; returns its result and every alert it raised (none sent yet). */
  async #attempt(
    signal: AbortSignal | undefined,
  ): Promise<{ result: RunResult; fatal: Alert | undefined }> {
    const raised: Alert[] = [];
    try {
      return { result: await this.#check(signal, raised), fatal: undefined };
    } catch (err) {
      await this.#opts.mirror?.discard();
      if (!(err instanceof AlertRaised)) throw err;
      raised.push(err.alert);
      const prev = await this.#state.load();
      const size = prev?.size ?? 0n;
      return {
        result: { outcome: 'alert', oldSize: size, size, entries: 0n, alerts: raised },
        fatal: err.alert,
      };
    }
  }

  /** One run; content alerts are collected in `raised`, a fatal one is thrown as AlertRaised. */
  async #check(signal: AbortSignal | undefined, raised: Alert[]): Promise<RunResult> {
    const prev = await this.#state.load();
    const oldSize = prev?.size ?? 0n;
    const origin = prev?.origin;
    const result = (outcome: RunOutcome, size: bigint, entries = 0n): RunResult => ({
      outcome,
      oldSize,
      size,
      entries,
      alerts: raised,
    });

    let note: Uint8Array;
    try {
      note = await this.#fetcher.checkpoint(signal);
    } catch (err) {
      throw this.#alerts.fetchFailed(err, 'checkpoint', origin);
    }
    const cp = verifyNote(note, origin, this.#trust, this.#alerts);
    const noteText = new TextDecoder().decode(note);
    if (prev !== null && cp.origin !== prev.origin) {
      throw new WitnessError(
        'MONITOR_STATE_MISMATCH',
        'the state directory belongs to another log',
        {
          evidence: { stateOrigin: prev.origin, origin: cp.origin },
        },
      );
    }
    this.#progress({ phase: 'checkpoint', oldSize, newSize: cp.size });

    // Step 2: against the previous verified checkpoint.
    if (prev !== null) {
      if (isSameAsVerified(prev, cp, noteText, this.#alerts))
        return result('up-to-date', prev.size);
      if (prev.size > 0n) {
        await checkConsistency(prev, cp, noteText, this.#fetcher, this.#alerts, signal);
      }
    }

    const start = prev ?? {
      origin: cp.origin,
      checkpoint: '',
      size: 0n,
      root: emptyRoot(),
      compact: [],
      edge: [],
    };
    const state = await recomputeTree(this.#recompute, start, cp, noteText, signal, raised);
    const mirror = this.#opts.mirror;
    if (raised.length > 0) {
      await mirror?.discard();
      return result('alert', oldSize);
    }

    // Step 6, then 7: the mirror first, so the state never claims more than the mirror holds.
    if (mirror !== undefined) {
      try {
        await mirror.commit(noteText);
      } catch (err) {
        if (!(err instanceof WitnessError && err.code === 'MIRROR_CONFLICT')) throw err;
        throw new AlertRaised(
          this.#alerts.make(
            'mirror-conflict',
            'verified tiles differ from the mirrored ones',
            { checkpoint: noteText, ...err.evidence },
            { origin: cp.origin, code: 'MIRROR_CONFLICT' },
          ),
        );
      }
    }
    await this.#state.save(state);
    return result(
      prev !== null && cp.size === oldSize ? 'up-to-date' : 'advanced',
      cp.size,
      cp.size - (prev?.size ?? 0n),
    );
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
