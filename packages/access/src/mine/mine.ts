/**
 * `access mine`: a customer's check that it has seen every access to its
 * data (issue 17 §6; vindex README "Reading"). Trusts only the two logs'
 * c2sp.org/tlog-policy files; the index service's answer is checked, not
 * believed:
 *
 *  1. the output log is tailed with `VerifiedTail` (witnessed checkpoint,
 *     consistent with the one remembered from the last run, entries hashed
 *     to its root); every entry is parsed and any two at one access-log
 *     size must agree (`checkNoFork`, KEYTRANS §10.2) — the sizes and roots
 *     seen are remembered across runs;
 *  2. the index service's lookup names an output-log entry: it must be one
 *     of the logged entries (same size, same roots) for this access log;
 *  3. the access log's current checkpoint must meet its policy and extend
 *     the one remembered (RFC 9162 §2.1.4.2 consistency from tiles); the
 *     entry's input checkpoint (size S, root) must be a prefix of it
 *     (consistency S → N);
 *  4. every listed index is fetched from the access log's entry bundles and
 *     its inclusion proved under the verified checkpoint (RFC 9162
 *     §2.1.3.2) — with step 3 that is inclusion at size S;
 *  5. `checkCompleteness`: the lookup proof ties exactly these indices to
 *     the index root, every record is the customer's, counters run 1..n,
 *     and every access seen in an earlier run (or known from a receipt) is
 *     still listed.
 *
 * The state file (JSON, written durably) keeps the output log's tail, the
 * revisions seen, the access-log checkpoint and the indices listed.
 */
import { readFile } from 'node:fs/promises';
import {
  type AccessRecord,
  type OutputLogEntry,
  checkCompleteness,
  checkNoFork,
  lookupProofFromJson,
  parseOutputEntry,
} from '@glasshouse/access-format';
import { CodedError } from '@glasshouse/errors';
import { writeFileDurably, isErrno } from '@glasshouse/durable';
import { readBoundedBody } from '@glasshouse/http';
import { CUSTOMER_PSEUDONYM } from '@glasshouse/residency';
import { VerifiedTail } from '@glasshouse/telemetry';
import {
  type Checkpoint,
  TlogError,
  bytesEqual,
  decodeBase64Strict,
  encodeBase64,
  hashLeaf,
  parsePolicy,
  verifyCheckpointWithPolicy,
  verifyConsistency,
  verifyInclusion,
} from '@glasshouse/tlog';
import { TilesFetcher, WitnessError } from '@glasshouse/witness';
import { AccessError } from '../errors.js';
import { decodeTail, encodeTail } from '../index-service/store.js';
import { nodeSha256 } from '../hash.js';
import { TileReader } from '../tiles.js';

export interface MineOptions {
  /** The customer's pseudonym (`c-…`, from its key). */
  readonly customer: string;
  /** The index service's URL. */
  readonly indexUrl: string;
  /** The access log's tlog-tiles prefix and its c2sp.org/tlog-policy. */
  readonly accessLogUrl: string;
  readonly accessLogPolicy: string;
  /** The index output log's tlog-tiles prefix and its c2sp.org/tlog-policy. */
  readonly outputLogUrl: string;
  readonly outputLogPolicy: string;
  /** Where runs remember what they saw (created on first use); none: nothing remembered. */
  readonly stateFile?: string;
  /** Access-log indices of accesses known otherwise (receipts, alerts): each must be listed. */
  readonly known?: readonly bigint[];
  readonly now?: () => Date;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
}

export interface MineRecord {
  readonly index: bigint;
  readonly record: AccessRecord;
}

export interface MineResult {
  readonly customer: string;
  /** All accesses to the customer's data in access-log entries [0, size). */
  readonly size: bigint;
  readonly records: readonly MineRecord[];
  /** The output-log entry the answer was checked against, and its index there. */
  readonly outputIndex: bigint;
  readonly entry: OutputLogEntry;
  /** The witnessed access-log checkpoint the records were proved under. */
  readonly accessLogCheckpoint: string;
}

