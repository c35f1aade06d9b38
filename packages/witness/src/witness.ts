/**
 * The witness core: c2sp.org/tlog-witness v1.0.0 `add-checkpoint`, storage
 * agnostic. It takes the request body as bytes and returns one of the
 * responses the spec defines; the HTTP layer (`server.ts`) only maps the
 * result onto the wire. Every check cites the spec.
 */
import {
  TlogError,
  bytesEqual,
  decodeBase64Strict,
  emptyRoot,
  encodeBase64,
  formatSignatureLine,
  openNote,
  parseCheckpoint,
  parseCosignerKey,
  parseVerifierKey,
  verifyConsistency,
  type Checkpoint,
  type Cosigner,
  type NoteVerifier,
  type OpenedNote,
} from '@glasshouse/tlog';
import { WitnessError, type WitnessErrorCode } from './errors.js';
import { MAX_PROOF_LINES } from './client.js';
import type { KnownLog, WitnessStateStore, WitnessedCheckpoint } from './state.js';

/** Largest request body accepted: 63 proof lines are under 3 KiB, the rest is the checkpoint note. */
export const MAX_REQUEST_SIZE = 64 * 1024;

/** Signature lines accepted on a submitted checkpoint (c2sp.org/signed-note: at least 16). */
export const MAX_CHECKPOINT_SIGNATURES = 64;

const MAX_UINT64 = (1n << 64n) - 1n;
/** `old ` and at most 20 digits (2^64 − 1). */
const MAX_OLD_LINE_LENGTH = 24;
/** Canonical padded base64 of a 32-byte hash. */
const PROOF_LINE_LENGTH = 44;
const HASH_SIZE = 32;
/** How often a request is re-evaluated after losing a compare-and-swap to a concurrent one. */
const MAX_CAS_ATTEMPTS = 8;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The answers of c2sp.org/tlog-witness add-checkpoint, one variant per status code. */
export type AddCheckpointResult =
  /** 200: the cosignature line(s), each `— name base64\n`. */
  | { status: 200; cosignatures: string; checkpoint: Checkpoint }
  /** 409: the size of the latest cosigned checkpoint (body `<size>\n`, `text/x.tlog.size`). */
  | {
      status: 409;
      size: bigint;
      code: 'OLD_SIZE_MISMATCH' | 'ROOT_MISMATCH';
      reason: string;
      /** With ROOT_MISMATCH: both checkpoints of the same size (a split view). */
      evidence?: Record<string, unknown>;
    }
  | {
      status: 400 | 403 | 404 | 422;
      code: WitnessErrorCode;
      reason: string;
      /** What a third party needs to see the refusal for itself (e.g. a bad proof and both roots). */
      evidence?: Record<string, unknown>;
    };

export type AddCheckpointRejection = Exclude<AddCheckpointResult, { status: 200 | 409 }>;

export interface WitnessOptions {
  /** The witness's signing key, `PRIVATE+KEY+name+hexid+base64(…)` (c2sp.org/tlog-cosignature), or a parsed one. */
  readonly cosigner: string | Cosigner;
  readonly state: WitnessStateStore;
  /** Current POSIX time in seconds: the cosignature timestamp. */
  readonly now: () => bigint;
}

export interface Witness {
  /** The witness's name (its key name). */
  readonly name: string;
  /** Its type 0x04 verifier key, for a tlog-policy `witness` line. */
  readonly verifierKey: string;
  /** c2sp.org/tlog-witness add-checkpoint on a raw request body. */
  addCheckpoint(requestBody: Uint8Array): Promise<AddCheckpointResult>;
  /** Trusts a log verifier key for `origin` (default: the key's name). Returns the origin. */
  addLog(verifierKey: string, origin?: string): Promise<string>;
  /** The latest cosigned checkpoint of `origin`, or null. */
  latest(origin: string): Promise<WitnessedCheckpoint | null>;
}

/** A parsed add-checkpoint request body. */
export interface ParsedAddCheckpoint {
  readonly oldSize: bigint;
  readonly proof: Uint8Array[];
  /** The signed note, unverified. */
  readonly note: string;
  /** Its parsed text, unverified. */
  readonly checkpoint: Checkpoint;
}

