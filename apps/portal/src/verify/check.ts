/**
 * What every verification step of the portal produces: a check with its
 * verdict and the explanation a reviewer opens (what was checked, against
 * which key, with which proof). A failed check carries the reason: the
 * error code of the project package that refused, and its message.
 */
export type Verdict = 'pass' | 'fail' | 'note';

export interface Check {
  /** Stable within its card (tests and aria labels use it). */
  readonly id: string;
  readonly title: string;
  readonly verdict: Verdict;
  /** One line: what holds, or why not. */
  readonly summary: string;
  /** What was checked, as a reviewer would say it. */
  readonly what: string;
  /** The key(s) it was checked against. */
  readonly against?: string;
  /** The proof or evidence that was used (hashes, sizes, tile paths). */
  readonly proof?: readonly string[];
}

/** The reason of a refusal: `CODE: message` for a coded error, the message otherwise. */
export function reasonOf(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

/** Runs one step; a throw becomes a failed check with its reason instead of a crash. */
export async function step<T>(
  base: Omit<Check, 'verdict' | 'summary'>,
  run: () => Promise<{ value: T; summary: string; proof?: readonly string[]; against?: string }>,
): Promise<{ check: Check; value: T | undefined }> {
  try {
    const { value, summary, proof, against } = await run();
    return {
      check: {
        ...base,
        verdict: 'pass',
        summary,
        ...(proof === undefined ? {} : { proof }),
        ...(against === undefined ? {} : { against }),
      },
      value,
    };
  } catch (err) {
    return { check: { ...base, verdict: 'fail', summary: reasonOf(err) }, value: undefined };
  }
}

/** A check that could not run because an earlier one failed. */
export function skipped(base: Omit<Check, 'verdict' | 'summary'>, because: string): Check {
  return { ...base, verdict: 'fail', summary: `not checked: ${because}` };
}
