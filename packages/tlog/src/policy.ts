/**
 * Witness policies (c2sp.org/tlog-policy): which logs may sign a checkpoint
 * and which combination of witness cosignatures makes it trustworthy.
 *
 * A policy is parsed once, strictly, and then evaluated purely: no clock, no
 * I/O. Verification of a checkpoint against a policy opens the signed note
 * with every key the policy names, so a bad signature from any known key
 * rejects the note (c2sp.org/signed-note), then checks the log signature, the
 * origin and the quorum.
 */
import { type Checkpoint, parseCheckpoint } from './checkpoint.js';
import {
  type CosignatureTimeOptions,
  collectCosignatures,
  parseCosignatureVerifierKey,
} from './cosignature.js';
import { hasCode } from '@glasshouse/errors';
import { TlogError } from './errors.js';
import {
  type NoteVerifier,
  type NoteVerifierKey,
  type OpenNoteOptions,
  type OpenedNote,
  encodeBase64,
  hexKeyId,
  openNote,
  parseVerifierKey,
} from './note.js';

/** Default cap on the policy's size in bytes; real policies are a few KiB. */
export const DEFAULT_MAX_POLICY_SIZE = 64 * 1024;
/** Default cap on the number of lines, comments included. */
export const DEFAULT_MAX_POLICY_LINES = 1024;

/** The predefined quorum name meaning "no cosignature required". */
export const QUORUM_NONE = 'none';

export interface PolicyLog {
  /** The vkey as written in the policy. Its key name is the log's origin. */
  readonly vkey: string;
  readonly verifier: NoteVerifierKey;
  readonly url: string | undefined;
}

export interface PolicyWitness {
  /** The policy-local name, used only by `group` and `quorum` lines. */
  readonly name: string;
  /** The cosignature (type 0x04) vkey as written in the policy. */
  readonly vkey: string;
  readonly verifier: NoteVerifierKey;
  readonly url: string | undefined;
}

export interface PolicyGroup {
  readonly name: string;
  /** k: at least this many members must have witnessed; 1 <= k <= members.length. */
  readonly threshold: number;
  /** Names of witnesses or earlier groups, each listed in at most one group. */
  readonly members: readonly string[];
}

export interface Policy {
  readonly logs: readonly PolicyLog[];
  readonly witnesses: readonly PolicyWitness[];
  /** In definition order, so each group's members precede it. */
  readonly groups: readonly PolicyGroup[];
  /** A witness or group name, or `none`. */
  readonly quorum: string;
  /** Whether cosignatures from exactly these witnesses satisfy the quorum. */
  quorumMet(witnessNames: ReadonlySet<string>): boolean;
}

export interface ParsePolicyOptions {
  /** Maximum size in bytes (UTF-8). Defaults to {@link DEFAULT_MAX_POLICY_SIZE}. */
  maxSize?: number;
  /** Maximum number of lines. Defaults to {@link DEFAULT_MAX_POLICY_LINES}. */
  maxLines?: number;
}

/**
 * Parses a policy file. Throws a TlogError with a `POLICY_*` code naming the
 * first problem, with the 1-based line number in `evidence.line`.
 */
