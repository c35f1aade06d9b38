import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  cosignatureTimestamp,
  encodeBase64,
  generateCosignerKey,
  generateSignerKey,
  openNote,
  parseCosignatureVerifierKey,
  parseVerifierKey,
} from '@glasshouse/tlog';
import { TestLog, rawBody } from './witness-fixture.js';
import { openSqliteState, type SqliteState } from '../src/sqlite-state.js';
import { witnessRefusalAlert } from '../src/alerts.js';
import {
  createWitness,
  MAX_REQUEST_SIZE,
  type AddCheckpointResult,
  type Witness,
} from '../src/witness.js';

const NOW = 1_750_000_000n;
const ORIGIN = 'example.com/witnessed-log';

let dir: string;
let state: SqliteState;
let witness: Witness;
let witnessVkey: string;
let log: TestLog;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'glasshouse-witness-core-'));
  state = await openSqliteState({ dir });
  const keys = generateCosignerKey('witness.example/w1');
  witnessVkey = keys.verifierKey;
  witness = createWitness({ cosigner: keys.signerKey, state, now: () => NOW });
  log = new TestLog(ORIGIN);
  await witness.addLog(log.verifierKey);
});
afterEach(async () => {
  await state.close();
  await rm(dir, { recursive: true, force: true });
});

