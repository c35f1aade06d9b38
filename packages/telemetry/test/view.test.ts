/**
 * The verified residency view against a real residency log and a real
 * witness on loopback: only witnessed entries count, refused entries are
 * kept out, the state survives a restart, and a forked log is caught.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { demoPolicy } from '@glasshouse/residency';
import { generateSignerKey } from '@glasshouse/tlog';
import { hasCode } from '@glasshouse/errors';
import { ResidencyView } from '../src/view/view.js';
import {
  type Parties,
  type TestLog,
  type TestWitness,
  append,
  customer,
  enrollmentEntry,
  fakeSite,
  parties,
  policyEntry,
  startLog,
  startWitness,
} from './residency-fixture.js';

const ORIGIN = 'localhost/glasshouse/residency';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gh-view-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function witness(): Promise<TestWitness> {
  const w = await startWitness();
  cleanups.push(() => w.close());
  return w;
}

const policy = demoPolicy({
  zurich: fakeSite('ch-zrh', 'CH'),
  other: fakeSite('us-iad', 'US'),
  issuedAt: '2026-12-04T12:00:00Z',
});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

/** A residency log (witnessed unless told otherwise), both parties' keys, and a view of the log. */
async function logAndView(
  opts: { witnessed?: boolean } = {},
): Promise<{ log: TestLog; keys: Parties; view: ResidencyView }> {
  const w = await witness();
  const log = await startLog(ORIGIN, w, opts);
  cleanups.push(() => log.close());
  const keys = parties();
  const view = ResidencyView.open({
    url: log.url,
    logPolicy: log.policy,
    keys: { vendorKey: keys.vendor.publicKey, supervisorKey: keys.supervisor.publicKey },
    dir: await tempDir(),
  });
  cleanups.push(() => view.close());
  return { log, keys, view };
}

describe('ResidencyView', () => {
  it('holds the policy and enrollments once a witnessed checkpoint covers them', async () => {
    const { log, keys, view } = await logAndView();
    // The empty tree's checkpoint is signed at init, never witnessed: nothing to act on.
    await view.refresh().catch(() => undefined);
    expect(codeOf(() => view.currentPolicy())).toBe('POLICY_NOT_LOGGED');

    await append(log.log, policyEntry(policy, [keys.vendor, keys.supervisor]));
    const eu = customer('EU');
    await append(log.log, enrollmentEntry(eu, keys.vendor));
    const r = await view.refresh();
    expect(r.applied).toBe(2);
    expect(view.currentPolicy().policy.version).toBe(1);
    expect(view.enrollment(eu.id)?.enrollment.region).toBe('EU');
    expect(view.policyByDigest(view.currentPolicy().digest)).toBeDefined();
    expect(view.checkpoint).toContain('— witness.example/w1 ');
    expect(view.size).toBe(2n);
  });

  it('refuses a policy signed by one party only: the policy is unverifiable', async () => {
    const { log, keys, view } = await logAndView();
    await append(log.log, policyEntry(policy, [keys.vendor]));
    const r = await view.refresh();
    expect(r.refused.map((x) => x.code)).toEqual(['POLICY_SIGNATURE_MISSING']);
    expect(codeOf(() => view.currentPolicy())).toBe('POLICY_UNVERIFIABLE');
  });

  it('does not act on entries under a checkpoint below the witness quorum', async () => {
    const { log, keys, view } = await logAndView({ witnessed: false });
    await append(log.log, policyEntry(policy, [keys.vendor, keys.supervisor]));
    const err = await view.refresh().catch((e: unknown) => e);
    expect(hasCode(err, 'CHECKPOINT_QUORUM_NOT_MET')).toBe(true);
    expect(view.lastError?.code).toBe('CHECKPOINT_QUORUM_NOT_MET');
    expect(codeOf(() => view.currentPolicy())).toBe('POLICY_NOT_LOGGED');
    const waited = await view.waitForSize(1n, 200).catch((e: unknown) => e);
    expect(hasCode(waited, 'VIEW_TIMEOUT')).toBe(true);
  });

  it('keeps its verified state across restarts and catches a forked log', async () => {
    const w = await witness();
    const logKeys = generateSignerKey(ORIGIN);
    const log = await startLog(ORIGIN, w, { keys: logKeys, witnessed: false });
    cleanups.push(() => log.close());
    const keys = parties();
    const dir = await tempDir();
    // This test pins no witness (quorum none): the fork below is the log's own doing.
    const pinned = `log ${logKeys.verifierKey}\nquorum none\n`;
    const open = (url: string): ResidencyView =>
      ResidencyView.open({
        url,
        logPolicy: pinned,
        keys: { vendorKey: keys.vendor.publicKey, supervisorKey: keys.supervisor.publicKey },
        dir,
      });
    let view = open(log.url);
    await append(log.log, policyEntry(policy, [keys.vendor, keys.supervisor]));
    await append(log.log, enrollmentEntry(customer('JP'), keys.vendor));
    await view.refresh();
    const verified = view.checkpoint;
    await view.close();

    // Restarted on the same directory: replayed from disk before any network read.
    view = open(log.url);
    cleanups.push(() => view.close());
    expect(view.size).toBe(2n);
    expect(view.currentPolicy().policy.version).toBe(1);

    // The same log key signs another history: another first entry.
    const fork = await startLog(ORIGIN, w, { keys: logKeys, witnessed: false });
    cleanups.push(() => fork.close());
    await append(fork.log, enrollmentEntry(customer('EU'), keys.vendor));
    await append(fork.log, enrollmentEntry(customer('EU'), keys.vendor));
    await append(fork.log, enrollmentEntry(customer('EU'), keys.vendor));
    await view.close();
    view = open(fork.url);
    const err = await view.refresh().catch((e: unknown) => e);
    expect(hasCode(err, 'LOG_INCONSISTENT')).toBe(true);
    const evidence = (err as { evidence: Record<string, unknown> }).evidence;
    expect(evidence.previous).toBe(verified);
    expect(typeof evidence.checkpoint).toBe('string');
    // The verified state stays.
    expect(view.size).toBe(2n);
    expect(view.currentPolicy().policy.version).toBe(1);
  });
});
