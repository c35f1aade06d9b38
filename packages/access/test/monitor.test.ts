/**
 * The access monitor against real logs on loopback (a real witness, the
 * access log and the index output log) and a real index service: each
 * check of issue 17 §6–7 raises its alert with evidence, once, also across
 * restarts, and the status file says what was checked.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type AccessRecord,
  accessIndexKey,
  accessRecordDigest,
  accessRequestDigest,
  approvalEnvelope,
  approvalSigningMessage,
  demoAccessPolicy,
  encodeAccessRecord,
  encodeAccessRequest,
  encodeApproval,
  parseAccessRecord,
} from '@glasshouse/access-format';
import {
  type Ed25519KeyPair,
  generateEd25519KeyPair,
  keyId,
  signEd25519,
} from '@glasshouse/residency';
import {
  AccessMonitor,
  type AccessMonitorOptions,
  type ApprovalSource,
  IndexService,
  MemoryAccessAlerts,
  jsonLinesAccessAlerts,
  openSqliteIndexStore,
  readAccessMonitorStatus,
} from '../src/index.js';
import { type TestCustomer, type World, newCustomer, record, startWorld } from './fixture.js';

let world: World;
let dir: string;
const supervisor: Ed25519KeyPair = generateEd25519KeyPair();
const policy = demoAccessPolicy(supervisor.publicKey, '2026-12-01T00:00:00Z');
const closers: (() => Promise<void>)[] = [];

beforeEach(async () => {
  world = await startWorld();
  dir = await mkdtemp(join(tmpdir(), 'gh-access-monitor-'));
});

afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
  await world.close();
  await rm(dir, { recursive: true, force: true });
});

/** The approvals service's content, as the monitor reads it. */
class Approvals implements ApprovalSource {
  readonly requests = new Map<string, { request: Uint8Array; approvals: string[] }>();
  readonly reviewsOf = new Map<string, string[]>();
  down = false;
  approvals(digest: string) {
    if (this.down) return Promise.reject(new Error('approvals service unreachable'));
    return Promise.resolve(this.requests.get(digest) ?? null);
  }
  reviews(digest: string) {
    if (this.down) return Promise.reject(new Error('approvals service unreachable'));
    return Promise.resolve(this.reviewsOf.get(digest) ?? []);
  }
}

function sign(
  role: 'customer' | 'supervisor',
  key: Ed25519KeyPair,
  request: string,
  decidedAt = '2026-12-04T09:30:00Z',
  expiresAt = '2026-12-04T18:00:00Z',
): string {
  const payload = encodeApproval({
    schema: 'glasshouse.access-approval/v1',
    request,
    role,
    decision: 'approve',
    decidedAt,
    expiresAt,
  });
  return approvalEnvelope(payload, {
    keyid: keyId(key.publicKey),
    sig: signEd25519(key.seed, approvalSigningMessage(payload)),
  });
}

/** A support access to personal fields with its request filed; approvals as given. */
function supportAccess(
  approvals: Approvals,
  c: TestCustomer,
  counter: number,
  approvers: ('customer' | 'supervisor')[],
  signer?: Ed25519KeyPair,
): AccessRecord {
  const base = record(c.pseudonym, counter, {
    dataClass: 'personal-fields',
    justification: {
      code: 'CUSTOMER_INITIATED_SUPPORT',
      detail: 'ticket from the customer',
      ticket: 'SUP-1',
    },
  });
  const request = encodeAccessRequest({
    schema: 'glasshouse.access-request/v1',
    site: base.site,
    customer: base.customer,
    dataClass: base.dataClass,
    scope: base.scope,
    accessor: base.accessor,
    justification: base.justification,
    // One request per access (the counter makes each distinct).
    requestedAt: `2026-12-04T09:${String(counter).padStart(2, '0')}:00Z`,
    expiresAt: '2026-12-04T12:00:00Z',
  });
  const digest = accessRequestDigest(request);
  approvals.requests.set(digest, {
    request,
    approvals: approvers.map((role) =>
      sign(role, signer ?? (role === 'customer' ? c.key : supervisor), digest),
    ),
  });
  return { ...base, approval: digest };
}

async function append(records: readonly AccessRecord[]): Promise<bigint[]> {
  const out: bigint[] = [];
  for (const r of records) out.push(await world.accessLog.append(encodeAccessRecord(r)));
  return out;
}

async function publishIndex(mapFn?: (entry: Uint8Array) => string | null): Promise<void> {
  const service = await IndexService.open({
    accessLogUrl: world.accessLog.url,
    accessLogPolicy: world.accessLog.policy,
    outputLogUrl: world.outputLog.url,
    store: openSqliteIndexStore({ dir: join(dir, `index-${Math.random()}`) }),
    ...(mapFn === undefined ? {} : { mapFn }),
  });
  await service.step();
  await service.close();
}

