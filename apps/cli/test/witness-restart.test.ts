/**
 * A real `glasshouse witness serve` child process, fed the checkpoints of a
 * real log (the log package on SQLite, in this process), SIGKILLed while a
 * request is in flight and restarted several times. After every restart the
 * witness still holds at least what it acknowledged, answers 409 with that
 * size to a stale `old`, and carries on from there.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  initLog,
  openLog,
  openSqliteStorage,
  type Log,
  type SignedCheckpoint,
  type SqliteStorage,
} from '@glasshouse/log';
import {
  generateSignerKey,
  openNote,
  parseCosignatureVerifierKey,
  parseVerifierKey,
} from '@glasshouse/tlog';
import { addCheckpoint, type AddCheckpointResponse } from '@glasshouse/witness';
import {
  type ServeProcess,
  ensureCliBuilt,
  runBuiltCli as runCli,
  startServing,
} from './built-cli.js';

const ORIGIN = 'example.org/witnessed-by-a-restarting-witness';

/** A real `glasshouse witness serve` child on a free loopback port. */
function startServe(dir: string): Promise<ServeProcess> {
  return startServing(['witness', 'serve', '--dir', dir, '--listen', '127.0.0.1:0']);
}

let tmp: string;
let storage: SqliteStorage;
let log: Log;
let logVkey: string;

beforeAll(async () => {
  ensureCliBuilt();
  tmp = await mkdtemp(join(tmpdir(), 'glasshouse-witness-restart-'));
  storage = await openSqliteStorage({ dir: join(tmp, 'log') });
  const keys = generateSignerKey(ORIGIN);
  logVkey = keys.verifierKey;
  await initLog({ origin: ORIGIN, signerKey: keys.signerKey, storage });
  log = await openLog({
    storage,
    signerKey: keys.signerKey,
    sequencer: { batchDelayMs: 5 },
    integrator: { intervalMs: 20 },
  });
}, 120_000);

afterAll(async () => {
  await log.close();
  await storage.close();
  await rm(tmp, { recursive: true, force: true });
});

/** Adds entries to the log and returns the checkpoint covering them. */
async function grow(n: number, tag: string): Promise<SignedCheckpoint> {
  let last = 0n;
  for (let i = 0; i < n; i++) last = (await log.add(new TextEncoder().encode(`${tag} ${i}`))).index;
  return log.waitForCheckpoint(last);
}

async function submit(url: string, oldSize: bigint, cp: SignedCheckpoint) {
  return addCheckpoint(url, {
    oldSize,
    consistencyProof:
      oldSize === 0n || oldSize === cp.checkpoint.size
        ? []
        : await log.consistencyProof(oldSize, cp.checkpoint.size),
    checkpoint: cp.note,
  });
}

it('keeps its state across SIGKILLs and answers 409 to a stale old size', async () => {
  const wdir = join(tmp, 'witness');
  const witnessVkey = runCli([
    'witness',
    'init',
    '--name',
    'witness.example/restart',
    '--dir',
    wdir,
  ]).trim();
  expect(runCli(['witness', 'add-log', '--dir', wdir, '--vkey', logVkey]).trim()).toBe(ORIGIN);

  let serve = await startServe(wdir);
  expect(serve.vkey).toBe(witnessVkey);
  let acked = 0n; // the largest size the witness answered 200 for
  let witnessSize = 0n; // what we believe the witness holds

  for (let round = 0; round < 3; round++) {
    // A few cosigned steps, as a log would drive them.
    for (let step = 0; step < 3; step++) {
      const cp = await grow(3 + step, `r${round}s${step}`);
      const r = await submit(serve.url, witnessSize, cp);
      expect(r.kind).toBe('cosigned');
      const opened = openNote(
        cp.note +
          (r as Extract<AddCheckpointResponse, { kind: 'cosigned' }>).signatureLines.join(''),
        [parseVerifierKey(logVkey), parseCosignatureVerifierKey(witnessVkey)],
      );
      expect(opened.verified).toHaveLength(2);
      witnessSize = acked = cp.checkpoint.size;
    }

    // One more request in flight, and the witness dies under it.
    const inflight = await grow(2, `r${round}-inflight`);
    const pending: Promise<AddCheckpointResponse | Error> = submit(
      serve.url,
      witnessSize,
      inflight,
    ).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 5)));
    serve.child.kill('SIGKILL');
    await serve.exited;
    const outcome = await pending;
    if (!(outcome instanceof Error) && outcome.kind === 'cosigned')
      acked = inflight.checkpoint.size;

    serve = await startServe(wdir);
    // A stale old size: 409 with what the witness persisted — never less than it acknowledged.
    const stale = await submit(serve.url, 0n, inflight);
    expect(stale.kind).toBe('conflict');
    const held = (stale as Extract<AddCheckpointResponse, { kind: 'conflict' }>).witnessSize;
    expect([acked, inflight.checkpoint.size]).toContain(held);
    expect(held).toBeGreaterThanOrEqual(acked);
    witnessSize = held;

    // The monitoring path serves the same state.
    const hash = createHash('sha256').update(ORIGIN).digest('hex');
    const served = await (await fetch(`${serve.url}/${hash}/checkpoint`)).text();
    expect(served.split('\n')[1]).toBe(held.toString());
  }

  // And it carries on from what it holds.
  const last = await grow(4, 'final');
  expect((await submit(serve.url, witnessSize, last)).kind).toBe('cosigned');
  serve.child.kill('SIGTERM');
  await serve.exited;
}, 120_000);
