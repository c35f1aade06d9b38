/**
 * `access mine` without I/O: a customer's check that it has seen every
 * access to its data (issue 17 §6; vindex README "Reading"), the same code
 * in the CLI (which keeps the state in a file) and in the Transparency
 * Center's browser page. It trusts only the two logs' c2sp.org/tlog-policy;
 * the index service's answer is checked, not believed. The caller hands in
 * a `MineReader` (bytes at a path of each log, the index's raw answer) and
 * the state of the last run; it gets the verified accesses and the new
 * state back. The steps, each reported through `onStep` once it holds:
 *
 *  1. `output-log`: the output log's checkpoint meets its policy, extends
 *     the one remembered (RFC 9162 §2.1.4.2), and the new entries hash onto
 *     the remembered compact range to its root (RFC 9162 §2.1.1); every
 *     entry parses and any two at one access-log size agree (`checkNoFork`,
 *     KEYTRANS §10.2) — the revisions seen are remembered;
 *  2. `lookup`: the index's answer names a revision that is one of the
 *     logged ones (same size, same roots) for this access log;
 *  3. `access-log`: the access log's checkpoint meets its policy, extends
 *     the one remembered, and the revision's input (size S, root) is a
 *     prefix of it (consistency S → N);
 *  4. `inclusion`: every listed index is read from the access log's entry
 *     bundles and proved included under that checkpoint (RFC 9162
 *     §2.1.3.2) — with step 3, inclusion at size S;
 *  5. `completeness`: `checkCompleteness` — the lookup proof ties exactly
 *     these indices to the index root, every record is the customer's, its
 *     counters run 1..n, and every access seen in an earlier run (or known
 *     from a receipt) is still listed.
 */
import { CUSTOMER_PSEUDONYM } from '@glasshouse/residency';
import {
  type Checkpoint,
  CompactRange,
  HASH_SIZE,
  type Policy,
  TileClient,
  TlogError,
  bytesEqual,
  decodeBase64Strict,
  encodeBase64,
  hashLeaf,
  verifyCheckpointWithPolicy,
  verifyConsistency,
  verifyInclusion,
} from '@glasshouse/tlog';
import type { HashOptions } from './bytes.js';
import { checkCompleteness, checkNoFork } from './completeness.js';
import { AccessFormatError, type AccessFormatErrorCode } from './errors.js';
import { lookupProofFromJson, type LookupProof } from './lookup-proof.js';
import { OUTPUT_ENTRY_SCHEMA, parseOutputEntry, type OutputLogEntry } from './output-entry.js';
import type { AccessRecord } from './record.js';

/** Where the bytes come from: the caller's I/O (HTTP, a same-origin proxy, a test's fakes). */
export interface MineReader {
  /** The bytes at `path` under the access log's tlog-tiles prefix (`checkpoint`, `tile/…`); throws when unreadable. */
  accessLog(path: string): Promise<Uint8Array>;
  /** The same for the index output log. */
  outputLog(path: string): Promise<Uint8Array>;
  /** The index service's `GET v1/lookup/<customer>`: its status and body; throws when unreachable. */
  lookup(customer: string): Promise<{ readonly status: number; readonly body: Uint8Array }>;
}

/** One output-log revision of this access log, as remembered. */
export interface MineRevision {
  readonly logRoot: string;
  readonly indexRoot: string;
  readonly outputIndex: string;
}

/** What a run remembers for the next one (JSON as is: strings and plain objects only). */
export interface MineState {
  readonly v: 2;
  readonly customer: string;
  /** The output log's verified tree: its checkpoint, size and compact range (base64, largest first). */
  readonly output: {
    readonly checkpoint: string;
    readonly size: string;
    readonly compact: readonly string[];
  } | null;
  /** Output-log revisions of this access log, by access-log size. */
  readonly revisions: Readonly<Record<string, MineRevision>>;
  /** The access-log checkpoint the last run verified. */
  readonly accessLog: {
    readonly size: string;
    readonly root: string;
    readonly checkpoint: string;
  } | null;
  /** The indices listed in the last successful run and the size they cover. */
  readonly listed: { readonly size: string; readonly indices: readonly string[] } | null;
}

