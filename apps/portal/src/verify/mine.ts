/**
 * My data: `glasshouse access mine` in the browser — the same checks
 * (@glasshouse/access-format's checkMine), reading through the portal's
 * same-origin proxy. The customer's key is read in this browser and never
 * sent: only its pseudonym, which every access record carries already, is
 * looked up. What a successful check saw is remembered in this browser
 * (localStorage, per customer) so the next visit must extend it: an access
 * listed once can never silently disappear.
 */
import {
  checkMine,
  MAX_LOOKUP_ANSWER_BYTES,
  MINE_STEPS,
  parseMineState,
  type MineAccess,
  type MineState,
  type MineStepId,
} from '@glasshouse/access-format';
import { publicKeyFromPem, signingKeyFromPem } from '@glasshouse/attest';
import { CodedError } from '@glasshouse/errors';
import { customerPseudonym } from '@glasshouse/residency';
import { sha256 } from '@glasshouse/tlog';
import type { PortalConfig, PortalLog } from '../config.js';
import { reasonOf, type Check } from './check.js';
import { fetchBytes, type Fetcher } from './fetch.js';

/** The logs My data reads, by their portal ids (from the policies' titles). */
export const ACCESS_LOG_ID = 'access-log';
export const OUTPUT_LOG_ID = 'access-index-output-log';

/** The key file a customer opens: small, text. */
export const MAX_KEY_CHARS = 16 * 1024;

export interface KeyIdentity {
  readonly customer: string;
  /** What was read: a private key (its public half derived here) or a public key. */
  readonly kind: 'PKCS#8 private key' | 'SPKI public key';
}

/**
 * The customer pseudonym of a key file's text: `c-` + the first 32 hex of
 * SHA-256 of the raw Ed25519 public key (as `access mine --customer-key`).
 */
export function customerOfKey(text: string): KeyIdentity {
  if (text.length > MAX_KEY_CHARS) {
    throw new CodedError('PORTAL_KEY_INVALID', `a key file is at most ${MAX_KEY_CHARS} characters`);
  }
  try {
    if (text.includes('-----BEGIN PRIVATE KEY-----')) {
      return {
        customer: customerPseudonym(signingKeyFromPem(text).publicKey),
        kind: 'PKCS#8 private key',
      };
    }
    if (text.includes('-----BEGIN PUBLIC KEY-----')) {
      return {
        customer: customerPseudonym(publicKeyFromPem(text).publicKey),
        kind: 'SPKI public key',
      };
    }
  } catch (err) {
    throw new CodedError('PORTAL_KEY_INVALID', `not an Ed25519 customer key: ${reasonOf(err)}`, {
      cause: err,
    });
  }
  throw new CodedError(
    'PORTAL_KEY_INVALID',
    'not a customer key: expected an Ed25519 PEM key (-----BEGIN PRIVATE KEY----- or -----BEGIN PUBLIC KEY-----)',
  );
}

const STEP_TEXT: Record<MineStepId, { title: string; what: string }> = {
  'output-log': {
    title: 'Index output log',
    what: "The index output log's checkpoint is signed by its log key and cosigned to its policy's quorum (c2sp.org/tlog-policy), extends the one this browser saw (RFC 9162 §2.1.4.2), and its entries hash to the signed root (RFC 9162 §2.1.1). Every entry is an index revision; two revisions at one access-log size must agree (KEYTRANS §10.2 fork detection).",
  },
  lookup: {
    title: "The index's answer",
    what: "The index service's answer for your pseudonym names a revision (access-log size, access-log root, index root) that is exactly one of the witnessed output log's entries: the index cannot answer from a revision it did not publish.",
  },
  'access-log': {
    title: 'Access log',
    what: "The access log's checkpoint is signed and cosigned to its policy's quorum, extends the one this browser saw, and the revision's input tree (size S, root) is a prefix of it: a consistency proof from the log's tiles (RFC 9162 §2.1.4.2).",
  },
  inclusion: {
    title: 'Each record in the access log',
    what: "Every listed access is read from the access log's entry bundles (c2sp.org/tlog-tiles) and its inclusion proved under the verified checkpoint (RFC 9162 §2.1.3.2).",
  },
  completeness: {
    title: 'Complete',
    what: 'The lookup proof ties exactly these indices to the index root (a record hidden from the list or added to it fails), every record is yours, your access counters run 1, 2, … n without a gap (a record left out of the index fails), and every access this browser saw listed before is listed again (@glasshouse/access-format checkCompleteness, issue 17 §6).',
  },
};

export interface MineReport {
  readonly customer: string;
  readonly checks: readonly Check[];
  readonly records: readonly MineAccess[];
  /** The access-log size the list is complete up to, when every check passed. */
  readonly size: bigint | undefined;
}

/**
 * Where a successful check's state is kept for the next visit: per
 * customer and per pair of log keys (`logs`), so logs re-created under new
 * keys start afresh while the same logs must extend what was seen.
 */
export interface MineMemory {
  get(customer: string, logs: string): MineState | undefined;
  put(customer: string, logs: string, state: MineState): void;
}

const STORAGE_PREFIX = 'glasshouse.access-mine';

