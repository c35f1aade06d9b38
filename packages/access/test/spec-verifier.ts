/**
 * An independent receipt verifier written from the specs alone (no
 * @glasshouse code): c2sp.org/tlog-proof (receipt layout), c2sp.org/signed-note
 * (Ed25519 note signatures, key IDs), c2sp.org/tlog-checkpoint,
 * c2sp.org/tlog-cosignature (cosignature/v1), c2sp.org/tlog-policy (the
 * `log`, `witness` and `quorum` lines, single-witness quorum) and RFC 9162
 * §2.1.3.2 (verifying an inclusion proof). Throws on any failure.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';

const sha256 = (...parts: Buffer[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

function fail(what: string): never {
  throw new Error(`spec verifier: ${what}`);
}

/** c2sp.org/signed-note: a verifier key is `<name>+<hex key ID>+<base64(type ‖ public key)>`. */
function verifierKey(vkey: string): { name: string; id: Buffer; type: number; pub: Buffer } {
  const first = vkey.indexOf('+');
  const second = vkey.indexOf('+', first + 1);
  const name = vkey.slice(0, first);
  const id = Buffer.from(vkey.slice(first + 1, second), 'hex');
  const raw = Buffer.from(vkey.slice(second + 1), 'base64');
  const type = raw[0] ?? -1;
  const pub = raw.subarray(1);
  // Key ID = first 4 bytes of SHA-256(name ‖ 0x0A ‖ type ‖ public key).
  const want = sha256(Buffer.from(`${name}\n`), Buffer.from([type]), pub).subarray(0, 4);
  if (!want.equals(id)) fail(`key ID of ${name} does not match`);
  return { name, id, type, pub };
}

function ed25519Verify(pub: Buffer, message: Buffer, sig: Buffer): boolean {
  const key = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: pub.toString('base64url') },
    format: 'jwk',
  });
  return verify(null, message, key, sig);
}

/** RFC 9162 §2.1.3.2. */
function rootFromInclusion(leaf: Buffer, index: bigint, size: bigint, proof: Buffer[]): Buffer {
  if (index >= size) fail('index beyond size');
  let fn = index;
  let sn = size - 1n;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) fail('proof too long');
    if ((fn & 1n) === 1n || fn === sn) {
      r = sha256(Buffer.from([1]), p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = sha256(Buffer.from([1]), r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) fail('proof too short');
  return r;
}

export function verifyReceiptFromSpecs(
  receipt: string,
  entry: Uint8Array,
  policyText: string,
): void {
  // tlog-policy: `log <vkey>`, `witness <name> <vkey> [url]`, `quorum <name>`.
  const policy = policyText.split('\n').filter((l) => l !== '');
  const logLine = policy.find((l) => l.startsWith('log '));
  const witnessLine = policy.find((l) => l.startsWith('witness '));
  const quorum = policy.find((l) => l.startsWith('quorum '));
  if (logLine === undefined || witnessLine === undefined || quorum === undefined) fail('policy');
  const log = verifierKey(logLine.split(' ')[1] ?? '');
  const [, wname, wkey] = witnessLine.split(' ');
  if (quorum !== `quorum ${wname ?? ''}`) fail('this verifier handles a single-witness quorum');
  const witness = verifierKey(wkey ?? '');

  // tlog-proof: header, optional extra, `index N`, proof hashes, empty line, checkpoint.
  const lines = receipt.split('\n');
  let i = 0;
  if (lines[i++] !== 'c2sp.org/tlog-proof@v1') fail('header');
  if (lines[i]?.startsWith('extra ') === true) i++;
  const indexLine = lines[i++] ?? '';
  if (!/^index \d+$/.test(indexLine)) fail('index line');
  const index = BigInt(indexLine.slice(6));
  const proof: Buffer[] = [];
  while (lines[i] !== '') {
    if (lines[i] === undefined) fail('truncated');
    proof.push(Buffer.from(lines[i++] as string, 'base64'));
  }
  i++;
  const note = lines.slice(i).join('\n');

  // signed-note: body, a blank line, signature lines `— <name> <base64(keyID ‖ signature)>`.
  const split = note.indexOf('\n\n');
  const body = note.slice(0, split + 1);
  const sigLines = note
    .slice(split + 2)
    .split('\n')
    .filter((l) => l !== '');
  const [origin, sizeText, rootText] = body.split('\n');
  if (origin !== log.name) fail('checkpoint origin is not the log');
  const size = BigInt(sizeText ?? '');
  const root = Buffer.from(rootText ?? '', 'base64');
  let logSigned = false;
  let cosigned = false;
  for (const l of sigLines) {
    const m = /^— (\S+) (\S+)$/.exec(l);
    if (m === null) fail('signature line');
    const raw = Buffer.from(m[2] ?? '', 'base64');
    const id = raw.subarray(0, 4);
    if (m[1] === log.name && id.equals(log.id) && log.type === 0x01) {
      logSigned ||= ed25519Verify(log.pub, Buffer.from(body), raw.subarray(4));
    }
    if (m[1] === witness.name && id.equals(witness.id) && witness.type === 0x04) {
      // tlog-cosignature: keyID(4) ‖ timestamp(8, big-endian) ‖ Ed25519 signature over
      // "cosignature/v1\ntime <timestamp>\n" ‖ checkpoint body.
      const ts = raw.readBigUInt64BE(4);
      const msg = Buffer.from(`cosignature/v1\ntime ${ts}\n${body}`);
      cosigned ||= ed25519Verify(witness.pub, msg, raw.subarray(12));
    }
  }
  if (!logSigned) fail('no valid log signature');
  if (!cosigned) fail('the witness quorum did not cosign');
  // RFC 9162 §2.1.1: leaf hash = SHA-256(0x00 ‖ entry).
  const leaf = sha256(Buffer.from([0]), Buffer.from(entry));
  if (!rootFromInclusion(leaf, index, size, proof).equals(root)) fail('inclusion proof');
}