export type MineStepId = 'output-log' | 'lookup' | 'access-log' | 'inclusion' | 'completeness';

/** The order the steps run in (a failure stops the run: the later steps are not checked). */
export const MINE_STEPS: readonly MineStepId[] = [
  'output-log',
  'lookup',
  'access-log',
  'inclusion',
  'completeness',
];

/** A step that held: one line, and the evidence it used (notes, roots, proofs). */
export interface MineStep {
  readonly id: MineStepId;
  readonly summary: string;
  readonly proof: readonly string[];
}

export interface MineInput extends HashOptions {
  /** The customer's pseudonym (`c-…`, of its key). */
  readonly customer: string;
  /** The access log's and the output log's c2sp.org/tlog-policy (parsed; one log line each). */
  readonly accessLogPolicy: Policy;
  readonly outputLogPolicy: Policy;
  /** What the last run remembered; none: a first run. */
  readonly state?: MineState | null;
  /** Access-log indices of accesses known otherwise (receipts, alerts): each must be listed. */
  readonly known?: readonly bigint[];
  readonly now: Date;
  /** Seconds a cosignature may lie in the future. Default 60. */
  readonly maxFutureSkewSeconds?: number;
  readonly onStep?: (step: MineStep) => void;
}

export interface MineAccess {
  readonly index: bigint;
  readonly record: AccessRecord;
}

export interface MineResult {
  readonly customer: string;
  /** All accesses to the customer's data in access-log entries [0, size). */
  readonly size: bigint;
  readonly records: readonly MineAccess[];
  /** The output-log entry the answer was checked against, and its index there. */
  readonly outputIndex: bigint;
  readonly entry: OutputLogEntry;
  /** The witnessed access-log checkpoint the records were proved under (the signed note). */
  readonly accessLogCheckpoint: string;
  /** What the next run starts from. */
  readonly state: MineState;
}

/** The largest lookup answer read (a list of indices and a proof of at most 256 levels). */
export const MAX_LOOKUP_ANSWER_BYTES = 32 * 1024 * 1024;

const decoder = new TextDecoder('utf-8', { fatal: false });

const fail = (
  code: AccessFormatErrorCode,
  message: string,
  opts: { cause?: unknown; evidence?: Record<string, unknown> } = {},
): AccessFormatError => new AccessFormatError(code, message, opts);

/** The state of a first run. */
export function emptyMineState(customer: string): MineState {
  return { v: 2, customer, output: null, revisions: {}, accessLog: null, listed: null };
}

/** A state read back from storage (JSON), checked for shape; MINE_STATE_INVALID otherwise. */
export function parseMineState(value: unknown, customer: string): MineState {
  const bad = (why: string): AccessFormatError =>
    fail('MINE_STATE_INVALID', `not an access-mine state: ${why}`);
  const v = value as Partial<Record<keyof MineState, unknown>> | null;
  if (typeof v !== 'object' || v === null || v.v !== 2) throw bad('no version 2');
  if (v.customer !== customer) throw bad('the state is of another customer');
  const isObject = (x: unknown): x is Record<string, unknown> =>
    typeof x === 'object' && x !== null && !Array.isArray(x);
  const decimal = (x: unknown): x is string =>
    typeof x === 'string' && /^(?:0|[1-9][0-9]{0,19})$/.test(x);
  const hash = (x: unknown): boolean => stateHash(x) !== undefined;
  const output = v.output;
  if (
    output !== null &&
    !(
      isObject(output) &&
      typeof output.checkpoint === 'string' &&
      decimal(output.size) &&
      Array.isArray(output.compact) &&
      output.compact.every(hash)
    )
  ) {
    throw bad('output');
  }
  if (!isObject(v.revisions)) throw bad('revisions');
  for (const [size, r] of Object.entries(v.revisions)) {
    if (!decimal(size) || !isObject(r) || !hash(r.logRoot) || !hash(r.indexRoot)) {
      throw bad(`revision ${size}`);
    }
    if (!decimal(r.outputIndex)) throw bad(`revision ${size}`);
  }
  const a = v.accessLog;
  if (
    a !== null &&
    !(isObject(a) && decimal(a.size) && hash(a.root) && typeof a.checkpoint === 'string')
  ) {
    throw bad('accessLog');
  }
  const l = v.listed;
  if (l !== null && !(isObject(l) && decimal(l.size) && Array.isArray(l.indices))) {
    throw bad('listed');
  }
  if (l !== null && !(l.indices as unknown[]).every(decimal)) throw bad('listed');
  return value as MineState;
}

