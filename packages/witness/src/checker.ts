import { WitnessError } from './errors.js';

/** One log entry as the monitor hands it to a checker. */
export interface MonitorEntry {
  readonly index: bigint;
  readonly data: Uint8Array;
}

/**
 * The application-specific part of monitoring: what a valid entry of this
 * log looks like. The monitor calls `check` once for every new entry, in
 * index order, after the entry's bundle was fetched and before the tree is
 * accepted. To reject, throw (preferably a `CodedError` whose code names
 * what is wrong); the monitor raises an `entry-rejected` alert carrying the
 * entry and does not advance its state.
 */
export interface EntryChecker {
  check(entry: MonitorEntry): Promise<void> | void;
}

export interface BasicEntryCheckerOptions {
  /** Largest entry accepted, in bytes. Default 65,535 (what a bundle can hold). */
  readonly maxBytes?: number;
  /** Require entries to be UTF-8 text. Default false. */
  readonly utf8?: boolean;
}

/** A generic checker: a size limit and, optionally, UTF-8 text. */
export function basicEntryChecker(opts: BasicEntryCheckerOptions = {}): EntryChecker {
  const maxBytes = opts.maxBytes ?? 65_535;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  return {
    check({ index, data }) {
      if (data.length > maxBytes) {
        throw new WitnessError('ENTRY_REJECTED', `entry ${index} is over ${maxBytes} bytes`, {
          evidence: { index: index.toString(), length: data.length, maxBytes },
        });
      }
      if (opts.utf8 === true) {
        try {
          decoder.decode(data);
        } catch (cause) {
          throw new WitnessError('ENTRY_REJECTED', `entry ${index} is not UTF-8`, {
            cause,
            evidence: { index: index.toString() },
          });
        }
      }
    },
  };
}
