/**
 * The agent's code for a tuf-js failure, by the error classes of tuf-js and
 * @tufjs/models (TUF 5.3-5.7 name the check each class reports).
 */
import { LengthOrHashMismatchError, UnsignedMetadataError } from '@tufjs/models/dist/error.js';
import {
  BadVersionError,
  DownloadError,
  DownloadLengthMismatchError,
  ExpiredMetadataError,
  RuntimeError,
} from 'tuf-js/dist/error.js';
import { AgentError, type AgentErrorCode } from './errors.js';

/** How deep a `cause` chain is followed. */
const MAX_CAUSES = 8;

/**
 * `cause` is what tuf-js threw; `fetchFailure` the failure of the last
 * transfer in that call, as the fetcher saw it (undefined when every
 * transfer succeeded).
 */
export function agentErrorFromTuf(
  cause: unknown,
  stage: 'metadata' | 'target',
  fetchFailure?: unknown,
): AgentError {
  if (cause instanceof AgentError) return cause;
  const message = cause instanceof Error ? cause.message : String(cause);
  return new AgentError(codeOf(cause, stage, fetchFailure), `TUF: ${message}`, { cause });
}

function codeOf(cause: unknown, stage: string, fetchFailure: unknown): AgentErrorCode {
  const chain = causeChain(cause);
  const is = (cls: abstract new (...args: never[]) => unknown): boolean =>
    chain.some((err) => err instanceof cls);
  // tuf-js fetcher: more bytes than the length allowed (endless data, TUF 5.4.1, 5.7.3).
  if (is(DownloadLengthMismatchError)) return 'AGENT_TUF_TOO_LARGE';
  if (is(DownloadError)) return 'AGENT_TUF_FETCH_FAILED';
  // TUF 5.3.10, 5.4.4, 5.5.6, 5.6.5: freeze attack.
  if (is(ExpiredMetadataError)) return 'AGENT_TUF_EXPIRED';
  // TUF 5.3.4, 5.4.2, 5.5.3, 5.6.3: not signed by a threshold of the role's keys.
  if (is(UnsignedMetadataError)) return 'AGENT_TUF_SIGNATURES';
  // TUF 5.7.3: target bytes that are not the listed ones; for metadata
  // (TUF 5.5.2, 5.6.2), a file other than the one listed.
  if (is(LengthOrHashMismatchError)) {
    return stage === 'target' ? 'AGENT_TUF_TARGET_MISMATCH' : 'AGENT_TUF_MIX_AND_MATCH';
  }
  if (is(BadVersionError)) return codeOfVersionText(messageOf(cause));
  // The transfer failed before tuf-js saw any bytes (a network failure
  // reaches here as fetch's TypeError): by its class if tuf-js wrapped it.
  if (fetchFailure !== undefined) {
    if (fetchFailure instanceof DownloadLengthMismatchError) return 'AGENT_TUF_TOO_LARGE';
    return 'AGENT_TUF_FETCH_FAILED';
  }
  if (cause instanceof RuntimeError) return codeOfWrappedText(cause.message);
  return 'AGENT_TUF_METADATA_INVALID';
}

/**
 * BadVersionError is one class for two checks: rollback (TUF 5.3.5, 5.4.3,
 * 5.5.5: older than what was trusted) and mix-and-match (TUF 5.5.4, 5.6.4:
 * not the version its parent lists). No subclass or field tells them apart
 * (EqualVersionError is a rollback tuf-js itself discards), so its message,
 * written by tuf-js's store, is read: only the mix-and-match wording.
 */
function codeOfVersionText(text: string): AgentErrorCode {
  return /doesn't match timestamp|does not match snapshot version/.test(text)
    ? 'AGENT_TUF_MIX_AND_MATCH'
    : 'AGENT_TUF_ROLLBACK';
}

/**
 * tuf-js 5 (updater.js loadSnapshot, loadTargets) catches every failure of
 * checking downloaded snapshot and targets metadata and throws
 * `new RuntimeError(\`Unable to load ... error ${error}\`)`: no `cause`, the
 * inner class is gone and only its text is left. Transfer failures are told
 * apart by the fetcher's own record (above); for the checks that remain,
 * the inner message (written by tuf-js's store and @tufjs/models) is read,
 * one wording per class.
 */
function codeOfWrappedText(message: string): AgentErrorCode {
  const inner = /^Unable to load (?:snapshot metadata|targets) error (.*)$/s.exec(message)?.[1];
  if (inner === undefined) return 'AGENT_TUF_METADATA_INVALID';
  // UnsignedMetadataError (Metadata.verifyDelegate): "<role> was signed by n/m keys".
  if (/ was signed by \d+\/\d+ keys$/.test(inner)) return 'AGENT_TUF_SIGNATURES';
  // ExpiredMetadataError (store): "<role>.json is expired".
  if (/\.json is expired$/.test(inner)) return 'AGENT_TUF_EXPIRED';
  // LengthOrHashMismatchError (MetaFile.verify): "Expected length|hash ...".
  if (/^Error: Expected (?:length|hash) /.test(inner)) return 'AGENT_TUF_MIX_AND_MATCH';
  // BadVersionError (store).
  if (
    / is less than current version \d+$|doesn't match timestamp$|does not match snapshot version \d+$/.test(
      inner,
    )
  ) {
    return codeOfVersionText(inner);
  }
  return 'AGENT_TUF_METADATA_INVALID';
}

/** `err`, its `cause`, that one's `cause`, and so on. */
function causeChain(err: unknown): unknown[] {
  const chain: unknown[] = [];
  let current = err;
  while (current !== undefined && chain.length < MAX_CAUSES && !chain.includes(current)) {
    chain.push(current);
    current = current instanceof Error ? current.cause : undefined;
  }
  return chain;
}

function messageOf(err: unknown): string {
  return causeChain(err)
    .map((e) => (e instanceof Error ? e.message : String(e)))
    .join('\n');
}
