/**
 * The monitors' alerts, re-verified in the browser: the portal does not
 * take a monitor's word. Each alert is a JSON line in @glasshouse/witness's
 * alert format (kind, time, log, origin, message, code, evidence); its
 * evidence is checked with @glasshouse/tlog against the log keys of the
 * portal's trust roots, never against a key the alert carries:
 *
 * - `split-view`: both checkpoints signed by the log's key and of the same
 *   size with different roots — a log must never sign two trees of one
 *   size (c2sp.org/tlog-checkpoint);
 * - `rollback`: both signed, the newer one smaller (a log only grows);
 * - `inconsistent-checkpoint`: both signed, the older smaller, and the
 *   consistency proof the monitor built from the log's own tiles does not
 *   verify between their roots (RFC 9162 §2.1.4.2);
 * - `checkpoint-signature`, `quorum`: the checkpoint really fails the log's
 *   c2sp.org/tlog-policy here too;
 * - any other kind (a refused entry, a tile or repository finding, an
 *   access alert): the checkpoint it names, if any, is checked, and the
 *   finding itself is shown as the monitor's report, marked as not
 *   re-derivable from the evidence alone.
 *
 * An alert whose evidence does not hold is red with the reason.
 */
import { CodedError } from '@glasshouse/errors';
import {
  decodeBase64Strict,
  encodeBase64,
  hashLeaf,
  inclusionProof,
  openCheckpoint,
  openNote,
  tileHashReader,
  tilesForInclusion,
  verifyCheckpointWithPolicy,
  verifyConsistency,
  verifyInclusion,
  type Checkpoint,
} from '@glasshouse/tlog';
import type { PortalAlerts, PortalConfig, PortalLog } from '../config.js';
import { reasonOf, step, type Check } from './check.js';
import { fetchText, type Fetcher } from './fetch.js';
import { fetchTiles } from './logs.js';

/** The newest alerts of each source the page re-verifies. */
export const MAX_ALERTS_PER_SOURCE = 200;

export interface AlertReport {
  /** Line number in the served file (1-based). */
  readonly line: number;
  readonly kind: string;
  readonly time: string;
  readonly log: string;
  readonly origin: string | undefined;
  readonly message: string;
  readonly code: string | undefined;
  /** pass: the evidence proves it; fail: it does not (see the checks); note: not re-derivable here. */
  readonly verdict: 'pass' | 'fail' | 'note';
  readonly checks: readonly Check[];
}

export interface AlertSourceReport {
  readonly id: string;
  readonly title: string;
  /** Why the source could not be read at all. */
  readonly error: string | undefined;
  /** Newest first. */
  readonly alerts: readonly AlertReport[];
  /** Alerts in the file beyond the newest MAX_ALERTS_PER_SOURCE. */
  readonly omitted: number;
}

const bad = (why: string): CodedError => new CodedError('PORTAL_ALERT_INVALID', why);

interface RawAlert {
  readonly kind: string;
  readonly time: string;
  readonly log: string;
  readonly origin: string | undefined;
  readonly message: string;
  readonly code: string | undefined;
  readonly evidence: Readonly<Record<string, unknown>>;
}

