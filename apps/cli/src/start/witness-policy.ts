/**
 * The c2sp.org/tlog-policy files `start` writes: one log and the local
 * witness, quorum that witness. Written for the release log by the release
 * half; any other log that the same witness cosigns gets its own file the
 * same way.
 */
import { writeIfChanged } from './files.js';

/** The policy's name for the local witness (a tlog-policy name, not a key name). */
export const POLICY_WITNESS_NAME = 'local-witness';

/** The supervisor's witness as policies name it. */
export interface LocalWitness {
  readonly url: string;
  readonly verifierKey: string;
  /** Its data directory (where trustLogInWitness adds a log it cosigns). */
  readonly dir: string;
}

export interface PolicyLog {
  /** What the header comment calls it, e.g. "the release log". */
  readonly title: string;
  readonly verifierKey: string;
  /** Absent until the log listens. */
  readonly url?: string;
}

/** c2sp.org/tlog-policy: "log <vkey> [<url>]", "witness <name> <vkey> <url>", "quorum <name>". */
export function formatWitnessPolicy(log: PolicyLog, witness: LocalWitness): string {
  return [
    `# c2sp.org/tlog-policy of ${log.title}, written by \`glasshouse start\` (rewritten on each start).`,
    log.url === undefined ? `log ${log.verifierKey}` : `log ${log.verifierKey} ${log.url}`,
    `witness ${POLICY_WITNESS_NAME} ${witness.verifierKey} ${witness.url}`,
    `quorum ${POLICY_WITNESS_NAME}`,
    '',
  ].join('\n');
}

/** Writes the policy of `log` to `path` (rewritten on every start: URLs follow the --*-listen options); returns it. */
export async function writeWitnessPolicy(
  path: string,
  log: PolicyLog,
  witness: LocalWitness,
): Promise<string> {
  const policy = formatWitnessPolicy(log, witness);
  await writeIfChanged(path, policy);
  return policy;
}