function expectStatus<S extends AddCheckpointResult['status']>(
  r: AddCheckpointResult,
  status: S,
): AddCheckpointResult & { status: S } {
  expect(
    r,
    JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}` : v)),
  ).toMatchObject({
    status,
  });
  return r as AddCheckpointResult & { status: S };
}

describe('add-checkpoint: 200', () => {
  it('cosigns a first checkpoint with old 0 and an empty proof, with the injected timestamp', async () => {
    log.append(5);
    const r = expectStatus(await witness.addCheckpoint(await log.request(0n)), 200);
    expect(r.cosignatures).toMatch(/^— witness\.example\/w1 [A-Za-z0-9+/]+=*\n$/);

    // The cosignature verifies as a c2sp.org/tlog-cosignature over the checkpoint.
    const cosigned = (await log.checkpoint()) + r.cosignatures;
    const opened = openNote(cosigned, [parseCosignatureVerifierKey(witnessVkey)]);
    expect(opened.verified).toHaveLength(1);
    expect(cosignatureTimestamp(opened.verified[0]!.signature)).toBe(NOW);

    // Persisted before the answer: the stored note carries the log's and the witness's signatures.
    const latest = await state.getLatest(ORIGIN);
    expect(latest?.size).toBe(5n);
    expect(latest?.rootHash).toEqual(await log.root());
    const both = openNote(latest!.note, [
      parseVerifierKey(log.verifierKey),
      parseCosignatureVerifierKey(witnessVkey),
    ]);
    expect(both.verified.map((s) => s.name)).toEqual([ORIGIN, 'witness.example/w1']);
  });

  it('extends with a valid consistency proof, again and again', async () => {
    log.append(3);
    expectStatus(await witness.addCheckpoint(await log.request(0n)), 200);
    for (const grow of [1, 4, 9, 1, 20]) {
      const old = log.size;
      log.append(grow);
      expectStatus(await witness.addCheckpoint(await log.request(old)), 200);
      expect((await state.getLatest(ORIGIN))?.size).toBe(log.size);
    }
  });

  it('cosigns the empty tree and the same checkpoint again', async () => {
    expectStatus(await witness.addCheckpoint(await log.request(0n)), 200);
    log.append(2);
    expectStatus(await witness.addCheckpoint(await log.request(0n)), 200);
    expectStatus(await witness.addCheckpoint(await log.request(2n)), 200);
  });

  it('ignores signatures from unknown keys and accepts extension lines', async () => {
    log.append(2);
    const stranger = generateSignerKey('someone.else/key');
    const other = new TestLog(ORIGIN, stranger);
    other.append(2);
    // A note with the stranger's line first, then the real log's.
    const real = await log.checkpoint();
    const strangerLine = (await other.checkpoint()).split('\n\n')[1]!;
    const [text, sigs] = real.split('\n\n') as [string, string];
    const note = `${text}\n\n${strangerLine}${sigs}`;
    const r = await witness.addCheckpoint(rawBody(`old 0\n\n${note}`));
    expectStatus(r, 200);
    const ext = await log.append(1).checkpoint(log.size, ['extension line']);
    const proof = (await log.proof(2n)).map((h) => `${encodeBase64(h)}\n`).join('');
    expectStatus(await witness.addCheckpoint(rawBody(`old 2\n${proof}\n${ext}`)), 200);
  });
});

describe('add-checkpoint: refusals', () => {
  it('409 with the stored size when old is not the latest cosigned size', async () => {
    log.append(4);
    expectStatus(await witness.addCheckpoint(await log.request(0n)), 200);
    log.append(4);
    const r = expectStatus(await witness.addCheckpoint(await log.request(2n)), 409);
    expect(r.size).toBe(4n);
    expect(r.code).toBe('OLD_SIZE_MISMATCH');
    // A log never cosigned counts as size 0.
    const fresh = new TestLog('example.com/fresh');
    await witness.addLog(fresh.verifierKey);
    fresh.append(3);
    expect(await witness.addCheckpoint(await fresh.request(1n))).toMatchObject({
      status: 409,
      size: 0n,
    });
  });

  it('422 for a consistency proof that does not verify', async () => {
    log.append(6);
    expectStatus(await witness.addCheckpoint(await log.request(0n)), 200);
    log.append(5);
    const good = await log.proof(6n);
    const bad = good.map((h, i) => (i === 0 ? Uint8Array.from(h, (b) => b ^ 1) : h));
    const body = (proof: Uint8Array[]): Uint8Array =>
      rawBody(`old 6\n${proof.map((h) => `${encodeBase64(h)}\n`).join('')}\n`);
    const cp = await log.checkpoint();
    const withCp = (proof: Uint8Array[]): Uint8Array => Buffer.concat([body(proof), rawBody(cp)]);
    const r = expectStatus(await witness.addCheckpoint(withCp(bad)), 422);
    expect(r.code).toBe('CONSISTENCY_PROOF_INVALID');
    expect(r.evidence).toMatchObject({ oldSize: '6', newSize: '11' });
    // Wrong length, and a proof where none is due.
    expectStatus(await witness.addCheckpoint(withCp(good.slice(1))), 422);
    expectStatus(await witness.addCheckpoint(withCp([...good, good[0]!])), 422);
    // The state did not move.
    expect((await state.getLatest(ORIGIN))?.size).toBe(6n);
  });

  it('422 for a non-empty proof with old 0 or between equal sizes', async () => {
    log.append(4);
    const h = encodeBase64(new Uint8Array(32));
    expectStatus(
      await witness.addCheckpoint(rawBody(`old 0\n${h}\n\n${await log.checkpoint()}`)),
      422,
    );
    expectStatus(await witness.addCheckpoint(await log.request(0n)), 200);
    expectStatus(
      await witness.addCheckpoint(rawBody(`old 4\n${h}\n\n${await log.checkpoint()}`)),
      422,
    );
  });

  it('403 when no trusted key verifies, or a trusted key signature fails', async () => {
    log.append(2);
    const impostor = new TestLog(ORIGIN, generateSignerKey(ORIGIN));
    impostor.append(2);
    const r = expectStatus(await witness.addCheckpoint(await impostor.request(0n)), 403);
    expect(r.code).toBe('LOG_SIGNATURE_INVALID');
    // The real key's line over another text.
    const good = await log.checkpoint();
    const tampered = good.replace(`\n2\n`, `\n3\n`);
    expectStatus(await witness.addCheckpoint(rawBody(`old 0\n\n${tampered}`)), 403);
  });

  it('404 for an unknown origin', async () => {
    const unknown = new TestLog('example.com/unknown').append(1);
    const r = expectStatus(await witness.addCheckpoint(await unknown.request(0n)), 404);
    expect(r.code).toBe('LOG_UNKNOWN');
  });

  it('400 when old is above the checkpoint size', async () => {
    log.append(3);
    const r = expectStatus(
      await witness.addCheckpoint(rawBody(`old 4\n\n${await log.checkpoint()}`)),
      400,
    );
    expect(r.code).toBe('OLD_SIZE_TOO_LARGE');
  });

  it('400 for malformed bodies', async () => {
    log.append(3);
    const cp = await log.checkpoint();
    const h = encodeBase64(new Uint8Array(32));
    const cases: [string, string | Uint8Array][] = [
      ['empty', ''],
      ['no old line', `\n${cp}`],
      ['old with leading zero', `old 01\n\n${cp}`],
      ['old with plus', `old +1\n\n${cp}`],
      ['old with two spaces', `old  0\n\n${cp}`],
      ['old in hex', `old 0x1\n\n${cp}`],
      ['old negative', `old -1\n\n${cp}`],
      ['old above 2^64-1', `old 18446744073709551616\n\n${cp}`],
      ['old line CRLF', `old 0\r\n\r\n${cp}`],
      ['OLD uppercase', `OLD 0\n\n${cp}`],
      ['proof line not base64', `old 0\nnot-base64!\n\n${cp}`],
      ['proof line short hash', `old 0\n${encodeBase64(new Uint8Array(31))}\n\n${cp}`],
      ['proof line unpadded', `old 0\n${h.slice(0, -1)}\n\n${cp}`],
      ['proof line trailing space', `old 0\n${h} \n\n${cp}`],
      ['no blank line', `old 0\n${cp.replace('\n\n', '\n')}`],
      ['no checkpoint', `old 0\n\n`],
      ['unsigned checkpoint', `old 0\n\n${cp.split('\n\n')[0]}\n`],
      ['checkpoint size not canonical', `old 0\n\n${cp.replace('\n3\n', '\n03\n')}`],
      ['checkpoint root bad', `old 0\n\n${cp.replace(/\n[A-Za-z0-9+/]{43}=\n/, '\nAAAA\n')}`],
      ['control character', `old 0\n\n${cp.replace(ORIGIN, `${ORIGIN}\u0007`)}`],
      ['not UTF-8', Uint8Array.of(0x6f, 0x6c, 0x64, 0x20, 0x30, 0x0a, 0x0a, 0xff, 0x0a)],
    ];
    for (const [name, body] of cases) {
      const r = await witness.addCheckpoint(typeof body === 'string' ? rawBody(body) : body);
      expect(r.status, name).toBe(400);
    }
    expect(await state.getLatest(ORIGIN)).toBeNull();
  });

  it('400 for more than 63 proof lines and for an oversize body', async () => {
    log.append(3);
    const h = `${encodeBase64(new Uint8Array(32))}\n`;
    const cp = await log.checkpoint();
    const r = await witness.addCheckpoint(rawBody(`old 1\n${h.repeat(64)}\n${cp}`));
    expect(r).toMatchObject({ status: 400, code: 'PROOF_TOO_LONG' });
    // 63 lines are read (and then fail as a proof, not as a request).
    expect((await witness.addCheckpoint(rawBody(`old 0\n${h.repeat(63)}\n${cp}`))).status).toBe(
      422,
    );
    const big = rawBody(`old 0\n\n${cp}`.padEnd(MAX_REQUEST_SIZE + 1, 'x'));
    expect(await witness.addCheckpoint(big)).toMatchObject({
      status: 400,
      code: 'REQUEST_TOO_LARGE',
    });
    const manySigs = `${cp}${cp.split('\n\n')[1]!.repeat(70)}`;
    expect((await witness.addCheckpoint(rawBody(`old 0\n\n${manySigs}`))).status).toBe(400);
  });
});

describe('split view', () => {
  it('refuses a second, different checkpoint of the same size signed by the real log key', async () => {
    log.append(4);
    expectStatus(await witness.addCheckpoint(await log.request(0n)), 200);
    const fork = log.fork();
    log.append(3, 'honest');
    fork.append(3, 'forked');
    expect(await log.root()).not.toEqual(await fork.root());

    // The honest view is cosigned first.
    expectStatus(await witness.addCheckpoint(await log.request(4n)), 200);
    // The forked view of the same size: from the old size the log claims, 409 with the witness's size.
    expect(await witness.addCheckpoint(await fork.request(4n))).toMatchObject({
      status: 409,
      size: 7n,
      code: 'OLD_SIZE_MISMATCH',
    });
    // From the witness's own size: same size, another root, 409.
    const split = await witness.addCheckpoint(rawBody(`old 7\n\n${await fork.checkpoint()}`));
    expect(split).toMatchObject({
      status: 409,
      size: 7n,
      code: 'ROOT_MISMATCH',
    });
    // As an alert: both signed notes, in the monitor's split-view vocabulary.
    const alert = witnessRefusalAlert(
      split as Exclude<AddCheckpointResult, { status: 200 }>,
      witness.name,
      new Date(0),
    );
    expect(alert).toMatchObject({
      kind: 'split-view',
      origin: ORIGIN,
      code: 'ROOT_MISMATCH',
      evidence: {
        witness: witness.name,
        checkpoint: await fork.checkpoint(),
        size: '7',
        previousRoot: encodeBase64(await log.root()),
        root: encodeBase64(await fork.root()),
      },
    });
    // The earlier checkpoint is the one the witness cosigned: the log's signature and the witness's.
    const previous = openNote(String(alert?.evidence.previous), [
      parseVerifierKey(log.verifierKey),
      parseCosignatureVerifierKey(witnessVkey),
    ]);
    expect(previous.verified).toHaveLength(2);
    // Refusals that prove nothing against the log raise no alert.
    expect(
      witnessRefusalAlert({ code: 'OLD_SIZE_MISMATCH' }, witness.name, new Date(0)),
    ).toBeUndefined();
    // A fork that grows past the witness cannot prove consistency with what it cosigned.
    fork.append(2, 'forked-more');
    const forkProof = (await fork.proof(7n)).map((h) => `${encodeBase64(h)}\n`).join('');
    expectStatus(
      await witness.addCheckpoint(rawBody(`old 7\n${forkProof}\n${await fork.checkpoint()}`)),
      422,
    );
    expect((await state.getLatest(ORIGIN))?.rootHash).toEqual(await log.root());
  });
});

describe('logs', () => {
  it('registers a log under its key name or a given origin, refusing bad keys', async () => {
    const other = generateSignerKey('example.com/other');
    expect(await witness.addLog(other.verifierKey)).toBe('example.com/other');
    expect(await witness.addLog(other.verifierKey, 'example.com/renamed')).toBe(
      'example.com/renamed',
    );
    await expect(witness.addLog('not a key')).rejects.toMatchObject({ code: 'KEY_INVALID' });
    // A cosigner key (type 0x04) is not a log key.
    await expect(witness.addLog(witnessVkey)).rejects.toMatchObject({ code: 'KEY_INVALID' });
    expect((await state.listLogs()).map((l) => l.origin)).toEqual([
      'example.com/other',
      'example.com/renamed',
      ORIGIN,
    ]);
  });

  it('refuses a bad witness key', () => {
    expect(() => createWitness({ cosigner: 'PRIVATE+KEY+nope', state, now: () => NOW })).toThrow(
      expect.objectContaining({ code: 'KEY_INVALID' }) as Error,
    );
  });
});
