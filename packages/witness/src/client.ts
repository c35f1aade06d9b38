import { hasCode } from '@glasshouse/errors';
import { readBoundedText } from '@glasshouse/http';
import { encodeBase64 } from '@glasshouse/tlog';
import { WitnessError } from './errors.js';

/** c2sp.org/tlog-witness: "The client MUST NOT send more than 63 consistency proof lines." */
export const MAX_PROOF_LINES = 63;

/** Hashes are SHA-256 (RFC 6962 §2.1). */
const PROOF_HASH_SIZE = 32;

/** The largest answer the client reads: 200 bodies are a few signature lines, 409 bodies one number. */
export const MAX_WITNESS_RESPONSE_SIZE = 64 * 1024;

const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_UINT64 = (1n << 64n) - 1n;

/** c2sp.org/tlog-witness: the media type of a 409 answer's body. */
export const TLOG_SIZE_CONTENT_TYPE = 'text/x.tlog.size';

export interface AddCheckpointRequest {
  /** The size of the checkpoint the witness last cosigned (0 if none or unknown). */
  oldSize: bigint;
  /** RFC 6962 §2.1.2 consistency proof from `oldSize` to the checkpoint's size; empty when `oldSize` is 0. */
  consistencyProof: readonly Uint8Array[];
  /** The signed note (checkpoint text, blank line, signature lines). */
  checkpoint: string;
}

export type AddCheckpointResponse =
  /** 200: each line is `— name base64\n`, ready to append to the note. */
  | { kind: 'cosigned'; signatureLines: string[] }
  /** 409: the size of the latest checkpoint the witness cosigned for this origin. */
  | { kind: 'conflict'; witnessSize: bigint }
  /** Any other status (4xx other than 409, 5xx, unexpected codes); `reason` is the body's first 500 characters. */
  | { kind: 'rejected'; status: number; reason: string };

export interface AddCheckpointOptions {
  /** Whole-exchange deadline (connect, send, read); default 10 s. */
  timeoutMs?: number;
  /** For tests and custom transports; default the global `fetch`. */
  fetch?: typeof fetch;
}

/**
 * The add-checkpoint request body (c2sp.org/tlog-witness): `old N`, one base64
 * hash per line, an empty line, then the checkpoint note.
 */
export function formatAddCheckpointRequest(req: AddCheckpointRequest): string {
  if (req.oldSize < 0n || req.oldSize > MAX_UINT64) {
    throw new WitnessError('REQUEST_INVALID', `old size ${req.oldSize} is not a uint64`);
  }
  // c2sp.org/tlog-witness: at most 63 proof lines, and none when the old size is zero.
  if (req.consistencyProof.length > MAX_PROOF_LINES) {
    throw new WitnessError(
      'REQUEST_INVALID',
      `a consistency proof has at most ${MAX_PROOF_LINES} hashes, got ${req.consistencyProof.length}`,
    );
  }
  if (req.oldSize === 0n && req.consistencyProof.length > 0) {
    throw new WitnessError('REQUEST_INVALID', 'the proof must be empty when the old size is 0');
  }
  const lines = [`old ${req.oldSize}\n`];
  for (const hash of req.consistencyProof) {
    if (hash.length !== PROOF_HASH_SIZE) {
      throw new WitnessError('REQUEST_INVALID', `a proof hash has ${hash.length} bytes, not 32`);
    }
    lines.push(`${encodeBase64(hash)}\n`);
  }
  if (!req.checkpoint.endsWith('\n') || req.checkpoint.length === 0) {
    throw new WitnessError('REQUEST_INVALID', 'the checkpoint note must end with a newline');
  }
  return `${lines.join('')}\n${req.checkpoint}`;
}