interface Revision {
  readonly logRoot: string;
  readonly indexRoot: string;
  readonly outputIndex: string;
}

interface MineState {
  v: 1;
  customer: string;
  output: string | null;
  /** Output-log revisions seen, by access-log size. */
  revisions: Record<string, Revision>;
  accessLog: { size: string; root: string; checkpoint: string } | null;
  /** The indices listed in the last successful run and the size they cover. */
  listed: { size: string; indices: string[] } | null;
}

const MAX_STATE_BYTES = 64 * 1024 * 1024;
const MAX_ANSWER_BYTES = 32 * 1024 * 1024;
const decoder = new TextDecoder('utf-8', { fatal: false });

export async function checkMyAccesses(opts: MineOptions): Promise<MineResult> {
  if (!CUSTOMER_PSEUDONYM.test(opts.customer)) {
    throw new AccessError('CONFIG_INVALID', 'not a customer pseudonym', {
      evidence: { customer: opts.customer.slice(0, 40) },
    });
  }
  const accessPolicy = policyOf(opts.accessLogPolicy, 'access-log');
  policyOf(opts.outputLogPolicy, 'output-log');
  const state = await loadState(opts.stateFile, opts.customer);
  const now = opts.now ?? ((): Date => new Date());
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const accessOrigin = (accessPolicy.logs[0] as (typeof accessPolicy.logs)[number]).verifier.name;

  // 1. The output log, verified and checked for forks.
  const outputTail = new VerifiedTail({
    url: opts.outputLogUrl,
    policy: opts.outputLogPolicy,
    now,
    ...(opts.fetch === undefined ? {} : { fetch: opts.fetch }),
    timeoutMs,
  });
  let update;
  try {
    update = await outputTail.step(state.output === null ? null : decodeTail(state.output));
  } catch (err) {
    throw tailFailed(err);
  } finally {
    outputTail.close();
  }
  for (const e of update.entries) {
    let entry: OutputLogEntry;
    try {
      entry = parseOutputEntry(e.data);
    } catch (cause) {
      throw new AccessError('OUTPUT_LOG_INVALID', `output-log entry ${e.index} does not parse`, {
        cause,
        evidence: { index: e.index.toString(), entry: decoder.decode(e.data).slice(0, 1024) },
      });
    }
    if (entry.log !== accessOrigin) continue;
    const seen = state.revisions[entry.size.toString()];
    if (seen !== undefined) checkNoFork(revisionEntry(accessOrigin, entry.size, seen), entry);
    else state.revisions[entry.size.toString()] = revisionOf(entry, e.index);
  }
  state.output = encodeTail(update.next);

  // 2. The index service's answer, tied to a logged revision.
  const answer = await fetchLookup(opts, timeoutMs);
  const entry = answer.entry;
  if (entry.log !== accessOrigin) {
    throw new AccessError('INDEX_ANSWER_INVALID', 'the index answers for another access log', {
      evidence: { log: entry.log, expected: accessOrigin },
    });
  }
  const logged = state.revisions[entry.size.toString()];
  if (logged === undefined) {
    throw new AccessError(
      'OUTPUT_ENTRY_NOT_LOGGED',
      'the index answers from a revision that is not in the witnessed output log',
      { evidence: { size: entry.size.toString(), outputIndex: answer.outputIndex.toString() } },
    );
  }
  checkNoFork(revisionEntry(accessOrigin, entry.size, logged), entry);

  // 3. The access log: witnessed, extends what was seen, and the entry's input is its prefix.
  const fetcher = new TilesFetcher({
    url: opts.accessLogUrl,
    ...(opts.fetch === undefined ? {} : { fetch: opts.fetch }),
    timeoutMs,
    retries: 1,
  });
  try {
    const { checkpoint: cp, text } = await witnessedCheckpoint(fetcher, accessPolicy, now);
    const tiles = new TileReader(fetcher, cp.size);
    if (state.accessLog !== null) {
      await checkExtends(tiles, cp, text, {
        size: BigInt(state.accessLog.size),
        root: stateHash(state.accessLog.root),
        checkpoint: state.accessLog.checkpoint,
      });
    }
    await checkExtends(tiles, cp, text, {
      size: entry.size,
      root: entry.logRoot,
      checkpoint: null,
    });
    if (state.listed !== null && BigInt(state.listed.size) > entry.size) {
      throw new AccessError(
        'INDEX_ANSWER_INVALID',
        'the index answers from an older revision than one already checked',
        { evidence: { size: entry.size.toString(), seen: state.listed.size } },
      );
    }

    // 4. Each listed record, with its inclusion under the verified checkpoint.
    const records: Uint8Array[] = [];
    for (const index of answer.indices) {
      if (index >= entry.size) break; // checkCompleteness refuses the list
      records.push(await provedEntry(tiles, index, cp, text));
    }

    // 5. Completeness.
    const known = [
      ...(opts.known ?? []),
      ...(state.listed === null ? [] : state.listed.indices.map((i) => BigInt(i))),
    ].filter((i) => i < entry.size);
    const result = checkCompleteness({
      entry,
      customer: opts.customer,
      indices: answer.indices,
      proof: answer.proof,
      records,
      known,
      accessLog: { size: entry.size, root: entry.logRoot },
      sha256: nodeSha256,
    });
    state.accessLog = {
      size: cp.size.toString(),
      root: encodeBase64(cp.rootHash),
      checkpoint: text,
    };
    state.listed = { size: entry.size.toString(), indices: answer.indices.map(String) };
    if (opts.stateFile !== undefined) {
      await writeFileDurably(opts.stateFile, `${JSON.stringify(state)}\n`);
    }
    return {
      customer: opts.customer,
      size: result.size,
      records: result.records.map((record, i) => ({
        index: answer.indices[i] as bigint,
        record,
      })),
      outputIndex: answer.outputIndex,
      entry,
      accessLogCheckpoint: text,
    };
  } finally {
    fetcher.close();
  }
}

