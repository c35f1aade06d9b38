/**
 * Vendor verdict lists: the vendor's curated "this file is known-bad /
 * known-good" facts that the data sites' reputation service serves beside
 * their own telemetry. A list is a release kind of its own (recipe kind
 * `verdicts`): built from plain-text sources in the vendor's repository,
 * rebuilt and approved by the supervisor, published in the release log and
 * under TUF's `releases` role with both signatures — so a verdict that
 * whitelists a file is as visible and as reviewed as a rule that detects
 * one. Pure.
 *
 * Source format (one verdict a line, `#` starts a comment):
 *
 *     <sha256, 64 lowercase hex> <known-bad|known-good>   [# why]
 *
 * The artifact is canonical JSON-ish text: the fields in a fixed order and
 * one verdict a line, sorted by hash, so the same sources always give the
 * same bytes (a reproducible build) and two versions diff line by line.
 */
import { utf8, utf8Length } from '@glasshouse/crypto';
import { ReleaseFormatError } from './errors.js';
import { parseJsonObject } from './json.js';

export const VERDICT_LIST_SCHEMA = 'glasshouse.verdict-list/v1';
/** Most verdicts in one list, and the artifact's size cap (about 100 bytes a verdict). */
export const MAX_LIST_VERDICTS = 1_000_000;
export const MAX_VERDICT_LIST_BYTES = 128 * 1024 * 1024;
/** A source file's cap: the sources of a full list fit with room for comments. */
export const MAX_VERDICT_SOURCE_BYTES = 256 * 1024 * 1024;

const SHA256_HEX = /^[0-9a-f]{64}$/;
const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const VERSION = /^[0-9A-Za-z.+-]{1,64}$/;

export type ListVerdict = 'known-bad' | 'known-good';

export interface Verdict {
  readonly sha256: string;
  readonly verdict: ListVerdict;
}

export interface VerdictList {
  readonly schema: typeof VERDICT_LIST_SCHEMA;
  readonly name: string;
  readonly version: string;
  /** Sorted by `sha256`, one per hash. */
  readonly verdicts: readonly Verdict[];
}

/** `<name>-<version>.verdicts.json`: the release's one artifact. */
export function verdictListName(release: { name: string; version: string }): string {
  return `${release.name}-${release.version}.verdicts.json`;
}

function invalid(message: string, evidence: Record<string, unknown> = {}): ReleaseFormatError {
  return new ReleaseFormatError('VERDICT_LIST_INVALID', `verdict list: ${message}`, { evidence });
}

function isVerdict(value: unknown): value is ListVerdict {
  return value === 'known-bad' || value === 'known-good';
}

/**
 * Builds the list of release `name` `version` from its source files (path
 * and text). A malformed line, or one hash given two different verdicts,
 * is refused naming the file and line; the same verdict twice is one.
 */
export function verdictListOf(
  release: { name: string; version: string },
  sources: readonly { readonly path: string; readonly text: string }[],
): VerdictList {
  checkRelease(release);
  const byHash = new Map<string, { verdict: ListVerdict; at: string }>();
  for (const source of sources) {
    if (utf8Length(source.text) > MAX_VERDICT_SOURCE_BYTES) {
      throw invalid(`${source.path} is over ${MAX_VERDICT_SOURCE_BYTES} bytes`, {
        path: source.path,
      });
    }
    source.text.split('\n').forEach((raw, i) => {
      const at = `${source.path}:${i + 1}`;
      const line = raw.replace(/#.*$/, '').trim();
      if (line === '') return;
      const [sha256, verdict, ...rest] = line.split(/\s+/);
      if (
        sha256 === undefined ||
        !SHA256_HEX.test(sha256) ||
        !isVerdict(verdict) ||
        rest.length > 0
      ) {
        throw invalid(`${at}: want "<sha256 in lowercase hex> <known-bad|known-good>"`, { at });
      }
      const before = byHash.get(sha256);
      if (before !== undefined && before.verdict !== verdict) {
        throw invalid(`${at}: ${sha256} is ${verdict} here and ${before.verdict} at ${before.at}`, {
          at,
          other: before.at,
          sha256,
        });
      }
      byHash.set(sha256, { verdict, at });
      if (byHash.size > MAX_LIST_VERDICTS) {
        throw invalid(`more than ${MAX_LIST_VERDICTS} verdicts`, { at });
      }
    });
  }
  const verdicts = [...byHash]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([sha256, { verdict }]) => ({ sha256, verdict }));
  return { schema: VERDICT_LIST_SCHEMA, name: release.name, version: release.version, verdicts };
}

