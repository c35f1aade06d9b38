/**
 * What the halves of `start` share. `start` brings Glasshouse up in halves,
 * each a module of this folder: the release half (release-half.ts: the
 * witness, the release log, the assembly line, the update repository, the
 * demo release, the trust bundle and the supervisor's monitors) and, after
 * it, the data half (data-half.ts). Every half gets a StartContext and
 * returns a HalfReport; commands/start.ts runs them in order and prints the
 * summary (summary.ts) with each half's report.
 */
import type { Io } from '../io.js';
import type { Closers } from './lifecycle.js';
import type { StartPaths } from './paths.js';

/** The command line of `start` (each half reads its own addresses). */
export interface StartOptions {
  readonly data: string;
  readonly listen: string;
  readonly witnessListen: string;
  readonly assemblyListen: string;
  readonly repoListen: string;
  /** The data half's addresses. */
  readonly residencyLogListen: string;
  readonly routerListen: string;
  readonly siteListen: string;
  readonly secondSiteListen: string;
  /** The access half's addresses. */
  readonly accessLogListen: string;
  readonly accessIndexListen: string;
  readonly accessIndexLogListen: string;
  readonly gatewayListen: string;
  readonly keyReleaseListen: string;
  /** The Transparency Center's address. */
  readonly portalListen: string;
  readonly origin: string;
  readonly witnessName: string;
}

/** What every half of the bring-up gets. */
export interface StartContext {
  readonly opts: StartOptions;
  readonly paths: StartPaths;
  /** Each server or timer a half starts is added here as it starts; all close on the way out. */
  readonly closers: Closers;
  /** Throws StartInterrupted once a stop was asked for: call it between long steps. */
  readonly checkStop: () => void;
  /** One line of progress on stderr. */
  readonly say: (line: string) => void;
  readonly io: Io;
}

/** What a half adds to the summary `start` prints once everything is up. */
export interface HalfReport {
  /** Its section of the summary, printed after the release half's and before "Try it:". */
  readonly lines: readonly string[];
  /** Its commands under "Try it:", printed after the release half's. */
  readonly tryIt: readonly string[];
  /** Its fields of the `ready <json>` line (names not used by another half). */
  readonly ready: Readonly<Record<string, unknown>>;
}
