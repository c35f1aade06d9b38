/**
 * The router fails closed on the policy, each case with its code and
 * nothing stored at any site: no policy in the log, a policy signed by one
 * party only, and a residency log whose checkpoints are below the witness
 * quorum the router pins. One world, the residency log growing case by case.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResidencyView } from '../src/view/view.js';
import { startWitness } from './residency-fixture.js';
import {
  type Agent,
  type RunningRouter,
  type World,
  agentOf,
  append,
  enrollAgent,
  policyEntry,
  registerDevice,
  startRouter,
  startWorld,
} from './router-world.js';

let w: World;
let r: RunningRouter;
let routerDir: string;
let agent: Agent;

beforeAll(async () => {
  w = await startWorld({ policy: 'none' });
  routerDir = await w.tempDir('router');
  r = await startRouter(w, { dir: routerDir });
  agent = await enrollAgent(w, r.url, 'EU');
}, 30_000);

afterAll(async () => {
  await r.router.close();
  await w.close();
});

async function storedBatches(): Promise<number> {
  let n = 0;
  for (const site of [w.sites.zurich, w.sites.other]) {
    n += (await site.site.storage.summary()).batches;
  }
  return n;
}

describe('router: fail closed on the policy', () => {
  it('refuses batches while no policy is in the log (POLICY_NOT_LOGGED)', async () => {
    const res = await agent.send(await agent.batch());
    expect(res).toMatchObject({ status: 503, body: { code: 'POLICY_NOT_LOGGED' } });
    expect(r.router.store.counts()).toEqual({ queued: 0, stored: 0, refused: 0 });
    expect(await storedBatches()).toBe(0);
  });

  it('refuses batches under a policy signed by one party only (POLICY_UNVERIFIABLE)', async () => {
    const one = await append(w.residency.log, policyEntry(w.policy, [w.keys.vendor]));
    await r.router.view.waitForSize(one + 1n, 5_000);
    const res = await agent.send(await agent.batch());
    expect(res).toMatchObject({ status: 503, body: { code: 'POLICY_UNVERIFIABLE' } });
    expect(r.router.store.counts().queued).toBe(0);
    expect(await storedBatches()).toBe(0);

    // Signed by both parties (still version 1: the one-party entry is no version), it routes.
    const both = await append(
      w.residency.log,
      policyEntry(w.policy, [w.keys.vendor, w.keys.supervisor]),
    );
    await r.router.view.waitForSize(both + 1n, 5_000);
    const ok = await agent.send(await agent.batch());
    // 202 while the site's own view has not seen the policy yet (it answers 409, retried).
    expect([200, 202]).toContain(ok.status);
    expect(ok.body.site).toBe('ch-zrh');
    for (let i = 0; i < 100 && r.router.store.counts().stored < 1; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(r.router.store.counts().stored).toBe(1);
  });

  it('acts on nothing whose checkpoint is below the pinned witness quorum', async () => {
    await r.router.close();
    const stored = await storedBatches();
    // The same router data, now pinning a policy that also needs a witness the log never asks.
    const w2 = await startWitness('witness.example/w2');
    try {
      const [logLine, w1Line] = w.residency.policy.split('\n');
      const strict =
        `${logLine}\n${w1Line}\nwitness w2 ${w2.verifierKey} ${w2.url}\n` +
        'group both all w1 w2\nquorum both\n';
      const view = ResidencyView.open({
        url: w.residency.url,
        logPolicy: strict,
        keys: { vendorKey: w.keys.vendor.publicKey, supervisorKey: w.keys.supervisor.publicKey },
        dir: await w.tempDir('strict-view'),
      });
      r = await startRouter(w, { dir: routerDir, view, enrollTimeoutMs: 500 });
      await view.refresh().catch(() => undefined);
      expect(view.lastError?.code).toBe('CHECKPOINT_QUORUM_NOT_MET');
      const again = agentOf(w, r.url, agent.customer, agent.deviceKey);
      const res = await again.send(await again.batch());
      expect(res).toMatchObject({ status: 503, body: { code: 'POLICY_NOT_LOGGED' } });
      // An enrollment is logged but gets no receipt that meets the pinned quorum.
      const enrolled = await enrollAgent(w, r.url, 'EU').catch((e: unknown) => String(e));
      expect(enrolled).toContain('ENROLLMENT_NOT_WITNESSED');
      // Nor is a device registered for a customer the view cannot see.
      expect(await registerDevice(r.url, agent.customer, agent.deviceKey)).toBe(403);
      expect(await storedBatches()).toBe(stored);
    } finally {
      await w2.close();
    }
  });
});
