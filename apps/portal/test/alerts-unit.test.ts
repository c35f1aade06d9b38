// The Alerts page's re-verification on Node, with real keys and real
// signed checkpoints: each alert kind it re-derives passes only when the
// evidence proves it, and fails with its code when it does not. And the
// Residency chart's time buckets.
import { describe, expect, it } from 'vitest';
import {
  consistencyProof,
  encodeBase64,
  formatCheckpoint,
  generateCosignerKey,
  generateSignerKey,
  hashChildren,
  hashLeaf,
  parseSignerKey,
  signNote,
  treeRoot,
  type NodeId,
} from '@glasshouse/tlog';
import { parsePortalConfig, PORTAL_CONFIG_SCHEMA } from '../src/config.js';
import { parseAlertLine, verifyAlert } from '../src/verify/alerts.js';
import { eventSeries } from '../src/verify/ingest.js';
import type { StoredEntry } from '@glasshouse/residency';

const ORIGIN = 'example.com/log';
const log = generateSignerKey(ORIGIN);
const witness = generateCosignerKey('example.com/witness');
const config = parsePortalConfig({
  schema: PORTAL_CONFIG_SCHEMA,
  logs: [
    {
      id: 'example-log',
      title: 'example log',
      policy: `log ${log.verifierKey} http://127.0.0.1:9/\nwitness w ${witness.verifierKey}\nquorum w\n`,
      base: '/svc/example-log/',
    },
  ],
  alerts: [{ id: 'mon', title: 'a monitor', path: '/alerts/mon.jsonl' }],
});
const NOW = new Date('2026-12-05T00:00:00Z');

const leaves = Array.from({ length: 8 }, (_, i) => hashLeaf(new TextEncoder().encode(`e${i}`)));
const node = ({ level, index }: NodeId): Uint8Array =>
  level === 0
    ? (leaves[Number(index)] as Uint8Array)
    : hashChildren(
        node({ level: level - 1, index: index * 2n }),
        node({ level: level - 1, index: index * 2n + 1n }),
      );
const read = (ids: readonly NodeId[]): Uint8Array[] => ids.map(node);
const root = async (size: bigint): Promise<Uint8Array> =>
  new Uint8Array(await treeRoot(size, read));

function signed(size: bigint, rootHash: Uint8Array, key = log.signerKey): string {
  return signNote(formatCheckpoint({ origin: ORIGIN, size, rootHash, extensions: [] }), [
    parseSignerKey(key),
  ]);
}
const random = (): Uint8Array => crypto.getRandomValues(new Uint8Array(32));

function alert(kind: string, evidence: Record<string, unknown>) {
  return parseAlertLine(
    JSON.stringify({
      kind,
      time: NOW.toISOString(),
      log: 'http://x/',
      origin: ORIGIN,
      message: 'm',
      evidence,
    }),
  );
}

const verdicts = async (a: ReturnType<typeof alert>) => {
  const r = await verifyAlert(config, a, 1, NOW);
  return {
    verdict: r.verdict,
    checks: Object.fromEntries(r.checks.map((c) => [c.id, `${c.verdict} ${c.summary}`])),
  };
};

