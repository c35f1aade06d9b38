// One contract suite for the gateway's record store, the key release's audit
// store and the approvals store, run against SQLite and PostgreSQL.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApprovalStore, RecordStore, ReleaseAuditStore, type SqlLocation } from '../src/index.js';

export type Where = () => Promise<SqlLocation & { schema?: string }>;

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const C1 = `c-${'1'.repeat(32)}`;
const C2 = `c-${'2'.repeat(32)}`;
const D = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

export function storesContract(name: string, where: Where): void {
  describe(`part A stores: ${name}`, () => {
    let closers: (() => Promise<void>)[] = [];
    beforeEach(() => {
      closers = [];
    });
    afterEach(async () => {
      for (const c of closers.reverse()) await c();
    });

    it('records: counters per customer, unlogged until marked, durable across reopen, one counter once', async () => {
      const at = await where();
      const s = await RecordStore.open(at);
      expect(await s.lastCounter(C1)).toBe(0);
      await s.reserve(C1, 1, bytes('r1'));
      await s.reserve(C1, 2, bytes('r2'));
      await s.reserve(C2, 1, bytes('q1'));
      expect(await s.lastCounter(C1)).toBe(2);
      await expect(s.reserve(C1, 2, bytes('again'))).rejects.toMatchObject({
        code: 'STORE_FAILED',
      });
      await s.markLogged(C1, 1, 7n);
      expect((await s.unlogged()).map((p) => [p.customer, p.counter])).toEqual([
        [C1, 2],
        [C2, 1],
      ]);
      // A second gateway on the same store is refused while the first holds it.
      await expect(RecordStore.open(at)).rejects.toMatchObject({ code: 'STATE_LOCKED' });
      await s.close();
      const again = await RecordStore.open(at);
      closers.push(() => again.close());
      expect(await again.lastCounter(C1)).toBe(2);
      const left = await again.unlogged();
      expect(Buffer.from(left[0]?.record ?? []).toString()).toBe('r2');
      // Marking twice keeps the first index.
      await again.markLogged(C1, 2, 8n);
      await again.markLogged(C1, 2, 9n);
      expect((await again.unlogged()).map((p) => p.customer)).toEqual([C2]);
      // A record stored with marks of earlier ones: both in one transaction; a refused one, neither.
      await again.reserve(C1, 3, bytes('r3'), [{ customer: C2, counter: 1, index: 10n }]);
      expect((await again.unlogged()).map((p) => [p.customer, p.counter])).toEqual([[C1, 3]]);
      await expect(
        again.reserve(C1, 3, bytes('dup'), [{ customer: C1, counter: 3, index: 11n }]),
      ).rejects.toMatchObject({ code: 'STORE_FAILED' });
      expect((await again.unlogged()).map((p) => [p.customer, p.counter])).toEqual([[C1, 3]]);
    });

    it('audit: every outcome kept in order; a record is released once', async () => {
      const s = await ReleaseAuditStore.open(await where());
      closers.push(() => s.close());
      const entry = {
        time: '2026-12-04T10:00:00Z',
        outcome: 'released',
        record: D(1),
        logIndex: 3n,
        customer: C1,
        principal: `p-${'a'.repeat(32)}`,
        justification: 'THREAT_INVESTIGATION',
        batches: [D(9)],
      };
      await s.recordRelease(entry);
      await expect(
        s.recordRelease({ ...entry, time: '2026-12-04T10:00:01Z' }),
      ).rejects.toMatchObject({
        code: 'RECORD_REPLAYED',
      });
      await s.recordRefusal({ ...entry, outcome: 'RECORD_REPLAYED', logIndex: null, batches: [] });
      await s.recordRefusal({ ...entry, outcome: 'OUT_OF_SCOPE', customer: C2 });
      const mine = await s.list({ customer: C1 });
      expect(mine.map((e) => e.outcome)).toEqual(['released', 'RECORD_REPLAYED']);
      expect(mine[0]).toEqual(entry);
      expect((await s.list()).length).toBe(3);
    });

    it('audit: a prepared record is used; settling changes only a prepared row', async () => {
      const s = await ReleaseAuditStore.open(await where());
      closers.push(() => s.close());
      const entry = {
        time: '2026-12-04T10:00:00Z',
        record: D(2),
        logIndex: null,
        customer: C1,
        principal: `p-${'a'.repeat(32)}`,
        justification: 'THREAT_INVESTIGATION',
        batches: [D(9)],
      };
      const id = await s.recordPrepared(entry);
      expect(Number.isSafeInteger(id)).toBe(true);
      // Used once prepared: neither a second prepare nor a one-call release of it.
      await expect(s.recordPrepared(entry)).rejects.toMatchObject({ code: 'RECORD_REPLAYED' });
      await expect(s.recordRelease({ ...entry, outcome: 'released' })).rejects.toMatchObject({
        code: 'RECORD_REPLAYED',
      });
      expect((await s.list()).map((e) => e.outcome)).toEqual(['prepared']);
      expect(await s.settlePrepared(id, 'released', 7n)).toBe(true);
      expect(await s.settlePrepared(id, 'expired', null)).toBe(false); // released stays released
      expect(await s.list()).toEqual([{ ...entry, outcome: 'released', logIndex: 7n }]);
      await expect(s.recordPrepared(entry)).rejects.toMatchObject({ code: 'RECORD_REPLAYED' });
      // `released` settles committed in a group: prepared until flushed, released after.
      const later = await s.recordPrepared({ ...entry, record: D(4) });
      s.settleReleasedLater(later, 9n);
      expect((await s.list()).at(-1)?.outcome).toBe('prepared');
      await s.flushReleased();
      expect((await s.list()).at(-1)).toMatchObject({ outcome: 'released', logIndex: 9n });
      // A prepared row settled as refused no longer holds the record's use.
      const other = await s.recordPrepared({ ...entry, record: D(3) });
      expect(await s.settlePrepared(other, 'RECORD_NOT_WITNESSED', null)).toBe(true);
      await s.recordPrepared({ ...entry, record: D(3), time: '2026-12-04T10:00:01Z' });
    });

    it('approvals: requests by digest and customer, decisions, break-glass with its first review', async () => {
      const s = await ApprovalStore.open(await where());
      closers.push(() => s.close());
      const req = {
        digest: D(1),
        request: bytes('{"request":1}\n'),
        customer: C1,
        principal: `p-${'a'.repeat(32)}`,
        requestedAt: '2026-12-04T10:00:00Z',
        expiresAt: '2026-12-04T11:00:00Z',
      };
      expect(await s.putRequest(req)).toBe(true);
      expect(await s.putRequest(req)).toBe(false);
      await s.putRequest({
        ...req,
        digest: D(2),
        customer: C2,
        requestedAt: '2026-12-04T10:30:00Z',
      });
      expect(await s.request(D(3))).toBeNull();
      const got = await s.request(D(1));
      expect(Buffer.from(got?.request ?? []).toString()).toBe('{"request":1}\n');
      expect((await s.requests({ customer: C1 })).map((r) => r.digest)).toEqual([D(1)]);
      expect((await s.requests()).map((r) => r.digest)).toEqual([D(2), D(1)]);
      const decision = {
        request: D(1),
        role: 'customer',
        decision: 'approve',
        decidedAt: '2026-12-04T10:05:00Z',
        expiresAt: '2026-12-04T12:00:00Z',
        envelope: '{"env":1}',
      };
      await s.addDecision(decision);
      await s.addDecision(decision);
      await s.addDecision({ ...decision, role: 'supervisor', envelope: '{"env":2}' });
      expect((await s.decisions(D(1))).map((d) => d.role)).toEqual(['customer', 'supervisor']);
      const bg = {
        record: D(5),
        index: 12n,
        customer: C1,
        principal: `p-${'a'.repeat(32)}`,
        loggedAt: '2026-12-04T10:00:00Z',
        reviewDue: '2026-12-05T10:00:00Z',
      };
      await s.addBreakGlass(bg);
      await s.addBreakGlass(bg);
      expect(await s.breakGlass(D(5))).toEqual(bg);
      expect(await s.breakGlassAccesses()).toEqual([bg]);
      const review = {
        record: D(5),
        decision: 'approve',
        decidedAt: '2026-12-04T12:00:00Z',
        envelope: 'r1',
      };
      expect(await s.addReview(review)).toBe(true);
      expect(await s.addReview({ ...review, decision: 'deny', envelope: 'r2' })).toBe(false);
      expect(await s.review(D(5))).toEqual(review);
    });

    it('refuses calls after close', async () => {
      const s = await ApprovalStore.open(await where());
      await s.close();
      await expect(s.request(D(1))).rejects.toMatchObject({ code: 'CLOSED' });
    });
  });
}