/** Runs the five steps; throws the first failure (an AccessFormatError with its code). */
export async function checkMine(input: MineInput, reader: MineReader): Promise<MineResult> {
  const { customer } = input;
  if (!CUSTOMER_PSEUDONYM.test(customer)) {
    throw fail('MINE_INPUT_INVALID', 'not a customer pseudonym', {
      evidence: { customer: customer.slice(0, 40) },
    });
  }
  const accessOrigin = originOf(input.accessLogPolicy, 'access log');
  originOf(input.outputLogPolicy, 'output log');
  const prior =
    input.state === undefined || input.state === null
      ? emptyMineState(customer)
      : parseMineState(input.state, customer);
  const revisions: Record<string, MineRevision> = { ...prior.revisions };
  const report = (id: MineStepId, summary: string, proof: readonly string[]): void => {
    input.onStep?.({ id, summary, proof });
  };
  const nowSeconds = BigInt(Math.floor(input.now.getTime() / 1000));
  const skew = BigInt(input.maxFutureSkewSeconds ?? 60);

  // 1. The output log, verified and checked for forks.
  const out = await readLog(
    'output',
    reader.outputLog.bind(reader),
    input.outputLogPolicy,
    nowSeconds,
    skew,
  );
  const previousOutput = prior.output;
  const range = new CompactRange(
    previousOutput === null
      ? undefined
      : {
          size: BigInt(previousOutput.size),
          hashes: previousOutput.compact.map((h) => stateHash(h) as Uint8Array),
        },
  );
  const outputProof = [out.text];
  const from = range.size;
  if (out.cp.size < from || (out.cp.size === from && !bytesEqual(range.root(), out.cp.rootHash))) {
    throw fail(
      'OUTPUT_LOG_INVALID',
      out.cp.size < from
        ? `the index output log went back from size ${from} to ${out.cp.size}`
        : `two different output-log trees of size ${from}`,
      { evidence: { previous: previousOutput?.checkpoint ?? null, checkpoint: out.text } },
    );
  }
  if (from > 0n && out.cp.size > from) {
    // RFC 9162 §2.1.4.2: the new tree extends the remembered one.
    const proof = await out.read('consistency tiles', () => out.tiles.consistency(from));
    try {
      verifyConsistency(from, out.cp.size, proof, range.root(), out.cp.rootHash);
    } catch (cause) {
      throw fail(
        'OUTPUT_LOG_INVALID',
        `the index output log of size ${out.cp.size} does not extend the tree of size ${from}`,
        { cause, evidence: { previous: previousOutput?.checkpoint, checkpoint: out.text } },
      );
    }
    outputProof.push(
      `consistency ${from} → ${out.cp.size}: ${proof.map(encodeBase64).join(' ') || '(empty)'}`,
    );
  }
  const newEntries = await out.read('entry bundles', () => out.tiles.entries(from, out.cp.size));
  range.appendMany(newEntries.map((e) => hashLeaf(e)));
  // RFC 9162 §2.1.1: the remembered leaves and the new ones hash to the signed root.
  if (!bytesEqual(range.root(), out.cp.rootHash)) {
    throw fail(
      'OUTPUT_LOG_INVALID',
      `the output-log entries served do not hash to the root of the checkpoint of size ${out.cp.size}`,
      { evidence: { checkpoint: out.text, recomputedRoot: encodeBase64(range.root()) } },
    );
  }
  newEntries.forEach((bytes, i) => {
    const index = from + BigInt(i);
    let entry: OutputLogEntry;
    try {
      entry = parseOutputEntry(bytes);
    } catch (cause) {
      throw fail('OUTPUT_LOG_INVALID', `output-log entry ${index} does not parse`, {
        cause,
        evidence: { index: index.toString(), entry: decoder.decode(bytes).slice(0, 1024) },
      });
    }
    if (entry.log !== accessOrigin) return;
    const seen = revisions[entry.size.toString()];
    if (seen !== undefined) checkNoFork(revisionEntry(accessOrigin, entry.size, seen), entry);
    else revisions[entry.size.toString()] = revisionOf(entry, index);
  });
  report(
    'output-log',
    `size ${out.cp.size}, cosigned by ${out.cosigners.join(', ') || 'none needed'}; ${newEntries.length === 0 ? 'the tree seen before' : `${newEntries.length} new entries hash to the signed root`}; ${Object.keys(revisions).length} revision(s) of this access log, no two differing at one size`,
    outputProof,
  );
  const output = {
    checkpoint: out.text,
    size: out.cp.size.toString(),
    compact: range.state().hashes.map(encodeBase64),
  };

  // 2. The index service's answer, tied to a logged revision.
  const answer = await readLookup(customer, reader);
  const entry = answer.entry;
  if (entry.log !== accessOrigin) {
    throw fail('INDEX_ANSWER_INVALID', 'the index answers for another access log', {
      evidence: { log: entry.log, expected: accessOrigin },
    });
  }
  const logged = revisions[entry.size.toString()];
  if (logged === undefined) {
    throw fail(
      'OUTPUT_ENTRY_NOT_LOGGED',
      'the index answers from a revision that is not in the witnessed output log',
      { evidence: { size: entry.size.toString(), outputIndex: answer.outputIndex.toString() } },
    );
  }
  checkNoFork(revisionEntry(accessOrigin, entry.size, logged), entry);
  report(
    'lookup',
    `the index answers ${answer.indices.length} indices from the revision at access-log size ${entry.size}, logged as output-log entry ${logged.outputIndex}`,
    [
      `access-log size ${entry.size}, root ${encodeBase64(entry.logRoot)}`,
      `index root ${encodeBase64(entry.indexRoot)}`,
      `indices: ${answer.indices.join(', ') || '(none)'}`,
    ],
  );

  // 3. The access log: witnessed, extends what was seen, and the revision's input is its prefix.
  const acc = await readLog(
    'access',
    reader.accessLog.bind(reader),
    input.accessLogPolicy,
    nowSeconds,
    skew,
  );
  const accessProof = [acc.text];
  if (prior.accessLog !== null) {
    accessProof.push(
      ...(await checkExtends(acc, {
        size: BigInt(prior.accessLog.size),
        root: stateHash(prior.accessLog.root) as Uint8Array,
        checkpoint: prior.accessLog.checkpoint,
      })),
    );
  }
  accessProof.push(
    ...(await checkExtends(acc, { size: entry.size, root: entry.logRoot, checkpoint: null })),
  );
  if (prior.listed !== null && BigInt(prior.listed.size) > entry.size) {
    throw fail(
      'INDEX_ANSWER_INVALID',
      'the index answers from an older revision than one already checked',
      { evidence: { size: entry.size.toString(), seen: prior.listed.size } },
    );
  }
  report(
    'access-log',
    `size ${acc.cp.size}, cosigned by ${acc.cosigners.join(', ') || 'none needed'}; the revision's input (size ${entry.size}) is its prefix${prior.accessLog === null ? '' : `, and it extends size ${prior.accessLog.size} seen before`}`,
    accessProof,
  );

  // 4. Each listed record, with its inclusion under the verified checkpoint.
  const records: Uint8Array[] = [];
  const inclusionProof: string[] = [];
  for (const index of answer.indices) {
    if (index >= entry.size) break; // checkCompleteness refuses the list
    const data = await acc.read(`entry ${index}`, () => acc.tiles.entry(index));
    const proof = await acc.read(`inclusion of ${index}`, () => acc.tiles.inclusion(index));
    try {
      verifyInclusion(hashLeaf(data), index, acc.cp.size, proof, acc.cp.rootHash);
    } catch (cause) {
      throw fail('ACCESS_LOG_INVALID', `access-log entry ${index} is not in the tree`, {
        cause,
        evidence: { index: index.toString(), checkpoint: acc.text, proof: proof.map(encodeBase64) },
      });
    }
    records.push(data);
    inclusionProof.push(
      `entry ${index}: ${proof.map(encodeBase64).join(' ') || '(the only leaf)'}`,
    );
  }
  report(
    'inclusion',
    `${records.length} records read from the entry bundles, each proved included in the tree of size ${acc.cp.size}`,
    inclusionProof,
  );

  // 5. Completeness.
  const known = [
    ...(input.known ?? []),
    ...(prior.listed === null ? [] : prior.listed.indices.map((i) => BigInt(i))),
  ].filter((i) => i < entry.size);
  const result = checkCompleteness({
    entry,
    customer,
    indices: answer.indices,
    proof: answer.proof,
    records,
    known,
    accessLog: { size: entry.size, root: entry.logRoot },
    ...(input.sha256 === undefined ? {} : { sha256: input.sha256 }),
  });
  report(
    'completeness',
    `these are all ${result.records.length} accesses to your data up to access-log size ${result.size}`,
    [
      `the lookup proof ties exactly these indices to index root ${encodeBase64(entry.indexRoot)}`,
      `counters ${result.records.map((r) => r.counter).join(', ') || '(none)'}`,
      ...(known.length === 0 ? [] : [`known before and still listed: ${known.join(', ')}`]),
    ],
  );
  return {
    customer,
    size: result.size,
    records: result.records.map((record, i) => ({ index: answer.indices[i] as bigint, record })),
    outputIndex: answer.outputIndex,
    entry,
    accessLogCheckpoint: acc.text,
    state: {
      v: 2,
      customer,
      output,
      revisions,
      accessLog: {
        size: acc.cp.size.toString(),
        root: encodeBase64(acc.cp.rootHash),
        checkpoint: acc.text,
      },
      listed: { size: entry.size.toString(), indices: answer.indices.map(String) },
    },
  };
}

