/**
 * `npm run bench` in packages/witness: one table, every number measured in
 * this run, beside the baselines measured in the same run (raw SHA-256 of a
 * 65-byte input; a bare HTTP server for the witness) so that the ratios mean
 * something on a noisy machine.
 *
 * - witness: `add-checkpoint` requests per second over loopback HTTP to a
 *   real witness server in a child process, each request a new checkpoint of
 *   one of several logs with a consistency proof from the previous one
 *   (pre-generated from a real tree, so the client side is cheap);
 *
 * The monitor's catch-up rate is measured against the real log server, so
 * that benchmark lives with the log (`npm run bench:monitor` in packages/log).
 *
 * Progress goes to stderr, the table to stdout. Every phase is bounded in
 * time; temp dirs and children are removed on every exit path.
 */
import { Agent, request } from 'node:http';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import {
  type RateRow,
  printRateTable,
  rawSha256Rate,
  startChild,
  withBenchDir,
} from '@glasshouse/bench-kit';
import {
  CompactRange,
  type HashReader,
  consistencyProof,
  formatCheckpoint,
  generateSignerKey,
  hashChildren,
  hashLeaf,
  parseSignerKey,
  signNote,
} from '@glasshouse/tlog';
import { formatAddCheckpointRequest } from '../src/index.js';
import type { WitnessServerReady } from './witness-server.js';

/** Logs the witness serves at once; a witness serialises requests per log. */
const WITNESS_LOGS = 8;
/** Checkpoints pre-generated per log; the phase stops earlier at its time bound. */
const CHAIN_LENGTH = 1_500;
const WITNESS_MS = 5_000;
const BARE_MS = 2_000;

const pct = (x: number, of: number): string => `${((x / of) * 100).toFixed(1)}%`;
const say = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

// ---------------------------------------------------------------------------
// witness

interface Chain {
  readonly verifierKey: string;
  /** add-checkpoint bodies, each extending the one before (the first from 0). */
  readonly bodies: Buffer[];
}

/**
 * One real tree, grown by 1–64 leaves per checkpoint; every log signs the
 * same sizes and roots under its own origin and key.
 */
async function witnessChains(): Promise<Chain[]> {
  const sizes: number[] = [];
  let total = 0;
  for (let j = 0; j < CHAIN_LENGTH; j++) {
    total += 1 + ((j * 37 + 11) % 64);
    sizes.push(total);
  }
  const levels: Uint8Array[][] = [];
  levels.push(Array.from({ length: total }, (_, i) => hashLeaf(Buffer.from(`witnessed ${i}`))));
  for (let l = 0; levels[l]!.length > 1; l++) {
    const below = levels[l]!;
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < below.length; i += 2) next.push(hashChildren(below[i]!, below[i + 1]!));
    levels.push(next);
  }
  const read: HashReader = (ids) => ids.map((id) => levels[id.level]![Number(id.index)]!);
  const roots: Uint8Array[] = [];
  const range = new CompactRange();
  for (const size of sizes) {
    while (range.size < BigInt(size)) range.append(levels[0]![Number(range.size)]!);
    roots.push(range.root());
  }
  const proofs: Uint8Array[][] = [[]];
  for (let j = 1; j < sizes.length; j++) {
    proofs.push(await consistencyProof(BigInt(sizes[j - 1]!), BigInt(sizes[j]!), read));
  }
  return Array.from({ length: WITNESS_LOGS }, (_, k) => {
    const origin = `bench.example/witnessed-log-${k}`;
    const keys = generateSignerKey(origin);
    const signer = parseSignerKey(keys.signerKey);
    const bodies = sizes.map((size, j) => {
      const note = signNote(
        formatCheckpoint({ origin, size: BigInt(size), rootHash: roots[j]!, extensions: [] }),
        [signer],
      );
      const text = formatAddCheckpointRequest({
        oldSize: j === 0 ? 0n : BigInt(sizes[j - 1]!),
        consistencyProof: proofs[j]!,
        checkpoint: note,
      });
      return Buffer.from(text);
    });
    return { verifierKey: keys.verifierKey, bodies };
  });
}