export function createWitness(opts: WitnessOptions): Witness {
  const cosigner =
    typeof opts.cosigner === 'string' ? parseCosignerKeyOrThrow(opts.cosigner) : opts.cosigner;
  const { state, now } = opts;

  async function addCheckpoint(body: Uint8Array): Promise<AddCheckpointResult> {
    const parsed = parseAddCheckpointRequest(body);
    if ('status' in parsed) return parsed;
    const { oldSize, proof, note, checkpoint } = parsed;

    // c2sp.org/tlog-witness: "If the checkpoint origin is unknown, the witness MUST respond with a 404"
    const log = await state.getLog(checkpoint.origin);
    if (log === null) {
      return reject(404, 'LOG_UNKNOWN', `unknown log origin ${JSON.stringify(checkpoint.origin)}`);
    }

    // c2sp.org/tlog-witness: verify against the log's trusted keys, ignoring unknown ones; 403 if none verifies
    const opened = openLogSignatures(note, log);
    if ('status' in opened) return opened;

    // c2sp.org/tlog-witness: "The old size MUST be equal to or lower than the checkpoint size", else 400
    if (oldSize > checkpoint.size) {
      return reject(
        400,
        'OLD_SIZE_TOO_LARGE',
        `old size ${oldSize} is above the checkpoint size ${checkpoint.size}`,
      );
    }

    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const stored = await state.getLatest(checkpoint.origin);
      const outcome = checkAgainstState(oldSize, proof, checkpoint, stored, note);
      if (outcome !== undefined) return outcome;

      // c2sp.org/tlog-cosignature: cosign the note text with the time of cosigning
      const cosignature = formatSignatureLine(
        cosigner.name,
        cosigner.keyId,
        cosigner.cosign(opened.text, now()),
      );
      const next: WitnessedCheckpoint = {
        size: checkpoint.size,
        rootHash: checkpoint.rootHash,
        note: cosignedNote(opened, cosignature),
      };
      // c2sp.org/tlog-witness: check the old size and persist atomically, before responding
      if (await state.casLatest(checkpoint.origin, oldSize, next)) {
        return { status: 200, cosignatures: cosignature, checkpoint };
      }
      // A concurrent request moved the state first: evaluate again against the new state.
    }
    throw new WitnessError(
      'STATE_CONFLICT',
      `the state of ${checkpoint.origin} kept changing during the request`,
    );
  }

  async function addLog(verifierKey: string, origin?: string): Promise<string> {
    let key;
    try {
      key = parseVerifierKey(verifierKey);
    } catch (cause) {
      throw new WitnessError('KEY_INVALID', 'not a log verifier key (Ed25519, type 0x01)', {
        cause,
      });
    }
    const logOrigin = origin ?? key.name;
    if (logOrigin.length === 0 || /[\n\u2014]/u.test(logOrigin)) {
      throw new WitnessError('KEY_INVALID', 'an origin is one non-empty line');
    }
    const existing = await state.getLog(logOrigin);
    for (const other of existing?.verifierKeys ?? []) {
      if (other === verifierKey) return logOrigin;
      const parsed = parseVerifierKey(other);
      // Two keys with one name and key ID would make signatures ambiguous (c2sp.org/signed-note).
      if (parsed.name === key.name && parsed.keyId === key.keyId) {
        throw new WitnessError(
          'LOG_CONFLICT',
          'the log already trusts a key with this name and ID',
          {
            evidence: { origin: logOrigin, existing: other, added: verifierKey },
          },
        );
      }
    }
    await state.addLogKey(logOrigin, verifierKey);
    return logOrigin;
  }

  return {
    name: cosigner.name,
    verifierKey: cosigner.verifierKey,
    addCheckpoint,
    addLog,
    latest: (origin) => state.getLatest(origin),
  };
}

/**
 * Parses the add-checkpoint body (c2sp.org/tlog-witness): `old N`, up to 63
 * base64 hashes, an empty line, a checkpoint note. Anything else is a 400.
 */
