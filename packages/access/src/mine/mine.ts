/**
 * `access mine`: a customer's check that it has seen every access to its
 * data (issue 17 §6; vindex README "Reading"). The checks are
 * @glasshouse/access-format's `checkMine` (the same code the Transparency
 * Center runs in a browser, where each step is listed); this module is its
 * Node adapter: HTTP reads of the two logs' tlog-tiles APIs and the index
 * service, and the state file (JSON, written durably) that keeps what the
 * last run saw — the output log's verified tree, the revisions seen, the
 * access-log checkpoint and the indices listed.
 */
import { readFile } from 'node:fs/promises';
import {
  type MineAccess,
  type MineResult as CheckedMine,
  type MineState,
  checkMine,
  emptyMineState,
  parseMineState,
} from '@glasshouse/access-format';
import { writeFileDurably, isErrno } from '@glasshouse/durable';
import { readBoundedBody } from '@glasshouse/http';
import { CUSTOMER_PSEUDONYM } from '@glasshouse/residency';
import { parsePolicy } from '@glasshouse/tlog';
import { AccessError } from '../errors.js';
import { nodeSha256 } from '../hash.js';

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

export type MineRecord = MineAccess;
export type MineResult = Omit<CheckedMine, 'state'>;

const MAX_STATE_BYTES = 64 * 1024 * 1024;
/** A full entry bundle: 256 entries of at most 65,535 bytes, each with its 2-byte length. */
const MAX_TILE_BYTES = 256 * 65_537;
const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

export async function checkMyAccesses(opts: MineOptions): Promise<MineResult> {
  if (!CUSTOMER_PSEUDONYM.test(opts.customer)) {
    throw new AccessError('CONFIG_INVALID', 'not a customer pseudonym', {
      evidence: { customer: opts.customer.slice(0, 40) },
    });
  }
  const accessLogPolicy = policyOf(opts.accessLogPolicy, 'access-log');
  const outputLogPolicy = policyOf(opts.outputLogPolicy, 'output-log');
  const state = await loadState(opts.stateFile, opts.customer);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const doFetch = opts.fetch ?? fetch;
  const get = (base: string, max: number) => async (path: string) => {
    const url = new URL(path, withSlash(base)).href;
    // One retry: a log behind a load balancer may drop one connection.
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await doFetch(url, { signal: AbortSignal.timeout(timeoutMs) });
      } catch (err) {
        if (attempt === 0) continue;
        throw err;
      }
      if (res.status >= 500 && attempt === 0) {
        await res.body?.cancel();
        continue;
      }
      if (res.status !== 200) {
        await res.body?.cancel();
        throw new Error(`${url} answered ${res.status}`);
      }
      return readBoundedBody(res, max);
    }
  };
  const result = await checkMine(
    {
      customer: opts.customer,
      accessLogPolicy,
      outputLogPolicy,
      state,
      ...(opts.known === undefined ? {} : { known: opts.known }),
      now: (opts.now ?? ((): Date => new Date()))(),
      sha256: nodeSha256,
    },
    {
      accessLog: get(opts.accessLogUrl, MAX_TILE_BYTES),
      outputLog: get(opts.outputLogUrl, MAX_TILE_BYTES),
      lookup: async (customer) => {
        const url = new URL(`v1/lookup/${customer}`, withSlash(opts.indexUrl)).href;
        const res = await doFetch(url, { signal: AbortSignal.timeout(timeoutMs) });
        return { status: res.status, body: await readBoundedBody(res, MAX_ANSWER_BYTES) };
      },
    },
  );
  if (opts.stateFile !== undefined) {
    await writeFileDurably(opts.stateFile, `${JSON.stringify(result.state)}\n`);
  }
  return {
    customer: result.customer,
    size: result.size,
    records: result.records,
    outputIndex: result.outputIndex,
    entry: result.entry,
    accessLogCheckpoint: result.accessLogCheckpoint,
  };
}

function policyOf(text: string, what: string): ReturnType<typeof parsePolicy> {
  try {
    const p = parsePolicy(text);
    if (p.logs.length !== 1) throw new Error('not one log line');
    return p;
  } catch (cause) {
    throw new AccessError('CONFIG_INVALID', `the ${what} policy does not parse or names no log`, {
      cause,
    });
  }
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

/** The state file's state; a first run's when there is no file. A version 1 file is read forward. */
async function loadState(file: string | undefined, customer: string): Promise<MineState> {
  if (file === undefined) return emptyMineState(customer);
  let text: string;
  try {
    const buf = await readFile(file);
    if (buf.length > MAX_STATE_BYTES) throw new Error('over the size limit');
    text = buf.toString('utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return emptyMineState(customer);
    throw new AccessError('MINE_STATE_INVALID', `cannot read ${file}`, { cause: err });
  }
  try {
    const s = JSON.parse(text) as Record<string, unknown> | null;
    if (s?.v === 1) {
      // Version 1 kept the output log's tail as encoded text ({v, origin, checkpoint, size, compact}).
      const tail =
        typeof s.output === 'string' ? (JSON.parse(s.output) as Record<string, unknown>) : null;
      return parseMineState(
        {
          ...s,
          v: 2,
          output:
            tail === null
              ? null
              : { checkpoint: tail.checkpoint, size: tail.size, compact: tail.compact },
        },
        customer,
      );
    }
    return parseMineState(s, customer);
  } catch (cause) {
    throw new AccessError('MINE_STATE_INVALID', `${file} is not an access-mine state file`, {
      cause,
    });
  }
}