export function parsePolicy(input: string | Uint8Array, opts: ParsePolicyOptions = {}): Policy {
  const maxSize = opts.maxSize ?? DEFAULT_MAX_POLICY_SIZE;
  const maxLines = opts.maxLines ?? DEFAULT_MAX_POLICY_LINES;
  const text = decodePolicy(input, maxSize);

  const lines = text.split('\n');
  // A final newline leaves one empty element behind; it is not a line.
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length > maxLines) {
    throw new TlogError('POLICY_TOO_LARGE', `policy has more than ${maxLines} lines`, {
      evidence: { lines: lines.length, maxLines },
    });
  }

  const logs: PolicyLog[] = [];
  const witnesses: PolicyWitness[] = [];
  const groups: PolicyGroup[] = [];
  // Witnesses and groups share one namespace. c2sp.org/tlog-policy
  const defined = new Map<string, 'witness' | 'group'>();
  const usedAsMember = new Set<string>();
  const logKeys = new Set<string>();
  const witnessKeys = new Set<string>();
  // openNote matches signatures by (key name, key ID); two keys sharing both
  // would make a signature ambiguous, so refuse them up front.
  const noteKeyIds = new Set<string>();
  let quorum: string | undefined;

  lines.forEach((raw, i) => {
    const line = i + 1;
    const fields = raw.split(/[ \t]+/).filter((f) => f !== '');
    const keyword = fields[0];
    // Blank lines and comment lines are ignored. c2sp.org/tlog-policy
    if (keyword === undefined || keyword.startsWith('#')) return;

    switch (keyword) {
      case 'log': {
        const [, vkey, url, ...rest] = fields;
        if (vkey === undefined || rest.length > 0) malformed(line, 'log <vkey> [<url>]');
        const verifier = parseKey(vkey, 'log', line);
        // Duplicate logs (same public key) are not allowed. c2sp.org/tlog-policy
        claimKey(logKeys, verifier, 'log', line);
        claimNoteKeyId(noteKeyIds, verifier, line);
        logs.push({ vkey, verifier, url });
        return;
      }
      case 'witness': {
        const [, name, vkey, url, ...rest] = fields;
        if (name === undefined || vkey === undefined || rest.length > 0) {
          malformed(line, 'witness <name> <vkey> [<url>]');
        }
        defineName(defined, name, 'witness', line);
        const verifier = parseKey(vkey, 'witness', line);
        // Duplicate witnesses (same public key) are not allowed. c2sp.org/tlog-policy
        claimKey(witnessKeys, verifier, 'witness', line);
        claimNoteKeyId(noteKeyIds, verifier, line);
        witnesses.push({ name, vkey, verifier, url });
        return;
      }
      case 'group': {
        const [, name, k, ...members] = fields;
        // At least one member must be listed. c2sp.org/tlog-policy
        if (name === undefined || k === undefined || members.length === 0) {
          malformed(line, 'group <name> all|any|<k> <name>...');
        }
        defineName(defined, name, 'group', line);
        const threshold = parseThreshold(k, members.length, line);
        const seen = new Set<string>();
        for (const member of members) {
          // `none` is predefined but invalid as a group member. c2sp.org/tlog-policy
          if (member === QUORUM_NONE) {
            throw new TlogError('POLICY_RESERVED_NAME', `"none" cannot be a group member`, {
              evidence: { line, group: name },
            });
          }
          // Only names defined on preceding lines, which also rules out cycles. c2sp.org/tlog-policy
          if (!defined.has(member) || member === name) {
            throw new TlogError('POLICY_UNDEFINED_NAME', `group member is not defined above`, {
              evidence: { line, group: name, member },
            });
          }
          // Each name is a group member at most once, so every witness
          // contributes to the quorum in only one way. c2sp.org/tlog-policy
          if (usedAsMember.has(member) || seen.has(member)) {
            throw new TlogError('POLICY_DUPLICATE_MEMBER', `name is already a group member`, {
              evidence: { line, group: name, member },
            });
          }
          seen.add(member);
        }
        for (const member of seen) usedAsMember.add(member);
        groups.push({ name, threshold, members });
        return;
      }
      case 'quorum': {
        const [, name, ...rest] = fields;
        if (name === undefined || rest.length > 0) malformed(line, 'quorum <name>');
        // Exactly one quorum line. c2sp.org/tlog-policy
        if (quorum !== undefined) {
          throw new TlogError('POLICY_QUORUM_DUPLICATE', 'policy has more than one quorum line', {
            evidence: { line },
          });
        }
        // The quorum names `none` or a witness or group defined earlier. c2sp.org/tlog-policy
        if (name !== QUORUM_NONE && !defined.has(name)) {
          throw new TlogError('POLICY_UNDEFINED_NAME', 'quorum name is not defined above', {
            evidence: { line, quorum: name },
          });
        }
        quorum = name;
        return;
      }
      default:
        throw new TlogError('POLICY_UNKNOWN_KEYWORD', 'unknown policy keyword', {
          evidence: { line, keyword },
        });
    }
  });

  // Only the quorum is mandatory. c2sp.org/tlog-policy
  if (quorum === undefined) {
    throw new TlogError('POLICY_QUORUM_MISSING', 'policy has no quorum line');
  }
  return makePolicy(logs, witnesses, groups, quorum);
}