export function parseAddCheckpointRequest(
  body: Uint8Array,
): ParsedAddCheckpoint | AddCheckpointRejection {
  if (body.length > MAX_REQUEST_SIZE) {
    return reject(400, 'REQUEST_TOO_LARGE', `the body is over ${MAX_REQUEST_SIZE} bytes`);
  }
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return reject(400, 'REQUEST_MALFORMED', 'the body is not UTF-8');
  }

  // c2sp.org/tlog-witness: "Each line MUST terminate in a newline character"; the old size line first
  let pos = text.indexOf('\n');
  if (pos < 0 || pos > MAX_OLD_LINE_LENGTH) {
    return reject(400, 'REQUEST_MALFORMED', 'the body must start with an "old <size>" line');
  }
  // c2sp.org/tlog-witness: `old`, one space, ASCII decimal with no leading zeroes
  const m = /^old (0|[1-9][0-9]{0,19})$/.exec(text.slice(0, pos));
  const oldSize = m?.[1] === undefined ? undefined : BigInt(m[1]);
  if (oldSize === undefined || oldSize > MAX_UINT64) {
    return reject(400, 'REQUEST_MALFORMED', 'the old size line must be "old <decimal uint64>"');
  }

  // c2sp.org/tlog-witness: zero or more proof lines, each one base64 hash, then an empty line
  const proof: Uint8Array[] = [];
  pos += 1;
  for (;;) {
    const end = text.indexOf('\n', pos);
    if (end < 0) {
      return reject(400, 'REQUEST_MALFORMED', 'no empty line before the checkpoint');
    }
    if (end === pos) break;
    // c2sp.org/tlog-witness: "The client MUST NOT send more than 63 consistency proof lines."
    if (proof.length === MAX_PROOF_LINES) {
      return reject(400, 'PROOF_TOO_LONG', `more than ${MAX_PROOF_LINES} consistency proof lines`);
    }
    const hash =
      end - pos === PROOF_LINE_LENGTH ? decodeBase64Strict(text.slice(pos, end)) : undefined;
    if (hash?.length !== HASH_SIZE) {
      return reject(
        400,
        'REQUEST_MALFORMED',
        `consistency proof line ${proof.length + 1} is not a base64 SHA-256 hash`,
      );
    }
    proof.push(hash);
    pos = end + 1;
  }
  const note = text.slice(pos + 1);

  // The origin decides which keys verify the note, so the checkpoint text is parsed first.
  // c2sp.org/signed-note: the text ends at the last blank line
  const split = note.lastIndexOf('\n\n');
  if (split < 0) {
    return reject(400, 'REQUEST_MALFORMED', 'the checkpoint is not a signed note');
  }
  let checkpoint: Checkpoint;
  try {
    // c2sp.org/tlog-checkpoint: origin, canonical decimal size, base64 root, extension lines
    checkpoint = parseCheckpoint(note.slice(0, split + 1));
  } catch (err) {
    if (!(err instanceof TlogError)) throw err;
    return reject(400, 'REQUEST_MALFORMED', `the checkpoint is malformed: ${err.message}`, {
      tlogCode: err.code,
    });
  }
  return { oldSize, proof, note, checkpoint };
}

/** Verifies the note with the log's keys: 403 when no trusted key verifies or one fails, 400 when malformed. */
function openLogSignatures(note: string, log: KnownLog): OpenedNote | AddCheckpointRejection {
  const verifiers: NoteVerifier[] = log.verifierKeys.map((k) => parseVerifierKey(k));
  try {
    return openNote(note, verifiers, {
      maxSize: MAX_REQUEST_SIZE,
      maxSignatures: MAX_CHECKPOINT_SIGNATURES,
    });
  } catch (err) {
    if (!(err instanceof TlogError)) throw err;
    // c2sp.org/tlog-witness: "If none of the signatures verify against a trusted public key … 403";
    // c2sp.org/signed-note: a known key's failing signature rejects the note.
    if (err.code === 'NOTE_NO_VERIFIED_SIGNATURE' || err.code === 'NOTE_SIGNATURE_INVALID') {
      return reject(403, 'LOG_SIGNATURE_INVALID', `the log's signature: ${err.message}`, {
        tlogCode: err.code,
      });
    }
    if (
      err.code === 'NOTE_MALFORMED' ||
      err.code === 'NOTE_TOO_LARGE' ||
      err.code === 'NOTE_TOO_MANY_SIGNATURES'
    ) {
      return reject(400, 'REQUEST_MALFORMED', `the checkpoint note: ${err.message}`, {
        tlogCode: err.code,
      });
    }
    throw err;
  }
}

