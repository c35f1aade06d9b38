import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCosignerKey } from '@glasshouse/tlog';
import {
  type SqliteState,
  type Witness,
  buildWitnessServer,
  createWitness,
  openSqliteState,
} from '@glasshouse/witness';

/** A real witness (its own key and SQLite state) served over loopback HTTP. */
export interface TestWitness {
  readonly name: string;
  readonly verifierKey: string;
  /** Its submission prefix; stays the same across stop() and start(). */
  readonly url: string;
  readonly witness: Witness;
  /** The `policy` line naming it. */
  policyLine(): string;
  /** Stops answering (connections refused); the state stays. */
  stop(): Promise<void>;
  /** Answers again on the same port. */
  start(): Promise<void>;
  /** add-checkpoint answers by status, from the running server's metrics. */
  answers(status: number): Promise<number>;
  close(): Promise<void>;
}

export async function startTestWitness(
  name: string,
  logVerifierKeys: readonly string[],
): Promise<TestWitness> {
  const dir = await mkdtemp(join(tmpdir(), 'glasshouse-test-witness-'));
  const state: SqliteState = await openSqliteState({ dir });
  const keys = generateCosignerKey(name);
  const witness = createWitness({
    cosigner: keys.signerKey,
    state,
    now: () => BigInt(Math.floor(Date.now() / 1000)),
  });
  for (const vkey of logVerifierKeys) await witness.addLog(vkey);

  let app: ReturnType<typeof buildWitnessServer> | null = null;
  let port = 0;
  const start = async (): Promise<void> => {
    const a = buildWitnessServer({ witness, state });
    await a.listen({ host: '127.0.0.1', port });
    const address = a.server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    port = address.port;
    app = a;
  };
  await start();
  const url = `http://127.0.0.1:${port}`;
  return {
    name,
    verifierKey: keys.verifierKey,
    url,
    witness,
    policyLine: () => `witness ${name} ${keys.verifierKey} ${url}\n`,
    stop: async () => {
      const a = app;
      app = null;
      await a?.close();
    },
    start,
    answers: async (status) => {
      const text = (await app?.metrics.registry.metrics()) ?? '';
      const m = new RegExp(`add_checkpoint_total\\{status="${status}"\\} (\\d+)`).exec(text);
      return Number(m?.[1] ?? 0);
    },
    close: async () => {
      await app?.close();
      app = null;
      await state.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns true, or fails after `timeoutMs`. */
export async function eventually(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