function makePolicy(
  logs: readonly PolicyLog[],
  witnesses: readonly PolicyWitness[],
  groups: readonly PolicyGroup[],
  quorum: string,
): Policy {
  const witnessNames = new Set(witnesses.map((w) => w.name));
  return Object.freeze({
    logs: Object.freeze(logs),
    witnesses: Object.freeze(witnesses),
    groups: Object.freeze(groups),
    quorum,
    quorumMet(cosigners: ReadonlySet<string>): boolean {
      if (quorum === QUORUM_NONE) return true;
      // Only witnesses cosign; a group name passed in must not count as met.
      const witnessed = new Set([...cosigners].filter((n) => witnessNames.has(n)));
      // Groups only refer to earlier names, so one pass in definition order
      // settles every group without recursion. c2sp.org/tlog-policy
      for (const g of groups) {
        const count = g.members.filter((m) => witnessed.has(m)).length;
        if (count >= g.threshold) witnessed.add(g.name);
      }
      return witnessed.has(quorum);
    },
  });
}

function decodePolicy(input: string | Uint8Array, maxSize: number): string {
  let text: string;
  if (typeof input === 'string') {
    // UTF-8 never takes fewer bytes than UTF-16 code units, so this bounds
    // the work before encoding a huge string.
    if (input.length > maxSize || new TextEncoder().encode(input).length > maxSize) {
      throw new TlogError('POLICY_TOO_LARGE', `policy is larger than ${maxSize} bytes`, {
        evidence: { maxSize },
      });
    }
    if (LONE_SURROGATE.test(input)) {
      throw new TlogError('POLICY_BAD_CHARACTER', 'policy text is not well-formed Unicode');
    }
    text = input;
  } else {
    if (input.length > maxSize) {
      throw new TlogError('POLICY_TOO_LARGE', `policy is larger than ${maxSize} bytes`, {
        evidence: { size: input.length, maxSize },
      });
    }
    try {
      // ignoreBOM keeps a BOM in the text, where it is then refused as part of
      // the first keyword instead of being silently dropped.
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(input);
    } catch (cause) {
      throw new TlogError('POLICY_BAD_CHARACTER', 'policy is not valid UTF-8', { cause });
    }
  }
  // Only tab and newline among the control characters. c2sp.org/tlog-policy
  const bad = FORBIDDEN_CHAR.exec(text);
  if (bad !== null) {
    const line = text.slice(0, bad.index).split('\n').length;
    throw new TlogError('POLICY_BAD_CHARACTER', 'policy contains a forbidden control character', {
      evidence: { line, charCode: text.charCodeAt(bad.index) },
    });
  }
  return text;
}