function policyOf(text: string, what: string): ReturnType<typeof parsePolicy> {
  try {
    const p = parsePolicy(text);
    if (p.logs.length === 0) throw new Error('no log line');
    return p;
  } catch (cause) {
    throw new AccessError('CONFIG_INVALID', `the ${what} policy does not parse or names no log`, {
      cause,
    });
  }
}

function revisionOf(entry: OutputLogEntry, outputIndex: bigint): Revision {
  return {
    logRoot: encodeBase64(entry.logRoot),
    indexRoot: encodeBase64(entry.indexRoot),
    outputIndex: outputIndex.toString(),
  };
}

function revisionEntry(log: string, size: bigint, r: Revision): OutputLogEntry {
  return {
    schema: 'glasshouse.access-index/v1',
    log,
    size,
    logRoot: stateHash(r.logRoot),
    indexRoot: stateHash(r.indexRoot),
  };
}

interface Answer {
  readonly outputIndex: bigint;
  readonly entry: OutputLogEntry;
  readonly indices: bigint[];
  readonly proof: ReturnType<typeof lookupProofFromJson>;
}

async function fetchLookup(opts: MineOptions, timeoutMs: number): Promise<Answer> {
  const url = new URL(`v1/lookup/${opts.customer}`, withSlash(opts.indexUrl)).href;
  let body: Uint8Array;
  let status: number;
  try {
    const res = await (opts.fetch ?? fetch)(url, { signal: AbortSignal.timeout(timeoutMs) });
    status = res.status;
    body = await readBoundedBody(res, MAX_ANSWER_BYTES);
  } catch (cause) {
    throw new AccessError('INDEX_UNREACHABLE', `cannot read ${url}`, { cause, evidence: { url } });
  }
  const bad = (why: string, cause?: unknown): AccessError =>
    new AccessError('INDEX_ANSWER_INVALID', `the index's answer: ${why}`, {
      ...(cause === undefined ? {} : { cause }),
      evidence: { url, status, body: decoder.decode(body.subarray(0, 512)) },
    });
  if (status !== 200) {
    throw new AccessError('INDEX_UNREACHABLE', `the index answered ${status}`, {
      evidence: { url, status, body: decoder.decode(body.subarray(0, 512)) },
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(body));
  } catch (cause) {
    throw bad('not JSON', cause);
  }
  const v = parsed as Record<string, unknown> | null;
  if (typeof v !== 'object' || v === null || v.customer !== opts.customer) {
    throw bad('not an answer for this customer');
  }
  const uint = (x: unknown, what: string): bigint => {
    if (typeof x !== 'string' || !/^(?:0|[1-9][0-9]{0,15})$/.test(x))
      throw bad(`${what} is not a decimal`);
    return BigInt(x);
  };
  if (!Array.isArray(v.indices)) throw bad('indices is not a list');
  const indices = (v.indices as unknown[]).map((i) => uint(i, 'an index'));
  let entry: OutputLogEntry;
  try {
    if (typeof v.entry !== 'string') throw new Error('entry is not a string');
    const bytes = decodeBase64Strict(v.entry);
    if (bytes === undefined) throw new Error('entry is not base64');
    entry = parseOutputEntry(bytes);
  } catch (cause) {
    throw bad('the output entry does not parse', cause);
  }
  // The lookup proof's own shape errors keep access-format's code (LOOKUP_PROOF_INVALID).
  const proof = lookupProofFromJson(v.proof);
  return { outputIndex: uint(v.outputIndex, 'outputIndex'), entry, indices, proof };
}

async function witnessedCheckpoint(
  fetcher: TilesFetcher,
  policy: ReturnType<typeof parsePolicy>,
  now: () => Date,
): Promise<{ checkpoint: Checkpoint; text: string }> {
  let note: Uint8Array;
  try {
    note = await fetcher.checkpoint();
  } catch (err) {
    throw fetchFailed(err, 'checkpoint', fetcher.url);
  }
  const text = decoder.decode(note);
  try {
    // c2sp.org/tlog-policy: signed by the log, cosigned by the witness quorum.
    const v = verifyCheckpointWithPolicy(note, policy, {
      now: BigInt(Math.floor(now().getTime() / 1000)),
      maxFutureSkew: 60n,
    });
    return { checkpoint: v.checkpoint, text };
  } catch (cause) {
    if (!(cause instanceof TlogError)) throw cause;
    throw new AccessError('ACCESS_LOG_INVALID', `the access log's checkpoint: ${cause.message}`, {
      cause,
      evidence: { code: cause.code, checkpoint: text },
    });
  }
}

/** RFC 9162 §2.1.4.2: the verified tree `cp` extends `prev` (size, root). */
async function checkExtends(
  tiles: TileReader,
  cp: Checkpoint,
  text: string,
  prev: { size: bigint; root: Uint8Array; checkpoint: string | null },
): Promise<void> {
  const evidence = {
    previousSize: prev.size.toString(),
    previousRoot: encodeBase64(prev.root),
    ...(prev.checkpoint === null ? {} : { previous: prev.checkpoint }),
    checkpoint: text,
  };
  if (prev.size > cp.size) {
    throw new AccessError(
      'ACCESS_LOG_INVALID',
      'the access log is smaller than a size already seen',
      {
        evidence,
      },
    );
  }
  if (prev.size === cp.size || prev.size === 0n) {
    if (prev.size === cp.size && !bytesEqual(prev.root, cp.rootHash)) {
      throw new AccessError('ACCESS_LOG_INVALID', `two access-log trees of size ${cp.size}`, {
        evidence,
      });
    }
    return;
  }
  let proof: Uint8Array[];
  try {
    proof = await tiles.consistency(prev.size);
  } catch (err) {
    throw fetchFailed(err, 'consistency tiles', '');
  }
  try {
    verifyConsistency(prev.size, cp.size, proof, prev.root, cp.rootHash);
  } catch (cause) {
    throw new AccessError(
      'ACCESS_LOG_INVALID',
      `the access log of size ${cp.size} does not extend the tree of size ${prev.size}`,
      { cause, evidence: { ...evidence, proof: proof.map(encodeBase64) } },
    );
  }
}

/** Entry `index` of the access log, proved included under `cp` (RFC 9162 §2.1.3.2). */
async function provedEntry(
  tiles: TileReader,
  index: bigint,
  cp: Checkpoint,
  text: string,
): Promise<Uint8Array> {
  let data: Uint8Array;
  let proof: Uint8Array[];
  try {
    data = await tiles.entry(index);
    proof = await tiles.inclusion(index);
  } catch (err) {
    throw fetchFailed(err, `entry ${index}`, '');
  }
  try {
    verifyInclusion(hashLeaf(data), index, cp.size, proof, cp.rootHash);
  } catch (cause) {
    throw new AccessError('ACCESS_LOG_INVALID', `access-log entry ${index} is not in the tree`, {
      cause,
      evidence: { index: index.toString(), checkpoint: text, proof: proof.map(encodeBase64) },
    });
  }
  return data;
}

function fetchFailed(err: unknown, what: string, url: string): AccessError {
  if (err instanceof WitnessError) {
    return new AccessError(
      err.code === 'TILE_MALFORMED' ? 'ACCESS_LOG_INVALID' : 'ACCESS_LOG_UNREACHABLE',
      `cannot read the access log's ${what}`,
      { cause: err, evidence: { ...err.evidence, ...(url === '' ? {} : { url }) } },
    );
  }
  if (err instanceof TlogError) {
    return new AccessError('ACCESS_LOG_INVALID', `the access log's ${what}: ${err.message}`, {
      cause: err,
      evidence: { code: err.code },
    });
  }
  throw err;
}

function tailFailed(err: unknown): AccessError {
  if (!(err instanceof CodedError)) throw err;
  const code = (err as CodedError).code;
  return new AccessError(
    code === 'LOG_UNREACHABLE' ? 'OUTPUT_LOG_UNREACHABLE' : 'OUTPUT_LOG_INVALID',
    `the index output log: ${err.message}`,
    { cause: err, evidence: { code, ...err.evidence } },
  );
}

function stateHash(text: unknown): Uint8Array {
  const bytes = typeof text === 'string' ? decodeBase64Strict(text) : undefined;
  if (bytes?.length !== 32) {
    throw new AccessError(
      'MINE_STATE_INVALID',
      'a hash in the state file is not base64 of 32 bytes',
    );
  }
  return bytes;
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

async function loadState(file: string | undefined, customer: string): Promise<MineState> {
  const empty: MineState = {
    v: 1,
    customer,
    output: null,
    revisions: {},
    accessLog: null,
    listed: null,
  };
  if (file === undefined) return empty;
  let text: string;
  try {
    const buf = await readFile(file);
    if (buf.length > MAX_STATE_BYTES) throw new Error('over the size limit');
    text = buf.toString('utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return empty;
    throw new AccessError('MINE_STATE_INVALID', `cannot read ${file}`, { cause: err });
  }
  try {
    const s = JSON.parse(text) as Partial<MineState> | null;
    const revisions = s?.revisions as unknown;
    if (
      s?.v !== 1 ||
      typeof revisions !== 'object' ||
      revisions === null ||
      Array.isArray(revisions)
    ) {
      throw new Error('not a state file');
    }
    if (s.customer !== customer) throw new Error('the state file is of another customer');
    return s as MineState;
  } catch (cause) {
    throw new AccessError('MINE_STATE_INVALID', `${file} is not an access-mine state file`, {
      cause,
    });
  }
}
