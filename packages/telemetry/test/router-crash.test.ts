/**
 * kill -9 of the router during ingestion: the router runs as a child
 * process and is SIGKILLed while agents send; after a restart on the same
 * data directory, every batch the router acknowledged (200 stored or 202
 * queued) is stored exactly once, at its designated site, as the sites'
 * ingest logs (read through their tlog-tiles API) show.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type StoredEntry,
  designatedSite,
  generateEd25519KeyPair,
  parseIngestLogEntry,
} from '@glasshouse/residency';
import { VerifiedTail } from '../src/view/tail.js';
import { witnessLines } from './residency-fixture.js';
import {
  type Agent,
  type TestSite,
  type World,
  agentOf,
  enrollAgent,
  startWorld,
} from './router-world.js';

const CHILD = fileURLToPath(new URL('./router-child.mjs', import.meta.url));
let w: World;
let config: string;

beforeAll(async () => {
  w = await startWorld();
  const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
  config = JSON.stringify({
    dir: await w.tempDir('router'),
    viewDir: await w.tempDir('router-view'),
    residencyUrl: w.residency.url,
    residencyPolicy: w.residency.policy,
    vendorKey: b64(w.keys.vendor.publicKey),
    supervisorKey: b64(w.keys.supervisor.publicKey),
    callerSeed: b64(generateEd25519KeyPair().seed),
    vendorSeed: b64(w.keys.vendor.seed),
  });
}, 30_000);

afterAll(async () => {
  await w.close();
});

async function startChild(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [CHILD, config], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`router did not start: ${out}`));
    }, 15_000);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening (\S+)/.exec(out);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`router exited with ${code}: ${out}`));
    });
  });
  return { child, url };
}

async function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}

async function storedAt(site: TestSite): Promise<StoredEntry[]> {
  const tail = new VerifiedTail({
    url: `${site.url}log/`,
    policy: `log ${site.description.verifierKey}\n${witnessLines(w.witness)}`,
  });
  try {
    return (await tail.step(null)).entries
      .map((e) => parseIngestLogEntry(e.data))
      .filter((e): e is StoredEntry => e.kind === 'stored');
  } finally {
    tail.close();
  }
}

describe('router kill -9', () => {
  it('stores every acknowledged batch exactly once, at its designated site', async () => {
    let { child, url } = await startChild();
    const acked = new Map<string, string>();
    try {
      const enrolled = await Promise.all(
        ['EU', 'LATAM', 'JP', 'MEA'].map((region) => enrollAgent(w, url, region)),
      );
      for (let round = 0; round < 1; round++) {
        const agents: Agent[] = enrolled.map((a) => agentOf(w, url, a.customer, a.deviceKey));
        let sending = true;
        const writers = agents.map(async (agent) => {
          while (sending) {
            const bytes = await agent.batch(5);
            try {
              const res = await agent.send(bytes);
              if (res.status === 200 || res.status === 202) {
                acked.set(
                  res.body.batch as string,
                  designatedSite(w.policy, agent.customer.region).id,
                );
              }
            } catch {
              return; // the router died mid-request: this batch was never acknowledged
            }
          }
        });
        // Killed at a random moment once acknowledgements flow.
        while (acked.size < 2) await new Promise((resolve) => setTimeout(resolve, 20));
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 300));
        await kill(child, 'SIGKILL');
        sending = false;
        await Promise.all(writers);
        ({ child, url } = await startChild());
      }
      expect(acked.size).toBeGreaterThan(0);

      // The restarted router delivers what its outbox holds.
      const deadline = Date.now() + 10_000;
      let entries: StoredEntry[] = [];
      for (;;) {
        entries = [...(await storedAt(w.sites.zurich)), ...(await storedAt(w.sites.other))];
        const have = new Set(entries.map((e) => e.batch));
        if ([...acked.keys()].every((d) => have.has(d)) || Date.now() > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      for (const [digest, site] of acked) {
        const at = entries.filter((e) => e.batch === digest);
        expect(at.length).toBe(1);
        expect(at[0]?.site).toBe(site);
      }
      // Nothing (acknowledged or not) is stored twice or at a site not designated for it.
      expect(new Set(entries.map((e) => e.batch)).size).toBe(entries.length);
      for (const e of entries) expect(designatedSite(w.policy, e.region).id).toBe(e.site);
    } finally {
      await kill(child, 'SIGTERM');
    }
  }, 30_000);
});