// eslint-disable-next-line no-control-regex
const FORBIDDEN_CHAR = /[\x00-\x08\x0b-\x1f\x7f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function malformed(line: number, syntax: string): never {
  throw new TlogError('POLICY_MALFORMED_LINE', `malformed line, expected "${syntax}"`, {
    evidence: { line },
  });
}

function defineName(
  defined: Map<string, 'witness' | 'group'>,
  name: string,
  kind: 'witness' | 'group',
  line: number,
): void {
  if (name === QUORUM_NONE) {
    throw new TlogError('POLICY_RESERVED_NAME', `"none" is predefined`, {
      evidence: { line, name },
    });
  }
  // Names are opaque; comparing JavaScript strings is comparing their UTF-8
  // octets, with no normalisation. c2sp.org/tlog-policy
  if (defined.has(name)) {
    throw new TlogError('POLICY_DUPLICATE_NAME', `${kind} name is already defined`, {
      evidence: { line, name },
    });
  }
  defined.set(name, kind);
}

function parseThreshold(k: string, n: number, line: number): number {
  // `any` is k = 1 and `all` is k = n. c2sp.org/tlog-policy
  if (k === 'any') return 1;
  if (k === 'all') return n;
  // Decimal, 1 <= k <= n. c2sp.org/tlog-policy
  // Leading zeros and signs are refused so each threshold has one spelling.
  if (!/^[1-9][0-9]{0,9}$/.test(k) || Number(k) > n) {
    throw new TlogError('POLICY_BAD_THRESHOLD', 'group threshold must be any, all or 1..n', {
      evidence: { line, threshold: k, members: n },
    });
  }
  return Number(k);
}

function parseKey(vkey: string, role: 'log' | 'witness', line: number): NoteVerifierKey {
  // Logs sign checkpoints with Ed25519 note signatures (type 0x01);
  // witnesses cosign with timestamped Ed25519 (type 0x04).
  // c2sp.org/tlog-policy, c2sp.org/tlog-checkpoint, c2sp.org/tlog-cosignature
  try {
    return role === 'log' ? parseVerifierKey(vkey) : parseCosignatureVerifierKey(vkey);
  } catch (cause) {
    throw new TlogError('POLICY_BAD_KEY', `invalid ${role} vkey`, {
      cause,
      evidence: { line, vkey },
    });
  }
}

function claimKey(
  keys: Set<string>,
  verifier: NoteVerifierKey,
  role: 'log' | 'witness',
  line: number,
): void {
  // Duplicate if the same public key, even under another name or key ID. c2sp.org/tlog-policy
  const key = encodeBase64(verifier.publicKey);
  if (keys.has(key)) {
    throw new TlogError('POLICY_DUPLICATE_KEY', `${role} public key is listed twice`, {
      evidence: { line, publicKey: key },
    });
  }
  keys.add(key);
}

function claimNoteKeyId(ids: Set<string>, verifier: NoteVerifier, line: number): void {
  const id = `${verifier.name}\n${verifier.keyId}`;
  if (ids.has(id)) {
    throw new TlogError('POLICY_DUPLICATE_KEY', 'two keys share a key name and key ID', {
      evidence: { line, keyName: verifier.name, keyId: hexKeyId(verifier.keyId) },
    });
  }
  ids.add(id);
}

export interface VerifyWithPolicyOptions extends CosignatureTimeOptions {
  /**
   * Logs known from other context, accepted in addition to the policy's
   * `log` lines (a policy may list no logs). c2sp.org/tlog-policy
   */
  extraLogs?: readonly NoteVerifier[];
  /** Passed to `openNote` (its size and signature-count limits). */
  noteOptions?: OpenNoteOptions;
}

export interface VerifiedCosignature {
  /** The witness's policy name. */
  readonly witness: string;
  /** The key name on the signature line. */
  readonly keyName: string;
  readonly keyId: number;
  /** POSIX seconds the witness put in its cosignature. c2sp.org/tlog-cosignature */
  readonly timestamp: bigint;
}

export interface VerifiedCheckpoint {
  readonly checkpoint: Checkpoint;
  /** The key name of the log whose signature was accepted (the origin). */
  readonly log: string;
  /** Policy names of the witnesses whose cosignature counted, in policy order. */
  readonly cosigners: string[];
  /** Those cosignatures with their timestamps, in policy order. */
  readonly cosignatures: VerifiedCosignature[];
  /**
   * Valid cosignatures dated after `now + maxFutureSkew` (only with `now`);
   * they do not count towards the quorum. c2sp.org/tlog-cosignature
   */
  readonly futureDated: VerifiedCosignature[];
}

/**
 * Verifies a signed checkpoint note against a policy: signed by one of the
 * policy's logs whose key name is the checkpoint origin, and cosigned by
 * witnesses satisfying the quorum. Returns the checkpoint and who cosigned it.
 *
 * Errors from the signed note itself (malformed note, a known key's signature
 * failing) and from the checkpoint body keep their own codes.
 */
export function verifyCheckpointWithPolicy(
  note: string | Uint8Array,
  policy: Policy,
  opts: VerifyWithPolicyOptions = {},
): VerifiedCheckpoint {
  const logVerifiers = [...policy.logs.map((l) => l.verifier), ...(opts.extraLogs ?? [])];
  const witnessVerifiers = policy.witnesses.map((w) => w.verifier);
  let opened: OpenedNote;
  try {
    // Every known key takes part, so a failing cosignature from a policy
    // witness rejects the note like a failing log signature. c2sp.org/signed-note
    opened = openNote(note, [...logVerifiers, ...witnessVerifiers], opts.noteOptions);
  } catch (cause) {
    // Nothing the policy knows signed it: in policy terms, no log signature.
    if (hasCode(cause, 'NOTE_NO_VERIFIED_SIGNATURE')) throw noLogSignature(cause, []);
    throw cause;
  }

  const signedBy = (v: NoteVerifier): boolean =>
    opened.verified.some((s) => s.name === v.name && s.keyId === v.keyId);
  const logSigners = logVerifiers.filter(signedBy);
  // The checkpoint must be signed by one of the listed logs. c2sp.org/tlog-policy
  if (logSigners.length === 0) {
    throw noLogSignature(
      undefined,
      opened.verified.map((s) => s.name),
    );
  }

  const checkpoint = parseCheckpoint(opened.text);
  // The log's key name MUST correspond to the origin line. c2sp.org/tlog-policy
  const log = logSigners.find((v) => v.name === checkpoint.origin);
  if (log === undefined) {
    throw new TlogError('POLICY_ORIGIN_MISMATCH', 'checkpoint origin is not the signing log', {
      evidence: { origin: checkpoint.origin, signers: logSigners.map((v) => v.name) },
    });
  }

  // Verifiers MAY reject cosignatures with timestamps in the future.
  // c2sp.org/tlog-cosignature
  const { accepted, futureDated } = collectCosignatures(opened, witnessVerifiers, opts);
  const byWitness = (list: typeof accepted): VerifiedCosignature[] =>
    policy.witnesses.flatMap((w) => {
      const c = list.find((s) => s.name === w.verifier.name && s.keyId === w.verifier.keyId);
      return c === undefined
        ? []
        : [{ witness: w.name, keyName: c.name, keyId: c.keyId, timestamp: c.timestamp }];
    });
  const cosignatures = byWitness(accepted);
  const cosigners = cosignatures.map((c) => c.witness);

  // Valid cosignatures must satisfy the quorum rule. c2sp.org/tlog-policy
  if (!policy.quorumMet(new Set(cosigners))) {
    throw new TlogError('POLICY_QUORUM_NOT_MET', 'witness cosignatures do not meet the quorum', {
      evidence: {
        origin: checkpoint.origin,
        quorum: policy.quorum,
        cosigners,
        futureDated: byWitness(futureDated).map((c) => c.witness),
      },
    });
  }
  return {
    checkpoint,
    log: log.name,
    cosigners,
    cosignatures,
    futureDated: byWitness(futureDated),
  };
}

function noLogSignature(cause: unknown, verifiedKeyNames: string[]): TlogError {
  return new TlogError('POLICY_NO_LOG_SIGNATURE', 'checkpoint is not signed by a policy log', {
    ...(cause === undefined ? {} : { cause }),
    evidence: { verifiedKeyNames },
  });
}
