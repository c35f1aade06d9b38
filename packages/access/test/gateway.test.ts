// The gateway, the key release and approvals end to end: real site, real
// witnessed logs, real HTTP on loopback, SQLite stores.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { accessRecordDigest, parseAccessRecord } from '@glasshouse/access-format';
import { LogClient } from '@glasshouse/log';
import { generateSignerKey, parsePolicy, verifyTlogProof } from '@glasshouse/tlog';
import { signedFetch } from '@glasshouse/httpsig';
import { generateKeyReleaseKeyPair, keyId } from '@glasshouse/residency';
import { buildSiteServer } from '@glasshouse/telemetry';
import {
  ACCESS_PHASES,
  parseServerTiming,
  Approvals,
  Gateway,
  KeyRelease,
  TICKET_TTL_SECONDS,
  MemoryAccessAlerts,
  RecordStore,
  keyReleaseClient,
  openPrincipalRegistry,
  siteReader,
} from '../src/index.js';
import {
  ACCESS_LOG_ORIGIN,
  type AccessWorld,
  SITE,
  approvalText,
  readFirstBatchSealed,
  signer,
  startAccessWorld,
} from './access-world.js';
import { verifyReceiptFromSpecs } from './spec-verifier.js';

let w: AccessWorld;

beforeAll(async () => {
  w = await startAccessWorld();
}, 60_000);

afterAll(async () => {
  await w.close();
}, 30_000);

const support = (ticket = 'SUP-1') => ({
  code: 'CUSTOMER_INITIATED_SUPPORT' as const,
  detail: 'customer asked why a file was blocked',
  ticket,
});
const threat = {
  code: 'THREAT_INVESTIGATION' as const,
  detail: 'campaign seen at other customers',
};

async function logSize(): Promise<bigint> {
  return (await w.accessLog.log.latest()).checkpoint.size;
}

async function ask(
  who: 'support' | 'analyst',
  body: Record<string, unknown>,
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  return w.post(
    w.principals[who].key,
    'v1/access',
    JSON.stringify({ site: SITE, customer: w.customer.id, ...body }),
  );
}

function expectNothingServed(r: { body: Record<string, unknown> }): void {
  expect(r.body.batches).toBeUndefined();
  const text = JSON.stringify(r.body);
  expect(text).not.toContain('alice-');
  expect(text).not.toContain('host-');
}