/**
 * Asks the witness at `witnessUrl` to cosign a checkpoint.
 *
 * `witnessUrl` is the witness's *submission prefix* — what a tlog-policy
 * `witness` line's URL is recommended to be (c2sp.org/tlog-policy) — and the
 * request goes to `<witnessUrl>/add-checkpoint` (a trailing `/` on the prefix
 * is ignored). Redirects are not followed.
 *
 * Throws `WITNESS_UNREACHABLE` (network error or timeout), `RESPONSE_TOO_LARGE`
 * or `RESPONSE_INVALID` (a 200 or 409 whose body breaks the spec's grammar);
 * every HTTP status is otherwise an answer. The cosignature lines are not
 * verified here: open the note with the witness's verifier key to check them
 * (the spec has clients ignore unknown keys).
 */
export async function addCheckpoint(
  witnessUrl: string,
  req: AddCheckpointRequest,
  opts: AddCheckpointOptions = {},
): Promise<AddCheckpointResponse> {
  const body = formatAddCheckpointRequest(req);
  const url = `${witnessUrl.replace(/\/+$/, '')}/add-checkpoint`;
  const doFetch = opts.fetch ?? fetch;
  const signal = AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  let res: Response;
  let text: string;
  try {
    res = await doFetch(url, {
      method: 'POST',
      body,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      redirect: 'manual',
      signal,
    });
    text = await readBoundedText(res, MAX_WITNESS_RESPONSE_SIZE).catch((cause: unknown) => {
      throw hasCode(cause, 'BODY_TOO_LARGE') ? tooLarge(url, cause) : cause;
    });
  } catch (cause) {
    if (cause instanceof WitnessError) throw cause;
    throw new WitnessError('WITNESS_UNREACHABLE', `cannot reach the witness at ${url}`, {
      cause,
      evidence: { url },
    });
  }

  switch (res.status) {
    case 200:
      return { kind: 'cosigned', signatureLines: parseSignatureLines(text, url) };
    case 409:
      return { kind: 'conflict', witnessSize: parseSizeBody(res, text, url) };
    default:
      return { kind: 'rejected', status: res.status, reason: text.slice(0, 500) };
  }
}

function tooLarge(url: string, cause: unknown): WitnessError {
  return new WitnessError(
    'RESPONSE_TOO_LARGE',
    `the witness's answer is over ${MAX_WITNESS_RESPONSE_SIZE} bytes`,
    { cause, evidence: { url } },
  );
}

/**
 * c2sp.org/tlog-witness: a 200 body is "one or more note signature lines, each
 * starting with the `—` character (U+2014) and ending with a newline".
 */
function parseSignatureLines(text: string, url: string): string[] {
  if (text.length === 0 || !text.endsWith('\n')) {
    throw invalidResponse(url, 'a 200 body must be signature lines ending with a newline', text);
  }
  const lines = text.slice(0, -1).split('\n');
  for (const line of lines) {
    if (!/^\u2014 [^ \n]+ [A-Za-z0-9+/]+={0,2}$/u.test(line)) {
      throw invalidResponse(url, 'a 200 body line is not a note signature line', text);
    }
  }
  return lines.map((line) => `${line}\n`);
}

/** c2sp.org/tlog-witness: a 409 body is the witness's size in decimal and a newline. */
function parseSizeBody(res: Response, text: string, url: string): bigint {
  const type = res.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
  if (type !== TLOG_SIZE_CONTENT_TYPE) {
    throw invalidResponse(
      url,
      `a 409 answer must have Content-Type ${TLOG_SIZE_CONTENT_TYPE}`,
      text,
    );
  }
  const m = /^(0|[1-9][0-9]{0,19})\n$/.exec(text);
  const size = m?.[1] === undefined ? undefined : BigInt(m[1]);
  if (size === undefined || size > MAX_UINT64) {
    throw invalidResponse(url, 'a 409 body must be a decimal size and a newline', text);
  }
  return size;
}

function invalidResponse(url: string, message: string, body: string): WitnessError {
  return new WitnessError('RESPONSE_INVALID', message, {
    evidence: { url, body: body.slice(0, 500) },
  });
}