function originOf(policy: Policy, what: string): string {
  const log = policy.logs[0];
  if (log === undefined || policy.logs.length !== 1) {
    throw fail(
      'MINE_INPUT_INVALID',
      `the ${what}'s policy names ${policy.logs.length} logs, not one`,
    );
  }
  return log.verifier.name;
}

interface OpenLog {
  readonly cp: Checkpoint;
  readonly text: string;
  readonly cosigners: readonly string[];
  readonly tiles: TileClient;
  /** Runs a read of this log: a refused read is unreachable, malformed bytes are invalid. */
  read<T>(what: string, run: () => Promise<T>): Promise<T>;
}

/** A log's checkpoint, verified against its policy (c2sp.org/tlog-policy), and a tile client for it. */
async function readLog(
  which: 'access' | 'output',
  get: (path: string) => Promise<Uint8Array>,
  policy: Policy,
  now: bigint,
  skew: bigint,
): Promise<OpenLog> {
  const name = which === 'access' ? 'the access log' : 'the index output log';
  const invalid = which === 'access' ? 'ACCESS_LOG_INVALID' : 'OUTPUT_LOG_INVALID';
  const unreachable = which === 'access' ? 'ACCESS_LOG_UNREACHABLE' : 'OUTPUT_LOG_UNREACHABLE';
  const read = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (cause) {
      if (cause instanceof TlogError) {
        throw fail(invalid, `${name}'s ${what}: ${cause.message}`, {
          cause,
          evidence: { code: cause.code },
        });
      }
      throw fail(unreachable, `cannot read ${name}'s ${what}`, { cause });
    }
  };
  const note = await read('checkpoint', () => get('checkpoint'));
  const text = decoder.decode(note);
  try {
    // c2sp.org/tlog-policy: signed by the log (key name = origin), cosigned to the witness quorum.
    const v = verifyCheckpointWithPolicy(note, policy, { now, maxFutureSkew: skew });
    return {
      cp: v.checkpoint,
      text,
      cosigners: v.cosigners,
      tiles: new TileClient(get, v.checkpoint.size),
      read,
    };
  } catch (cause) {
    if (!(cause instanceof TlogError)) throw cause;
    throw fail(invalid, `${name}'s checkpoint: ${cause.message}`, {
      cause,
      evidence: { code: cause.code, checkpoint: text },
    });
  }
}

