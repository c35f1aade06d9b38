/**
 * Checkpoints, c2sp.org/tlog-checkpoint v1.0.0: the note text of a log's
 * signed tree head.
 *
 *     <origin>
 *     <tree size, decimal>
 *     <root hash, base64>
 *     [extension lines]
 */
import { TlogError } from './errors.js';
import {
  decodeBase64Strict,
  encodeBase64,
  openNote,
  type NoteVerifier,
  type OpenNoteOptions,
  type OpenedNote,
} from './note.js';

export interface Checkpoint {
  origin: string;
  size: bigint;
  rootHash: Uint8Array;
  /** Opaque lines after the root hash, without their newlines. */
  extensions: string[];
}

// Tree sizes are uint64.
const MAX_TREE_SIZE = (1n << 64n) - 1n;

const ROOT_HASH_SIZE = 32;
const ROOT_HASH_BASE64_LENGTH = 44;
const DECIMAL = /^(?:0|[1-9][0-9]*)$/;
// 2^64 - 1 has 20 digits; longer strings are refused before BigInt sees them.
const MAX_SIZE_DIGITS = 20;
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Parses checkpoint note text (the signature block already removed). Only
 * call it on text from `openNote`: unsigned text means nothing.
 */
export function parseCheckpoint(text: string): Checkpoint {
  // c2sp.org/tlog-checkpoint: lines separated by newlines; a note text ends in one
  if (!text.endsWith('\n')) {
    throw malformed('checkpoint text must end in newline');
  }
  // c2sp.org/signed-note: no control characters other than newline, valid UTF-8
  if (hasControlCharacter(text) || LONE_SURROGATE.test(text)) {
    throw malformed('checkpoint has a control character or lone surrogate');
  }
  const lines = text.slice(0, -1).split('\n');
  // c2sp.org/tlog-checkpoint: at least three non-empty lines
  if (lines.length < 3) {
    throw malformed('checkpoint has fewer than three lines', { lines: lines.length });
  }
  const empty = lines.indexOf('');
  if (empty >= 0) {
    // c2sp.org/tlog-checkpoint: origin MUST be non-empty; extension lines MUST be non-empty
    throw malformed('checkpoint has an empty line', { line: empty });
  }
  const [origin = '', sizeLine = '', rootLine = '', ...extensions] = lines;
  return { origin, size: parseTreeSize(sizeLine), rootHash: parseRootHash(rootLine), extensions };
}

/** The checkpoint's note text, ending in newline; refuses what parseCheckpoint would. */
export function formatCheckpoint(cp: Checkpoint): string {
  for (const [i, line] of [cp.origin, ...cp.extensions].entries()) {
    // c2sp.org/tlog-checkpoint: origin and extension lines MUST be non-empty
    if (line.length === 0 || line.includes('\n')) {
      throw malformed('origin and extension lines must be single non-empty lines', { line: i });
    }
  }
  // c2sp.org/tlog-checkpoint: tree size is the number of leaves, a uint64
  if (cp.size < 0n || cp.size > MAX_TREE_SIZE) {
    throw new TlogError('CHECKPOINT_SIZE_INVALID', 'tree size is not a uint64', {
      evidence: { size: cp.size.toString() },
    });
  }
  if (cp.rootHash.length !== ROOT_HASH_SIZE) {
    throw new TlogError('CHECKPOINT_ROOT_INVALID', 'root hash is not 32 bytes', {
      evidence: { length: cp.rootHash.length },
    });
  }
  const lines = [cp.origin, cp.size.toString(), encodeBase64(cp.rootHash), ...cp.extensions];
  const text = `${lines.join('\n')}\n`;
  // Round-trip so that nothing we write is something we would refuse to read.
  parseCheckpoint(text);
  return text;
}

/**
 * Opens a signed checkpoint: verifies the note, then parses its text. With
 * `origin`, the checkpoint must come from that log.
 */
export function openCheckpoint(
  note: string | Uint8Array,
  verifiers: readonly NoteVerifier[],
  opts: OpenNoteOptions & { origin?: string } = {},
): { checkpoint: Checkpoint; note: OpenedNote } {
  const opened = openNote(note, verifiers, opts);
  const checkpoint = parseCheckpoint(opened.text);
  if (opts.origin !== undefined && checkpoint.origin !== opts.origin) {
    throw new TlogError('CHECKPOINT_ORIGIN_MISMATCH', 'checkpoint is from another log', {
      evidence: { origin: checkpoint.origin, expected: opts.origin },
    });
  }
  return { checkpoint, note: opened };
}

function parseTreeSize(line: string): bigint {
  // c2sp.org/tlog-checkpoint: ASCII decimal, no leading zeroes unless the tree is empty
  if (line.length > MAX_SIZE_DIGITS || !DECIMAL.test(line)) {
    throw new TlogError('CHECKPOINT_SIZE_INVALID', 'tree size is not canonical decimal', {
      evidence: { size: line.slice(0, 64) },
    });
  }
  const size = BigInt(line);
  if (size > MAX_TREE_SIZE) {
    throw new TlogError('CHECKPOINT_SIZE_INVALID', 'tree size exceeds 2^64-1', {
      evidence: { size: line },
    });
  }
  return size;
}

function parseRootHash(line: string): Uint8Array {
  // c2sp.org/tlog-checkpoint: base64 of the RFC 6962 root hash (SHA-256, 32 bytes)
  const root = line.length === ROOT_HASH_BASE64_LENGTH ? decodeBase64Strict(line) : undefined;
  if (root === undefined || root.length !== ROOT_HASH_SIZE) {
    throw new TlogError('CHECKPOINT_ROOT_INVALID', 'root hash is not base64 of 32 bytes', {
      evidence: { rootHash: line.slice(0, 128) },
    });
  }
  return root;
}

function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 && c !== 0x0a) return true;
  }
  return false;
}

function malformed(message: string, evidence?: Record<string, unknown>): TlogError {
  return new TlogError('CHECKPOINT_MALFORMED', message, evidence === undefined ? {} : { evidence });
}