describe('re-verifying alerts', () => {
  it('a split view: both checkpoints signed by the log key, same size, two roots', async () => {
    const a = random();
    const b = random();
    const r = await verdicts(
      alert('split-view', {
        previous: signed(8n, a),
        checkpoint: signed(8n, b),
        size: '8',
        previousRoot: encodeBase64(a),
        root: encodeBase64(b),
      }),
    );
    expect(r.verdict).toBe('pass');
    expect(Object.keys(r.checks)).toEqual([
      'log',
      'signed-previous',
      'signed-checkpoint',
      'conflict',
    ]);
    expect(r.checks.conflict).toContain('two trees of size 8');
  });

  it('refuses split-view evidence that does not show one, each with its code', async () => {
    const a = random();
    const cases: [Record<string, unknown>, string][] = [
      // The same checkpoint twice.
      [{ previous: signed(8n, a), checkpoint: signed(8n, a) }, 'PORTAL_ALERT_NO_CONFLICT'],
      // Different sizes are not a split view.
      [{ previous: signed(7n, a), checkpoint: signed(8n, random()) }, 'PORTAL_ALERT_NO_CONFLICT'],
      // Signed by another key of the same name: not the log's signature.
      [
        {
          previous: signed(8n, a),
          checkpoint: signed(8n, random(), generateSignerKey(ORIGIN).signerKey),
        },
        'NOTE_NO_VERIFIED_SIGNATURE',
      ],
      // The alert's stated root is not its checkpoint's.
      [
        { previous: signed(8n, a), checkpoint: signed(8n, random()), root: encodeBase64(random()) },
        'PORTAL_ALERT_EVIDENCE_MISMATCH',
      ],
      [{ previous: signed(8n, a) }, 'PORTAL_ALERT_INVALID'],
    ];
    for (const [evidence, code] of cases) {
      const r = await verdicts(alert('split-view', evidence));
      expect(r.verdict, code).toBe('fail');
      expect(Object.values(r.checks).join('\n'), code).toContain(code);
    }
  });

  it('a rollback and an inconsistency are re-derived; consistent trees are not an alert', async () => {
    expect(
      (
        await verdicts(
          alert('rollback', {
            previous: signed(8n, await root(8n)),
            checkpoint: signed(4n, await root(4n)),
          }),
        )
      ).verdict,
    ).toBe('pass');
    expect(
      (
        await verdicts(
          alert('rollback', {
            previous: signed(4n, await root(4n)),
            checkpoint: signed(8n, await root(8n)),
          }),
        )
      ).checks.conflict,
    ).toMatch(/^fail PORTAL_ALERT_NO_CONFLICT/);
    const proof = (await consistencyProof(3n, 8n, read)).map(encodeBase64);
    // The log's own proof between two honest trees verifies: no inconsistency.
    const honest = await verdicts(
      alert('inconsistent-checkpoint', {
        previous: signed(3n, await root(3n)),
        checkpoint: signed(8n, await root(8n)),
        proof,
      }),
    );
    expect(honest.checks.conflict).toMatch(/^fail PORTAL_ALERT_NO_CONFLICT/);
    // A larger tree that does not extend the smaller one: the proof cannot verify.
    const forked = await verdicts(
      alert('inconsistent-checkpoint', {
        previous: signed(3n, random()),
        checkpoint: signed(8n, await root(8n)),
        proof,
      }),
    );
    expect(forked.verdict).toBe('pass');
    expect(forked.checks.conflict).toContain('CONSISTENCY_PROOF_INVALID');
  });

  it('a refused checkpoint must fail the policy here too', async () => {
    // Log-signed but not cosigned: the quorum (w) is not met.
    const r = await verdicts(alert('quorum', { checkpoint: signed(8n, await root(8n)) }));
    expect(r.verdict).toBe('pass');
    expect(r.checks.refused).toContain('POLICY_QUORUM_NOT_MET');
  });

  it('names an unknown log, an unreadable line, and shows other kinds as the monitor reported them', async () => {
    const unknown = parseAlertLine(
      JSON.stringify({
        kind: 'split-view',
        time: '',
        log: 'x',
        origin: 'other.example/log',
        message: 'm',
        evidence: {},
      }),
    );
    const r = await verifyAlert(config, unknown, 1, NOW);
    expect(r.verdict).toBe('fail');
    expect(r.checks[0]?.summary).toMatch(/^PORTAL_ALERT_UNKNOWN_LOG/);
    expect(() => parseAlertLine('{"kind":1}')).toThrow(
      expect.objectContaining({ code: 'PORTAL_ALERT_INVALID' }),
    );
    expect(() => parseAlertLine('not json')).toThrow(
      expect.objectContaining({ code: 'PORTAL_ALERT_INVALID' }),
    );
    const other = await verdicts(
      alert('tiles-mismatch', { checkpoint: signed(8n, await root(8n)), tile: 'tile/0/000' }),
    );
    expect(other.verdict).toBe('note');
    // An index alone (an access alert names its record so): no inclusion to prove, not red.
    const byIndex = await verdicts(
      alert('break-glass', { checkpoint: signed(8n, await root(8n)), index: '2' }),
    );
    expect(byIndex.verdict).toBe('note');
    expect(Object.keys(byIndex.checks)).toEqual(['log', 'signed-checkpoint', 'finding']);
    expect(other.checks['signed-checkpoint']).toMatch(/^pass /);
  });
});