describe('gateway: an access is served only with its witnessed record', () => {
  it('serves a support access with the customer and supervisor approvals, with a receipt that verifies from the specs', async () => {
    const scope = { kind: 'batches', batches: [w.batches[0]] };
    const approval = await w.approve({
      principal: 'support',
      scope: scope as never,
      justification: support(),
    });
    const r = await ask('support', {
      dataClass: 'personal-fields',
      scope,
      justification: support(),
      approval,
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const record = new TextEncoder().encode(r.body.record as string);
    const parsed = parseAccessRecord(record);
    expect(parsed).toMatchObject({
      site: SITE,
      customer: w.customer.id,
      counter: 1,
      approval,
      accessor: w.principals.support.p.accessor,
    });
    const batches = r.body.batches as {
      digest: string;
      events: { personal: { user: string } }[];
    }[];
    expect(batches.map((b) => b.digest)).toEqual([w.batches[0]]);
    expect(batches[0]?.events.map((e) => e.personal.user)).toEqual(['alice-1', 'alice-2']);
    // The receipt: our tlog package, and an independent verifier written from the specs alone.
    const v = verifyTlogProof(r.body.receipt as string, record, parsePolicy(w.accessLog.policy));
    expect(v.index).toBe(BigInt(r.body.index as number));
    expect(v.cosigners).toHaveLength(1);
    verifyReceiptFromSpecs(r.body.receipt as string, record, w.accessLog.policy);
    // Durable as `prepared` before the keys left; `released` once they were answered.
    await expect
      .poll(async () => (await w.stores.audit.list({ customer: w.customer.id })).at(-1), {
        timeout: 5_000,
      })
      .toMatchObject({ outcome: 'released', record: r.body.digest, logIndex: v.index });
  });

  it('serves a threat investigation by time range without approval; counters run 1, 2, … in log order', async () => {
    const r = await ask('analyst', {
      dataClass: 'telemetry-events',
      scope: { kind: 'time-range', from: '2026-12-04T10:30:00Z', to: '2026-12-04T12:30:00Z' },
      justification: threat,
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect((r.body.batches as { digest: string }[]).map((b) => b.digest)).toEqual([
      w.batches[1],
      w.batches[2],
    ]);
    expect(parseAccessRecord(new TextEncoder().encode(r.body.record as string)).counter).toBe(2);
    // Concurrent accesses of one customer: counters follow log indices.
    const many = await Promise.all(
      [0, 1, 2].map(() =>
        ask('analyst', {
          dataClass: 'telemetry-events',
          scope: { kind: 'batches', batches: [w.batches[2]] },
          justification: threat,
        }),
      ),
    );
    const got = many
      .map((m) => {
        expect(m.status, JSON.stringify(m.body)).toBe(200);
        return {
          index: m.body.index as number,
          counter: parseAccessRecord(new TextEncoder().encode(m.body.record as string)).counter,
        };
      })
      .sort((a, b) => a.index - b.index);
    expect(got.map((g) => g.counter)).toEqual([3, 4, 5]);
  });

  it("says where an access's time went: Server-Timing with each phase it went through", async () => {
    const res = await ask('analyst', {
      dataClass: 'telemetry-events',
      scope: { kind: 'batches', batches: [w.batches[1]] },
      justification: threat,
    });
    expect(res.status).toBe(200);
    const timing = parseServerTiming(res.headers.get('server-timing'));
    for (const phase of ACCESS_PHASES) expect(timing[phase], phase).toBeGreaterThanOrEqual(0);
    // The witness wait is part of the whole; the read and prepare ran inside it.
    expect(timing.total).toBeGreaterThanOrEqual((timing.store ?? 0) + (timing.log ?? 0));
  });

  it('refuses, with a code, no record and no data: no justification, unknown principal, approval missing/expired/forged/for another scope', async () => {
    const before = await logSize();
    const personal = {
      dataClass: 'personal-fields',
      scope: { kind: 'batches', batches: [w.batches[1]] },
    };

    const noJustification = await ask('support', personal);
    expect(noJustification.status).toBe(400);
    expect(noJustification.body.code).toBe('JUSTIFICATION_MISSING');

    const outsider = await w.post(
      w.outsider,
      'v1/access',
      JSON.stringify({
        site: SITE,
        customer: w.customer.id,
        ...personal,
        justification: support(),
      }),
    );
    expect(outsider.status).toBe(401);
    expect(outsider.body.code).toBe('AUTH_KEY_UNKNOWN');
    const unsigned = await w.post(null, 'v1/access', JSON.stringify({ ...personal }));
    expect(unsigned.status).toBe(401);

    const missing = await ask('support', { ...personal, justification: support() });
    expect(missing.status).toBe(403);
    expect(missing.body.code).toBe('APPROVAL_MISSING');

    const expired = await w.approve({
      principal: 'support',
      scope: personal.scope as never,
      justification: support('SUP-2'),
      validSeconds: 1,
    });
    await new Promise((r) => setTimeout(r, 200));
    const exp = await ask('support', {
      ...personal,
      justification: support('SUP-2'),
      approval: expired,
    });
    expect(exp.status).toBe(403);
    expect(exp.body.code).toBe('APPROVAL_EXPIRED');

    // Forged: "the customer's" approval signed by another key is refused when filed, so none counts.
    const forged = await w.approve({
      principal: 'support',
      scope: personal.scope as never,
      justification: support('SUP-3'),
      roles: ['customer'],
      signWith: w.outsider,
    });
    const forgedAsk = await ask('support', {
      ...personal,
      justification: support('SUP-3'),
      approval: forged,
    });
    expect(forgedAsk.status).toBe(403);
    expect(forgedAsk.body.code).toBe('APPROVAL_MISSING');

    const other = await w.approve({
      principal: 'support',
      scope: { kind: 'batches', batches: [w.batches[0]] } as never,
      justification: support('SUP-4'),
    });
    const otherScope = await ask('support', {
      ...personal,
      justification: support('SUP-4'),
      approval: other,
    });
    expect(otherScope.status).toBe(403);
    expect(otherScope.body.code).toBe('APPROVAL_SCOPE_MISMATCH');

    const denied = await w.approve({
      principal: 'support',
      scope: personal.scope as never,
      justification: support('SUP-5'),
      decision: 'deny',
    });
    const den = await ask('support', {
      ...personal,
      justification: support('SUP-5'),
      approval: denied,
    });
    expect(den.body.code).toBe('APPROVAL_DENIED');

    for (const r of [
      noJustification,
      outsider,
      unsigned,
      missing,
      exp,
      forgedAsk,
      otherScope,
      den,
    ]) {
      expectNothingServed(r);
    }
    expect(await logSize()).toBe(before);
  });

  it('refuses a forged approval when it is filed', async () => {
    const digest = await w.approve({
      principal: 'support',
      scope: { kind: 'batches', batches: [w.batches[2]] } as never,
      justification: support('SUP-6'),
      roles: [],
    });
    // A "supervisor" approval signed by another key.
    const env = approvalText(w.outsider, { request: digest, role: 'supervisor' }).replace(
      /"keyid":"[0-9a-f]+"/,
      `"keyid":"${keyId(w.supervisor.publicKey)}"`,
    );
    expect(env).toContain(keyId(w.supervisor.publicKey));
    const r = await w.post(null, `v1/requests/${digest}/decisions`, env);
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('APPROVAL_SIGNATURE_INVALID');
  });

  it('break-glass: served without approval, alerts at once, and awaits the supervisor review', async () => {
    const r = await ask('support', {
      dataClass: 'personal-fields',
      scope: { kind: 'batches', batches: [w.batches[2]] },
      justification: { code: 'BREAK_GLASS', detail: 'ransomware spreading now' },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.breakGlass).toBe(true);
    const alert = w.alerts.alerts.find((a) => a.kind === 'break-glass');
    expect(alert?.evidence.record).toBe(r.body.record);
    const list = await fetch(new URL('v1/break-glass', w.gatewayUrl));
    const { accesses } = (await list.json()) as {
      accesses: { record: string; review: unknown; overdue: boolean; reviewDue: string }[];
    };
    const mine = accesses.find((a) => a.record === r.body.digest);
    expect(mine).toMatchObject({ review: null, overdue: false });
    expect(Date.parse(mine?.reviewDue ?? '')).toBeGreaterThan(Date.now());
    const env = approvalText(w.supervisor, {
      request: r.body.digest as string,
      role: 'supervisor',
    });
    const rev = await w.post(null, `v1/break-glass/${r.body.digest as string}/review`, env);
    expect(rev.status, JSON.stringify(rev.body)).toBe(200);
    const after = (await (
      await fetch(new URL(`v1/break-glass/${r.body.digest as string}`, w.gatewayUrl))
    ).json()) as { review: { decision: string } | null };
    expect(after.review?.decision).toBe('approve');
  });

  it('a key-release request for a canary customer alerts', async () => {
    const r = await w.post(
      w.principals.analyst.key,
      'v1/access',
      JSON.stringify({
        site: SITE,
        customer: w.canary.id,
        dataClass: 'telemetry-events',
        scope: { kind: 'batches', batches: [w.canaryBatch] },
        justification: threat,
      }),
    );
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const alert = w.alerts.alerts.find((a) => a.kind === 'canary-access');
    expect(alert?.evidence.customer).toBe(w.canary.id);
  });
});

describe('bypass: storage holds ciphertext, the key release opens only for a witnessed, in-scope, fresh, unused record', () => {
  it('the site storage read directly, and its read route, yield only ciphertext', async () => {
    const rows = await w.site.storage.readBatches(
      w.customer.id,
      { kind: 'batches', batches: [...w.batches] },
      10,
    );
    expect(rows).toHaveLength(3);
    const text = Buffer.concat(
      rows.flatMap((r) => r.events.map((e) => Buffer.from(e.personal))),
    ).toString('latin1');
    expect(text).not.toContain('alice-');
    const res = await w.gatewayFetch(new URL('v1/read', w.siteUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        customer: w.customer.id,
        scope: { kind: 'batches', batches: [...w.batches] },
      }),
    });
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(Buffer.from(body).toString()).not.toContain('alice-');
    const decoded = (JSON.parse(body) as { batches: string[] }).batches.map((b) =>
      Buffer.from(b, 'base64').toString(),
    );
    for (const d of decoded) expect(d).not.toContain('alice-');
    // Nobody but the gateway reads: unsigned, or signed by a principal, is refused.
    const unsigned = await fetch(new URL('v1/read', w.siteUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        customer: w.customer.id,
        scope: { kind: 'batches', batches: [w.batches[0]] },
      }),
    });
    expect(unsigned.status).toBe(401);
    const principal = await signedFetch(signer(w.principals.analyst.key))(
      new URL('v1/read', w.siteUrl),
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          customer: w.customer.id,
          scope: { kind: 'batches', batches: [w.batches[0]] },
        }),
      },
    );
    expect(principal.status).toBe(401);
    expect(((await principal.json()) as { code: string }).code).toBe('AUTH_KEY_UNKNOWN');
    // A site built without an allow-list refuses every read (fail closed).
    const open = buildSiteServer({ site: w.site, writers: undefined });
    const refused = await open.inject({
      method: 'POST',
      url: '/v1/read',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({
        customer: w.customer.id,
        scope: { kind: 'batches', batches: [w.batches[0]] },
      }),
    });
    await open.close();
    expect(refused.statusCode).toBe(403);
    expect(refused.json<{ code: string }>().code).toBe('READ_NOT_AUTHORIZED');
  });

  async function grant(): Promise<{ record: string; receipt: string; batches: string[] }> {
    const r = await ask('analyst', {
      dataClass: 'telemetry-events',
      scope: { kind: 'batches', batches: [w.batches[0]] },
      justification: threat,
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const res = await w.gatewayFetch(new URL('v1/read', w.siteUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        customer: w.customer.id,
        scope: { kind: 'batches', batches: [...w.batches] },
      }),
    });
    const { batches } = (await res.json()) as { batches: string[] };
    return { record: r.body.record as string, receipt: r.body.receipt as string, batches };
  }

  async function release(
    body: Record<string, unknown>,
  ): Promise<{ status: number; code: unknown }> {
    const res = await w.gatewayFetch(new URL('v1/release', w.keyReleaseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as { code?: unknown; keys?: unknown };
    expect(json.keys).toBeUndefined();
    return { status: res.status, code: json.code };
  }

  it('refuses a replayed, forged, unwitnessed or out-of-scope record', async () => {
    const g = await grant();
    const b64 = (s: string): string => Buffer.from(s).toString('base64');
    const first = g.batches[0] as string;
    // Replayed: the gateway already used this record.
    expect(await release({ record: b64(g.record), receipt: g.receipt, batches: [first] })).toEqual({
      status: 409,
      code: 'RECORD_REPLAYED',
    });
    // Forged: another counter, same receipt.
    const counter = parseAccessRecord(new TextEncoder().encode(g.record)).counter;
    const forged = g.record.replace(`"counter":${counter}`, `"counter":${counter + 7}`);
    expect(forged).not.toBe(g.record);
    expect(
      await release({ record: b64(forged), receipt: g.receipt, batches: [first] }),
    ).toMatchObject({
      status: 403,
      code: 'RECORD_PROOF_INVALID',
    });
    // Unwitnessed: the log's signature alone (cosignature lines removed).
    const lines = g.receipt.split('\n');
    const unwitnessed = lines.filter((l) => !l.startsWith(`— ${w.witness.name} `)).join('\n');
    expect(unwitnessed).not.toBe(g.receipt);
    expect(
      await release({ record: b64(g.record), receipt: unwitnessed, batches: [first] }),
    ).toMatchObject({
      status: 403,
      code: 'RECORD_NOT_WITNESSED',
    });
    // Out of scope: a fresh record for batch 0, asked with batch 1.
    const h = await grantUnused();
    expect(
      await release({
        record: b64(h.record),
        receipt: h.receipt,
        batches: [g.batches[1] as string],
      }),
    ).toMatchObject({ status: 403, code: 'OUT_OF_SCOPE' });
    // Unsigned callers never reach the check.
    const res = await fetch(new URL('v1/release', w.keyReleaseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ record: b64(h.record), receipt: h.receipt, batches: [first] }),
    });
    expect(res.status).toBe(401);
  });

  /** A witnessed record the key release has not seen: appended to the access log directly. */
  async function grantUnused(): Promise<{ record: string; receipt: string }> {
    const g = await grant();
    const parsed = parseAccessRecord(new TextEncoder().encode(g.record));
    const bytes = new TextEncoder().encode(
      g.record.replace(`"counter":${parsed.counter}`, `"counter":${parsed.counter + 1000}`),
    );
    const added = await new LogClient(w.accessLog.url).add(bytes, { wait: true });
    return { record: new TextDecoder().decode(bytes), receipt: added.receipt as string };
  }

  async function prepare(
    body: Record<string, unknown>,
  ): Promise<{ status: number; ticket?: string; record?: string; code?: unknown }> {
    const res = await w.gatewayFetch(new URL('v1/release/prepare', w.keyReleaseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, ...((await res.json()) as Record<string, unknown>) };
  }

  it('two-phase release: tickets are single-use, bound to their record, and need a witnessed receipt', async () => {
    const b64 = (s: string): string => Buffer.from(s).toString('base64');
    const g = await grant();
    const first = g.batches[0] as string;
    // A record the gateway already used counts as used at prepare too.
    expect(await prepare({ record: b64(g.record), batches: [first] })).toMatchObject({
      status: 409,
      code: 'RECORD_REPLAYED',
    });
    const h = await grantUnused();
    const p = await prepare({ record: b64(h.record), batches: [first] });
    expect(p.status).toBe(200);
    const digest = accessRecordDigest(new TextEncoder().encode(h.record));
    expect(p.record).toBe(digest);
    // Durable before any receipt: the row is `prepared` (keys may leave from here on).
    const rows = await w.stores.audit.list({ customer: w.customer.id, limit: 10_000 });
    expect(rows.find((r) => r.record === digest)).toMatchObject({ outcome: 'prepared' });
    // The same record again is refused: its one use is counted at prepare.
    expect(await prepare({ record: b64(h.record), batches: [first] })).toMatchObject({
      status: 409,
      code: 'RECORD_REPLAYED',
    });
    // Another record's digest with this ticket: refused, and the ticket is gone.
    expect(
      await release({ ticket: p.ticket, record: `sha256:${'0'.repeat(64)}`, receipt: h.receipt }),
    ).toEqual({ status: 409, code: 'TICKET_MISMATCH' });
    expect(await release({ ticket: p.ticket, record: digest, receipt: h.receipt })).toEqual({
      status: 409,
      code: 'TICKET_UNKNOWN',
    });
    await expect
      .poll(async () =>
        (await w.stores.audit.list({ customer: w.customer.id, limit: 10_000 })).find(
          (r) => r.record === digest,
        ),
      )
      .toMatchObject({ outcome: 'TICKET_MISMATCH' });

    // An unwitnessed receipt for a prepared ticket: nothing opens; the row names the refusal.
    const k = await grantUnused();
    const kDigest = accessRecordDigest(new TextEncoder().encode(k.record));
    const q = await prepare({ record: b64(k.record), batches: [first] });
    const unwitnessed = k.receipt
      .split('\n')
      .filter((l) => !l.startsWith(`— ${w.witness.name} `))
      .join('\n');
    expect(await release({ ticket: q.ticket, record: kDigest, receipt: unwitnessed })).toEqual({
      status: 403,
      code: 'RECORD_NOT_WITNESSED',
    });
    // Used up even though it was refused.
    expect(await release({ ticket: q.ticket, record: kDigest, receipt: k.receipt })).toEqual({
      status: 409,
      code: 'TICKET_UNKNOWN',
    });
    const settled = await w.stores.audit.list({ customer: w.customer.id, limit: 10_000 });
    expect(settled.find((r) => r.record === kDigest)).toMatchObject({
      outcome: 'RECORD_NOT_WITNESSED',
    });
    // Malformed tickets are a 400.
    expect(await release({ ticket: 'x', record: kDigest, receipt: k.receipt })).toEqual({
      status: 400,
      code: 'BAD_REQUEST',
    });
  });

  /** The world's key release (the analyst registered, its audit store) on a clock of the test's. */
  const keyReleaseAt = (
    now: () => number,
    privateKey: Uint8Array = w.keyReleaseKeys.privateKey,
  ): KeyRelease =>
    new KeyRelease({
      privateKey,
      accessLogPolicy: parsePolicy(w.accessLog.policy),
      accessPolicy: w.accessPolicy,
      principals: new Map([[w.principals.analyst.p.pseudonym, w.principals.analyst.p]]),
      residency: { customerKey: () => w.customer.key.publicKey, siteOfRegion: () => SITE },
      audit: w.stores.audit,
      alerts: new MemoryAccessAlerts(),
      accessLogName: 'test',
      now,
    });

  it('a prepared release whose receipt does not come in time expires: refused, and settled `expired`', async () => {
    const h = await grantUnused();
    const sealed = await readFirstBatchSealed(w);
    let now = Date.now();
    const kr = keyReleaseAt(() => now);
    const bytes = new TextEncoder().encode(h.record);
    const t = await kr.prepare({
      record: bytes,
      batches: sealed,
    });
    now += (TICKET_TTL_SECONDS + 1) * 1000;
    await expect(
      kr.releasePrepared({ ticket: t.ticket, record: t.record, receipt: h.receipt }),
    ).rejects.toMatchObject({ code: 'TICKET_UNKNOWN' });
    await expect
      .poll(async () =>
        (await w.stores.audit.list({ customer: w.customer.id, limit: 10_000 })).find(
          (r) => r.record === t.record,
        ),
      )
      .toMatchObject({ outcome: 'expired' });
  });

  it('a prepared release nobody comes back for lapses on its own: settled `expired`, its keys dropped', async () => {
    const h = await grantUnused();
    const sealed = await readFirstBatchSealed(w);
    let now = Date.now();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const kr = keyReleaseAt(() => now);
      const t = await kr.prepare({ record: new TextEncoder().encode(h.record), batches: sealed });
      // No further request reaches this key release; only its own timer can sweep.
      now += (TICKET_TTL_SECONDS + 1) * 1000;
      vi.advanceTimersByTime((TICKET_TTL_SECONDS + 1) * 1000);
      vi.useRealTimers();
      await expect
        .poll(async () =>
          (await w.stores.audit.list({ customer: w.customer.id, limit: 10_000 })).find(
            (r) => r.record === t.record,
          ),
        )
        .toMatchObject({ outcome: 'expired' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('a batch key that does not open here is refused at prepare, before the record is counted as used', async () => {
    const h = await grantUnused();
    const sealed = await readFirstBatchSealed(w);
    const other = await generateKeyReleaseKeyPair();
    const wrongKey = keyReleaseAt(() => Date.now(), other.privateKey);
    const record = new TextEncoder().encode(h.record);
    await expect(wrongKey.prepare({ record, batches: sealed })).rejects.toMatchObject({
      code: 'SEALED_KEY_OPEN_FAILED',
    });
    const digest = accessRecordDigest(record);
    const rows = (await w.stores.audit.list({ customer: w.customer.id, limit: 10_000 })).filter(
      (r) => r.record === digest,
    );
    expect(rows.map((r) => r.outcome)).toEqual(['SEALED_KEY_OPEN_FAILED']);
    // Not used up: the right key release still prepares and releases it.
    const kr = keyReleaseAt(() => Date.now());
    const t = await kr.prepare({ record, batches: sealed });
    const released = await kr.releasePrepared({ ...t, receipt: h.receipt });
    expect(released.keys).toHaveLength(1);
  });

  it('refuses an expired record', async () => {
    const h = await grantUnused();
    const sealed = await readFirstBatchSealed(w);
    const later = keyReleaseAt(() => Date.now() + 301_000);
    await expect(
      later.release({
        record: new TextEncoder().encode(h.record),
        receipt: h.receipt,
        batches: sealed,
      }),
    ).rejects.toMatchObject({ code: 'RECORD_EXPIRED' });
    expect(openPrincipalRegistry).toBeTypeOf('function');
  });
});

describe('log before serve: nothing is served when the witnesses or the log are down', () => {
  it("a receipt the gateway's own check refuses: nothing served, and keys the key release sent are wiped", async () => {
    // A gateway pinned to another access-log key than the log signs with: the key release (the
    // world's, pinned to the real key) releases, the gateway's own receipt check refuses.
    const residency = { customerKey: () => w.customer.key.publicKey, siteOfRegion: () => SITE };
    const released: Uint8Array[] = [];
    const kr = keyReleaseClient(w.keyReleaseUrl, w.gatewayFetch);
    const records = await RecordStore.open({ dir: await w.tempDir('gateway-other-key') });
    try {
      const gateway = await Gateway.open({
        records,
        approvals: new Approvals({
          store: w.stores.approvals,
          accessPolicy: w.accessPolicy,
          principals: new Map([[w.principals.analyst.p.pseudonym, w.principals.analyst.p]]),
          residency,
        }),
        accessPolicy: w.accessPolicy,
        residency,
        accessLog: new LogClient(w.accessLog.url, { fetch: w.gatewayFetch }),
        accessLogPolicy: parsePolicy(
          w.accessLog.policy.replace(
            /^log \S+/m,
            `log ${generateSignerKey(ACCESS_LOG_ORIGIN).verifierKey}`,
          ),
        ),
        sites: new Map([[SITE, siteReader(w.siteUrl, w.gatewayFetch)]]),
        keyRelease: {
          ...kr,
          releasePrepared: async (t, receipt) => {
            const r = await kr.releasePrepared(t, receipt);
            released.push(...r.keys.values());
            return r;
          },
        },
      });
      await expect(
        gateway.access(w.principals.analyst.p, {
          site: SITE,
          customer: w.customer.id,
          dataClass: 'telemetry-events',
          scope: { kind: 'batches', batches: [w.batches[2] as string] },
          justification: threat,
        }),
      ).rejects.toMatchObject({ code: 'ACCESS_LOG_UNAVAILABLE' });
      // The key release answered (it checks against its own, right, policy) …
      await expect.poll(() => released.length, { timeout: 5_000 }).toBe(1);
      // … and the gateway zeroed what came back instead of using it.
      await expect.poll(() => released.every((k) => k.every((b) => b === 0))).toBe(true);
    } finally {
      await records.close();
    }
  }, 30_000);

  it('witnesses below quorum → 503 WITNESS_QUORUM_UNAVAILABLE; log stopped → 503 ACCESS_LOG_UNAVAILABLE', async () => {
    await w.witness.close();
    const body = {
      dataClass: 'telemetry-events',
      scope: { kind: 'batches', batches: [w.batches[1]] },
      justification: threat,
    };
    const r = await ask('analyst', body);
    expect(r.status).toBe(503);
    expect(r.body.code).toBe('WITNESS_QUORUM_UNAVAILABLE');
    expectNothingServed(r);
    // The log stops (its waiters, including the gateway's abandoned wait, end), then its server.
    await w.accessLog.log.close();
    await w.accessLog.close();
    const s = await ask('analyst', body);
    expect(s.status).toBe(503);
    expect(s.body.code).toBe('ACCESS_LOG_UNAVAILABLE');
    expectNothingServed(s);
  }, 90_000);
});