/** RFC 9162 §2.1.4.2: the verified tree extends `prev` (size, root). Returns the proof as text. */
async function checkExtends(
  log: OpenLog,
  prev: { size: bigint; root: Uint8Array; checkpoint: string | null },
): Promise<string[]> {
  const { cp, text } = log;
  const evidence = {
    previousSize: prev.size.toString(),
    previousRoot: encodeBase64(prev.root),
    ...(prev.checkpoint === null ? {} : { previous: prev.checkpoint }),
    checkpoint: text,
  };
  if (prev.size > cp.size) {
    throw fail(
      'ACCESS_LOG_INVALID',
      `the access log of size ${cp.size} is smaller than size ${prev.size} already seen`,
      {
        evidence,
      },
    );
  }
  if (prev.size === cp.size) {
    if (!bytesEqual(prev.root, cp.rootHash)) {
      throw fail('ACCESS_LOG_INVALID', `two access-log trees of size ${cp.size}`, { evidence });
    }
    return [`size ${prev.size}: the same root ${encodeBase64(prev.root)}`];
  }
  if (prev.size === 0n) return ['size 0: the empty tree is a prefix of every tree'];
  const proof = await log.read('consistency tiles', () => log.tiles.consistency(prev.size));
  try {
    verifyConsistency(prev.size, cp.size, proof, prev.root, cp.rootHash);
  } catch (cause) {
    throw fail(
      'ACCESS_LOG_INVALID',
      `the access log of size ${cp.size} does not extend the tree of size ${prev.size}`,
      { cause, evidence: { ...evidence, proof: proof.map(encodeBase64) } },
    );
  }
  return [
    `consistency ${prev.size} → ${cp.size} from root ${encodeBase64(prev.root)}: ${proof.map(encodeBase64).join(' ')}`,
  ];
}