function open(
  approvals: ApprovalSource,
  customers: readonly TestCustomer[],
  more: Partial<AccessMonitorOptions> = {},
) {
  const alerts = new MemoryAccessAlerts();
  const keys = new Map(customers.map((c) => [c.pseudonym, c.key.publicKey]));
  const monitor = AccessMonitor.open({
    accessLogUrl: world.accessLog.url,
    accessLogPolicy: world.accessLog.policy,
    outputLogUrl: world.outputLog.url,
    outputLogPolicy: world.outputLog.policy,
    policy,
    approvals,
    customerKey: (c) => keys.get(c),
    dir: join(dir, 'monitor'),
    alerts,
    ...more,
  });
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await monitor.close();
  };
  closers.push(close);
  return { monitor, alerts, close };
}

describe('access monitor', () => {
  it('raises nothing on a clean log and index, and writes its status', async () => {
    const approvals = new Approvals();
    const [a, b] = [newCustomer(), newCustomer()];
    await append([
      supportAccess(approvals, a, 1, ['customer', 'supervisor']),
      record(b.pseudonym, 1),
      record(a.pseudonym, 2),
    ]);
    await publishIndex();
    const { monitor, alerts } = open(approvals, [a, b]);
    const run = await monitor.runOnce();
    expect(run.alerts).toEqual([]);
    expect(alerts.alerts).toEqual([]);
    expect(run.status).toMatchObject({
      records: 3,
      customers: 2,
      revisionsChecked: 1,
      lastRevisionSize: '3',
      accessLog: { size: '3', verification: 'ok' },
      outputLog: { size: '1', verification: 'ok' },
    });
    const written = await readAccessMonitorStatus(join(dir, 'monitor'));
    expect(written?.records).toBe(3);
    expect(written?.revisionsChecked).toBe(1);
  });

  it('catches a wrongly built index (INDEX_ROOT_MISMATCH) with the entry and the rebuilt roots', async () => {
    const [a, b] = [newCustomer(), newCustomer()];
    await append([record(a.pseudonym, 1), record(b.pseudonym, 1), record(a.pseudonym, 2)]);
    // An index that leaves out b's record.
    await publishIndex((e) =>
      parseAccessRecord(e).customer === b.pseudonym ? null : accessIndexKey(e),
    );
    const { monitor } = open(new Approvals(), [a, b]);
    const run = await monitor.runOnce();
    expect(run.alerts.map((x) => [x.kind, x.code])).toEqual([
      ['index-mismatch', 'INDEX_ROOT_MISMATCH'],
    ]);
    expect(run.alerts[0]?.evidence).toMatchObject({ outputIndex: '0' });
    expect(run.alerts[0]?.evidence.rebuiltIndexRoot).toEqual(expect.any(String));
  });

  it('catches two index roots at one size (INDEX_FORK)', async () => {
    const [a, b] = [newCustomer(), newCustomer()];
    await append([record(a.pseudonym, 1), record(b.pseudonym, 1)]);
    await publishIndex();
    await publishIndex((e) =>
      parseAccessRecord(e).customer === b.pseudonym ? null : accessIndexKey(e),
    );
    const { monitor } = open(new Approvals(), [a, b]);
    const kinds = (await monitor.runOnce()).alerts.map((x) => x.kind).sort();
    expect(kinds).toEqual(['index-fork', 'index-mismatch']);
  });

  it('catches a counter gap, a missing, a forged and an expired approval, and an access to a canary', async () => {
    const approvals = new Approvals();
    const [a, b, canary] = [newCustomer(), newCustomer(), newCustomer()];
    const mallory = generateEd25519KeyPair();
    const noRequest = {
      ...supportAccess(approvals, b, 2, []),
      approval: `sha256:${'00'.repeat(32)}`,
    };
    const expired = supportAccess(approvals, b, 4, ['customer', 'supervisor']);
    // The same request, but the record happened after the approvals expired.
    const late = { ...expired, time: '2026-12-04T19:00:00Z' };
    const indices = await append([
      record(a.pseudonym, 1),
      record(a.pseudonym, 3), // 2 is missing
      supportAccess(approvals, b, 1, ['customer', 'supervisor']),
      noRequest,
      supportAccess(approvals, b, 3, ['customer', 'supervisor'], mallory),
      late,
      record(canary.pseudonym, 1),
    ]);
    await publishIndex();
    const { monitor, alerts } = open(approvals, [a, b, canary], { canaries: [canary.pseudonym] });
    const run = await monitor.runOnce();
    const got = run.alerts.map((x) => [x.kind, x.code ?? null, x.evidence.index]);
    expect(got).toEqual([
      ['counter-gap', 'RECORD_OMITTED', indices[1]!.toString()],
      ['access-not-allowed', 'APPROVAL_MISSING', indices[3]!.toString()],
      ['access-not-allowed', 'APPROVAL_SIGNATURE_INVALID', indices[4]!.toString()],
      ['access-not-allowed', 'APPROVAL_EXPIRED', indices[5]!.toString()],
      ['canary-access', null, indices[6]!.toString()],
    ]);
    expect(alerts.alerts).toHaveLength(5);
    expect(run.alerts[0]?.evidence).toMatchObject({ expectedCounter: 2, counter: 3 });
    expect(run.alerts[4]?.customer).toBe(canary.pseudonym);
  });

  it('alerts a break-glass access at once and again when it has no review past its deadline; a review settles it', async () => {
    const approvals = new Approvals();
    const [a, b] = [newCustomer(), newCustomer()];
    // Times around the real clock: the witness cosigns with it, and the monitor checks against `now`.
    const t0 = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
    const at = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');
    const glass = (c: TestCustomer): AccessRecord =>
      record(c.pseudonym, 1, {
        dataClass: 'personal-fields',
        justification: { code: 'BREAK_GLASS', detail: 'ransomware spreading' },
        time: at(t0),
      });
    const [ia, ib] = await append([glass(a), glass(b)]);
    let now = new Date();
    const { monitor, alerts, close } = open(approvals, [a, b], {
      reviewSeconds: 3600 * 4,
      now: () => now,
    });
    const first = await monitor.runOnce();
    expect(first.alerts.map((x) => [x.kind, x.evidence.index])).toEqual([
      ['break-glass', ia!.toString()],
      ['break-glass', ib!.toString()],
    ]);
    expect(first.status.reviewsPending).toBe(2);
    // a's access gets its review in time; b's does not, and a forged review does not count.
    const digestA = accessRecordDigest(encodeAccessRecord(glass(a)));
    const digestB = accessRecordDigest(encodeAccessRecord(glass(b)));
    const review = (key: Ed25519KeyPair, digest: string): string =>
      sign('supervisor', key, digest, at(t0 + 3_600_000), at(t0 + 36_000_000));
    approvals.reviewsOf.set(digestA, [review(supervisor, digestA)]);
    approvals.reviewsOf.set(digestB, [review(generateEd25519KeyPair(), digestB)]);
    now = new Date(t0 + 5 * 3_600_000);
    const second = await monitor.runOnce();
    expect(second.alerts.map((x) => [x.kind, x.code, x.evidence.index])).toEqual([
      ['break-glass-unreviewed', 'REVIEW_OVERDUE', ib!.toString()],
    ]);
    expect(second.status.reviewsPending).toBe(1);
    expect(alerts.alerts).toHaveLength(3);
    await close();
    // After a restart the evidence is found again but not sent again.
    const again = open(approvals, [a, b], { reviewSeconds: 3600 * 4, now: () => now });
    const third = await again.monitor.runOnce();
    expect(third.alerts.map((x) => x.kind).sort()).toEqual([
      'break-glass',
      'break-glass',
      'break-glass-unreviewed',
    ]);
    expect(again.alerts.alerts).toEqual([]);
  });

  it('defers the policy check while the approvals service is down, without false counter gaps', async () => {
    const approvals = new Approvals();
    const a = newCustomer();
    await append([
      supportAccess(approvals, a, 1, ['customer', 'supervisor']),
      record(a.pseudonym, 2),
    ]);
    await publishIndex();
    approvals.down = true;
    const { monitor } = open(approvals, [a]);
    const first = await monitor.runOnce();
    expect(first.alerts).toEqual([]);
    expect(first.status.deferred).toBe(1);
    approvals.down = false;
    const second = await monitor.runOnce();
    expect(second.alerts).toEqual([]);
    expect(second.status.deferred).toBe(0);
  });

  it('sends alerts once across restarts, to a JSON-lines file', async () => {
    const a = newCustomer();
    await append([record(a.pseudonym, 2)]);
    await publishIndex();
    const file = join(dir, 'alerts.jsonl');
    const m1 = open(new Approvals(), [a], { alerts: jsonLinesAccessAlerts(file) });
    expect((await m1.monitor.runOnce()).alerts).toHaveLength(1);
    await m1.monitor.runOnce();
    await m1.close();
    const m2 = open(new Approvals(), [a], { alerts: jsonLinesAccessAlerts(file) });
    expect((await m2.monitor.runOnce()).alerts).toHaveLength(1);
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ kind: 'counter-gap', code: 'RECORD_OMITTED' });
  });
});