/**
 * The state-dependent checks of c2sp.org/tlog-witness, in the spec's order:
 * 409 for another old size, 422 for a proof that does not verify, 409 for
 * the same size with another root. Undefined: all passed.
 */
function checkAgainstState(
  oldSize: bigint,
  proof: readonly Uint8Array[],
  checkpoint: Checkpoint,
  stored: WitnessedCheckpoint | null,
  note: string,
): AddCheckpointResult | undefined {
  // c2sp.org/tlog-witness: the old size must be the latest cosigned size, "or zero if it never cosigned"
  const storedSize = stored?.size ?? 0n;
  if (oldSize !== storedSize) {
    return {
      status: 409,
      size: storedSize,
      code: 'OLD_SIZE_MISMATCH',
      reason: `old size ${oldSize} is not the latest cosigned size ${storedSize}`,
    };
  }
  // The empty tree's root is H("") (RFC 6962 §2.1); every tree extends it.
  const storedRoot = stored?.rootHash ?? emptyRoot();

  if (oldSize === checkpoint.size) {
    // RFC 6962 §2.1.2: the consistency proof between equal sizes is empty.
    if (proof.length > 0) {
      return reject(422, 'CONSISTENCY_PROOF_INVALID', 'the proof between equal sizes is empty', {
        size: oldSize.toString(),
        proofLength: proof.length,
      });
    }
    // c2sp.org/tlog-witness: same size, the root hashes MUST be identical, else 409
    if (!bytesEqual(storedRoot, checkpoint.rootHash)) {
      return {
        status: 409,
        size: storedSize,
        code: 'ROOT_MISMATCH',
        reason: `a checkpoint of size ${storedSize} with another root was already cosigned`,
        evidence: {
          cosigned: stored?.note ?? null,
          submitted: note,
          size: storedSize.toString(),
          cosignedRoot: encodeBase64(storedRoot),
          submittedRoot: encodeBase64(checkpoint.rootHash),
        },
      };
    }
    return undefined;
  }

  if (oldSize === 0n) {
    // c2sp.org/tlog-witness: "The proof MUST be empty if the old size is zero."
    if (proof.length > 0) {
      return reject(422, 'CONSISTENCY_PROOF_INVALID', 'the proof from size 0 must be empty', {
        proofLength: proof.length,
      });
    }
    return undefined;
  }

  // c2sp.org/tlog-witness: an RFC 6962 §2.1.2 consistency proof from the old size; 422 if it doesn't verify
  try {
    verifyConsistency(oldSize, checkpoint.size, proof, storedRoot, checkpoint.rootHash);
  } catch (err) {
    if (!(err instanceof TlogError)) throw err;
    return reject(422, 'CONSISTENCY_PROOF_INVALID', `the consistency proof: ${err.message}`, {
      tlogCode: err.code,
      origin: checkpoint.origin,
      oldSize: oldSize.toString(),
      oldRoot: Buffer.from(storedRoot).toString('base64'),
      newSize: checkpoint.size.toString(),
      newRoot: Buffer.from(checkpoint.rootHash).toString('base64'),
      proof: proof.map((h) => Buffer.from(h).toString('base64')),
    });
  }
  return undefined;
}

/** The checkpoint with the log's verified signatures and the witness's cosignature. */
function cosignedNote(opened: OpenedNote, cosignature: string): string {
  const lines = opened.verified.map((s) => formatSignatureLine(s.name, s.keyId, s.signature));
  return `${opened.text}\n${lines.join('')}${cosignature}`;
}

function reject(
  status: 400 | 403 | 404 | 422,
  code: WitnessErrorCode,
  reason: string,
  evidence?: Record<string, unknown>,
): AddCheckpointRejection {
  return evidence === undefined ? { status, code, reason } : { status, code, reason, evidence };
}

function parseCosignerKeyOrThrow(key: string): Cosigner {
  try {
    return parseCosignerKey(key);
  } catch (cause) {
    throw new WitnessError('KEY_INVALID', 'not a witness signer key (PRIVATE+KEY+…)', { cause });
  }
}