interface LoadResult {
  readonly ok: number;
  readonly failed: number;
  readonly ms: number;
  readonly firstFailure: string | undefined;
}

/** The i-th body of a stream, or undefined when it has no more. */
type Stream = (i: number) => Buffer | undefined;

/**
 * Streams of requests, each sending its bodies in order, one request in
 * flight, until it has no more, a request fails, or `durationMs` passes.
 */
async function postLoad(url: string, streams: Stream[], durationMs: number): Promise<LoadResult> {
  const target = new URL('/add-checkpoint', url);
  const agent = new Agent({ keepAlive: true, maxSockets: streams.length });
  const post = (body: Buffer): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      const req = request(
        target,
        {
          method: 'POST',
          agent,
          headers: { 'content-type': 'text/plain', 'content-length': body.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  let ok = 0;
  let failed = 0;
  let firstFailure: string | undefined;
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(
    streams.map(async (bodyAt) => {
      for (let i = 0, body = bodyAt(0); body !== undefined; body = bodyAt(++i)) {
        if (performance.now() >= deadline) return;
        const res = await post(body).catch((err: unknown) => ({ status: 0, text: String(err) }));
        // c2sp.org/tlog-witness: a 200 carries the cosignature line(s).
        if (res.status === 200 && res.text.startsWith('— ')) {
          ok++;
        } else {
          failed++;
          firstFailure ??= `${res.status} ${res.text.slice(0, 120)}`;
          return;
        }
      }
    }),
  );
  const ms = performance.now() - started;
  agent.destroy();
  return { ok, failed, ms, firstFailure };
}

async function witnessRows(tmp: string, rows: RateRow[]): Promise<void> {
  say('witness: generating signed checkpoint chains');
  const chains = await witnessChains();
  const child = await startChild<WitnessServerReady>(
    new URL('witness-server.ts', import.meta.url),
    [join(tmp, 'witness'), ...chains.map((c) => c.verifierKey)],
    30_000,
  );
  try {
    say(`witness: bare HTTP baseline for ${BARE_MS / 1000} s`);
    const anyBody = chains[0]!.bodies[0]!;
    const bare = await postLoad(
      child.ready.bareUrl,
      chains.map(() => () => anyBody),
      BARE_MS,
    );
    const bareRate = (bare.ok / bare.ms) * 1000;
    rows.push({
      what: `bare fastify POST, loopback, ${WITNESS_LOGS} connections (HTTP baseline)`,
      rate: bareRate,
      unit: 'requests/s',
      note: `same client and bodies${bare.failed > 0 ? `; ${bare.failed} failed` : ''}`,
    });

    say(`witness: add-checkpoint for up to ${WITNESS_MS / 1000} s, ${WITNESS_LOGS} logs`);
    const w = await postLoad(
      child.ready.witnessUrl,
      chains.map((c) => (i: number) => c.bodies[i]),
      WITNESS_MS,
    );
    const rate = (w.ok / w.ms) * 1000;
    rows.push({
      what: `witness add-checkpoint, ${WITNESS_LOGS} logs × 1 in flight`,
      rate,
      unit: 'requests/s',
      note:
        `${w.ok.toLocaleString('en-US')} cosigned, ${pct(rate, bareRate)} of bare HTTP` +
        (w.failed > 0 ? `; ${w.failed} FAILED (first: ${w.firstFailure ?? '?'})` : ''),
    });
  } finally {
    await child.stop();
  }
}

// ---------------------------------------------------------------------------

async function main(): Promise<void> {
  const rows: RateRow[] = [];
  await withBenchDir('glasshouse-witness-bench-', async (tmp) => {
    say('baseline: raw SHA-256');
    const sha = rawSha256Rate();
    const raw: RateRow = {
      what: 'raw SHA-256, 65-byte input (baseline)',
      rate: sha.rate,
      unit: 'hashes/s',
      note: sha.how,
    };
    rows.push(raw);
    await witnessRows(tmp, rows);
  });
  console.log(
    `node ${process.version}, ${process.arch}, ${availableParallelism()} CPUs; ` +
      'servers in child processes',
  );
  printRateTable(rows);
}

await main();
