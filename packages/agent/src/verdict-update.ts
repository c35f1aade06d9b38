/**
 * Vendor verdict lists, fetched the way an endpoint fetches rules: the
 * newest release of NAME from the repository, accepted only after every
 * check rules get (`verifyNewestRelease`: TUF with both the vendor's and
 * the supervisor's signature, the release-log receipt under the witness
 * policy and its consistency with the last checkpoint seen, the VSA and the
 * provenance naming the pinned builder and SOURCE). The list is then parsed
 * strictly for that name and version and kept in DIR/verdicts/. A data site
 * runs this (from an agent directory initialised with the trust bundle) and
 * imports the list into its reputation facts; nothing here imports it.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  MAX_VERDICT_LIST_BYTES,
  parseVerdictList,
  verdictListName,
  type VerdictList,
} from '@glasshouse/release-format';
import { hasCode } from '@glasshouse/errors';
import { loadAgent } from './config.js';
import { AgentError } from './errors.js';
import { readFileIfPresent, writeFileAtomic } from './files.js';
import { readState, writeState, type ReleaseRef } from './state.js';
import { verifyNewestRelease, type StateChanges, type UpdateOptions } from './update.js';

export type VerdictUpdateOptions = Pick<UpdateOptions, 'dir' | 'fetch' | 'onProgress'> & {
  /** The verdicts release followed: targets `<name>/<version>/…`. */
  readonly name: string;
  /** The source repository its provenance and VSA must name. */
  readonly source: string;
};

export type VerdictUpdateOutcome =
  | { readonly status: 'fetched'; readonly release: ReleaseRef; readonly list: VerdictList }
  | { readonly status: 'up-to-date'; readonly version: string };

const CURRENT_FILE = 'current.json';

function verdictsDir(dir: string, name: string): string {
  return join(dir, 'verdicts', name);
}

function damaged(at: string, cause: unknown): AgentError {
  return new AgentError('AGENT_CONFIG_INVALID', `${at} holds a damaged verdict list`, { cause });
}

/** The release of NAME this directory holds (its `current.json`), read without the list. */
async function currentRelease(dir: string, name: string): Promise<ReleaseRef | undefined> {
  const at = verdictsDir(dir, name);
  try {
    const bytes = await readFileIfPresent(join(at, CURRENT_FILE), 4096);
    if (bytes === undefined) return undefined;
    const release = JSON.parse(bytes.toString('utf8')) as ReleaseRef;
    if (
      release.name !== name ||
      typeof release.version !== 'string' ||
      release.version.includes('/')
    ) {
      throw new Error(`${CURRENT_FILE} names another release`);
    }
    await stat(join(at, verdictListName(release))); // the list it points to is there
    return release;
  } catch (cause) {
    throw damaged(at, cause);
  }
}

/** The list this directory holds for NAME (the last one fetched and verified), if any. */
export async function currentVerdictList(
  dir: string,
  name: string,
): Promise<{ release: ReleaseRef; list: VerdictList } | undefined> {
  const release = await currentRelease(dir, name);
  if (release === undefined) return undefined;
  const at = verdictsDir(dir, name);
  try {
    const bytes = await readFileIfPresent(
      join(at, verdictListName(release)),
      MAX_VERDICT_LIST_BYTES + 1,
    );
    if (bytes === undefined) throw new Error(`${verdictListName(release)} is missing`);
    return { release, list: parseVerdictList(bytes, release) };
  } catch (cause) {
    throw damaged(at, cause);
  }
}

/** One update of the verdicts release NAME in DIR (see the module comment). */
export async function updateVerdicts(options: VerdictUpdateOptions): Promise<VerdictUpdateOutcome> {
  const agent = await loadAgent(options.dir);
  const { name, source } = options;
  // Only the version decides; the list itself is read when it is imported.
  const have = await currentRelease(agent.dir, name);
  const changes: StateChanges = {};
  const verified = await verifyNewestRelease(
    agent,
    options,
    await readState(agent.paths),
    changes,
    {
      name,
      source,
      installedVersion: have?.version,
      artifacts: (release, version) => {
        const want = `${name}/${version}/${verdictListName({ name, version })}`;
        const found = release.artifacts.find((a) => a.name === want);
        if (found === undefined) {
          throw new AgentError(
            'AGENT_RELEASE_INCOMPLETE',
            `${name} ${version} has no verdict list`,
            {
              evidence: { version },
            },
          );
        }
        return [found];
      },
    },
  );
  if (verified.status === 'up-to-date') return verified;
  const { version, release, tuf } = verified;
  const [target] = verified.artifacts;
  if (target === undefined) {
    throw new AgentError('AGENT_RELEASE_INCOMPLETE', `${name} ${version}: no verdict list`);
  }
  const bytes = await tuf.download(target, MAX_VERDICT_LIST_BYTES);
  let list: VerdictList;
  try {
    list = parseVerdictList(bytes, { name, version });
  } catch (cause) {
    if (!hasCode(cause, 'VERDICT_LIST_INVALID')) throw cause;
    throw new AgentError('AGENT_VERDICTS_INVALID', `${name} ${version}: ${cause.message}`, {
      cause,
      evidence: { version },
    });
  }
  const ref: ReleaseRef = { name, version, releaseId: release.releaseId, sha256: target.sha256 };
  const at = verdictsDir(agent.dir, name);
  // The list first, then the pointer to it: a crash between leaves the old list current.
  await writeFileAtomic(join(at, verdictListName(ref)), bytes);
  await writeFileAtomic(join(at, CURRENT_FILE), `${JSON.stringify(ref)}\n`);
  await writeState(agent.paths, { ...(await readState(agent.paths)), ...changes });
  return { status: 'fetched', release: ref, list };
}