/** The artifact's bytes: fixed field order, one verdict a line, a final newline. */
export function serializeVerdictList(list: VerdictList): Uint8Array {
  const lines = list.verdicts.map(
    (v) => `    ${JSON.stringify({ sha256: v.sha256, verdict: v.verdict })}`,
  );
  const head = `{\n  "schema": ${JSON.stringify(list.schema)},\n  "name": ${JSON.stringify(list.name)},\n  "version": ${JSON.stringify(list.version)},\n  "verdicts": [`;
  const body = lines.length === 0 ? ']\n}\n' : `\n${lines.join(',\n')}\n  ]\n}\n`;
  return utf8(head + body);
}

/**
 * Parses a verdict list artifact: the schema, a name and version (of the
 * release that should carry it, when `expected` is given), verdicts sorted
 * by hash without repeats. Any other shape is VERDICT_LIST_INVALID.
 */
export function parseVerdictList(
  bytes: Uint8Array,
  expected?: { readonly name: string; readonly version: string },
): VerdictList {
  const v = parseJsonObject(bytes, MAX_VERDICT_LIST_BYTES, 'VERDICT_LIST_INVALID', 'verdict list');
  const keys = Object.keys(v).sort().join(',');
  if (keys !== 'name,schema,verdicts,version') {
    throw invalid('want exactly the fields schema, name, version, verdicts', { fields: keys });
  }
  if (v.schema !== VERDICT_LIST_SCHEMA) throw invalid(`schema is not ${VERDICT_LIST_SCHEMA}`);
  const release = checkRelease({ name: v.name, version: v.version });
  if (
    expected !== undefined &&
    (release.name !== expected.name || release.version !== expected.version)
  ) {
    throw invalid(
      `it is ${release.name} ${release.version}, not ${expected.name} ${expected.version}`,
      {
        name: release.name,
        version: release.version,
      },
    );
  }
  if (!Array.isArray(v.verdicts)) throw invalid('verdicts is not an array');
  if (v.verdicts.length > MAX_LIST_VERDICTS) {
    throw invalid(`more than ${MAX_LIST_VERDICTS} verdicts`, { verdicts: v.verdicts.length });
  }
  let last = '';
  const verdicts = (v.verdicts as unknown[]).map((item, i): Verdict => {
    const it = item as Record<string, unknown> | null;
    if (
      typeof it !== 'object' ||
      it === null ||
      Object.keys(it).length !== 2 ||
      typeof it.sha256 !== 'string' ||
      !SHA256_HEX.test(it.sha256) ||
      !isVerdict(it.verdict)
    ) {
      throw invalid(
        `verdicts[${i}] is not {"sha256": <64 lowercase hex>, "verdict": <known-bad|known-good>}`,
        {
          position: i,
        },
      );
    }
    if (it.sha256 <= last) {
      throw invalid(`verdicts[${i}] is out of order or repeats a hash`, { position: i });
    }
    last = it.sha256;
    return { sha256: it.sha256, verdict: it.verdict };
  });
  return {
    schema: VERDICT_LIST_SCHEMA,
    name: release.name,
    version: release.version,
    verdicts,
  };
}

function checkRelease(release: { name: unknown; version: unknown }): {
  name: string;
  version: string;
} {
  if (typeof release.name !== 'string' || !NAME.test(release.name)) {
    throw invalid('name must match [a-z0-9][a-z0-9._-]{0,63}', { name: String(release.name) });
  }
  if (typeof release.version !== 'string' || !VERSION.test(release.version)) {
    throw invalid('version is not a release version', { version: String(release.version) });
  }
  return { name: release.name, version: release.version };
}
