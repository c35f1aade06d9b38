// The site's batch parser on its worker thread answers exactly what the inline parser
// answers, refusals included, and refuses work once closed. The worker runs the built
// script (`npx tsc -b` first), as a site started from the package does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkerBatchParser, inlineBatchParser, parseForStore } from '@glasshouse/telemetry';
import { makeBatch, newLogKey, residencyWorld, ZURICH, OTHER } from './fixtures.js';

const BUILT_WORKER = new URL('../dist/site/parse-worker.js', import.meta.url);

describe('batch parser on a worker thread', () => {
  let parser: WorkerBatchParser;
  let bytes: Uint8Array;
  beforeAll(async () => {
    parser = new WorkerBatchParser(BUILT_WORKER);
    const world = await residencyWorld({
      zurich: newLogKey(ZURICH).verifierKey,
      other: newLogKey(OTHER).verifierKey,
    });
    bytes = await makeBatch(world, { customer: world.euCustomer, region: 'EU', n: 7, pad: 40 });
  });
  afterAll(async () => {
    await parser.close();
  });

  it('answers the same columns and sealed bytes as the inline parser', async () => {
    const inline = parseForStore(bytes);
    const [viaWorker, viaInline] = await Promise.all([
      parser.parse(bytes),
      inlineBatchParser.parse(bytes),
    ]);
    for (const got of [viaWorker, viaInline]) {
      expect(got.sha256).toEqual(inline.sha256);
      expect(got.rule).toEqual(inline.rule);
      expect(got.verdict).toEqual(inline.verdict);
      expect(got.timeBucket).toEqual(inline.timeBucket);
      expect([...got.offsets]).toEqual([...inline.offsets]);
      expect(Buffer.from(got.personal).equals(Buffer.from(inline.personal))).toBe(true);
      expect(Buffer.from(got.sealedKey).equals(Buffer.from(inline.sealedKey))).toBe(true);
      expect(got).toMatchObject({
        customer: inline.customer,
        region: 'EU',
        batchId: inline.batchId,
      });
    }
    expect(inline.offsets[7]).toBe(inline.personal.length);
  });

  it('refuses what the inline parser refuses, with the same code', async () => {
    const notCanonical = new TextEncoder().encode(` ${new TextDecoder().decode(bytes)}`);
    const notJson = new TextEncoder().encode('{"schema":');
    for (const bad of [notCanonical, notJson]) {
      let inlineCode: unknown;
      try {
        parseForStore(bad);
      } catch (err) {
        inlineCode = (err as { code?: unknown }).code;
      }
      expect(inlineCode).toBe('BATCH_INVALID');
      await expect(parser.parse(bad)).rejects.toMatchObject({ code: 'BATCH_INVALID' });
    }
  });

  it('fails the batches a stopped thread held and parses the next ones on a new thread', async () => {
    // A stand-in worker that refuses every batch and ends its thread on a one-byte one.
    const exiting = new WorkerBatchParser(new URL('parser-exits-worker.mjs', import.meta.url));
    try {
      await expect(exiting.parse(bytes)).rejects.toMatchObject({ code: 'BATCH_INVALID' });
      await expect(exiting.parse(new Uint8Array([1]))).rejects.toMatchObject({
        code: 'PARSER_FAILED',
      });
      await expect(exiting.parse(bytes)).rejects.toMatchObject({ code: 'BATCH_INVALID' });
    } finally {
      await exiting.close();
    }
  });

  it('refuses to parse once closed', async () => {
    const closed = new WorkerBatchParser(BUILT_WORKER);
    await closed.close();
    await expect(closed.parse(bytes)).rejects.toMatchObject({ code: 'PARSER_FAILED' });
  });
});