/** localStorage (a memory-only store when it is unavailable). */
export function browserMineMemory(): MineMemory {
  const map = new Map<string, MineState>();
  const storage = typeof localStorage === 'undefined' ? undefined : localStorage;
  const key = (customer: string, logs: string): string => `${STORAGE_PREFIX} ${customer} ${logs}`;
  return {
    get(customer, logs) {
      const text = storage?.getItem(key(customer, logs));
      if (text === null || text === undefined) return map.get(key(customer, logs));
      // A state that no longer parses is a refusal, not a fresh start (it would forget what was seen).
      return parseMineState(JSON.parse(text) as unknown, customer);
    },
    put(customer, logs, state) {
      map.set(key(customer, logs), state);
      storage?.setItem(key(customer, logs), JSON.stringify(state));
    },
  };
}

/** The logs' identity in the memory: SHA-256 (hex) of both policies' log keys. */
function logsKey(accessLog: PortalLog, outputLog: PortalLog): string {
  const keys = [accessLog, outputLog].map((l) => l.policy.logs.map((k) => k.vkey).join(' '));
  return Array.from(sha256(new TextEncoder().encode(keys.join('\n'))), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('');
}

export async function verifyMine(
  config: PortalConfig,
  identity: KeyIdentity,
  now: Date,
  memory: MineMemory,
  fetcher?: Fetcher,
): Promise<MineReport> {
  const { customer } = identity;
  const accessLog = config.logs.find((l) => l.id === ACCESS_LOG_ID);
  const outputLog = config.logs.find((l) => l.id === OUTPUT_LOG_ID);
  const checks: Check[] = [
    {
      id: 'key',
      title: 'Your pseudonym',
      verdict: 'note',
      summary: `${customer}, from your ${identity.kind}; only the pseudonym is looked up, the key stays in this browser`,
      what: 'A customer is named in every log only by its pseudonym: "c-" and the first 32 hex digits of SHA-256 of its raw Ed25519 public key (the same as glasshouse access mine --customer-key). The key file was read by this page and is not sent anywhere.',
    },
  ];
  if (accessLog === undefined || outputLog === undefined || config.accessIndex === null) {
    return { customer, checks: [], records: [], size: undefined };
  }
  const passed = new Map<MineStepId, { summary: string; proof: readonly string[] }>();
  const lookupUrl = `${config.accessIndex}${customer}`;
  const logs = logsKey(accessLog, outputLog);
  let previous: MineState | undefined;
  let failure: string | undefined;
  let notKept: string | undefined;
  try {
    previous = memory.get(customer, logs);
  } catch (err) {
    failure = reasonOf(err);
  }
  let records: readonly MineAccess[] = [];
  let size: bigint | undefined;
  if (failure === undefined) {
    try {
      const result = await checkMine(
        {
          customer,
          accessLogPolicy: accessLog.policy,
          outputLogPolicy: outputLog.policy,
          state: previous ?? null,
          now,
          maxFutureSkewSeconds: 300,
          onStep: (s) => passed.set(s.id, s),
        },
        {
          accessLog: (path) => fetchBytes(`${accessLog.base}${path}`, fetcher),
          outputLog: (path) => fetchBytes(`${outputLog.base}${path}`, fetcher),
          lookup: async () => {
            const res = await (fetcher ?? fetch)(lookupUrl);
            const body = new Uint8Array(await res.arrayBuffer());
            if (body.length > MAX_LOOKUP_ANSWER_BYTES) {
              throw new CodedError(
                'PORTAL_RESPONSE_TOO_LARGE',
                `${lookupUrl} sent ${body.length} bytes`,
              );
            }
            return { status: res.status, body };
          },
        },
      );
      records = result.records;
      size = result.size;
      try {
        memory.put(customer, logs, result.state);
      } catch (err) {
        // The check holds; only the memory for the next visit is lost (e.g. storage full).
        notKept = reasonOf(err);
      }
    } catch (err) {
      failure = reasonOf(err);
    }
  }
  const against: Partial<Record<MineStepId, string>> = {
    'output-log': outputLog.policyText,
    'access-log': accessLog.policyText,
  };
  let failedAlready = false;
  for (const id of MINE_STEPS) {
    const text = STEP_TEXT[id];
    const ok = passed.get(id);
    const base = {
      id,
      ...text,
      ...(against[id] === undefined ? {} : { against: against[id] }),
    };
    if (ok !== undefined) {
      checks.push({ ...base, verdict: 'pass', summary: ok.summary, proof: ok.proof });
    } else if (!failedAlready) {
      failedAlready = true;
      checks.push({ ...base, verdict: 'fail', summary: failure ?? 'not checked' });
    } else {
      checks.push({ ...base, verdict: 'fail', summary: 'not checked: an earlier check failed' });
    }
  }
  const seenBefore = previous?.listed;
  checks.push({
    id: 'memory',
    title: 'Remembered in this browser',
    verdict: 'note',
    summary:
      failure !== undefined
        ? 'nothing new remembered: only a check that passes is kept'
        : notKept !== undefined
          ? `this check could not be kept for the next visit: ${notKept}`
          : seenBefore === null || seenBefore === undefined
            ? 'first check from this browser: what it saw is kept, and later visits must extend it'
            : `extends the check of access-log size ${seenBefore.size} (${seenBefore.indices.length} accesses then, all listed again)`,
    what: "The output log's and the access log's verified trees, the index revisions seen and the accesses listed are kept in this browser's localStorage (per customer and per pair of log keys); the next check must be consistent with them and list every access again.",
  });
  return { customer, checks, records, size };
}
