/**
 * Kill -9 harness: runs `glasshouse log serve` as a child process under
 * concurrent writers, SIGKILLs it at random moments, restarts it, and checks
 * after every restart that every acknowledged index holds the same bytes and
 * that the new checkpoint is consistent with every checkpoint served before.
 *
 * Storage-agnostic: the caller initialises the log and passes the extra
 * `serve` arguments (e.g. `--postgres URL`).
 */
import { join } from 'node:path';
import { expect } from 'vitest';
import { type Checkpoint, encodeBundle } from '@glasshouse/tlog';
import { SpecClient } from '../../../packages/log/test/tiles-client.js';

import { readCallerKey, signingFetch } from '../src/callers.js';
import { type ServeProcess, startServing } from './built-cli.js';

export {
  type ServeProcess,
  ensureCliBuilt as ensureBuilt,
  runBuiltCli as runCli,
} from './built-cli.js';

/** A fetch that signs writes (RFC 9421) with the log operator's key in `dir`. */
export async function logOperatorFetch(dir: string): Promise<typeof fetch> {
  return signingFetch(await readCallerKey(join(dir, 'log.key')));
}

/** Starts `glasshouse log serve` and resolves once it printed its URL and key. */
export function startServe(args: readonly string[], timeoutMs = 15_000): Promise<ServeProcess> {
  return startServing(['log', 'serve', '--listen', '127.0.0.1:0', ...args], timeoutMs);
}

export interface CrashRunOptions {
  /** Extra `serve` arguments after `--dir`, e.g. ['--postgres', url]. */
  readonly serveArgs: readonly string[];
  readonly rounds: number;
  readonly writers: number;
  /** Each round runs writers for a random time in [min, max] ms, then SIGKILLs the server. */
  readonly killAfterMs: readonly [number, number];
  /**
   * The kill also waits (up to 20 s) for this many new acknowledgements in the round, so a
   * busy machine cannot turn the run into kills of an idle server. Default 30.
   */
  readonly minAckedPerRound?: number;
  /** How long to wait, after a restart, for a checkpoint covering every acknowledged entry. */
  readonly catchUpMs?: number;
}

export interface CrashRunStats {
  readonly acknowledged: number;
  readonly checkpoints: number;
  readonly finalSize: bigint;
}

/** A verifying record of everything the servers acknowledged and served. */
class Ledger {
  readonly acked = new Map<bigint, string>();
  readonly served = new Map<bigint, Checkpoint>();

  ack(index: bigint, text: string): void {
    const prior = this.acked.get(index);
    // Without dedup, two acknowledged writes never share an index.
    if (prior !== undefined) expect(prior).toBe(text);
    this.acked.set(index, text);
  }

  saw(cp: Checkpoint): void {
    const prior = this.served.get(cp.size);
    // A log never signs two roots for one size.
    if (prior !== undefined) expect(Buffer.from(prior.rootHash)).toEqual(Buffer.from(cp.rootHash));
    this.served.set(cp.size, cp);
  }
}

async function writeUntil(
  url: string,
  w: number,
  ledger: Ledger,
  stop: () => boolean,
  post: typeof fetch,
): Promise<void> {
  for (let i = 0; !stop(); i++) {
    try {
      if (i % 4 === 3) {
        const texts = Array.from({ length: 16 }, (_, k) => `w${w}-${i}-${k}-${Math.random()}`);
        const body = encodeBundle(texts.map((s) => new TextEncoder().encode(s)));
        const res = await post(new URL('add-batch', url), { method: 'POST', body });
        if (res.status !== 200) continue;
        const { indices } = (await res.json()) as { indices: number[] };
        indices.forEach((index, k) => {
          ledger.ack(BigInt(index), texts[k] ?? '');
        });
      } else {
        const text = `w${w}-${i}-${Math.random()}`;
        const res = await post(new URL('add', url), { method: 'POST', body: text });
        if (res.status !== 200) continue;
        const { index } = (await res.json()) as { index: number };
        ledger.ack(BigInt(index), text);
      }
    } catch {
      // The server was killed mid-request: this write was never acknowledged.
      if (!stop()) await new Promise((r) => setTimeout(r, 10));
    }
  }
}

async function observeUntil(
  client: SpecClient,
  ledger: Ledger,
  stop: () => boolean,
): Promise<void> {
  while (!stop()) {
    try {
      ledger.saw(await client.checkpoint());
    } catch (err) {
      // Only a dead server excuses a failed fetch; a bad signature does not.
      if (!stop()) throw err;
    }
    await new Promise((r) => setTimeout(r, 30));
  }
}

/** After a (re)start: everything acknowledged is there, and the tree only grew. */
async function verifyAfterRestart(
  client: SpecClient,
  ledger: Ledger,
  catchUpMs: number,
): Promise<Checkpoint> {
  let highest = -1n;
  for (const i of ledger.acked.keys()) if (i > highest) highest = i;
  let cp = await client.checkpoint();
  const deadline = Date.now() + catchUpMs;
  while (cp.size <= highest && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    cp = await client.checkpoint();
  }
  expect(cp.size).toBeGreaterThan(highest);
  ledger.saw(cp);
  await client.verifyRoot(cp);
  const entries = await client.entries(cp.size);
  for (const [index, text] of ledger.acked) {
    expect(new TextDecoder().decode(entries[Number(index)])).toBe(text);
  }
  for (const old of ledger.served.values()) {
    if (old.size <= cp.size) await client.verifyConsistent(old, cp);
    else await client.verifyConsistent(cp, old);
  }
  return cp;
}

/**
 * Runs `rounds` kill -9 rounds against the log in `dir`, then a final clean
 * start, verification and graceful SIGTERM.
 */
export async function runCrashRounds(dir: string, opts: CrashRunOptions): Promise<CrashRunStats> {
  const ledger = new Ledger();
  const catchUpMs = opts.catchUpMs ?? 15_000;
  const args = ['--dir', dir, ...opts.serveArgs];
  // The writers are the log operator: they sign with the log's own key.
  const post = await logOperatorFetch(dir);
  for (let round = 0; round < opts.rounds; round++) {
    const serve = await startServe(args);
    const client = new SpecClient(serve.url, serve.vkey);
    await verifyAfterRestart(client, ledger, catchUpMs);
    let killed = false;
    const stop = (): boolean => killed;
    const work = Promise.all([
      ...Array.from({ length: opts.writers }, (_, w) =>
        writeUntil(serve.url, w, ledger, stop, post),
      ),
      observeUntil(client, ledger, stop),
    ]);
    const [min, max] = opts.killAfterMs;
    const ackedBefore = ledger.acked.size;
    await new Promise((r) => setTimeout(r, min + Math.random() * (max - min)));
    const enough = ackedBefore + (opts.minAckedPerRound ?? 30);
    const giveUp = Date.now() + 20_000;
    while (ledger.acked.size < enough && Date.now() < giveUp) {
      await new Promise((r) => setTimeout(r, 50));
    }
    killed = true;
    serve.child.kill('SIGKILL');
    await serve.exited;
    await work;
  }
  const serve = await startServe(args);
  const client = new SpecClient(serve.url, serve.vkey);
  const final = await verifyAfterRestart(client, ledger, catchUpMs);
  serve.child.kill('SIGTERM');
  const { code } = await serve.exited;
  expect(code, serve.stderr()).toBe(0);
  return {
    acknowledged: ledger.acked.size,
    checkpoints: ledger.served.size,
    finalSize: final.size,
  };
}
