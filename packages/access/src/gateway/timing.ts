/**
 * Where one access's time went, for the `Server-Timing` header of the
 * gateway's answer (W3C Server Timing: `name;dur=<milliseconds>`, comma
 * separated). Phases may overlap: the site read and the key release's
 * prepare run during the witness wait.
 */

/** The phases an access is timed in, in the order the header lists them. */
export const ACCESS_PHASES = [
  'policy', // the ask checked against the access policy and its approvals
  'store', // the record stored with its counter (durable)
  'read', // the site's sealed batches read and parsed
  'log', // the record appended until its witnessed checkpoint's receipt came back
  'prepare', // the key release's prepare (checks, audit row, keys opened), during the wait
  'release', // the receipt sent to the key release until the keys came back
  'open', // personal fields decrypted
  'total', // the ask taken until the answer was ready
] as const;

export type AccessPhase = (typeof ACCESS_PHASES)[number];

/** Milliseconds per phase; a phase the access did not reach is absent. */
export type AccessTiming = Readonly<Partial<Record<AccessPhase, number>>>;

export class PhaseClock {
  readonly #origin = performance.now();
  readonly #started = new Map<AccessPhase, number>();
  readonly #took: Partial<Record<AccessPhase, number>> = {};

  start(phase: AccessPhase): void {
    this.#started.set(phase, performance.now());
  }

  end(phase: AccessPhase): void {
    const t = this.#started.get(phase);
    if (t !== undefined) this.#took[phase] = performance.now() - t;
  }

  /** Times `promise` as `phase` (from now until it settles); answers it unchanged. */
  around<T>(phase: AccessPhase, promise: Promise<T>): Promise<T> {
    this.start(phase);
    void promise.then(
      () => {
        this.end(phase);
      },
      () => undefined,
    );
    return promise;
  }

  done(): AccessTiming {
    return { ...this.#took, total: performance.now() - this.#origin };
  }
}

/** The `Server-Timing` field value: `policy;dur=0.12, store;dur=0.80, …`. */
export function serverTiming(timing: AccessTiming): string {
  return ACCESS_PHASES.flatMap((p) => {
    const ms = timing[p];
    return ms === undefined ? [] : [`${p};dur=${ms.toFixed(2)}`];
  }).join(', ');
}

/** Reads a `Server-Timing` value back (the benchmark's side); unknown names are skipped. */
export function parseServerTiming(value: string | null): AccessTiming {
  const out: Partial<Record<AccessPhase, number>> = {};
  for (const metric of (value ?? '').split(',')) {
    const [name, ...params] = metric.trim().split(';');
    const dur = params.map((p) => p.trim()).find((p) => p.startsWith('dur='));
    const ms = dur === undefined ? Number.NaN : Number(dur.slice(4));
    if ((ACCESS_PHASES as readonly string[]).includes(name ?? '') && Number.isFinite(ms)) {
      out[name as AccessPhase] = ms;
    }
  }
  return out;
}