interface Answer {
  readonly outputIndex: bigint;
  readonly entry: OutputLogEntry;
  readonly indices: bigint[];
  readonly proof: LookupProof;
}

/** The index service's answer (packages/access index-service): parsed strictly, nothing believed yet. */
async function readLookup(customer: string, reader: MineReader): Promise<Answer> {
  let got: { status: number; body: Uint8Array };
  try {
    got = await reader.lookup(customer);
  } catch (cause) {
    throw fail('INDEX_UNREACHABLE', "cannot read the index's answer", { cause });
  }
  const { status, body } = got;
  const shown = { status, body: decoder.decode(body.subarray(0, 512)) };
  if (status !== 200) {
    throw fail('INDEX_UNREACHABLE', `the index answered ${status}`, { evidence: shown });
  }
  const bad = (why: string, cause?: unknown): AccessFormatError =>
    fail('INDEX_ANSWER_INVALID', `the index's answer: ${why}`, {
      ...(cause === undefined ? {} : { cause }),
      evidence: shown,
    });
  if (body.length > MAX_LOOKUP_ANSWER_BYTES) throw bad('over the size limit');
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(body));
  } catch (cause) {
    throw bad('not JSON', cause);
  }
  const v = parsed as Record<string, unknown> | null;
  if (typeof v !== 'object' || v === null || v.customer !== customer) {
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
  // The lookup proof's own shape errors keep their code (LOOKUP_PROOF_INVALID).
  const proof = lookupProofFromJson(v.proof);
  return { outputIndex: uint(v.outputIndex, 'outputIndex'), entry, indices, proof };
}

function revisionOf(entry: OutputLogEntry, outputIndex: bigint): MineRevision {
  return {
    logRoot: encodeBase64(entry.logRoot),
    indexRoot: encodeBase64(entry.indexRoot),
    outputIndex: outputIndex.toString(),
  };
}

function revisionEntry(log: string, size: bigint, r: MineRevision): OutputLogEntry {
  return {
    schema: OUTPUT_ENTRY_SCHEMA,
    log,
    size,
    logRoot: stateHash(r.logRoot) as Uint8Array,
    indexRoot: stateHash(r.indexRoot) as Uint8Array,
  };
}

function stateHash(text: unknown): Uint8Array | undefined {
  const bytes = typeof text === 'string' ? decodeBase64Strict(text) : undefined;
  return bytes?.length === HASH_SIZE ? bytes : undefined;
}