/** One line of an alerts file, its shape checked (PORTAL_ALERT_INVALID). */
export function parseAlertLine(line: string): RawAlert {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw bad('the line is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('not an object');
  const a = v as Record<string, unknown>;
  const str = (k: string): string => {
    const x = a[k];
    if (typeof x !== 'string') throw bad(`${k} is not a string`);
    return x;
  };
  const opt = (k: string): string | undefined => (a[k] === undefined ? undefined : str(k));
  const evidence = a.evidence;
  if (typeof evidence !== 'object' || evidence === null || Array.isArray(evidence)) {
    throw bad('evidence is not an object');
  }
  return {
    kind: str('kind'),
    time: str('time'),
    log: str('log'),
    origin: opt('origin'),
    message: str('message'),
    code: opt('code'),
    evidence: evidence as Record<string, unknown>,
  };
}

/** The trusted log an alert is about: by origin (a policy's log key name), else by its checkpoint's first line. */
function logOf(config: PortalConfig, alert: RawAlert): PortalLog {
  const cp = alert.evidence.checkpoint;
  const origin =
    alert.origin ?? (typeof cp === 'string' ? cp.slice(0, Math.max(0, cp.indexOf('\n'))) : '');
  const log = config.logs.find((l) => l.policy.logs[0]?.verifier.name === origin);
  if (log === undefined) {
    throw new CodedError(
      'PORTAL_ALERT_UNKNOWN_LOG',
      `no log of the portal's trust roots signs as ${JSON.stringify(origin)}`,
    );
  }
  return log;
}

function noteField(alert: RawAlert, field: string): string {
  const v = alert.evidence[field];
  if (typeof v !== 'string' || v === '') {
    throw bad(`the evidence has no ${field} checkpoint`);
  }
  return v;
}

const logKeyLine = (log: PortalLog): string =>
  log.policyText
    .split('\n')
    .filter((l) => /^(log|witness) /.test(l))
    .join('\n');

/**
 * The evidence's checkpoint `field` is signed by the log's key from the
 * trust roots (c2sp.org/signed-note, tlog-checkpoint); the policy's
 * witnesses that cosigned it are listed (c2sp.org/tlog-cosignature).
 */
async function signedCheckpoint(
  log: PortalLog,
  alert: RawAlert,
  field: string,
  title: string,
): Promise<{ check: Check; value: Checkpoint | undefined }> {
  const verifier = log.policy.logs[0]?.verifier;
  return step(
    {
      id: `signed-${field}`,
      title,
      what: `The ${field === 'previous' ? 'earlier' : 'later'} checkpoint of the evidence is a signed note carrying a valid signature by the log's key from the portal's trust roots (c2sp.org/signed-note, c2sp.org/tlog-checkpoint); policy witnesses' cosignatures on it are listed.`,
    },
    () => {
      const note = noteField(alert, field);
      if (verifier === undefined) throw bad('the policy names no log key');
      const { checkpoint } = openCheckpoint(note, [verifier], { origin: verifier.name });
      let cosigners = 'no policy witness cosigned it';
      try {
        const names = openNote(
          note,
          log.policy.witnesses.map((w) => w.verifier),
        ).verified.map((s) => s.name);
        if (names.length > 0) cosigners = `cosigned by ${names.join(', ')}`;
      } catch (err) {
        // c2sp.org/signed-note: none of the witnesses' keys signed it (else a cosignature failed).
        if ((err as { code?: unknown }).code !== 'NOTE_NO_VERIFIED_SIGNATURE') {
          cosigners = `witness cosignatures: ${reasonOf(err)}`;
        }
      }
      return Promise.resolve({
        value: checkpoint,
        summary: `size ${checkpoint.size}, root ${encodeBase64(checkpoint.rootHash)}; signed by ${verifier.name}, ${cosigners}`,
        against: logKeyLine(log),
        proof: [note],
      });
    },
  );
}

/** The alert's own summary fields (size, roots) must be what its signed checkpoints say. */
function sameAsStated(alert: RawAlert, older: Checkpoint, newer: Checkpoint): void {
  const e = alert.evidence;
  const stated: [string, unknown, string][] = [
    ['root', e.root, encodeBase64(newer.rootHash)],
    ['previousRoot', e.previousRoot, encodeBase64(older.rootHash)],
    ['size', e.size, newer.size.toString()],
    ['previousSize', e.previousSize, older.size.toString()],
  ];
  for (const [k, said, is] of stated) {
    if (said !== undefined && said !== is) {
      throw new CodedError(
        'PORTAL_ALERT_EVIDENCE_MISMATCH',
        `the alert says ${k} ${JSON.stringify(said)} but its signed checkpoint says ${is}`,
      );
    }
  }
}

/** What the two checkpoints of a split view, rollback or inconsistency prove. */
function conflict(
  alert: RawAlert,
  older: Checkpoint,
  newer: Checkpoint,
): Promise<{
  check: Check;
  value: undefined;
}> {
  const base = {
    split: {
      id: 'conflict',
      title: 'The two checkpoints conflict',
      what: 'Both signed checkpoints have the same size and different root hashes: the log signed two different trees of one size, a split view (c2sp.org/tlog-checkpoint: a log never does).',
    },
    rollback: {
      id: 'conflict',
      title: 'The log went back',
      what: 'The later signed checkpoint is smaller than the earlier one: a log only grows (RFC 9162 §2.1).',
    },
    inconsistent: {
      id: 'conflict',
      title: 'No consistency between the two',
      what: "The consistency proof the monitor computed from the log's own tiles (in the evidence) does not verify from the smaller checkpoint's root to the larger one's (RFC 9162 §2.1.4.2).",
    },
  } as const;
  const which =
    alert.kind === 'split-view' ? 'split' : alert.kind === 'rollback' ? 'rollback' : 'inconsistent';
  return step(base[which], () => {
    sameAsStated(alert, older, newer);
    const a = `size ${older.size} root ${encodeBase64(older.rootHash)}`;
    const b = `size ${newer.size} root ${encodeBase64(newer.rootHash)}`;
    const noConflict = (why: string): CodedError =>
      new CodedError('PORTAL_ALERT_NO_CONFLICT', `${why}: the evidence does not show the alert`);
    if (which === 'split') {
      if (older.size !== newer.size)
        throw noConflict(`the sizes differ (${older.size}, ${newer.size})`);
      if (encodeBase64(older.rootHash) === encodeBase64(newer.rootHash)) {
        throw noConflict('both checkpoints have the same root');
      }
      return Promise.resolve({
        value: undefined,
        summary: `two trees of size ${newer.size}: ${encodeBase64(older.rootHash)} and ${encodeBase64(newer.rootHash)}`,
        proof: [a, b],
      });
    }
    if (which === 'rollback') {
      if (newer.size >= older.size) throw noConflict(`the later size ${newer.size} is not smaller`);
      return Promise.resolve({
        value: undefined,
        summary: `from size ${older.size} back to ${newer.size}`,
        proof: [a, b],
      });
    }
    if (older.size >= newer.size) throw noConflict(`size ${older.size} is not below ${newer.size}`);
    const raw = alert.evidence.proof;
    if (!Array.isArray(raw) || !raw.every((h) => typeof h === 'string')) {
      throw bad('the evidence has no consistency proof');
    }
    const proof = raw.map((h) => {
      const b = decodeBase64Strict(h);
      if (b === undefined) throw bad('a consistency proof hash is not base64');
      return b;
    });
    try {
      verifyConsistency(older.size, newer.size, proof, older.rootHash, newer.rootHash);
    } catch (err) {
      return Promise.resolve({
        value: undefined,
        summary: `the log's proof from ${older.size} to ${newer.size} fails: ${reasonOf(err)}`,
        proof: [a, b, ...raw],
      });
    }
    throw noConflict('the consistency proof verifies');
  });
}

/** A checkpoint the monitor refused: it must fail the log's policy here too. */
function refusedCheckpoint(log: PortalLog, alert: RawAlert, now: Date) {
  return step(
    {
      id: 'refused',
      title: 'The checkpoint fails the policy here too',
      what: "The checkpoint of the evidence is checked against the log's c2sp.org/tlog-policy from the portal's trust roots (log signature, witness quorum): it must fail, as the monitor said.",
      against: log.policyText,
    },
    () => {
      const note = noteField(alert, 'checkpoint');
      try {
        verifyCheckpointWithPolicy(note, log.policy, {
          now: BigInt(Math.floor(now.getTime() / 1000)),
        });
      } catch (err) {
        return Promise.resolve({
          value: undefined,
          summary: `refused: ${reasonOf(err)}`,
          proof: [note],
        });
      }
      throw new CodedError(
        'PORTAL_ALERT_NOT_CONFIRMED',
        'the checkpoint verifies under the policy: the evidence does not show the alert',
      );
    },
  );
}

/**
 * A finding about one entry (`index`, `entry` or `leafHash` in the
 * evidence): that entry is really in the log under the signed checkpoint —
 * an RFC 9162 §2.1.3 inclusion proof built from the log's own tiles — so the
 * monitor did not invent what it refused. The refusal itself needs the
 * monitor's inputs and is shown as reported.
 */
function includedEntry(
  log: PortalLog,
  alert: RawAlert,
  cp: Checkpoint,
  fetcher: Fetcher | undefined,
): Promise<{ check: Check; value: undefined }> {
  return step(
    {
      id: 'included',
      title: 'The entry is in the log',
      what: "The entry the alert names is included at its index in the tree the signed checkpoint commits to: the leaf hash (RFC 9162 §2.1.1, of the entry's bytes, or the alert's leafHash when the entry is not text) and an inclusion proof built from the log's hash tiles (c2sp.org/tlog-tiles), checked against the signed root (RFC 9162 §2.1.3.2).",
    },
    async () => {
      const e = alert.evidence;
      if (typeof e.index !== 'string' || !/^(0|[1-9]\d{0,19})$/.test(e.index)) {
        throw bad('the evidence names no entry index');
      }
      const index = BigInt(e.index);
      // The entry is base64 in the witness monitor's alerts, text in the residency monitor's.
      const candidates: Uint8Array[] =
        typeof e.entry === 'string' ? [new TextEncoder().encode(e.entry)] : [];
      const raw = typeof e.entry === 'string' ? decodeBase64Strict(e.entry) : undefined;
      if (raw !== undefined) candidates.push(raw);
      const hashes = candidates.map((c) => hashLeaf(c));
      const given = typeof e.leafHash === 'string' ? decodeBase64Strict(e.leafHash) : undefined;
      const leaf = given ?? hashes[0];
      if (leaf === undefined) throw bad('the evidence has neither the entry nor its leaf hash');
      const entryMatches = hashes.some((h) => encodeBase64(h) === encodeBase64(leaf));
      const tiles = await fetchTiles(log.base, tilesForInclusion(index, cp.size), fetcher);
      const proof = await inclusionProof(index, cp.size, tileHashReader(cp.size, tiles));
      verifyInclusion(leaf, index, cp.size, proof, cp.rootHash);
      const textNote = entryMatches
        ? ''
        : ' (the entry as shown does not hash to the leaf: proved by the leaf hash alone)';
      return {
        value: undefined,
        summary: `entry ${index} of ${cp.size} is included under the signed root${textNote}`,
        proof: [`leaf ${encodeBase64(leaf)}`, ...proof.map(encodeBase64)],
      };
    },
  );
}

const PAIRS = new Set(['split-view', 'rollback', 'inconsistent-checkpoint']);

/** Re-verifies one alert's evidence. */
export async function verifyAlert(
  config: PortalConfig,
  alert: RawAlert,
  line: number,
  now: Date,
  fetcher?: Fetcher,
): Promise<AlertReport> {
  const checks: Check[] = [];
  const head = {
    line,
    kind: alert.kind,
    time: alert.time,
    log: alert.log,
    origin: alert.origin,
    message: alert.message,
    code: alert.code,
  };
  const finish = (noteOnly: boolean): AlertReport => ({
    ...head,
    verdict: checks.some((c) => c.verdict === 'fail') ? 'fail' : noteOnly ? 'note' : 'pass',
    checks,
  });
  const logStep = await step(
    {
      id: 'log',
      title: 'A log of the trust roots',
      what: "The alert's log is one whose key the portal's trust roots hold (matched by origin, the key's name); every signature below is checked against that key, none against a key the alert carries.",
    },
    () => {
      const log = logOf(config, alert);
      return Promise.resolve({ value: log, summary: log.title, against: logKeyLine(log) });
    },
  );
  const log = logStep.value;
  if (PAIRS.has(alert.kind)) {
    checks.push(logStep.check);
    if (log === undefined) return finish(false);
    const older = await signedCheckpoint(
      log,
      alert,
      'previous',
      'Earlier checkpoint signed by the log',
    );
    const newer = await signedCheckpoint(
      log,
      alert,
      'checkpoint',
      'Later checkpoint signed by the log',
    );
    checks.push(older.check, newer.check);
    if (older.value !== undefined && newer.value !== undefined) {
      checks.push((await conflict(alert, older.value, newer.value)).check);
    }
    return finish(false);
  }
  if (alert.kind === 'checkpoint-signature' || alert.kind === 'quorum') {
    checks.push(logStep.check);
    if (log !== undefined) checks.push((await refusedCheckpoint(log, alert, now)).check);
    return finish(false);
  }
  // Other findings: the checkpoint they were found under, when the log is known.
  if (log !== undefined && typeof alert.evidence.checkpoint === 'string') {
    checks.push(logStep.check);
    const under = await signedCheckpoint(
      log,
      alert,
      'checkpoint',
      'Found under a checkpoint signed by the log',
    );
    checks.push(under.check);
    const e = alert.evidence;
    // Only where the evidence carries the entry or its leaf hash (an access alert names a record by index alone).
    if (under.value !== undefined && 'index' in e && ('entry' in e || 'leafHash' in e)) {
      checks.push((await includedEntry(log, alert, under.value, fetcher)).check);
    }
  }
  checks.push({
    id: 'finding',
    title: "The monitor's finding",
    verdict: 'note',
    summary: `${alert.kind}: not re-derivable from the evidence alone; shown as the monitor reported it`,
    what: `The page re-verifies split views, rollbacks, inconsistent checkpoints and refused checkpoints from their evidence. A ${alert.kind} alert needs the monitor's own view (the entries, the tiles, the repository or the approvals it read), so its evidence is shown as it is.`,
    proof: [JSON.stringify(alert.evidence, null, 2)],
  });
  return finish(true);
}

/** Reads and re-verifies the alerts of one source, newest first. */
export async function verifyAlertSource(
  config: PortalConfig,
  source: PortalAlerts,
  now: Date,
  fetcher?: Fetcher,
): Promise<AlertSourceReport> {
  const base = { id: source.id, title: source.title };
  let text: string;
  try {
    text = await fetchText(source.path, fetcher);
  } catch (err) {
    return { ...base, error: reasonOf(err), alerts: [], omitted: 0 };
  }
  const lines = text.split('\n');
  const numbered = lines.map((l, i) => ({ l, line: i + 1 })).filter((x) => x.l.trim() !== '');
  const newest = numbered.slice(-MAX_ALERTS_PER_SOURCE).reverse();
  const alerts = await Promise.all(
    newest.map(async ({ l, line }): Promise<AlertReport> => {
      try {
        return await verifyAlert(config, parseAlertLine(l), line, now, fetcher);
      } catch (err) {
        return {
          line,
          kind: 'unreadable',
          time: '',
          log: '',
          origin: undefined,
          message: 'an alert line the page cannot read',
          code: undefined,
          verdict: 'fail',
          checks: [
            {
              id: 'parse',
              title: 'Alert format',
              verdict: 'fail',
              summary: reasonOf(err),
              what: "The line is one JSON alert in @glasshouse/witness's format (kind, time, log, message, evidence).",
              proof: [l.slice(0, 2000)],
            },
          ],
        };
      }
    }),
  );
  return { ...base, error: undefined, alerts, omitted: numbered.length - newest.length };
}

export async function verifyAlerts(
  config: PortalConfig,
  now: Date,
  fetcher?: Fetcher,
): Promise<readonly AlertSourceReport[]> {
  return Promise.all(config.alerts.map((s) => verifyAlertSource(config, s, now, fetcher)));
}

/** The residency monitor's alerts alone (the source npm start names `residency`), for the Residency page. */
export async function verifyResidencyAlerts(
  config: PortalConfig,
  now: Date,
  fetcher?: Fetcher,
): Promise<readonly AlertSourceReport[]> {
  return Promise.all(
    config.alerts
      .filter((s) => s.id === 'residency')
      .map((s) => verifyAlertSource(config, s, now, fetcher)),
  );
}
