// kill -9 of the gateway, the key release and the access log while accesses
// run: nothing is ever served without its witnessed record, and after the
// gateway's restart the customer's counters in the log run 1..n without a gap
// or a repeat. Each service is its own process (access-child.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCESS_RECORD_SCHEMA,
  accessRecordDigest,
  encodeAccessRecord,
  parseAccessRecord,
} from '@glasshouse/access-format';
import { signedFetch } from '@glasshouse/httpsig';
import { LogClient } from '@glasshouse/log';
import { keyReleaseClient, ReleaseAuditStore } from '../src/index.js';
import { decodeBundle } from '@glasshouse/tlog';
import { accessProcesses, type Role } from './access-processes.js';
import {
  type AccessWorld,
  readFirstBatchSealed,
  SITE,
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
}, 60_000);

describe('kill -9 during accesses', () => {
  it('gateway, key release and access log killed in turn: every served answer has its witnessed record; counters stay 1..n', async () => {
    const p = await accessProcesses(w, 'localhost/glasshouse/access-log-crash');
    const { policy, logUrl, gatewayUrl: gwUrl } = p;
    const start = (role: Role): Promise<void> => p.start(role);
    const kill = (role: Role): Promise<void> => p.kill(role);
    try {
      await start('log');
      await start('keyrelease');
      await start('gateway');

      const served: Record<string, unknown>[] = [];
      const refused: Record<string, unknown>[] = [];
      const f = signedFetch(signer(w.principals.analyst.key));
      let stop = false;
      const worker = async (n: number): Promise<void> => {
        for (let i = 0; !stop; i++) {
          try {
            const res = await f(new URL('v1/access', gwUrl), {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({
                site: SITE,
                customer: w.customer.id,
                dataClass: 'telemetry-events',
                scope: { kind: 'batches', batches: [w.batches[(n + i) % 3]] },
                justification: { code: 'THREAT_INVESTIGATION', detail: `crash run ${n}/${i}` },
              }),
              signal: AbortSignal.timeout(15_000),
            });
            const body = (await res.json()) as Record<string, unknown>;
            (res.status === 200 ? served : refused).push(body);
          } catch {
            // The gateway was killed mid-request: nothing was served on this connection.
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      };
      const workers = [0, 1, 2].map(worker);
      const waitServed = async (n: number): Promise<void> => {
        const deadline = Date.now() + 60_000;
        while (served.length < n && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 50));
        expect(served.length).toBeGreaterThanOrEqual(n);
      };
      for (const role of ['gateway', 'keyrelease', 'log'] as const) {
        await waitServed(served.length + 3);
        await kill(role);
        await new Promise((r) => setTimeout(r, 300));
        if (role === 'log') {
          await start('log');
          // The gateway keeps its counters; it appends what the crash left unlogged before the next record.
        } else {
          await start(role);
        }
      }
      await waitServed(served.length + 3);
      stop = true;
      await Promise.all(workers);
      // A last restart of the gateway appends anything still unlogged.
      await p.stop('gateway');
      await start('gateway');

      // Every served answer: its record is witnessed (spec verifier) and its data decrypted.
      for (const a of served) {
        const record = new TextEncoder().encode(a.record as string);
        verifyReceiptFromSpecs(a.receipt as string, record, policy);
        expect((a.batches as unknown[]).length).toBe(1);
      }
      for (const r of refused) expect(r.batches).toBeUndefined();

      // The access log: the customer's counters run 1..n in log order, and hold every served record.
      const cp = await (await fetch(new URL('checkpoint', logUrl))).text();
      const size = Number(cp.split('\n')[1]);
      expect(size).toBeLessThan(256);
      const bundle = new Uint8Array(
        await (await fetch(new URL(`tile/entries/000.p/${size}`, logUrl))).arrayBuffer(),
      );
      const entries = decodeBundle(bundle);
      const counters = entries.map((e) => parseAccessRecord(e).counter);
      expect(counters).toEqual(counters.map((_, i) => i + 1));
      for (const a of served) {
        const at = entries[a.index as number];
        expect(at === undefined ? '' : new TextDecoder().decode(at)).toBe(a.record);
      }
    } finally {
      await p.close();
    }
  }, 240_000);

  it('key release killed between prepare and release: no key left unaudited; the restarted one refuses the stale ticket', async () => {
    const p = await accessProcesses(w, 'localhost/glasshouse/access-log-crash-prepare');
    try {
      await p.start('log');
      await p.start('keyrelease');
      const kr = keyReleaseClient(p.keyReleaseUrl, w.gatewayFetch, 5_000);
      const batches = await readFirstBatchSealed(w);
      // Witnessed records the key release has not seen, appended to its access log directly.
      const log = new LogClient(p.logUrl);
      const witnessed = async (
        counter: number,
      ): Promise<{ record: Uint8Array; receipt: string }> => {
        const record = encodeAccessRecord({
          schema: ACCESS_RECORD_SCHEMA,
          site: SITE,
          customer: w.customer.id,
          dataClass: 'telemetry-events',
          scope: { kind: 'batches', batches: [w.batches[0] as string] },
          accessor: w.principals.analyst.p.accessor,
          justification: { code: 'THREAT_INVESTIGATION', detail: `prepare crash ${counter}` },
          approval: null,
          time: new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
          counter,
        });
        const added = await log.add(record, { wait: true });
        return { record, receipt: added.receipt as string };
      };

      // Prepared, then killed before the release: the ticket dies with the process.
      const a = await witnessed(1);
      const ta = await kr.prepare({ record: a.record, batches });
      await p.kill('keyrelease');
      await p.start('keyrelease');
      await expect(kr.releasePrepared(ta, a.receipt)).rejects.toMatchObject({
        code: 'KEY_RELEASE_REFUSED',
        evidence: { code: 'TICKET_UNKNOWN' },
      });
      // Its use was counted durably: the record cannot be prepared again.
      await expect(kr.prepare({ record: a.record, batches })).rejects.toMatchObject({
        evidence: { code: 'RECORD_REPLAYED' },
      });

      // Released, then killed at once: the row is there, `prepared` or `released`, never missing.
      const b = await witnessed(2);
      const tb = await kr.prepare({ record: b.record, batches });
      const released = await kr.releasePrepared(tb, b.receipt);
      expect(released.keys.size).toBe(1);
      await p.kill('keyrelease');

      const audit = await ReleaseAuditStore.open({ dir: p.dirs.keyrelease });
      try {
        const rows = await audit.list(); // a ticket refusal names the record, not the customer
        const of = (r: Uint8Array): string[] =>
          rows.filter((x) => x.record === accessRecordDigest(r)).map((x) => x.outcome);
        expect(of(a.record)).toEqual(['prepared', 'TICKET_UNKNOWN', 'RECORD_REPLAYED']);
        expect(of(b.record)).toHaveLength(1);
        expect(['prepared', 'released']).toContain(of(b.record)[0]);
      } finally {
        await audit.close();
      }
    } finally {
      await p.close();
    }
  }, 120_000);
});