describe('a finding about one entry', () => {
  // The log's level-0 tile for size 8: the eight leaf hashes (c2sp.org/tlog-tiles).
  const tile = new Uint8Array(leaves.flatMap((l) => [...l]));
  const fetcher = (url: string): Promise<Response> =>
    Promise.resolve(
      url === '/svc/example-log/tile/0/000.p/8'
        ? new Response(tile)
        : new Response('not found', { status: 404 }),
    );

  it('proves the entry is in the log under the signed checkpoint, or says it is not', async () => {
    const cp = signed(8n, await root(8n));
    const found = await verifyAlert(
      config,
      alert('entry-rejected', { checkpoint: cp, index: '3', entry: 'e3' }),
      1,
      NOW,
      fetcher,
    );
    const included = found.checks.find((c) => c.id === 'included');
    expect(included?.verdict).toBe('pass');
    expect(included?.summary).toContain('entry 3 of 8 is included');
    expect(found.verdict).toBe('note');
    // The witness monitor's form: the entry in base64 beside its leaf hash.
    const b64 = await verifyAlert(
      config,
      alert('entry-rejected', {
        checkpoint: cp,
        index: '3',
        entry: btoa('e3'),
        leafHash: encodeBase64(leaves[3] as Uint8Array),
      }),
      1,
      NOW,
      fetcher,
    );
    expect(b64.checks.find((c) => c.id === 'included')?.summary).toBe(
      'entry 3 of 8 is included under the signed root',
    );
    // An entry the log does not hold at that index: the monitor's claim is not shown true.
    const invented = await verifyAlert(
      config,
      alert('entry-rejected', { checkpoint: cp, index: '4', entry: 'e3' }),
      1,
      NOW,
      fetcher,
    );
    expect(invented.verdict).toBe('fail');
    expect(invented.checks.find((c) => c.id === 'included')?.summary).toMatch(/^INCLUSION_/);
  });
});

describe('events per region over time', () => {
  const entry = (region: string, events: number, storedAt: string): StoredEntry => ({
    schema: 'glasshouse.ingest-log/v1',
    kind: 'stored',
    site: 's',
    policy: `sha256:${'0'.repeat(64)}`,
    customer: 'c',
    region,
    events,
    batch: `sha256:${'1'.repeat(64)}`,
    storedAt,
  });

  it('sums events per region into equal buckets from the first batch to the last', () => {
    const s = eventSeries(
      [
        entry('EU', 3, '2026-12-05T00:00:00Z'),
        entry('EU', 2, '2026-12-05T00:00:00Z'),
        entry('NA', 4, '2026-12-05T00:00:05Z'),
        entry('EU', 1, '2026-12-05T00:00:10Z'),
      ],
      4,
    );
    // 10 s in at most 4 buckets: the narrowest readable width that fits is 5 s.
    expect(s.edges).toEqual([
      '2026-12-05T00:00:00.000Z',
      '2026-12-05T00:00:05.000Z',
      '2026-12-05T00:00:10.000Z',
      '2026-12-05T00:00:15.000Z',
    ]);
    expect(s.byRegion).toEqual({ EU: [5, 0, 1], NA: [0, 4, 0] });
    expect(eventSeries([])).toEqual({ edges: [], byRegion: {} });
    // Events within one second (the demo): one bucket of a whole second, not a dozen of 80 ms.
    const demo = eventSeries([
      entry('EU', 3, '2026-12-05T02:35:43.688Z'),
      entry('NA', 3, '2026-12-05T02:35:43.900Z'),
    ]);
    expect(demo.edges).toEqual(['2026-12-05T02:35:43.000Z', '2026-12-05T02:35:44.000Z']);
    expect(demo.byRegion).toEqual({ EU: [3], NA: [3] });
    // Six hours at most 12 buckets: half hours, aligned in UTC.
    const day = eventSeries([
      entry('EU', 1, '2026-12-05T00:10:00Z'),
      entry('EU', 2, '2026-12-05T05:50:00Z'),
    ]);
    expect(day.edges[0]).toBe('2026-12-05T00:00:00.000Z');
    expect(day.edges).toHaveLength(13);
    expect(day.byRegion.EU?.[0]).toBe(1);
    expect(day.byRegion.EU?.[11]).toBe(2);
  });
});
