import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WitnessError } from '../src/errors.js';
import {
  type Alert,
  JsonLinesAlertSink,
  MemoryAlertSink,
  WebhookAlertSink,
  fanOutAlertSink,
} from '../src/alerts.js';

const alert = (n: number): Alert => ({
  kind: 'split-view',
  time: '2025-01-01T00:00:00.000Z',
  log: 'http://127.0.0.1:1/',
  origin: 'example.org/log',
  message: `alert ${n}`,
  evidence: { previous: 'a\n', checkpoint: 'b\n', n },
});

describe('alert sinks', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'glasshouse-alerts-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('appends one JSON line per alert, in order, even when sent concurrently', async () => {
    const sink = new JsonLinesAlertSink(join(dir, 'sub', 'alerts.jsonl'));
    await Promise.all([0, 1, 2, 3].map((n) => sink.send(alert(n))));
    await sink.send(alert(4));
    const lines = (await readFile(sink.path, 'utf8')).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l) as Alert)).toEqual([0, 1, 2, 3, 4].map(alert));
  });

  it('reports a failing webhook without failing, and fans out to every sink', async () => {
    const errors: string[] = [];
    // A port nothing listens on: take one, then close it.
    const probe = Fastify();
    const dead = await probe.listen({ host: '127.0.0.1', port: 0 });
    await probe.close();
    const failing = new WebhookAlertSink({
      url: `${dead}/hook`,
      timeoutMs: 1000,
      onError: (err: WitnessError) => errors.push(err.code),
    });
    const memory = new MemoryAlertSink();
    const fan = fanOutAlertSink([failing, memory]);
    await fan.send(alert(1));
    expect(errors).toEqual(['ALERT_DELIVERY_FAILED']);
    expect(memory.alerts).toEqual([alert(1)]);

    const refusing = Fastify();
    refusing.post('/hook', (_req, reply) => reply.code(500).send());
    const url = await refusing.listen({ host: '127.0.0.1', port: 0 });
    try {
      await new WebhookAlertSink({
        url: `${url}/hook`,
        onError: (err: WitnessError) => errors.push(`${err.evidence?.status as number}`),
      }).send(alert(2));
    } finally {
      await refusing.close();
    }
    expect(errors).toEqual(['ALERT_DELIVERY_FAILED', '500']);
  });

  it('fails when the alert file cannot be written', async () => {
    const sink = new JsonLinesAlertSink(join(dir, 'alerts.jsonl', 'x', 'y'));
    await new JsonLinesAlertSink(join(dir, 'alerts.jsonl')).send(alert(0));
    await expect(sink.send(alert(1))).rejects.toMatchObject({ code: 'ALERT_DELIVERY_FAILED' });
  });
});
