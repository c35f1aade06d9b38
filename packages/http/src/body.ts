import { HttpError } from './errors.js';

/**
 * Collects `chunks` (a fetch body stream, a node:http message) into one
 * buffer, refusing more than `maxBytes` with BODY_TOO_LARGE. Leaving the loop
 * early closes the iterator, which cancels a stream or destroys a socket, so
 * an oversized body is never read to its end.
 */
export async function readCapped(
  chunks: AsyncIterable<Uint8Array>,
  maxBytes: number,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of chunks) {
    total += chunk.byteLength;
    if (total > maxBytes) throw tooLarge(maxBytes, total);
    parts.push(chunk);
  }
  // One chunk is the common case for small answers: no copy.
  if (parts.length === 1) return parts[0] as Uint8Array;
  return Buffer.concat(parts, total);
}

/**
 * A fetch `Response` body of at most `maxBytes`, counted as fetch delivers it
 * (after Content-Encoding decoding, so a compression bomb stops at the
 * limit). An identity body whose Content-Length is already larger is refused
 * before a byte is read.
 */
export async function readBoundedBody(res: Response, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  // Content-Length counts encoded bytes; only an identity body can be refused early.
  if (res.headers.get('content-encoding') === null && declared > maxBytes) {
    await res.body?.cancel();
    throw tooLarge(maxBytes, declared);
  }
  if (res.body === null) return new Uint8Array(0);
  return readCapped(res.body as AsyncIterable<Uint8Array>, maxBytes);
}

/** `readBoundedBody` decoded as UTF-8 (malformed sequences become U+FFFD). */
export async function readBoundedText(res: Response, maxBytes: number): Promise<string> {
  return new TextDecoder('utf-8', { fatal: false }).decode(await readBoundedBody(res, maxBytes));
}

function tooLarge(maxBytes: number, seen: number): HttpError {
  return new HttpError('BODY_TOO_LARGE', `the body is larger than ${maxBytes} bytes`, {
    evidence: { maxBytes, seen },
  });
}
